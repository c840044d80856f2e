"""dbt build of staging → intermediate → marts once every raw source of a run has landed, then the GX gate."""

import pendulum
from airflow.sdk import Param, dag, task

from warehouse import tasks
from warehouse.assets import raw_asset
from warehouse.contract import ALL_ENTITIES


@dag(
    dag_id="build_marts",
    schedule=[raw_asset(e) for e in ALL_ENTITIES],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=tasks.DEFAULT_ARGS,
    tags=["dbt", "marts"],
    params={
        "full_refresh": Param(
            False,
            type="boolean",
            description="Rebuild the incremental models from scratch (after a changed macro or restored raw tables)",
        ),
    },
    doc_md=__doc__,
)
def build_marts():
    @task
    def reporting_month(**context) -> str:
        return tasks.reporting_month(context)

    @task(retries=1)
    def dbt_build(as_of_month: str, **context) -> None:
        tasks.build_marts(as_of_month, full_refresh=context["params"]["full_refresh"])

    @task
    def validate_marts() -> None:
        tasks.validate_marts()

    dbt_build(reporting_month()) >> validate_marts()


build_marts()
