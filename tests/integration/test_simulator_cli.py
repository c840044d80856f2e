"""`python -m simulator`: the commands as `make` runs them, in subprocesses."""

from __future__ import annotations

import csv
import http.client
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from simulator.dataset import last_complete_month
from warehouse.contract import entity

pytestmark = pytest.mark.integration

PROJECT = Path(__file__).resolve().parents[2]
TOKEN = "cli-token"


def simulator(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "simulator", *args],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=check,
        timeout=120,
    )


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as stream:
        csv.writer(stream).writerows([header, *rows])


def billing_folder(folder: Path, latest_update: str = "2026-10-31T12:00:00Z") -> Path:
    rows = {
        "products": [["1", "Widget", "hardware", "2026-01-01T00:00:00Z"]],
        "invoices": [["10", "C1", "INV-10", "2026-10-05T10:00:00+03:00", "", "EUR", "issued", latest_update]],
        "invoice_lines": [["100", "10", "1", "2", "10.50", "21.00", "5.00", "2026-10-05T07:00:00Z"]],
        "credit_notes": [],
        "payments": [],
        "fx_rates": [["EUR", "2026-10-01", "1.000000", "2026-10-01T00:00:00Z"]],
    }
    for name, table_rows in rows.items():
        write_csv(folder / "billing" / f"{name}.csv", entity("billing", name).columns, table_rows)
    write_jsonl(folder / "crm" / "clients.jsonl", [{"id": "C1", "updated_at": "2026-10-02T09:00:00+03:00"}])
    return folder


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """`serve-crm` in a subprocess, once it has written its port file."""
    folder = billing_folder(tmp_path / "data")
    port_file = tmp_path / "crm.port"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulator",
            "serve-crm",
            "--data",
            str(folder),
            "--token",
            TOKEN,
            "--port",
            "0",
            "--port-file",
            str(port_file),
            "--rate-limit-rate",
            "0",
            "--retry-after",
            "0",
        ],
        cwd=PROJECT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not port_file.exists():
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline, "serve-crm wrote no port file"
            time.sleep(0.05)
        yield process, int(port_file.read_text())
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def request(port: int, path: str, headers: dict[str, str]) -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_serve_crm_answers_with_the_token_and_stops_cleanly(
    served: tuple[subprocess.Popen[str], int], tmp_path: Path, stop_signal: signal.Signals
) -> None:
    process, port = served
    status, body = request(port, "/api/v1/clients", {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200 and [r["id"] for r in body["data"]] == ["C1"] and body["next_cursor"] is None
    assert request(port, "/api/v1/clients", {})[0] == 401
    assert request(port, "/api/v1/clients", {"Authorization": "Bearer nope"})[0] == 401

    process.send_signal(stop_signal)
    _, stderr = process.communicate(timeout=15)
    assert process.returncode == 0, stderr
    assert "GET /api/v1/clients" not in stderr
    assert not (tmp_path / "crm.port").exists()


def test_serve_crm_refuses_bad_fault_rates(tmp_path: Path) -> None:
    result = simulator(
        "serve-crm",
        "--data",
        str(billing_folder(tmp_path)),
        "--token",
        TOKEN,
        "--error-rate",
        "1.5",
        check=False,
    )
    assert result.returncode != 0 and "error_rate" in result.stderr


@pytest.fixture
def dsn(pg_cluster: Any) -> Iterator[str]:
    name = "simulator_cli_test"
    with psycopg.connect(pg_cluster.url("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    yield pg_cluster.url(name)
    with psycopg.connect(pg_cluster.url("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


def test_load_and_upsert_billing(dsn: str, tmp_path: Path) -> None:
    folder = billing_folder(tmp_path / "data")
    result = simulator("load-billing", "--data", str(folder), "--dsn", dsn)
    assert "billing.invoice_lines\t1" in result.stdout.splitlines()
    assert "finance.compensation\t0" in result.stdout.splitlines()

    delta = tmp_path / "delta"
    write_csv(
        delta / "billing" / "invoices.csv",
        entity("billing", "invoices").columns,
        [["11", "C1", "INV-11", "", "", "EUR", "draft", "2026-11-01T00:00:00Z"]],
    )
    result = simulator("upsert-billing", "--delta", str(delta), "--dsn", dsn)
    assert result.stdout.splitlines() == ["billing.invoices\t1"]
    with psycopg.connect(dsn) as conn:
        assert conn.execute("select count(*), sum(amount) from invoice_lines").fetchone() == (1, 21)
        assert conn.execute("select array_agg(id order by id) from invoices").fetchone() == ([10, 11],)


def test_load_billing_reports_a_bad_file(dsn: str, tmp_path: Path) -> None:
    folder = billing_folder(tmp_path / "data")
    write_csv(
        folder / "billing" / "products.csv",
        entity("billing", "products").columns,
        [["one", "Widget", "hardware", "2026-01-01T00:00:00Z"]],
    )
    result = simulator("load-billing", "--data", str(folder), "--dsn", dsn, check=False)
    assert result.returncode == 1
    assert "products.csv, line 2" in result.stderr


@pytest.mark.parametrize(
    ("latest_update", "month"),
    [
        ("2026-10-31T12:00:00Z", date(2026, 10, 1)),
        ("2026-10-31T23:30:00+03:00", date(2026, 10, 1)),
        ("2026-10-31T22:00:00-05:00", date(2026, 10, 1)),  # 2026-11-01 in UTC
        ("2026-10-30T23:59:59Z", date(2026, 9, 1)),
        ("2026-12-31T00:00:00Z", date(2026, 12, 1)),
        ("2027-01-01T00:00:00+00:00", date(2026, 12, 1)),
        ("2028-02-29T10:00:00Z", date(2028, 2, 1)),
    ],
)
def test_last_complete_month(tmp_path: Path, latest_update: str, month: date) -> None:
    assert last_complete_month(billing_folder(tmp_path, latest_update)) == month


def test_last_complete_month_reads_crm_files_too(tmp_path: Path) -> None:
    folder = billing_folder(tmp_path, "2026-09-30T00:00:00Z")
    write_jsonl(folder / "crm" / "deals.jsonl", [{"id": "D1", "updated_at": "2026-10-31T04:00:00+02:00"}])
    assert simulator("last-complete-month", "--data", str(folder)).stdout == "2026-10-01\n"


def test_generate_and_apply_changes(tmp_path: Path) -> None:
    pytest.importorskip("simulator.generate")
    pytest.importorskip("simulator.changes")
    folder = tmp_path / "generated"
    result = simulator(
        "generate", "--out", str(folder), "--seed", "5", "--end-date", "2026-10-31", "--scale", "tiny"
    )
    counts = dict(line.split("\t") for line in result.stdout.splitlines())
    assert int(counts["crm.clients"]) > 0 and int(counts["billing.invoices"]) > 0
    assert (folder / "crm" / "clients.jsonl").exists() and (folder / "billing" / "invoices.csv").exists()

    result = simulator("apply-changes", "--data", str(folder), "--seed", "5")
    deltas = [line.split("\t", 1)[1] for line in result.stdout.splitlines() if line.startswith("delta\t")]
    assert len(deltas) == 1 and Path(deltas[0]).is_dir()
