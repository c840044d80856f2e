"""CRM API → raw_crm: one mapped task per entity, incremental by updated_at; marks raw_crm.* as updated."""

import pendulum
from airflow.sdk import Param, dag, task

from warehouse import tasks
from warehouse.assets import raw_asset
from warehouse.contract import CRM_ENTITIES


@dag(
    dag_id="extract_crm",
    schedule="@hourly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=tasks.DEFAULT_ARGS,
    tags=["extract", "crm", "raw"],
    params={
        "overlap_minutes": Param(
            10, type="integer", minimum=0, description="Re-read this much before the watermark"
        )
    },
    doc_md=__doc__,
)
def extract_crm():
    @task(max_active_tis_per_dagrun=4)
    def extract_entity(entity: str, **context) -> dict:
        return tasks.extract_crm_entity(entity, context["run_id"], context["params"]["overlap_minutes"])

    @task(outlets=[raw_asset(e) for e in CRM_ENTITIES])
    def crm_landed(stats: list[dict]) -> dict:
        return tasks.report("crm", stats)

    crm_landed(extract_entity.expand(entity=[e.name for e in CRM_ENTITIES]))


extract_crm()
