"""`dbt docs generate` on a built warehouse: every model documented with its grain, every mart column
described, and the BI dashboards and the finance export declared as exposures.

The warehouse is the raw layer with no rows, after `dbt run`: the catalog reads the relations
PostgreSQL holds, so every model must exist, but none needs data.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.integration.conftest import create_database, drop_database
from warehouse.dbt import run_dbt
from warehouse.raw import ensure_raw_layer

pytestmark = pytest.mark.integration

AS_OF_MONTH = date(2026, 3, 1)
# The published tables of shared/spec/marts.md built so far.
MARTS = {"client_month", "manager_month", "manager_quarter", "revenue_movements", "cohort_retention"}
EXPOSURES = {
    "portfolio_dashboard": ("dashboard", {"client_month", "revenue_movements", "cohort_retention"}),
    "manager_kpi_dashboard": ("dashboard", {"manager_month", "manager_quarter"}),
    "finance_export": ("application", {"manager_month"}),
}


@dataclass(frozen=True)
class Docs:
    manifest: dict[str, Any]
    catalog: dict[str, Any]
    target: Path

    @property
    def models(self) -> dict[str, dict[str, Any]]:
        return {
            node["name"]: node for node in self.manifest["nodes"].values() if node["resource_type"] == "model"
        }

    @property
    def marts(self) -> dict[str, dict[str, Any]]:
        """The models under models/marts/ (the published tables, and any added there later)."""
        return {name: node for name, node in self.models.items() if node["fqn"][1] == "marts"}


@pytest.fixture(scope="module")
def docs(pg_cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Docs]:
    """An empty raw layer, every model built on it, then `dbt docs generate` into a private target."""
    url = create_database(pg_cluster, "dbt_docs")
    target = tmp_path_factory.mktemp("dbt-docs-target")
    try:
        with psycopg.connect(url) as conn:
            ensure_raw_layer(conn)
        run_dbt(["run"], url, AS_OF_MONTH, target)
        run_dbt(["docs", "generate"], url, AS_OF_MONTH, target)
        yield Docs(
            manifest=json.loads((target / "manifest.json").read_text(encoding="utf-8")),
            catalog=json.loads((target / "catalog.json").read_text(encoding="utf-8")),
            target=target,
        )
    finally:
        drop_database(pg_cluster, url)


def test_docs_site_is_generated(docs: Docs) -> None:
    assert (docs.target / "index.html").is_file()
    assert docs.catalog["errors"] is None


def test_every_model_has_a_description_naming_its_grain(docs: Docs) -> None:
    assert set(docs.models) >= MARTS, "a published mart is missing from the manifest"
    missing = sorted(
        name
        for name, node in docs.models.items()
        if not any(words in node["description"].lower() for words in ("grain", "one row per"))
    )
    assert missing == [], f"models whose description names no grain ('grain' or 'one row per'): {missing}"


def test_catalog_holds_every_model(docs: Docs) -> None:
    """Each model is a relation in the warehouse, with its columns, under the schema it is built in."""
    catalog = docs.catalog["nodes"]
    absent = sorted(
        node["name"]
        for uid, node in docs.manifest["nodes"].items()
        if node["resource_type"] == "model" and uid not in catalog
    )
    assert absent == []
    for name in MARTS:
        entry = catalog[f"model.account_management.{name}"]
        assert entry["metadata"]["schema"] == "marts"
        assert entry["columns"], name


def test_every_marts_column_is_described(docs: Docs) -> None:
    """Every column a mart has in the warehouse (catalog) is in its YAML with a description."""
    assert set(docs.marts) >= MARTS
    undescribed = {}
    for name, node in sorted(docs.marts.items()):
        documented = {column: spec["description"].strip() for column, spec in node["columns"].items()}
        built = docs.catalog["nodes"][node["unique_id"]]["columns"]
        gaps = sorted(column for column in set(built) | set(documented) if not documented.get(column))
        if gaps:
            undescribed[name] = gaps
    assert undescribed == {}


def test_exposures_declare_the_dashboards_and_the_finance_export(docs: Docs) -> None:
    exposures = {node["name"]: node for node in docs.manifest["exposures"].values()}
    assert set(exposures) == set(EXPOSURES)
    for name, (kind, marts) in EXPOSURES.items():
        exposure = exposures[name]
        assert exposure["type"] == kind, name
        assert exposure["maturity"] in {"low", "medium", "high"}, name
        assert exposure["owner"]["name"] or exposure["owner"]["email"], name
        assert exposure["description"].strip(), name
        assert set(exposure["depends_on"]["nodes"]) == {f"model.account_management.{mart}" for mart in marts}
