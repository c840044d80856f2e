"""The simulator's CRM API against sources.md §1, on hand-made folders."""

from __future__ import annotations

import http.client
import json
import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest

from simulator.crm_server import ENTITY_NAMES, CrmServer, DatasetError, Faults, load_records

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

# String order and instant order differ; ties on the instant are broken by id in byte order.
CLIENTS = [
    {"id": "c1", "name": "lower c", "updated_at": "2026-01-01T08:00:00Z"},
    {"id": "B2", "name": "late", "updated_at": "2026-01-01T07:59:59-01:00"},
    {"id": "C9", "name": "tie, +03:00", "updated_at": "2026-01-01T11:00:00+03:00"},
    {"id": "A1", "name": "earlier than it reads", "updated_at": "2026-01-01T10:00:00+03:00"},
    {"id": "\u00e91", "name": "non-ASCII id", "updated_at": "2026-01-01T08:00:00.000000+00:00"},
    {"id": "C10", "name": "tie, Z", "updated_at": "2026-01-01T08:00:00Z"},
    {"id": "Z0", "name": "earliest", "updated_at": "2025-12-31T23:00:00-05:00"},
]
CLIENTS_IN_ORDER = ["Z0", "A1", "C10", "C9", "c1", "\u00e91", "B2"]


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")


def random_records(count: int, seed: int) -> list[dict[str, Any]]:
    """Records whose instants collide often, written with varying offsets."""
    rng = random.Random(seed)
    offsets = ["Z", "+00:00", "+03:00", "-05:00", "+05:30"]
    records = []
    for i in range(count):
        hour = rng.randint(0, 5)
        offset = rng.choice(offsets)
        shift = {"Z": 0, "+00:00": 0, "+03:00": 180, "-05:00": -300, "+05:30": 330}[offset]
        minutes = 12 * 60 + hour * 60 + shift
        stamp = f"2026-03-0{1 + minutes // 1440}T{minutes % 1440 // 60:02d}:{minutes % 60:02d}:00{offset}"
        records.append({"id": f"D{rng.randint(0, count)}-{i}", "stage": "open", "updated_at": stamp})
    return records


def expected_order(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(records, key=lambda r: (datetime.fromisoformat(r["updated_at"]), r["id"].encode()))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write_jsonl(tmp_path / "crm" / "clients.jsonl", CLIENTS)
    write_jsonl(tmp_path / "crm" / "deals.jsonl", random_records(1000, seed=3))
    return tmp_path


@pytest.fixture
def server(folder: Path) -> Iterator[CrmServer]:
    with CrmServer(folder, TOKEN) as crm:
        yield crm


def get(
    server: CrmServer,
    path: str,
    headers: dict[str, str] | None = None,
    method: str = "GET",
    body: bytes | None = None,
) -> Response:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=AUTH if headers is None else headers)
        response = connection.getresponse()
        return Response(response.status, dict(response.getheaders()), response.read())
    finally:
        connection.close()


def list_path(entity: str, **params: Any) -> str:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"/api/v1/{entity}" + (f"?{query}" if query else "")


def read_all(server: CrmServer, entity: str, **params: Any) -> tuple[list[dict[str, Any]], int]:
    """Every record of an entity, following next_cursor (cursor alone); and the number of pages."""
    records, pages, path = [], 0, list_path(entity, **params)
    while True:
        response = get(server, path)
        assert response.status == 200, response.body
        page = response.json()
        records.extend(page["data"])
        pages += 1
        if page["next_cursor"] is None:
            return records, pages
        assert page["data"], "only a last page may be empty"
        path = list_path(entity, cursor=page["next_cursor"])


# -- ordering and pagination ---------------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 2, 3, 7, 100])
def test_pages_hold_every_record_once_ordered_by_instant_then_id(server: CrmServer, limit: int) -> None:
    records, pages = read_all(server, "clients", limit=limit)
    assert [r["id"] for r in records] == CLIENTS_IN_ORDER
    assert pages == -(-len(CLIENTS) // limit)


@pytest.mark.parametrize("limit", [1, 13, 100, 500])
def test_pagination_over_colliding_instants_and_offsets(server: CrmServer, folder: Path, limit: int) -> None:
    deals = [json.loads(line) for line in (folder / "crm" / "deals.jsonl").read_text().splitlines()]
    records, _ = read_all(server, "deals", limit=limit)
    assert records == expected_order(deals)


def test_records_are_served_as_they_appear_in_the_file(server: CrmServer, folder: Path) -> None:
    body = get(server, list_path("clients", limit=500)).body
    for line in (folder / "crm" / "clients.jsonl").read_bytes().splitlines():
        assert line in body
    by_id = {r["id"]: r for r in get(server, list_path("clients")).json()["data"]}
    assert by_id["C9"]["updated_at"] == "2026-01-01T11:00:00+03:00"
    assert by_id == {r["id"]: r for r in CLIENTS}


def test_records_with_the_same_id_and_updated_at_are_all_served(tmp_path: Path) -> None:
    twice = {"id": "X", "updated_at": "2026-01-01T00:00:00Z"}
    write_jsonl(tmp_path / "crm" / "surveys.jsonl", [twice, {**twice, "score": 1}, {**twice, "id": "Y"}])
    with CrmServer(tmp_path, TOKEN) as crm:
        records, pages = read_all(crm, "surveys", limit=1)
    assert [r["id"] for r in records] == ["X", "X", "Y"] and pages == 3


def test_the_last_page_has_no_next_cursor(server: CrmServer) -> None:
    page = get(server, list_path("clients", limit=len(CLIENTS))).json()
    assert len(page["data"]) == len(CLIENTS) and page["next_cursor"] is None


def test_an_entity_without_a_file_is_empty(server: CrmServer) -> None:
    assert get(server, list_path("surveys")).json() == {"data": [], "next_cursor": None}


def test_default_limit_is_100(server: CrmServer) -> None:
    page = get(server, list_path("deals")).json()
    assert len(page["data"]) == 100 and page["next_cursor"]


def test_a_generated_data_set_is_served_whole_and_in_order(tiny_dataset: Path) -> None:
    with CrmServer(tiny_dataset, TOKEN) as crm:
        for name in ENTITY_NAMES:
            lines = (tiny_dataset / "crm" / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
            records, _ = read_all(crm, name, limit=37)
            assert records == expected_order([json.loads(line) for line in lines]), name


# -- parameters ----------------------------------------------------------------------------


def test_updated_since_is_inclusive_and_compared_as_an_instant(server: CrmServer) -> None:
    path = "/api/v1/clients?updated_since=" + quote("2026-01-01T11:00:00+03:00", safe="")
    assert "%2B03%3A00" in path
    ids = [r["id"] for r in get(server, path).json()["data"]]
    assert ids == ["C10", "C9", "c1", "\u00e91", "B2"]
    from_seven = read_all(server, "clients", updated_since="2026-01-01T07:00:00Z")[0]
    assert [r["id"] for r in from_seven] == ["A1", *ids]
    assert get(server, list_path("clients", updated_since="2026-01-02T00:00:00+00:00")).json()["data"] == []


def test_updated_since_with_pagination(server: CrmServer, folder: Path) -> None:
    since = "2026-03-01T17:00:00+03:00"
    deals = [json.loads(line) for line in (folder / "crm" / "deals.jsonl").read_text().splitlines()]
    expected = [
        r
        for r in expected_order(deals)
        if datetime.fromisoformat(r["updated_at"]) >= datetime.fromisoformat(since)
    ]
    assert 0 < len(expected) < len(deals)
    assert read_all(server, "deals", updated_since=since, limit=17)[0] == expected


@pytest.mark.parametrize(
    "since",
    ["2026-01-01T08:00:00", "2026-01-01", "yesterday", "2026-13-01T00:00:00Z", "2026-01-01T08:00:00 03:00"],
)
def test_a_naive_or_unparsable_updated_since_is_400(server: CrmServer, since: str) -> None:
    response = get(server, list_path("clients", updated_since=since))
    assert response.status == 400 and "updated_since" in response.json()["error"]


def test_an_unencoded_plus_is_400(server: CrmServer) -> None:
    assert get(server, "/api/v1/clients?updated_since=2026-01-01T11:00:00+03:00").status == 400


@pytest.mark.parametrize("limit", ["0", "-1", "501", "abc", "1.5", "1_0", " 5"])
def test_limit_out_of_bounds_is_400(server: CrmServer, limit: str) -> None:
    response = get(server, list_path("deals", limit=limit))
    assert response.status == 400 and "limit" in response.json()["error"]


def test_limit_500_is_allowed(server: CrmServer) -> None:
    response = get(server, list_path("deals", limit=500))
    assert response.status == 200 and len(response.json()["data"]) == 500


def test_the_cursor_carries_updated_since_and_limit(server: CrmServer) -> None:
    since = "2026-01-01T07:00:00Z"
    first = get(server, list_path("clients", updated_since=since, limit=2)).json()
    assert [r["id"] for r in first["data"]] == ["A1", "C10"]
    alone = get(server, list_path("clients", cursor=first["next_cursor"])).json()
    repeated_path = list_path("clients", updated_since=since, limit=2, cursor=first["next_cursor"])
    repeated = get(server, repeated_path).json()
    assert alone == repeated
    assert [r["id"] for r in alone["data"]] == ["C9", "c1"]


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "not-a-cursor"},
        {"cursor": "e30"},  # {}
        {"cursor": "!!!!"},
    ],
)
def test_a_bad_cursor_is_400(server: CrmServer, params: dict[str, str]) -> None:
    response = get(server, list_path("clients", **params))
    assert response.status == 400 and "cursor" in response.json()["error"]


def test_a_cursor_is_bound_to_its_entity_and_parameters(server: CrmServer) -> None:
    cursor = get(server, list_path("clients", limit=2)).json()["next_cursor"]
    assert get(server, list_path("deals", cursor=cursor)).status == 400
    assert get(server, list_path("clients", cursor=cursor, limit=3)).status == 400
    other_since = list_path("clients", cursor=cursor, updated_since="2026-01-01T00:00:00Z")
    assert get(server, other_since).status == 400


def test_unknown_entity_is_404(server: CrmServer) -> None:
    response = get(server, "/api/v1/invoices")
    assert response.status == 404 and response.json()["error"]


# -- auth ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}, {"Authorization": "Bearer"}],
)
def test_a_missing_or_wrong_token_is_401(server: CrmServer, headers: dict[str, str]) -> None:
    for path in ("/api/v1/clients", "/_admin/stats", "/_admin/reload"):
        response = get(server, path, headers=headers)
        assert response.status == 401
        assert response.headers["Content-Type"].startswith("application/json") and response.json()["error"]
    assert server.stats.snapshot()["401"] == 1


def test_health_needs_no_token(server: CrmServer) -> None:
    assert get(server, "/health", headers={}).json() == {"status": "ok"}


# -- faults --------------------------------------------------------------------------------


def attempt(server: CrmServer, path: str) -> int | str:
    """The status of one request on a fresh connection, or "dropped"."""
    try:
        response = get(server, path)
    except (http.client.RemoteDisconnected, ConnectionError):
        return "dropped"
    if response.status == 429:
        assert response.headers["Retry-After"] == str(server.faults.retry_after)
    if response.status != 200:
        assert response.json()["error"]
    return response.status


def test_faults_are_injected_and_counted(server: CrmServer) -> None:
    server.set_faults(Faults(error_rate=0.3, drop_rate=0.2, rate_limit_rate=0.2, retry_after=0, seed=7))
    outcomes = [attempt(server, list_path("clients", limit=2)) for _ in range(80)]
    stats = server.stats.snapshot()
    assert stats["5xx"] == sum(1 for o in outcomes if o in (500, 502, 503)) > 0
    assert stats["dropped"] == outcomes.count("dropped") > 0
    assert stats["429"] == outcomes.count(429) > 0
    assert stats["served"] == outcomes.count(200) > 0
    assert stats["requests"] == 80
    assert {o for o in outcomes if isinstance(o, int) and o >= 500} <= {500, 502, 503}


def test_retry_after_is_the_configured_seconds(server: CrmServer) -> None:
    server.set_faults(Faults(rate_limit_rate=1.0, retry_after=1))
    response = get(server, list_path("clients"))
    assert response.status == 429 and response.headers["Retry-After"] == "1"


def test_with_zero_rates_nothing_fails(server: CrmServer) -> None:
    server.set_faults(Faults(error_rate=0.5, seed=1))
    server.set_faults(Faults())
    assert {attempt(server, list_path("clients")) for _ in range(50)} == {200}
    stats = server.stats.snapshot()
    assert stats["5xx"] == stats["dropped"] == stats["429"] == 0


def test_a_fault_sequence_is_reproducible_from_its_seed(folder: Path) -> None:
    faults = Faults(error_rate=0.25, rate_limit_rate=0.25, drop_rate=0.25, retry_after=0, seed=11)
    runs = []
    for _ in range(2):
        with CrmServer(folder, TOKEN, faults=faults) as crm:
            runs.append([attempt(crm, list_path("clients")) for _ in range(30)])
    assert runs[0] == runs[1]


def test_faults_switch_at_run_time_over_http(server: CrmServer) -> None:
    body = json.dumps({"rate_limit_rate": 1.0, "retry_after": 0}).encode()
    response = get(
        server,
        "/_admin/faults",
        method="POST",
        body=body,
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert response.status == 200 and response.json()["rate_limit_rate"] == 1.0
    assert get(server, "/_admin/faults").json() == Faults(rate_limit_rate=1.0, retry_after=0).as_dict()
    assert attempt(server, list_path("clients")) == 429
    assert get(server, "/_admin/stats").json()["429"] == 1
    get(server, "/_admin/faults", method="POST", body=b"{}")
    assert attempt(server, list_path("clients")) == 200


@pytest.mark.parametrize(
    "body", [b'{"error_rate": 2}', b'{"nonsense": 1}', b'{"error_rate": 0.6, "drop_rate": 0.6}', b"[1]", b"{"]
)
def test_bad_fault_settings_are_400(server: CrmServer, body: bytes) -> None:
    assert get(server, "/_admin/faults", method="POST", body=body).status == 400
    assert server.faults == Faults()


def test_admin_and_health_requests_are_never_faulted(server: CrmServer) -> None:
    server.set_faults(Faults(drop_rate=1.0))
    assert get(server, "/health").status == 200
    assert get(server, "/_admin/stats").status == 200
    assert attempt(server, list_path("clients")) == "dropped"


def test_stats_reset(server: CrmServer) -> None:
    get(server, list_path("clients"))
    assert get(server, "/_admin/stats/reset", method="POST").json()["served"] == 0


# -- reload, determinism, logging ----------------------------------------------------------


def test_reload_picks_up_file_changes(server: CrmServer, folder: Path) -> None:
    changed = [
        *CLIENTS[1:],
        {**CLIENTS[0], "name": "renamed", "updated_at": "2026-01-02T00:00:00+03:00"},
        {"id": "N1", "name": "new", "updated_at": "2026-01-02T00:00:00Z"},
    ]
    write_jsonl(folder / "crm" / "clients.jsonl", changed)
    assert len(get(server, list_path("clients")).json()["data"]) == len(CLIENTS)
    response = get(server, "/_admin/reload", method="POST")
    assert response.status == 200 and response.json()["records"]["clients"] == len(changed)
    since = quote("2026-01-01T21:00:00Z", safe="")
    page = get(server, f"/api/v1/clients?updated_since={since}").json()
    assert [(r["id"], r["name"]) for r in page["data"]] == [("c1", "renamed"), ("N1", "new")]


def test_a_failed_reload_keeps_serving_the_previous_data(server: CrmServer, folder: Path) -> None:
    (folder / "crm" / "clients.jsonl").write_text('{"id": "x", "updated_at": "2026-01-01T00:00:00"}\n')
    response = get(server, "/_admin/reload", method="POST")
    assert response.status == 500 and "clients.jsonl" in response.json()["error"]
    assert len(get(server, list_path("clients")).json()["data"]) == len(CLIENTS)


def test_the_same_folder_serves_byte_identical_pages(folder: Path) -> None:
    bodies = []
    for _ in range(2):
        with CrmServer(folder, TOKEN) as crm:
            pages, path = [], list_path("deals", limit=150, updated_since="2026-03-01T13:00:00Z")
            while path:
                body = get(crm, path).body
                pages.append(body)
                cursor = json.loads(body)["next_cursor"]
                path = list_path("deals", cursor=cursor) if cursor else ""
            bodies.append(pages)
    assert bodies[0] == bodies[1] and len(bodies[0]) > 1


def test_no_per_request_logging_at_info(server: CrmServer, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="simulator"):
        for _ in range(3):
            get(server, list_path("clients"))
    assert not caplog.records


@pytest.mark.parametrize(
    "line",
    [
        "not json",
        '["a list"]',
        '{"updated_at": "2026-01-01T00:00:00Z"}',
        '{"id": "x"}',
        '{"id": "x", "updated_at": "2026-01-01T00:00:00"}',
    ],
)
def test_a_bad_record_names_the_file_and_line(tmp_path: Path, line: str) -> None:
    path = tmp_path / "clients.jsonl"
    path.write_text('{"id": "ok", "updated_at": "2026-01-01T00:00:00Z"}\n' + line + "\n")
    with pytest.raises(DatasetError, match=r"clients\.jsonl, line 2"):
        load_records(path)


def test_faults_reject_bad_values() -> None:
    with pytest.raises(ValueError):
        Faults(error_rate=-0.1)
    with pytest.raises(ValueError):
        Faults(error_rate=0.5, drop_rate=0.3, rate_limit_rate=0.3)
    with pytest.raises(ValueError):
        Faults(retry_after=-1)
