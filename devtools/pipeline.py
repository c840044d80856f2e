"""`make pipeline`: run every DAG of the project once, in dependency order, with `airflow dags test`.

With `AIRFLOW_CONN_CRM_API`, `AIRFLOW_CONN_BILLING_DB` and
`AIRFLOW_CONN_WAREHOUSE_DB` set, the DAGs run against those systems as
given and nothing is started here. Without them, the local stack (the
project's PostgreSQL and the simulator on the demo data set) is started
for the run and stopped after it.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from devtools.stack import LOCAL, PROJECT, connections_are_set, generated_dataset, local_stack, working_copy
from simulator.dataset import last_complete_month

log = logging.getLogger(__name__)

# Every DAG in dags/, in the order one pipeline run needs them (the DAG-integrity test checks the list).
PIPELINE_DAGS: tuple[str, ...] = ("extract_crm", "extract_billing", "load_finance_inputs", "build_marts")
LOG_DIR = LOCAL / "logs"


def airflow_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """Airflow's settings for a local `airflow dags test` run: SQLite metadata, the project's folders."""
    env = dict(os.environ if base is None else base)
    home = LOCAL / "airflow"
    env.setdefault("AIRFLOW_HOME", str(home))
    env.update(
        {
            "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": env.get(
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{Path(env['AIRFLOW_HOME']) / 'airflow.db'}"
            ),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT / "plugins"), env.get("PYTHONPATH")])),
        }
    )
    return env


def airflow_binary() -> str:
    return str(Path(sys.executable).parent / "airflow")


@dataclass
class DagResult:
    dag_id: str
    ok: bool
    seconds: float
    log_file: Path


def migrate_metadata(env: dict[str, str], log_dir: Path = LOG_DIR) -> None:
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = log_dir / "airflow-db-migrate.log"
    with log_file.open("w") as out:
        result = subprocess.run(
            [airflow_binary(), "db", "migrate"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    if result.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed; see {log_file}")


def run_dag(dag_id: str, env: dict[str, str], conf: dict | None = None, log_dir: Path = LOG_DIR) -> DagResult:
    """`airflow dags test` one DAG; its whole log goes to <log_dir>/<dag>.log."""
    import json

    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = log_dir / f"{dag_id}.log"
    command = [airflow_binary(), "dags", "test", dag_id]
    if conf:
        command += ["--conf", json.dumps(conf)]
    started = time.monotonic()
    with log_file.open("w") as out:
        result = subprocess.run(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=PROJECT)
    return DagResult(dag_id, result.returncode == 0, time.monotonic() - started, log_file)


def run_pipeline(
    env: dict[str, str], dags: tuple[str, ...] = PIPELINE_DAGS, log_dir: Path = LOG_DIR
) -> list[DagResult]:
    """Run `dags` in order; stop at the first failure (later DAGs depend on earlier ones)."""
    env = airflow_environment(env)
    migrate_metadata(env, log_dir)
    results = []
    for dag_id in dags:
        result = run_dag(dag_id, env, log_dir=log_dir)
        results.append(result)
        state = "ok" if result.ok else "FAILED"
        log.info("%-24s %-6s %6.1f s   log: %s", dag_id, state, result.seconds, result.log_file)
        if not result.ok:
            tail = result.log_file.read_text(errors="replace").splitlines()[-40:]
            log.error("%s failed; the end of its log:\n%s", dag_id, "\n".join(tail))
            break
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, help="a dataset folder to serve instead of the generated demo")
    args = parser.parse_args(argv)
    if args.data and not (args.data / "crm").is_dir() and not (args.data / "billing").is_dir():
        parser.error(
            f"{args.data} is not a data set folder (crm/, billing/, finance/ of shared/spec/sources.md §5)"
        )
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if connections_are_set():
        log.info("using the connections from AIRFLOW_CONN_*; starting nothing")
        results = run_pipeline(dict(os.environ))
        return 0 if results and all(r.ok for r in results) else 1
    data = working_copy(args.data or generated_dataset(), LOCAL / "run" / "data")
    env = dict(os.environ)
    with local_stack(data) as stack:
        env.update(stack.environment())
        env.setdefault("WAREHOUSE_AS_OF_MONTH", last_complete_month(data).isoformat())
        results = run_pipeline(env)
    return 0 if results and all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
