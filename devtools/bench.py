"""`make bench`: throughput and build times, as ratios measured in one run.

extract: billing rows/s of the extractor (snapshot, binary COPY, merge, state)
against a bare `COPY TO` → `COPY FROM` between the same two databases; CRM
records/s of the extractor against the simulator's raw serving rate (a client
that only reads the pages); peak memory of the extract, in a child process.
Writes bench/results/extract.json.

marts: wall time of a full `dbt build` (models and data tests), then of the
build after one more day of source changes (about 1 % of rows) is extracted
incrementally, then of one more build with nothing new (the fixed cost of every
incremental build). Writes bench/results/marts.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import re
import resource
import shutil
import sys
import time

import psycopg
import requests
from psycopg import sql

from devtools.stack import PROJECT, generated_dataset, local_stack, working_copy
from warehouse.connections import CrmApi
from warehouse.contract import BILLING_TABLES, CRM_ENTITIES
from warehouse.db import connect
from warehouse.extract import billing, crm
from warehouse.load import create_load_table

log = logging.getLogger(__name__)
RESULTS = PROJECT / "bench" / "results"
NEXT_CURSOR = re.compile(rb'"next_cursor"\s*:\s*(null|"([^"]*)")\s*}\s*$')


def fresh_database(cluster_url: str, name: str) -> str:
    with psycopg.connect(cluster_url, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("create database {} template template0 locale 'C'").format(sql.Identifier(name)))
    return cluster_url.rsplit("/", 1)[0] + "/" + name


def bare_copy(source: str, target: str) -> int:
    """COPY every billing table out of the source and into plain tables of the target: the floor to beat."""
    rows = 0
    with connect(source) as src, connect(target) as dst:
        for table in BILLING_TABLES:
            with src.transaction(), dst.transaction():
                load_table = create_load_table(dst, table, json_records=False)
                rows += billing.copy_between(src, dst, billing._source_select(table, None), load_table)
    return rows


def extract_billing(source: str, target: str) -> int:
    snapshot = billing.hold_snapshot(source)
    try:
        return sum(
            billing.extract_table(source, target, t.name, "bench", snapshot).rows_read for t in BILLING_TABLES
        )
    finally:
        billing.release_snapshot(source, snapshot)


def raw_serving(api: CrmApi) -> int:
    """Read every page of every entity, parsing nothing but the cursor."""
    records = 0
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {api.token}"
        for entity in CRM_ENTITIES:
            params: dict[str, str] = {"limit": "500"}
            while True:
                body = session.get(f"{api.base_url}/api/v1/{entity.name}", params=params, timeout=60).content
                records += body.count(b'"updated_at"')
                match = NEXT_CURSOR.search(body)
                if match is None or match.group(1) == b"null":
                    break
                params = {"cursor": match.group(2).decode()}
    return records


def extract_crm(api: CrmApi, target: str) -> int:
    client = crm.CrmClient(api)
    try:
        return sum(crm.extract_entity(client, target, e.name, "bench").rows_read for e in CRM_ENTITIES)
    finally:
        client.close()


def _timed_child(function, args, queue) -> None:
    started = time.perf_counter()
    rows = function(*args)
    seconds = time.perf_counter() - started
    queue.put((rows, seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def timed(function, *args) -> tuple[int, float, float]:
    """Run in a child process: (rows, seconds, peak RSS in MiB of that process)."""
    queue: multiprocessing.Queue = multiprocessing.Queue()
    child = multiprocessing.get_context("fork").Process(target=_timed_child, args=(function, args, queue))
    child.start()
    result = queue.get()
    child.join()
    if child.exitcode != 0:
        raise RuntimeError(f"{function.__name__} failed in its benchmark process")
    return result


def bench_extract(stack, scale: str) -> dict:
    base = stack.cluster.url("postgres")
    source = stack.cluster.url("billing")
    bare_rows, bare_s, _ = timed(bare_copy, source, fresh_database(base, "bench_bare"))
    billing_rows, billing_s, billing_rss = timed(
        extract_billing, source, fresh_database(base, "bench_billing")
    )
    api = CrmApi("crm_api", f"http://127.0.0.1:{stack.crm.port}", stack.crm.token)
    raw_records, raw_s, _ = timed(raw_serving, api)
    crm_records, crm_s, crm_rss = timed(extract_crm, api, fresh_database(base, "bench_crm"))
    assert bare_rows == billing_rows and raw_records == crm_records, "the runs did not read the same rows"
    return {
        "scale": scale,
        "billing_rows": billing_rows,
        "billing_rows_per_s": round(billing_rows / billing_s),
        "bare_copy_rows_per_s": round(bare_rows / bare_s),
        "billing_extract_vs_bare_copy": round((billing_rows / billing_s) / (bare_rows / bare_s), 3),
        "crm_records": crm_records,
        "crm_records_per_s": round(crm_records / crm_s),
        "crm_raw_serving_records_per_s": round(raw_records / raw_s),
        "crm_extract_vs_raw_serving": round((crm_records / crm_s) / (raw_records / raw_s), 3),
        "extract_peak_rss_mb": round(max(billing_rss, crm_rss), 1),
    }


def extract_sources(stack, warehouse: str, run_id: str) -> None:
    from warehouse.contract import FINANCE_TABLES
    from warehouse.extract import finance

    api = CrmApi("crm_api", f"http://127.0.0.1:{stack.crm.port}", stack.crm.token)
    extract_crm(api, warehouse)
    extract_billing(stack.cluster.url("billing"), warehouse)
    for table in FINANCE_TABLES:
        finance.load_table(warehouse, table.name, run_id, billing=stack.cluster.url("billing"))


def timed_build(warehouse: str, as_of_month, phase: str) -> float:
    """One `dbt build`; its node times are kept in .local/bench/run_results_<phase>.json to profile.

    The builds share the project's target folder, so each reuses the parse of the one before.
    """
    from warehouse.dbt import PROJECT_DIR, run_dbt

    started = time.perf_counter()
    run_dbt(["build", "--exclude-resource-type", "unit_test"], warehouse, as_of_month)
    elapsed = time.perf_counter() - started
    shutil.copyfile(
        PROJECT_DIR / "target" / "run_results.json",
        PROJECT / ".local" / "bench" / f"run_results_{phase}.json",
    )
    return elapsed


def bench_marts(stack, scale: str) -> dict:
    from simulator.dataset import last_complete_month

    warehouse = fresh_database(stack.cluster.url("postgres"), "bench_marts")
    as_of_month = last_complete_month(stack.data)
    extract_sources(stack, warehouse, "bench-full")
    full_s = timed_build(warehouse, as_of_month, "full")
    changed = stack.apply_day_of_changes()
    extract_sources(stack, warehouse, "bench-incremental")
    incremental_s = timed_build(warehouse, as_of_month, "incremental")
    # the same build once more, with nothing new: what every incremental build costs, whatever changed
    no_change_s = timed_build(warehouse, as_of_month, "no_change")
    return {
        "scale": scale,
        "changed_rows": sum(changed.values()),
        "dbt_full_s": round(full_s, 1),
        "dbt_incremental_s": round(incremental_s, 1),
        "dbt_incremental_vs_full": round(incremental_s / full_s, 3),
        "dbt_no_change_s": round(no_change_s, 1),
        "dbt_no_change_vs_full": round(no_change_s / full_s, 3),
    }


def write_results(name: str, results: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
    for key, value in results.items():
        print(f"{key:<32} {value}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", default="small", help="tiny, small, demo or large (10M invoice lines)")
    parser.add_argument("--only", choices=["extract", "marts"], help="run one of the two benchmarks")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("warehouse").setLevel(logging.WARNING)
    data = working_copy(generated_dataset(args.scale), PROJECT / ".local" / "bench" / "data")
    with local_stack(data, cluster_home=PROJECT / ".local" / "pg-bench") as stack:
        if args.only in (None, "extract"):
            write_results("extract", bench_extract(stack, args.scale))
        if args.only in (None, "marts"):
            write_results("marts", bench_marts(stack, args.scale))
    return 0


if __name__ == "__main__":
    sys.exit(main())
