"""Fixtures for tests that need real sources: a private billing DB, a CRM server and an empty warehouse."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from simulator.billing_loader import load_billing
from simulator.crm_server import CrmServer
from warehouse.connections import CrmApi

TOKEN = "integration-token"


def create_database(cluster, prefix: str, template: str | None = None) -> str:
    """A new database named `prefix`_<random>: empty, or a copy of the database at URL `template`."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    source = template.rsplit("/", 1)[1] if template else "template0"
    with psycopg.connect(cluster.url("postgres"), autocommit=True) as conn:
        conn.execute(f"create database \"{name}\" template \"{source}\" locale 'C' encoding 'UTF8'")
    return cluster.url(name)


def drop_database(cluster, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(cluster.url("postgres"), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


def extract_data_set(cluster, data: Path, warehouse: str, run_id: str) -> None:
    """Serve `data` as a private billing DB and CRM API and extract all of it into `warehouse`."""
    from tests.integration.test_extract import extract_everything

    billing = create_database(cluster, "billing")
    try:
        load_billing(billing, data)
        with CrmServer(data, token=TOKEN) as crm:
            extract_everything(Sources(data=data, billing=billing, crm=crm), warehouse, run_id)
    finally:
        drop_database(cluster, billing)


@dataclass
class Sources:
    data: Path
    billing: str
    crm: CrmServer

    @property
    def api(self) -> CrmApi:
        return CrmApi(conn_id="crm_api", base_url=self.crm.url, token=TOKEN)


@pytest.fixture
def warehouse(pg_cluster) -> Iterator[str]:
    url = create_database(pg_cluster, "warehouse")
    yield url
    drop_database(pg_cluster, url)


@pytest.fixture
def sources(pg_cluster, dataset_copy: Path) -> Iterator[Sources]:
    """The tiny data set as a live billing DB and CRM API, private to one test (which may change them)."""
    billing = create_database(pg_cluster, "billing")
    load_billing(billing, dataset_copy)
    with CrmServer(dataset_copy, token=TOKEN) as crm:
        yield Sources(data=dataset_copy, billing=billing, crm=crm)
    drop_database(pg_cluster, billing)
