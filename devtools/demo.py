"""`make run`: the whole pipeline on the simulator, start to finish, then a short summary.

Starts the project's PostgreSQL and the simulator (the generated demo data
set, or `--data <folder>`), runs every DAG in full, applies one more day of
source changes and runs every DAG again (the incremental path), prints rows
per table and where the outputs are, and stops what it started.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import psycopg

from devtools.pipeline import LOG_DIR, run_pipeline
from devtools.stack import LOCAL, generated_dataset, local_stack, working_copy
from simulator.dataset import last_complete_month
from warehouse.gate import GX_ROOT

log = logging.getLogger(__name__)

SUMMARY_SCHEMAS = ("raw_crm", "raw_billing", "raw_finance", "raw_meta", "staging", "marts", "finance")


def table_counts(warehouse: str) -> list[tuple[str, str, int]]:
    with psycopg.connect(warehouse) as conn:
        tables = conn.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema = any(%s) and table_type = 'BASE TABLE' order by 1, 2",
            (list(SUMMARY_SCHEMAS),),
        ).fetchall()
        return [
            (schema, name, conn.execute(f'select count(*) from "{schema}"."{name}"').fetchone()[0])
            for schema, name in tables
        ]


def print_summary(warehouse: str, data: Path, as_of_month: str) -> None:
    print(f"\nData set: {data}   reporting window ends at: {as_of_month}")
    print(f"{'table':<40} {'rows':>12}")
    for schema, name, rows in table_counts(warehouse):
        print(f"{schema + '.' + name:<40} {rows:>12,}")
    print(f"\nTask logs: {LOG_DIR}/<dag>.log")
    print(
        f"Great Expectations report: {GX_ROOT / 'gx' / 'uncommitted' / 'data_docs' / 'local_site' / 'index.html'}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", type=Path, help="a dataset folder (shared/spec/sources.md §5) instead of the demo"
    )
    args = parser.parse_args(argv)
    if args.data and not (args.data / "crm").is_dir() and not (args.data / "billing").is_dir():
        parser.error(
            f"{args.data} is not a data set folder (crm/, billing/, finance/ of shared/spec/sources.md §5)"
        )
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    source = args.data.resolve() if args.data else generated_dataset()
    data = working_copy(source, LOCAL / "run" / "data")
    as_of_month = os.environ.get("WAREHOUSE_AS_OF_MONTH") or last_complete_month(data).isoformat()
    with local_stack(data) as stack:
        env = {**os.environ, **stack.environment(), "WAREHOUSE_AS_OF_MONTH": as_of_month}
        log.info("pipeline, first run (full load)")
        if not all(r.ok for r in run_pipeline(env)):
            return 1
        counts = stack.apply_day_of_changes()
        log.info(
            "applied one day of source changes (%d rows); pipeline, second run (incremental)",
            sum(counts.values()),
        )
        if not all(r.ok for r in run_pipeline(env)):
            return 1
        print_summary(stack.cluster.url("warehouse"), source, as_of_month)
    return 0


if __name__ == "__main__":
    sys.exit(main())
