"""The dbt project's SQL follows the house style (shared/conventions.md), as `dbt_project/.sqlfluff` states it.

sqlfluff renders each file with its jinja templater (dbt's builtins mocked, our macros loaded,
the vars of dbt_project.yml), so a model is linted as the SQL it compiles to; no database is
needed. Two processes (the suite runs one test at a time, so the second core is free): the
60-odd models and tests take ~30 s on a 2-core machine, ~55 s in one process.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
from sqlfluff.core import FluffConfig, Linter

DBT_PROJECT = Path(__file__).resolve().parents[2] / "dbt_project"


@cache
def project_config() -> FluffConfig:
    return FluffConfig.from_path(str(DBT_PROJECT))


def violations_of(sql: str) -> set[str]:
    linted = Linter(config=project_config()).lint_string(sql, fname="snippet.sql")
    return {violation.rule_code() for violation in linted.get_violations()}


def test_models_and_tests_follow_the_house_sql_style():
    result = Linter(config=project_config()).lint_paths(
        (str(DBT_PROJECT / "models"), str(DBT_PROJECT / "tests")), processes=2
    )
    records = result.as_records()
    problems = [
        f"{Path(record['filepath']).relative_to(DBT_PROJECT)}:{v['start_line_no']}: {v['code']} {v['description']}"
        for record in records
        for v in record["violations"]
    ]
    assert len(records) > 50, "the lint found none or few of the models"
    assert problems == [], (
        "sqlfluff lint dbt_project/models dbt_project/tests (then `sqlfluff fix` and review):\n"
        + "\n".join(problems)
    )


HOUSE_STYLE = """\
with

client_month as (

    select * from {{ ref('client_month') }}

),

final as (

    select
        client_id,
        month,
        net_revenue as revenue

    from client_month

)

select * from final
"""


@pytest.mark.parametrize(
    ("breach", "sql", "rule"),
    [
        ("upper-case keyword", HOUSE_STYLE.replace("from client_month\n", "FROM client_month\n"), "CP01"),
        ("upper-case function", HOUSE_STYLE.replace("net_revenue as", "ABS(net_revenue) as"), "CP03"),
        (
            "leading comma",
            HOUSE_STYLE.replace("client_id,\n        month", "client_id\n        , month"),
            "LT04",
        ),
        (
            "implicit column alias",
            HOUSE_STYLE.replace("net_revenue as revenue", "net_revenue revenue"),
            "AL02",
        ),
        (
            "two columns on a line",
            HOUSE_STYLE.replace("client_id,\n        month", "client_id, month"),
            "LT09",
        ),
        (
            "closing select not `select * from final`",
            HOUSE_STYLE.replace("select * from final", "select client_id from final"),
            "CV13",
        ),
        ("`select *` of unknown columns", "select * from {{ ref('client_month') }}\n", "AM04"),
        (
            "line over 110 characters",
            HOUSE_STYLE.replace("net_revenue as revenue", "net_revenue" + " + 0" * 30 + " as revenue"),
            "LT05",
        ),
        (
            "positional group by",
            "select\n    client_id,\n    count(*) as months\nfrom client_month\ngroup by 1\n",
            "AM06",
        ),
    ],
)
def test_the_style_config_catches_a_breach(breach, sql, rule):
    assert violations_of(HOUSE_STYLE) == set()
    assert rule in violations_of(sql), breach


def test_the_lint_renders_macros_with_the_project_vars():
    """`var()` reads dbt_project.yml (sla_hours high 4, normal 24), as_of_month comes from .sqlfluff."""
    sql = "select\n    {{ manager_sla_hours('priority') }} as sla_hours,\n    {{ as_of_month() }} as as_of_month\n"
    linter = Linter(config=project_config())
    rendered = linter.render_string(sql, "snippet.sql", project_config(), "utf8")
    text = " ".join(str(rendered.templated_variants[0]).split())
    assert "when 'high' then cast(4 as numeric) when 'normal' then cast(24 as numeric)" in text
    assert "cast('2026-03-01' as date)" in text
