"""Billing DB → raw_billing: one task per table, all reading one exported snapshot of the source."""

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, setup, task, teardown

from warehouse import tasks
from warehouse.assets import raw_asset
from warehouse.contract import BILLING_TABLES
from warehouse.extract.billing import DEFAULT_LOOK_BACK


@dag(
    dag_id="extract_billing",
    schedule="@hourly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=tasks.DEFAULT_ARGS,
    tags=["extract", "billing", "raw"],
    params={
        "full_refresh": Param(
            False, type="boolean", description="Reload every table whole instead of incrementally"
        ),
        "look_back_minutes": Param(
            DEFAULT_LOOK_BACK // timedelta(minutes=1),
            type="integer",
            minimum=0,
            description="Re-read this much before the watermark (rows of billing commit late)",
        ),
    },
    doc_md=__doc__,
)
def extract_billing():
    @setup
    def hold_snapshot() -> dict:
        return tasks.hold_billing_snapshot()

    @teardown
    def release_snapshot(snapshot: dict) -> None:
        tasks.release_billing_snapshot(snapshot)

    @task(outlets=[raw_asset(t) for t in BILLING_TABLES])
    def billing_landed(stats: list[dict]) -> dict:
        return tasks.report("billing", stats)

    snapshot = hold_snapshot()
    extracted = []
    for table in BILLING_TABLES:

        @task(task_id=f"extract_{table.name}")
        def extract_table(snapshot: dict, table_name: str = table.name, **context) -> dict:
            params = context["params"]
            return tasks.extract_billing_table(
                table_name, context["run_id"], snapshot, params["look_back_minutes"], params["full_refresh"]
            )

        extracted.append(extract_table(snapshot))
    landed = billing_landed(extracted)
    landed >> release_snapshot(snapshot)


extract_billing()
