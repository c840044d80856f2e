"""Finance CSV inputs: a bad value or a duplicate key stops the load, named by file, line and key, never by value."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from warehouse.contract import entity
from warehouse.extract.finance import FinanceInputError, read_csv_rows, validate

COMPENSATION = entity("finance", "compensation")


def write(folder, text: str) -> None:
    (folder / "compensation.csv").write_text(text)


def test_valid_rows_are_typed(tmp_path):
    write(tmp_path, "manager_id,effective_from,annual_base_salary,currency\nM1,2025-01-01,2400000.00,RUB\n")
    assert validate(COMPENSATION, read_csv_rows(tmp_path, COMPENSATION)) == [
        ("compensation.csv line 2", ("M1", date(2025, 1, 1), Decimal("2400000.00"), "RUB"))
    ]


def test_a_duplicate_key_names_both_lines(tmp_path):
    write(
        tmp_path,
        "manager_id,effective_from,annual_base_salary,currency\n"
        "M1,2025-01-01,2400000.00,RUB\nM2,2025-01-01,1800000.00,RUB\nM1,2025-01-01,2600000.00,RUB\n",
    )
    with pytest.raises(FinanceInputError) as error:
        validate(COMPENSATION, read_csv_rows(tmp_path, COMPENSATION))
    assert str(error.value) == (
        "finance input compensation.csv line 4: duplicate key M1, 2025-01-01 (first at compensation.csv line 2)"
    )


def test_a_wrong_type_names_the_line_and_column_but_not_the_salary(tmp_path):
    write(tmp_path, "manager_id,effective_from,annual_base_salary,currency\nM1,2025-01-01,24OO000,RUB\n")
    with pytest.raises(FinanceInputError) as error:
        validate(COMPENSATION, read_csv_rows(tmp_path, COMPENSATION))
    assert str(error.value) == "finance input compensation.csv line 2: annual_base_salary is not a number"
    assert "24OO000" not in str(error.value)


def test_a_missing_column_is_named(tmp_path):
    write(tmp_path, "manager_id,effective_from,currency\nM1,2025-01-01,RUB\n")
    with pytest.raises(FinanceInputError, match="the header lacks annual_base_salary"):
        list(read_csv_rows(tmp_path, COMPENSATION))
