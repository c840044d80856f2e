"""Read and write the dataset folder of sources.md §5, and the value formats it holds.

`crm/<entity>.jsonl` holds one JSON record per line with the contract's fields in
order; `billing/<table>.csv` and `finance/<table>.csv` hold a header row and one
row per record, an empty cell being null.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any

from warehouse.contract import Entity

_ZONES: dict[int, timezone] = {}


def entity_path(folder: Path, entity: Entity) -> Path:
    suffix = "jsonl" if entity.source == "crm" else "csv"
    return Path(folder) / entity.source / f"{entity.name}.{suffix}"


def format_ts(epoch: int, offset_minutes: int = 0) -> str:
    """An instant (seconds since the epoch) as ISO 8601 in the given UTC offset, `Z` for UTC."""
    zone = _ZONES.get(offset_minutes)
    if zone is None:
        zone = _ZONES[offset_minutes] = timezone(timedelta(minutes=offset_minutes))
    text = datetime.fromtimestamp(epoch, zone).isoformat()
    return text[:-6] + "Z" if offset_minutes == 0 else text


def parse_ts(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


def epoch_of(day: date) -> int:
    """The first instant of a UTC calendar day."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def utc_date(epoch: int) -> date:
    return datetime.fromtimestamp(epoch, UTC).date()


def format_units(units: int, decimals: int) -> str:
    """An exact decimal from an integer count of 10**-decimals units: format_units(-1250, 2) == "-12.50"."""
    if decimals == 0:
        return str(units)
    sign = "-" if units < 0 else ""
    whole, fraction = divmod(abs(units), 10**decimals)
    return f"{sign}{whole}.{fraction:0{decimals}d}"


def format_money(cents: int) -> str:
    return format_units(cents, 2)


def parse_units(text: str, decimals: int) -> int:
    """The inverse of format_units, exact: parse_units("12.5", 2) == 1250."""
    sign = -1 if text.startswith("-") else 1
    whole, _, fraction = text.lstrip("+-").partition(".")
    if len(fraction) > decimals:
        raise ValueError(f"{text!r} has more than {decimals} decimals")
    return sign * (int(whole or "0") * 10**decimals + int(fraction.ljust(decimals, "0") or "0"))


class EntityWriter:
    """Streams the records of one entity into its file, fields in contract order."""

    def __init__(
        self, folder: Path, entity: Entity, *, path: Path | None = None, append: bool = False
    ) -> None:
        """Writes `entity`'s file in `folder` (or `path`): a new file, or more records at the end of one."""
        self.entity = entity
        self.path = path or entity_path(folder, entity)
        self.count = 0
        self._required = [f.name for f in entity.fields if not f.nullable]
        self._columns = entity.columns
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = open(self.path, "a" if append else "w", encoding="utf-8", newline="")  # noqa: SIM115
        self._csv = None
        if entity.source != "crm":
            self._csv = csv.writer(self._file, lineterminator="\n")
            if not append:
                self._csv.writerow(self._columns)

    def write(self, row: dict[str, Any]) -> None:
        missing = [name for name in self._required if name not in row]
        if missing:
            name = f"{self.entity.source}.{self.entity.name}"
            raise KeyError(f"{name} record {row.get('id')!r} lacks required fields {missing}")
        values = [row.get(name) for name in self._columns]
        if self._csv is not None:
            self._csv.writerow(values)
        else:
            record = dict(zip(self._columns, values, strict=True))
            self._file.write(json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n")
        self.count += 1

    def write_all(self, rows: Iterable[dict[str, Any]]) -> None:
        for row in rows:
            self.write(row)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> EntityWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def write_entity(folder: Path, entity: Entity, rows: Iterable[dict]) -> int:
    """Write `rows` as the whole file of `entity` in `folder`; returns how many were written."""
    with EntityWriter(folder, entity) as writer:
        writer.write_all(rows)
        return writer.count


def read_entity(folder: Path, entity: Entity) -> Iterator[dict]:
    """The records of `entity` as the file holds them: JSON types for crm, strings or None for csv."""
    path = entity_path(folder, entity)
    with open(path, encoding="utf-8", newline="") as file:
        if entity.source == "crm":
            for line in file:
                if line.strip():
                    yield json.loads(line)
        else:
            for row in csv.DictReader(file):
                yield {name: (value if value != "" else None) for name, value in row.items()}


# -- last complete month -------------------------------------------------------------------


_UPDATED_AT_FIELD = re.compile(rb'"updated_at"\s*:\s*"([^"]*)"')


def updated_at_values(folder: Path) -> Iterator[str]:
    """Every `updated_at` of a data set folder's CRM and billing files."""
    for path in sorted((folder / "crm").glob("*.jsonl")):
        with path.open("rb") as stream:
            for line in stream:
                found = _UPDATED_AT_FIELD.search(line)
                if found:
                    yield found.group(1).decode()
                elif line.strip() and (value := json.loads(line).get("updated_at")):
                    yield value
    for path in sorted((folder / "billing").glob("*.csv")):
        with path.open(newline="", encoding="utf-8-sig") as stream:
            rows = csv.reader(stream)
            header = next(rows, [])
            if "updated_at" not in header:
                continue
            position = header.index("updated_at")
            for row in rows:
                if len(row) > position and row[position]:
                    yield row[position]


def latest_updated_at(folder: Path) -> datetime:
    """The latest `updated_at` instant of a folder, in UTC."""
    latest: datetime | None = None
    for value in updated_at_values(folder):
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError(f"{folder}: updated_at {value!r} has no UTC offset")
        if latest is None or moment > latest:
            latest = moment
    if latest is None:
        raise ValueError(f"{folder} holds no record with an updated_at")
    return latest.astimezone(UTC)


def last_complete_month(folder: Path) -> date:
    """The first day of the last calendar month the data covers whole (its latest instant, in UTC)."""
    latest = latest_updated_at(folder).date()
    if (latest + timedelta(days=1)).month != latest.month:
        return latest.replace(day=1)
    return (latest.replace(day=1) - timedelta(days=1)).replace(day=1)
