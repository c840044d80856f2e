"""Finance inputs (billing DB `finance` schema or FINANCE_INPUTS_DIR) → raw_finance, whole and validated."""

import pendulum
from airflow.sdk import dag, task

from warehouse import tasks
from warehouse.assets import raw_asset
from warehouse.contract import CRM_ENTITIES, FINANCE_TABLES

MANAGERS = next(e for e in CRM_ENTITIES if e.name == "managers")


@dag(
    dag_id="load_finance_inputs",
    schedule=[raw_asset(MANAGERS)],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=tasks.DEFAULT_ARGS,
    tags=["extract", "finance", "raw"],
    doc_md=__doc__,
)
def load_finance_inputs():
    @task
    def load_table(table: str, **context) -> dict:
        return tasks.load_finance_table(table, context["run_id"])

    @task(outlets=[raw_asset(t) for t in FINANCE_TABLES])
    def finance_landed(stats: list[dict]) -> dict:
        return tasks.report("finance", stats)

    finance_landed(load_table.expand(table=[t.name for t in FINANCE_TABLES]))


load_finance_inputs()
