"""The marts equal, to 1e-9, what an independent Python implementation of metrics.md computes.

`tests/oracle/marts.py` reads a simulator data set folder directly (no warehouse, no SQL) and
computes the five marts from metrics.md alone. Here the same folder goes the production way:
billing loaded into a database, the CRM served over HTTP, both extracted into a warehouse and
built by dbt. The folder is a generated data set with days of changes applied on top (soft-deleted
clients, voided invoices, backdated owner changes, late fx rates, late credit notes); a second
folder has the edges the generator never writes edited in (`dataset_edges.py`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from simulator.changes import apply_day_of_changes
from simulator.dataset import last_complete_month
from simulator.generate import generate
from tests.integration.conftest import extract_data_set
from tests.integration.dataset_edges import add_edge_cases
from tests.oracle.marts import COLUMNS, DEFAULT_PARAMS, Params, compute_marts
from warehouse.dbt import run_dbt

pytestmark = pytest.mark.integration

GRAIN = {
    "client_month": ("client_id", "month"),
    "manager_month": ("manager_id", "month"),
    "manager_quarter": ("manager_id", "quarter"),
    "revenue_movements": ("month", "scope", "manager_id", "bucket"),
    "cohort_retention": ("cohort_month", "months_since"),
}
TOLERANCE = Decimal("1e-9")
SHOWN = 5


def mart_rows(warehouse: str, table: str, columns: Iterable[str]) -> list[dict]:
    names = list(columns)
    with psycopg.connect(warehouse) as conn:
        cur = conn.execute(f"select {', '.join(names)} from marts.{table}")
        return [dict(zip(names, row, strict=True)) for row in cur]


def values_differ(expected: object, actual: object) -> bool:
    if isinstance(expected, Decimal) and isinstance(actual, Decimal | int):
        return abs(expected - actual) > TOLERANCE
    if isinstance(expected, int) and not isinstance(expected, bool) and isinstance(actual, Decimal):
        return abs(expected - actual) > TOLERANCE
    return expected != actual


def leading_columns(warehouse: str, table: str) -> tuple[str, ...]:
    with psycopg.connect(warehouse) as conn:
        cur = conn.execute(
            "select column_name from information_schema.columns where table_schema = 'marts' "
            "and table_name = %s order by ordinal_position",
            (table,),
        )
        return tuple(name for (name,) in cur)[: len(COLUMNS[table])]


def differences(table: str, expected: list[dict], actual: list[dict]) -> list[str]:
    """One line per kind of difference (missing rows, extra rows, each differing column), with examples."""
    grain = GRAIN[table]
    by_key = {tuple(row[c] for c in grain): row for row in actual}
    assert len(by_key) == len(actual), f"{table}: duplicate grain in the mart"
    expected_by_key = {tuple(row[c] for c in grain): row for row in expected}
    assert len(expected_by_key) == len(expected), f"{table}: duplicate grain in the reference"
    found: list[str] = []
    missing = [k for k in expected_by_key if k not in by_key]
    extra = [k for k in by_key if k not in expected_by_key]
    if missing:
        found.append(f"{table}: {len(missing)} rows missing from the mart, e.g. {missing[:SHOWN]}")
    if extra:
        found.append(f"{table}: {len(extra)} rows the reference lacks, e.g. {extra[:SHOWN]}")
    by_column: dict[str, list[str]] = {}
    for key, want in expected_by_key.items():
        got = by_key.get(key)
        if got is None:
            continue
        for column, value in want.items():
            if values_differ(value, got[column]):
                by_column.setdefault(column, []).append(f"{key}: reference {value!r}, mart {got[column]!r}")
    for column, cases in by_column.items():
        found.append(f"{table}.{column}: {len(cases)} rows differ, e.g. " + "; ".join(cases[:SHOWN]))
    return found


def dbt_vars(params: Params) -> dict:
    """The dbt vars that set the project to `params` (the names differ only in case)."""
    return {
        "reporting_tz": params.reporting_tz,
        "base_currency": params.base_currency,
        "activity_window_months": params.activity_window_months,
        "growth_target": str(params.growth_target),
        "sla_hours": params.sla_hours,
        "health_weights": {name: str(weight) for name, weight in params.health_weights.items()},
        "request_cost": str(params.request_cost),
        "hourly_rate": {role: str(rate) for role, rate in params.hourly_rate.items()},
        "abc_thresholds": {name.lower(): str(share) for name, share in params.abc_thresholds.items()},
    }


def build_marts_the_production_way(
    folder: Path,
    warehouse: str,
    cluster,
    target: Path,
    params: Params = DEFAULT_PARAMS,
    as_of_month: date | None = None,
) -> date:
    """Load, extract and build the marts for `as_of_month` (default: the last complete month)."""
    as_of_month = as_of_month or last_complete_month(folder)
    extract_data_set(cluster, folder, warehouse, "reference")
    run_dbt(["run", "--select", "+marts"], warehouse, as_of_month, target, extra_vars=dbt_vars(params))
    return as_of_month


def compare_with_reference(
    folder: Path, warehouse: str, as_of_month: date, params: Params = DEFAULT_PARAMS
) -> list[str]:
    reference = compute_marts(folder, as_of_month, params)
    found: list[str] = []
    for table, expected in reference.items():
        assert expected, f"the reference computed no {table} rows"
        assert leading_columns(warehouse, table) == COLUMNS[table], f"{table}: not the columns of marts.md"
        found += differences(table, expected, mart_rows(warehouse, table, expected[0]))
    return found


NON_DEFAULT_PARAMS = Params(
    activity_window_months=2,
    growth_target=Decimal("0.10"),
    sla_hours={"high": 8, "normal": 48},
    health_weights={
        "revenue_trend": Decimal("0.40"),
        "engagement": Decimal("0.20"),
        "sentiment": Decimal("0.25"),
        "service": Decimal("0.15"),
    },
    request_cost=Decimal("750"),
    hourly_rate={"am": Decimal("1000"), "kam": Decimal("2000"), "lead": Decimal("3000.5")},
    abc_thresholds={"A": Decimal("0.70"), "B": Decimal("0.90")},
    reporting_tz="America/New_York",  # months and days cut at local midnight, across DST changes
)


# the other ends of the ranges: a one-month activity window (active means N(m) > 0), no growth
# target, SLAs of hours, wide ABC bands, and a zone with a half-hour offset
BOUNDARY_PARAMS = Params(
    activity_window_months=1,
    growth_target=Decimal("0"),
    sla_hours={"high": 1, "normal": 2},
    abc_thresholds={"A": Decimal("0.50"), "B": Decimal("0.99")},
    reporting_tz="Asia/Kolkata",
)


@pytest.fixture(scope="module")
def changed_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small data set (300 clients, 24 months) with two more days of changes applied."""
    folder = tmp_path_factory.mktemp("reference") / "small"
    generate(folder, seed=2026, end_date=date(2026, 10, 31), scale="small")
    for seed in (1, 2):
        apply_day_of_changes(folder, seed=seed)
    return folder


@pytest.mark.parametrize(
    "params",
    [DEFAULT_PARAMS, NON_DEFAULT_PARAMS, BOUNDARY_PARAMS],
    ids=["defaults", "other-settings", "boundary-settings"],
)
def test_marts_equal_the_reference_implementation(
    changed_dataset: Path, params: Params, warehouse: str, pg_cluster, tmp_path: Path
) -> None:
    as_of_month = build_marts_the_production_way(
        changed_dataset, warehouse, pg_cluster, tmp_path / "dbt", params
    )
    found = compare_with_reference(changed_dataset, warehouse, as_of_month, params)
    assert not found, "\n".join(found)


@pytest.fixture(scope="module")
def edge_dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The small data set with the edges the generator never writes (tests/integration/dataset_edges.py)."""
    folder = tmp_path_factory.mktemp("edges") / "small"
    generate(folder, seed=2026, end_date=date(2026, 10, 31), scale="small")
    apply_day_of_changes(folder, seed=1)
    return folder, add_edge_cases(folder)


@pytest.mark.parametrize(
    ("params", "months_back"),
    [(DEFAULT_PARAMS, 0), (NON_DEFAULT_PARAMS, 2)],
    ids=["defaults", "other-settings-two-months-earlier"],
)
def test_marts_equal_the_reference_on_the_edges_of_metrics_md(
    edge_dataset: tuple[Path, dict[str, str]],
    params: Params,
    months_back: int,
    warehouse: str,
    pg_cluster,
    tmp_path: Path,
) -> None:
    folder, picked = edge_dataset
    as_of_month = last_complete_month(folder)
    for _ in range(months_back):
        as_of_month = (as_of_month - timedelta(days=1)).replace(day=1)
    build_marts_the_production_way(folder, warehouse, pg_cluster, tmp_path / "dbt", params, as_of_month)
    found = compare_with_reference(folder, warehouse, as_of_month, params)
    assert not found, "\n".join(found)

    # the edits reached the marts, so the comparison above covered them
    with psycopg.connect(warehouse) as conn:
        months = conn.execute(
            "select client_id, owner_id, is_active, status, wallet_share from marts.client_month"
            " where client_id = any(%s) order by client_id, month",
            (list(picked.values()),),
        ).fetchall()
        first_change = conn.execute(
            "select revenue_change, net_revenue from marts.client_month where client_id = %s"
            " order by month limit 1",
            (picked["credit_month_before_first_invoice"],),
        ).fetchone()
        (revenue_before_first,) = conn.execute(
            "select net_revenue from intermediate.int_client_revenue_month where client_id = %s"
            " order by month limit 1",
            (picked["credit_month_before_first_invoice"],),
        ).fetchone()
        (deleted_manager_months,) = conn.execute(
            "select count(*) from marts.manager_month where manager_id = %s",
            (picked["soft_deleted_manager"],),
        ).fetchone()
    by_client: dict[str, list[tuple]] = {}
    for client_id, *row in months:
        by_client.setdefault(client_id, []).append(tuple(row))
    assert {owner for owner, *_ in by_client[picked["unowned"]]} == {None}
    assert None not in {owner for owner, *_ in by_client[picked["zero_wallet"]]}
    assert by_client[picked["owner_after_first_invoice"]][0][0] is None
    # the early credit note is two months before F(c): inside a window of 3, outside one of 2
    first_months = [
        (active, status) for _, active, status, _ in by_client[picked["credit_before_first_invoice"]][:2]
    ]
    if params.activity_window_months == 3:
        assert first_months == [(False, "new"), (True, "reactivated")]
    else:
        assert first_months == [(True, "new"), (True, "retained")]
    assert {share for *_, share in by_client[picked["zero_wallet"]]} == {None}
    # the credit note of the month before F(c) is outside the movements: the change at F is N(F)
    assert revenue_before_first < 0
    assert first_change[0] == first_change[1] > 0
    assert deleted_manager_months > 0
    # billed before the CRM delivered it: its months stay, credited to the owner its changes give
    assert by_client[picked["unknown_to_crm"]]
    assert None not in {owner for owner, *_ in by_client[picked["unknown_to_crm"]]}


def test_differences_name_the_rows_and_columns() -> None:
    expected = [{"client_id": "c1", "month": date(2026, 1, 1), "net_revenue": Decimal("10.00")}]
    actual: Mapping[str, list[dict]] = {
        "equal": [{"client_id": "c1", "month": date(2026, 1, 1), "net_revenue": Decimal("10.0000000000001")}],
        "off": [{"client_id": "c1", "month": date(2026, 1, 1), "net_revenue": Decimal("10.01")}],
        "extra": [*expected, {"client_id": "c2", "month": date(2026, 1, 1), "net_revenue": Decimal(0)}],
    }
    assert differences("client_month", expected, actual["equal"]) == []
    assert differences("client_month", expected, actual["off"]) == [
        "client_month.net_revenue: 1 rows differ, e.g. ('c1', datetime.date(2026, 1, 1)): "
        "reference Decimal('10.00'), mart Decimal('10.01')"
    ]
    assert differences("client_month", expected, actual["extra"]) == [
        "client_month: 1 rows the reference lacks, e.g. [('c2', datetime.date(2026, 1, 1))]"
    ]
