"""Session-wide fixtures: one PostgreSQL cluster and one generated data set per test session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from devtools.pgcluster import Cluster

PROJECT = Path(__file__).resolve().parent.parent
# Airflow reads its settings when first imported: point it at a test home before any test imports it.
AIRFLOW_TEST_HOME = PROJECT / ".local" / f"airflow-test-{os.getpid()}"
os.environ["AIRFLOW_HOME"] = str(AIRFLOW_TEST_HOME)
os.environ["WAREHOUSE_GX_ROOT"] = str(AIRFLOW_TEST_HOME / "gx")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(PROJECT / "dags")
TEST_SEED = 42
TEST_END_DATE = date(2026, 10, 31)


@pytest.fixture(scope="session", autouse=True)
def airflow_home() -> Iterator[Path]:
    """Airflow's home (SQLite metadata DB, logs) for this session only, removed at the end."""
    import shutil

    yield AIRFLOW_TEST_HOME
    shutil.rmtree(AIRFLOW_TEST_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """A private PostgreSQL (databases `warehouse` and `billing`), started once and removed at the end."""
    from devtools.pgcluster import Cluster

    cluster = Cluster(PROJECT / ".local" / f"pg-test-{os.getpid()}")  # one per session: sessions may overlap
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny simulator data set, generated once per session. Tests must not modify it."""
    from simulator.generate import generate

    folder = tmp_path_factory.mktemp("dataset") / "tiny"
    generate(folder, seed=TEST_SEED, end_date=TEST_END_DATE, scale="tiny")
    return folder


@pytest.fixture
def dataset_copy(tiny_dataset: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny data set, for tests that change it."""
    import shutil

    target = tmp_path / "dataset"
    shutil.copytree(tiny_dataset, target)
    return target
