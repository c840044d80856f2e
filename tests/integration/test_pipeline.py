"""The DAGs themselves, run with `airflow dags test` against a live simulator: full, then incremental."""

from __future__ import annotations

import os

import psycopg
import pytest

from devtools.pipeline import PIPELINE_DAGS, airflow_environment, migrate_metadata, run_dag, run_pipeline
from tests.integration.conftest import TOKEN

pytestmark = pytest.mark.integration


def connections(sources, warehouse: str, token: str = TOKEN) -> dict[str, str]:
    return {
        **os.environ,
        "AIRFLOW_CONN_CRM_API": f"http://:{token}@127.0.0.1:{sources.crm.port}",
        "AIRFLOW_CONN_BILLING_DB": sources.billing,
        "AIRFLOW_CONN_WAREHOUSE_DB": warehouse,
        "WAREHOUSE_AS_OF_MONTH": "2026-10-01",
    }


def load_log(warehouse: str) -> list[tuple[str, str, str]]:
    with psycopg.connect(warehouse) as conn:
        return conn.execute("select source, entity, mode from raw_meta.load_log order by id").fetchall()


def test_every_dag_runs_green_in_full_then_incrementally(sources, warehouse, tmp_path):
    """The extract DAGs load in full, build_marts builds with its full_refresh param; after a day
    of changes every DAG runs again: the extracts merge only the changes and build_marts
    rebuilds only the clients they touch."""
    from simulator.billing_loader import upsert_billing
    from simulator.changes import apply_day_of_changes

    env = connections(sources, warehouse)
    extract_dags = PIPELINE_DAGS[:-1]
    assert PIPELINE_DAGS[-1] == "build_marts"
    first = run_pipeline(env, extract_dags, log_dir=tmp_path)
    assert [r.dag_id for r in first] == list(extract_dags) and all(r.ok for r in first)
    full = load_log(warehouse)
    assert {mode for source, _, mode in full if source != "finance"} == {"full"}
    assert len(full) == 8 + 6 + 4
    refresh = run_dag("build_marts", airflow_environment(env), conf={"full_refresh": True}, log_dir=tmp_path)
    assert refresh.ok
    assert "dbt build --exclude-resource-type unit_test --full-refresh" in refresh.log_file.read_text()
    assert client_path_plan(warehouse) == (True, "client_month is new or fully refreshed")

    apply_day_of_changes(sources.data, seed=11)
    upsert_billing(sources.billing, max((sources.data / "_delta").iterdir()))
    sources.crm.reload()
    second = run_pipeline(env, log_dir=tmp_path)

    assert [r.dag_id for r in second] == list(PIPELINE_DAGS) and all(r.ok for r in second)
    incremental = load_log(warehouse)[len(full) :]
    assert {mode for source, _, mode in incremental if source != "finance"} == {"incremental"}
    with psycopg.connect(warehouse) as conn:
        snapshots_left = conn.execute(
            "select count(*) from pg_stat_activity where backend_type = 'client backend' "
            "and state like 'idle in transaction%%' and datname <> current_database()"
        ).fetchone()[0]
        changed_clients = conn.execute("select count(*) from intermediate.int_changed_clients").fetchone()[0]
        all_clients = conn.execute("select count(distinct client_id) from marts.client_month").fetchone()[0]
    assert snapshots_left == 0, "the billing snapshot holder was not released"
    assert "--full-refresh" not in second[-1].log_file.read_text()
    assert client_path_plan(warehouse) == (False, "rows loaded since")
    assert 0 < changed_clients < all_clients


def client_path_plan(warehouse: str) -> tuple[bool, str]:
    with psycopg.connect(warehouse) as conn:
        is_full, reason = conn.execute(
            "select is_full_build, reason from intermediate.int_build_watermark"
        ).fetchone()
    return is_full, reason if is_full else reason[: len("rows loaded since")]


def test_a_wrong_crm_token_fails_the_dag_without_retries(sources, warehouse, tmp_path):
    env = airflow_environment(connections(sources, warehouse, token="wrong-token"))
    migrate_metadata(env, tmp_path)

    result = run_dag("extract_crm", env, log_dir=tmp_path)

    assert not result.ok
    assert "connection crm_api" in result.log_file.read_text()
    assert sources.crm.stats.snapshot()["401"] == 8  # one refused request per entity, none retried
