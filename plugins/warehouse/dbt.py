"""Running the dbt project (`dbt_project/`) in-process against the warehouse.

`run_dbt` is what a task calls: it points the project's profile (which reads
`WAREHOUSE_DB_*` from the environment) at a libpq URL, passes `as_of_month`
as a var (the one value every model needs and none reads from the clock),
invokes dbt through `dbtRunner` and raises with the failed nodes when the
invocation fails. dbt is imported on first use, so importing this module
from a DAG file costs nothing.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from psycopg.conninfo import conninfo_to_dict

from warehouse.connections import as_of_month_override

log = logging.getLogger(__name__)

PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
ENV_PREFIX = "WAREHOUSE_DB_"
# Sub-commands that take no --target-path (dbt rejects unknown options).
_NO_TARGET_PATH = {"debug", "deps", "init"}
# dbt's runner keeps process-wide state (flags, adapters): one invocation at a time per process.
_lock = threading.Lock()
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_FAILED = {"error", "fail", "runtime error"}


class DbtRunError(RuntimeError):
    """A dbt invocation failed; the message names the command and every failed node."""


def first_of_month(day: date) -> date:
    return day.replace(day=1)


def project_reporting_tz() -> str:
    """`reporting_tz` as `dbt_project.yml` sets it: the pipeline passes no other."""
    project = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())
    return str(project["vars"]["reporting_tz"])


def default_as_of_month(logical_date: date | datetime, reporting_tz: str | None = None) -> date:
    """The reporting window's last month: `WAREHOUSE_AS_OF_MONTH` when set, else the month before the logical date's.

    An aware datetime is taken in `reporting_tz` (default: the project's), as every instant
    of the marts is, so a month is reported only once it is complete there.
    """
    override = as_of_month_override()
    if override is not None:
        return override
    if isinstance(logical_date, datetime):
        if logical_date.tzinfo is not None:
            logical_date = logical_date.astimezone(ZoneInfo(reporting_tz or project_reporting_tz()))
        day = logical_date.date()
    else:
        day = logical_date
    previous = first_of_month(day).toordinal() - 1
    return first_of_month(date.fromordinal(previous))


def profile_env(warehouse_conninfo: str) -> dict[str, str]:
    """The `WAREHOUSE_DB_*` variables of `profiles.yml` from a libpq URL or key=value string."""
    params = conninfo_to_dict(warehouse_conninfo)
    missing = [key for key in ("dbname", "user") if not params.get(key)]
    if missing:
        raise ValueError(f"warehouse connection has no {' and no '.join(missing)}: dbt needs both")
    port = str(params.get("port") or "5432")
    if "," in port or "," in str(params.get("host") or ""):
        raise ValueError("warehouse connection lists several hosts; dbt takes one")
    return {
        f"{ENV_PREFIX}HOST": str(params.get("host") or params.get("hostaddr") or "localhost"),
        f"{ENV_PREFIX}PORT": port,
        f"{ENV_PREFIX}USER": str(params["user"]),
        f"{ENV_PREFIX}PASSWORD": str(params.get("password") or ""),
        f"{ENV_PREFIX}NAME": str(params["dbname"]),
        f"{ENV_PREFIX}SSLMODE": str(params.get("sslmode") or "prefer"),
    }


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _cli_args(
    args: list[str], as_of_month: date, target_path: Path | None, extra_vars: Mapping[str, Any] | None
) -> list[str]:
    if not args:
        raise ValueError("run_dbt needs a dbt sub-command, e.g. ['build']")
    if any(a == "--vars" or a.startswith("--vars=") for a in args):
        raise ValueError("pass vars through extra_vars, not --vars: run_dbt sets --vars itself")
    if as_of_month.day != 1:
        raise ValueError(f"as_of_month must be the first day of a month, got {as_of_month.isoformat()}")
    if extra_vars and "as_of_month" in extra_vars:
        raise ValueError("as_of_month is run_dbt's own argument, not an extra var")
    dbt_vars = {**(extra_vars or {}), "as_of_month": as_of_month.isoformat()}
    cli = [*args, "--vars", json.dumps(dbt_vars, default=str)]
    if target_path is not None:
        if args[0] not in _NO_TARGET_PATH:
            cli += ["--target-path", str(target_path)]
        cli += ["--log-path", str(target_path / "logs")]
    return [*cli, "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR)]


def _clean(message: object) -> str:
    """dbt's message without colour codes; a multi-line one (a unit test's diff) stays readable, indented."""
    text = _ANSI.sub("", str(message or ""))
    return "\n      ".join(line.rstrip() for line in text.strip().splitlines() if line.strip())


def _failure_message(command: str, result: Any) -> str:
    lines = [f"dbt {command} failed"]
    if result.exception is not None:
        lines[0] += f": {_clean(result.exception)}"
    run_results = getattr(result.result, "results", None) or []
    failed = [r for r in run_results if str(r.status) in _FAILED]
    skipped = sum(1 for r in run_results if str(r.status) == "skipped")
    if failed:
        lines[0] += f" ({len(failed)} failed node{'s' if len(failed) > 1 else ''}, {skipped} skipped)"
        lines += [f"  {r.node.unique_id} [{r.status}]: {_clean(r.message)}" for r in failed]
    return "\n".join(lines)


def run_dbt(
    args: list[str],
    warehouse_conninfo: str,
    as_of_month: date,
    target_path: Path | None = None,
    *,
    extra_vars: Mapping[str, Any] | None = None,
) -> None:
    """Run `dbt <args>` on the project against the warehouse; raise `DbtRunError` when it fails.

    `args` is the sub-command and its options (`["build", "--select", "staging"]`); run_dbt
    adds `--vars` (as_of_month, plus `extra_vars`), the project and profiles folders and, with
    `target_path`, the target and log folders (give each concurrent run its own).
    """
    from dbt.cli.main import dbtRunner

    cli = _cli_args(args, as_of_month, target_path, extra_vars)
    log.info("dbt %s (as_of_month %s)", " ".join(args), as_of_month.isoformat())
    with _lock, _environment(profile_env(warehouse_conninfo)):
        result = dbtRunner().invoke(cli)
    if not result.success:
        raise DbtRunError(_failure_message(args[0], result))
