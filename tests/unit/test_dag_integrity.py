"""Every DAG file imports cleanly, touches no database or network while it does, and is well-formed."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from devtools.pipeline import PIPELINE_DAGS

DAGS = Path(__file__).resolve().parents[2] / "dags"


class NetworkAtImport(AssertionError):
    pass


@pytest.fixture(scope="module")
def dagbag():
    import psycopg
    from airflow.dag_processing.dagbag import DagBag

    def refuse(*args, **kwargs):
        raise NetworkAtImport("a DAG file opened a connection at import time")

    mp = pytest.MonkeyPatch()
    mp.setattr(socket.socket, "connect", refuse)
    mp.setattr(socket, "create_connection", refuse)
    mp.setattr(psycopg, "connect", refuse)
    mp.setattr(psycopg.Connection, "connect", refuse)
    try:
        yield DagBag(dag_folder=str(DAGS))
    finally:
        mp.undo()


def test_every_dag_file_imports_without_errors(dagbag):
    assert dagbag.import_errors == {}
    files = {Path(d.fileloc).name for d in dagbag.dags.values()}
    assert files == {p.name for p in DAGS.glob("*.py")}


def test_every_dag_has_an_owner_retries_and_tags(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        for task in dag.tasks:
            assert task.owner and task.owner != "airflow", f"{dag_id}.{task.task_id} has no owner"
            assert task.retries >= 1, f"{dag_id}.{task.task_id} has no retries"


def test_scheduled_dags_run_one_at_a_time_without_catchup(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.catchup is False, dag_id
        assert dag.max_active_runs == 1, dag_id


def test_make_pipeline_runs_every_dag(dagbag):
    assert sorted(PIPELINE_DAGS) == sorted(dagbag.dag_ids)


def test_airflow_does_not_scan_the_warehouse_package_as_plugins(tmp_path):
    """Airflow's plugin scan imports each file under its bare name: warehouse/dbt.py would shadow dbt."""
    import os
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from airflow import plugins_manager\n"
        "plugins_manager.ensure_plugins_loaded()\n"
        "print(sorted(m for m in ('dbt', 'load', 'state', 'contract', 'tasks') if m in sys.modules))\n"
    )
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(DAGS.parent / "plugins"),
    }
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"
