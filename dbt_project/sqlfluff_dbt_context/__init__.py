"""What sqlfluff's jinja templater lacks of dbt's Jinja context, so our models render for `sqlfluff lint`.

sqlfluff (templater `jinja`, `apply_dbt_builtins = True`) mocks `ref`, `source`, `config`, `this`
and `return`, and its `var()` answers the string "item" for every name. Our macros also call
`var()` for maps (`var('sla_hours').items()`), dbt's cross-database macros (`dbt.dateadd`, ...),
`adapter.dispatch`, `exceptions`, `modules` and `run_query`. This package (`library_path` in
`dbt_project/.sqlfluff`) supplies them: every name defined here becomes a Jinja global, ahead of
sqlfluff's dbt builtins. The SQL they render is PostgreSQL's, as dbt-postgres renders it, so the
linter parses what the warehouse runs. Nothing here touches a database or is used by dbt itself.

`var()` reads the vars of `dbt_project.yml`, overlaid with the context value `dbt_vars` of the
sqlfluff config (which sets `as_of_month`, the one var without a default).
"""

from __future__ import annotations

import datetime as _datetime
import re as _re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import yaml
from jinja2 import pass_context
from jinja2.runtime import Context

_PROJECT_FILE = Path(__file__).resolve().parent.parent / "dbt_project.yml"
_ADAPTER = "postgres"


class CompilationError(Exception):
    """`exceptions.raise_compiler_error`: a macro refused to render (sqlfluff reports it as a templating error)."""


def _project_vars() -> dict[str, Any]:
    with _PROJECT_FILE.open(encoding="utf-8") as handle:
        return dict((yaml.safe_load(handle) or {}).get("vars") or {})


_VARS = _project_vars()
_MISSING = object()


@pass_context
def var(context: Context, name: str, default: Any = _MISSING) -> Any:
    """dbt's `var()`: the sqlfluff config's `dbt_vars`, else dbt_project.yml, else `default`."""
    overrides = context.get("dbt_vars") or {}
    if name in overrides:
        return overrides[name]
    if name in _VARS and _VARS[name] is not None:
        return _VARS[name]
    if default is not _MISSING:
        return default
    if name in _VARS:
        return None
    raise CompilationError(f"Required var '{name}' not found in dbt_project.yml nor in the sqlfluff dbt_vars")


def _dateadd(datepart: str, interval: Any, from_date_or_timestamp: str) -> str:
    return f"{from_date_or_timestamp} + ((interval '1 {datepart}') * ({interval}))"


def _date_trunc(datepart: str, date: str) -> str:
    return f"date_trunc('{datepart}', {date})"


def _datediff(first_date: str, second_date: str, datepart: str) -> str:
    def part(name: str, value: str) -> str:
        return f"date_part('{name}', ({value})::date)"

    years = f"({part('year', second_date)} - {part('year', first_date)})"
    if datepart == "year":
        return years
    if datepart == "quarter":
        return f"({years} * 4 + {part('quarter', second_date)} - {part('quarter', first_date)})"
    if datepart == "month":
        return f"({years} * 12 + {part('month', second_date)} - {part('month', first_date)})"
    if datepart == "day":
        return f"(({second_date})::date - ({first_date})::date)"
    raise CompilationError(f"the sqlfluff stand-in of dbt.datediff has no datepart {datepart!r}")


def _last_day(date: str, datepart: str) -> str:
    return f"cast({_dateadd('day', '-1', _dateadd(datepart, '1', _date_trunc(datepart, date)))} as date)"


def _string_literal(value: Any) -> str:
    return f"'{value}'"


def _type_string() -> str:
    return "text"


def _bool_or(expression: str) -> str:
    return f"bool_or({expression})"


# dbt's cross-database macros, as dbt-postgres renders them.
dbt = SimpleNamespace(
    bool_or=_bool_or,
    dateadd=_dateadd,
    date_trunc=_date_trunc,
    datediff=_datediff,
    last_day=_last_day,
    string_literal=_string_literal,
    type_string=_type_string,
)


@pass_context
def _dispatch(context: Context, macro_name: str, macro_namespace: str | None = None) -> Any:
    """`adapter.dispatch`: the project's `postgres__<name>` macro, else `default__<name>`."""
    for candidate in (f"{_ADAPTER}__{macro_name}", f"default__{macro_name}"):
        macro = context.get(candidate)
        if macro is not None:
            return macro
    raise CompilationError(f"no macro {_ADAPTER}__{macro_name} or default__{macro_name} to dispatch to")


adapter = SimpleNamespace(dispatch=_dispatch, type=lambda: _ADAPTER)


def _raise_compiler_error(message: str) -> None:
    raise CompilationError(message)


exceptions = SimpleNamespace(raise_compiler_error=_raise_compiler_error)
modules = SimpleNamespace(re=_re, datetime=_datetime)
target = SimpleNamespace(name="default", schema="public", type=_ADAPTER)
# Render as `dbt compile` does (execute is true), with introspective queries answering no rows.
execute = True


def run_query(sql: str) -> SimpleNamespace:
    """`run_query`: an empty result (sqlfluff must never reach a database)."""
    return SimpleNamespace(rows=[], columns=[])


def local_md5(value: str) -> str:
    """dbt's `local_md5`: the md5 hex digest of a string."""
    import hashlib

    return hashlib.md5(value.encode("utf-8")).hexdigest()


def _relation(database: str, schema: str, identifier: str) -> str:
    return f'"{database}"."{schema}"."{identifier}"'


class _Nodes(dict):
    """`graph.nodes`: any project node, as a stub with a relation (its alias is its name)."""

    def __missing__(self, unique_id: str) -> SimpleNamespace:
        name = unique_id.rsplit(".", 1)[-1]
        return SimpleNamespace(database="warehouse", schema="intermediate", alias=name, name=name)


graph = SimpleNamespace(nodes=_Nodes())
adapter.get_relation = _relation
api = SimpleNamespace(Relation=SimpleNamespace(create=_relation))
flags = SimpleNamespace(FULL_REFRESH=False, WHICH="build")


def log(message: str, info: bool = False) -> str:
    """dbt's `log`: renders nothing."""
    return ""


class _Config:
    """dbt's `config`: called in a model it renders nothing; `config.get` answers the default (no model config here)."""

    def __call__(self, *args: Any, **kwargs: Any) -> str:
        return ""

    def get(self, name: str, default: Any = None) -> Any:
        return default


config = _Config()
