"""The CRM HTTP JSON API of the source contract (shared/spec/sources.md §1), served from a data set folder.

Serves `crm/<entity>.jsonl` of any folder in the shape of §5:

    GET  /api/v1/<entity>?updated_since=<ts>&limit=<n>&cursor=<opaque>   bearer token
    GET  /health                                                          no token
    GET  /_admin/stats, GET|POST /_admin/faults, POST /_admin/reload,
    POST /_admin/stats/reset                                              bearer token

Each entity is sorted once at load time by (updated_at as an instant, id as
text) and kept as one byte string of its records, exactly as they appear in
the file, joined by commas; a page is a bisect on the sort keys and a single
slice of that string. Faults (5xx, dropped connections, 429) are drawn from a
dedicated seeded random.Random so a fault sequence is reproducible.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import hmac
import json
import logging
import random
import re
import socketserver
import threading
import time
from array import array
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from warehouse.contract import CRM_ENTITIES

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1/"
DEFAULT_LIMIT = 100
MAX_LIMIT = 500
SERVER_ERROR_STATUSES = (500, 502, 503)
ENTITY_NAMES: tuple[str, ...] = tuple(e.name for e in CRM_ENTITIES)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_INTEGER = re.compile(r"[+-]?[0-9]+")


class DatasetError(ValueError):
    """A CRM file of the data set folder cannot be served (names the file and line)."""


class BadRequest(ValueError):
    """A client error answered with 400."""


def parse_instant(text: str) -> int:
    """Microseconds since the epoch of an ISO 8601 timestamp that carries a UTC offset."""
    moment = datetime.fromisoformat(text)
    if moment.utcoffset() is None:
        raise ValueError(f"timestamp {text!r} has no UTC offset")
    return (moment - _EPOCH) // _MICROSECOND


# -- the records of one entity, sorted ------------------------------------------------------


SortKey = tuple[int, str]


@dataclass(frozen=True)
class SortedRecords:
    """Records ordered by (instant, id); `blob` holds them comma-joined, record i at offsets[i]."""

    instants: array
    ids: list[str]
    blob: bytes
    offsets: array

    @classmethod
    def empty(cls) -> SortedRecords:
        return cls(array("q"), [], b"", array("q", [0]))

    def __len__(self) -> int:
        return len(self.ids)

    def key(self, index: int) -> SortKey:
        return self.instants[index], self.ids[index]

    def first_index_at_or_after(self, key: SortKey) -> int:
        return bisect.bisect_left(range(len(self)), key, key=self.key)

    def joined(self, start: int, end: int) -> bytes:
        """Records start..end-1 as a comma-separated byte string."""
        if end <= start:
            return b""
        return self.blob[self.offsets[start] : self.offsets[end] - 1]


def load_records(path: Path) -> SortedRecords:
    """Read a JSON-lines file of records (each with `id` and `updated_at`) and sort it."""
    lines: list[bytes] = []
    instants: list[int] = []
    ids: list[str] = []
    with path.open("rb") as stream:
        for line_number, raw in enumerate(stream, start=1):
            line = raw.strip()
            if not line:
                continue
            try:
                record_id, instant = _sort_fields(json.loads(line))
            except (ValueError, TypeError) as exc:
                raise DatasetError(f"{path}, line {line_number}: {exc}") from exc
            lines.append(line)
            instants.append(instant)
            ids.append(record_id)
    order = sorted(range(len(lines)), key=lambda i: (instants[i], ids[i]))
    offsets = array("q", [0])
    position = 0
    for i in order:
        position += len(lines[i]) + 1
        offsets.append(position)
    return SortedRecords(
        instants=array("q", (instants[i] for i in order)),
        ids=[ids[i] for i in order],
        blob=b",".join(lines[i] for i in order),
        offsets=offsets,
    )


def _sort_fields(record: Any) -> SortKey:
    if not isinstance(record, dict):
        raise TypeError("a record must be a JSON object")
    record_id = record.get("id")
    updated_at = record.get("updated_at")
    if record_id is None or isinstance(record_id, (dict, list)):
        raise TypeError(f"a record needs a scalar id, got {record_id!r}")
    if not isinstance(updated_at, str):
        raise TypeError(f"a record needs an updated_at string, got {updated_at!r}")
    return str(record_id), parse_instant(updated_at)


def load_crm_folder(folder: Path) -> dict[str, SortedRecords]:
    """Every CRM entity of the contract; an entity without a file is served empty."""
    crm = Path(folder) / "crm"
    if not crm.is_dir():
        log.warning("%s has no crm folder: every CRM entity is served empty", folder)
    records = {}
    for name in ENTITY_NAMES:
        path = crm / f"{name}.jsonl"
        records[name] = load_records(path) if path.exists() else SortedRecords.empty()
    return records


# -- pages and cursors ---------------------------------------------------------------------


@dataclass(frozen=True)
class PageRequest:
    """One page to serve: after the key `after`, of which `served_at_after` records were served already."""

    entity: str
    updated_since: int | None
    limit: int
    after: SortKey | None = None
    served_at_after: int = 0

    def encode(self) -> str:
        payload = {
            "e": self.entity,
            "s": self.updated_since,
            "l": self.limit,
            "t": self.after[0] if self.after else None,
            "i": self.after[1] if self.after else None,
            "n": self.served_at_after,
        }
        raw = json.dumps(payload, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    @classmethod
    def decode(cls, cursor: str) -> PageRequest:
        try:
            raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
            payload = json.loads(raw)
            entity, since, limit = payload["e"], payload["s"], payload["l"]
            instant, last_id, served = payload["t"], payload["i"], payload["n"]
        except (binascii.Error, ValueError, TypeError, KeyError) as exc:
            raise BadRequest("invalid cursor") from exc
        valid = (
            isinstance(entity, str)
            and (since is None or _is_int(since))
            and _is_int(limit)
            and 0 < limit <= MAX_LIMIT
            and _is_int(instant)
            and isinstance(last_id, str)
            and _is_int(served)
            and served > 0
        )
        if not valid:
            raise BadRequest("invalid cursor")
        return cls(entity, since, limit, (instant, last_id), served)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_updated_since(text: str) -> int:
    try:
        return parse_instant(text)
    except ValueError as exc:
        raise BadRequest(
            "updated_since must be an ISO 8601 timestamp with a UTC offset"
            f" (URL-encode '+' as %2B), got {text!r}"
        ) from exc


def parse_limit(text: str) -> int:
    if not _INTEGER.fullmatch(text):
        raise BadRequest(f"limit must be an integer, got {text!r}")
    limit = int(text)
    if not 0 < limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    return limit


def page_request(entity: str, query: str) -> PageRequest:
    """The page a query string asks for; a cursor carries the parameters, repeated ones must agree."""
    params = parse_qs(query, keep_blank_values=True)
    for name, values in params.items():
        if len(values) > 1:
            raise BadRequest(f"parameter {name} is given more than once")
    since_text = params.get("updated_since", [""])[0]
    limit_text = params.get("limit", [""])[0]
    cursor_text = params.get("cursor", [""])[0]
    since = parse_updated_since(since_text) if since_text else None
    limit = parse_limit(limit_text) if limit_text else None
    if not cursor_text:
        return PageRequest(entity, since, limit or DEFAULT_LIMIT)
    request = PageRequest.decode(cursor_text)
    if request.entity != entity:
        raise BadRequest(f"the cursor belongs to {request.entity}, not {entity}")
    if since_text and since != request.updated_since:
        raise BadRequest("updated_since differs from the one the cursor was issued for")
    if limit_text and limit != request.limit:
        raise BadRequest("limit differs from the one the cursor was issued for")
    return request


@dataclass(frozen=True)
class Page:
    records: bytes
    next_request: PageRequest | None
    count: int

    def body(self) -> bytes:
        cursor = json.dumps(self.next_request.encode() if self.next_request else None).encode()
        return b'{"data":[' + self.records + b'],"next_cursor":' + cursor + b"}"


def read_page(records: SortedRecords, request: PageRequest) -> Page:
    if request.after is not None:
        start = records.first_index_at_or_after(request.after) + request.served_at_after
    elif request.updated_since is not None:
        start = records.first_index_at_or_after((request.updated_since, ""))
    else:
        start = 0
    start = min(start, len(records))
    end = min(start + request.limit, len(records))
    next_request = None
    if end < len(records):
        last = records.key(end - 1)
        served_at_last = end - records.first_index_at_or_after(last)
        next_request = PageRequest(request.entity, request.updated_since, request.limit, last, served_at_last)
    return Page(records.joined(start, end), next_request, end - start)


# -- faults and counters -------------------------------------------------------------------


@dataclass(frozen=True)
class Faults:
    """Rates per API request of each injected fault; their sum is at most 1."""

    error_rate: float = 0.0
    drop_rate: float = 0.0
    rate_limit_rate: float = 0.0
    retry_after: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        rates = {
            "error_rate": self.error_rate,
            "drop_rate": self.drop_rate,
            "rate_limit_rate": self.rate_limit_rate,
        }
        for name, rate in rates.items():
            if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be a number between 0 and 1, got {rate!r}")
        if sum(rates.values()) > 1.0 + 1e-9:
            raise ValueError("error_rate + drop_rate + rate_limit_rate must be at most 1")
        if not _is_int(self.retry_after) or self.retry_after < 0:
            raise ValueError(f"retry_after must be a non-negative integer, got {self.retry_after!r}")
        if not _is_int(self.seed):
            raise ValueError(f"seed must be an integer, got {self.seed!r}")

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> Faults:
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


DROP = 0  # the status of a dropped connection: no response at all


class FaultInjector:
    """Draws, per API request, the fault to inject (an HTTP status, DROP) or None."""

    def __init__(self, faults: Faults) -> None:
        self._lock = threading.Lock()
        self.set(faults)

    def set(self, faults: Faults) -> None:
        with self._lock:
            self.faults = faults
            self._random = random.Random(faults.seed)

    def draw(self) -> int | None:
        with self._lock:
            faults = self.faults
            if faults.drop_rate + faults.error_rate + faults.rate_limit_rate == 0:
                return None
            roll = self._random.random()
            if roll < faults.drop_rate:
                return DROP
            if roll < faults.drop_rate + faults.error_rate:
                return self._random.choice(SERVER_ERROR_STATUSES)
            if roll < faults.drop_rate + faults.error_rate + faults.rate_limit_rate:
                return 429
            return None


COUNTERS = ("requests", "served", "records", "400", "401", "404", "429", "5xx", "dropped")


@dataclass
class RequestStats:
    """Counters of the requests answered (all paths but /health and /_admin)."""

    _counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, counter: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[counter] += amount

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        with self._lock:
            self._counts = dict.fromkeys(COUNTERS, 0)


# -- HTTP ----------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    server: _HttpServer
    protocol_version = "HTTP/1.1"
    server_version = "crm-simulator/1"
    disable_nagle_algorithm = True
    timeout = 120

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        body = self._read_body()
        url = urlsplit(self.path)
        path, query = url.path, url.query
        if path == "/health":
            self._send_json(200, {"status": "ok"})
            return
        crm = self.server.crm
        is_api = path.startswith(API_PREFIX)
        if is_api:
            crm.stats.add("requests")
        if not crm.authorized(self.headers.get("Authorization")):
            if is_api:
                crm.stats.add("401")
            self._send_error(401, "missing or wrong bearer token", [("WWW-Authenticate", "Bearer")])
            return
        if is_api and method == "GET":
            self._list(path[len(API_PREFIX) :], query)
        elif path.startswith("/_admin/"):
            self._admin(method, path, body)
        else:
            if is_api:
                crm.stats.add("404")
            self._send_error(404, f"no such resource: {method} {path}")

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length", "0")
        return self.rfile.read(int(length)) if length.isdigit() and int(length) > 0 else b""

    def _list(self, entity: str, query: str) -> None:
        crm = self.server.crm
        records = crm.records.get(entity)
        if records is None:
            crm.stats.add("404")
            self._send_error(404, f"unknown entity {entity!r}; entities: {', '.join(ENTITY_NAMES)}")
            return
        fault = crm.injector.draw()
        if fault is not None:
            self._inject(fault)
            return
        try:
            request = page_request(entity, query)
        except BadRequest as exc:
            crm.stats.add("400")
            self._send_error(400, str(exc))
            return
        page = read_page(records, request)
        crm.stats.add("served")
        crm.stats.add("records", page.count)
        self._send(200, page.body())

    def _inject(self, fault: int) -> None:
        crm = self.server.crm
        if fault == DROP:
            crm.stats.add("dropped")
            self.close_connection = True
            return
        if fault == 429:
            crm.stats.add("429")
            retry_after = crm.injector.faults.retry_after
            self._send_error(429, "rate limited (injected)", [("Retry-After", str(retry_after))])
            return
        crm.stats.add("5xx")
        self._send_error(fault, "transient server error (injected)")

    def _admin(self, method: str, path: str, body: bytes) -> None:
        crm = self.server.crm
        if method == "GET" and path == "/_admin/stats":
            self._send_json(200, crm.stats.snapshot())
        elif method == "POST" and path == "/_admin/stats/reset":
            crm.stats.reset()
            self._send_json(200, crm.stats.snapshot())
        elif method == "GET" and path == "/_admin/faults":
            self._send_json(200, crm.faults.as_dict())
        elif method == "POST" and path == "/_admin/faults":
            try:
                values = json.loads(body or b"{}")
                if not isinstance(values, dict):
                    raise ValueError("the body must be a JSON object")
                crm.set_faults(Faults.from_mapping(values))
            except (ValueError, TypeError) as exc:
                self._send_error(400, f"bad faults: {exc}")
                return
            self._send_json(200, crm.faults.as_dict())
        elif method == "POST" and path == "/_admin/reload":
            try:
                counts = crm.reload()
            except (OSError, DatasetError) as exc:
                self._send_error(500, f"reload failed, still serving the previous data: {exc}")
                return
            self._send_json(200, {"records": counts})
        else:
            self._send_error(404, f"no such resource: {method} {path}")

    def _send_error(self, status: int, message: str, headers: list[tuple[str, str]] | None = None) -> None:
        self._send_json(status, {"error": message, "status": status}, headers)

    def _send_json(self, status: int, payload: Any, headers: list[tuple[str, str]] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), headers)

    def _send(self, status: int, body: bytes, headers: list[tuple[str, str]] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers or []:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], crm: CrmServer) -> None:
        self.crm = crm
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)  # skips HTTPServer's reverse DNS lookup of the host
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)


class CrmServer:
    """The CRM API over a data set folder, served from a background thread.

    with CrmServer(folder, token="t") as crm:
        urlopen(f"{crm.url}/api/v1/clients?limit=500")
    """

    def __init__(
        self,
        folder: Path,
        token: str,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: Faults | None = None,
    ) -> None:
        if not token:
            raise ValueError("the CRM server needs a non-empty token")
        self.folder = Path(folder)
        self.host = host
        self._token = token.encode()
        self._requested_port = port
        self.injector = FaultInjector(faults or Faults())
        self.stats = RequestStats()
        self.records: dict[str, SortedRecords] = {}
        self._http: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> CrmServer:
        if self._http is not None:
            raise RuntimeError("the CRM server is already running")
        self.reload()
        self._http = _HttpServer((self.host, self._requested_port), self)
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, name="crm-server", daemon=True
        )
        self._thread.start()
        log.info("CRM API on %s serving %s", self.url, self.folder)
        return self

    def stop(self) -> None:
        if self._http is None:
            return
        self._http.shutdown()
        self._http.server_close()
        if self._thread is not None:
            self._thread.join()
        self._http, self._thread = None, None
        log.info("CRM API stopped")

    def __enter__(self) -> CrmServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._http is None:
            raise RuntimeError("the CRM server is not running")
        return self._http.server_port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def reload(self) -> dict[str, int]:
        """Re-read the folder; until it is read whole, the previous records are served."""
        started = time.monotonic()
        self.records = load_crm_folder(self.folder)
        counts = {name: len(records) for name, records in self.records.items()}
        log.info(
            "loaded %d CRM records from %s in %.1f s",
            sum(counts.values()),
            self.folder,
            time.monotonic() - started,
        )
        return counts

    @property
    def faults(self) -> Faults:
        return self.injector.faults

    def set_faults(self, faults: Faults) -> None:
        """Switch the injected faults; the fault random sequence restarts from `faults.seed`."""
        self.injector.set(faults)
        log.info("CRM API faults: %s", faults)

    def authorized(self, header: str | None) -> bool:
        scheme, _, token = (header or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), self._token)
