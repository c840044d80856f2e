"""The CRM client against an API that breaks the contract in ways the simulator does not."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from warehouse.connections import CrmApi
from warehouse.extract.crm import CrmClient, CrmPageError, RetryPolicy


class NotJson(BaseHTTPRequestHandler):
    requests_seen = 0

    def do_GET(self) -> None:
        type(self).requests_seen += 1
        body = b"<html>maintenance</html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def broken_api():
    server = ThreadingHTTPServer(("127.0.0.1", 0), NotJson)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield CrmApi(conn_id="crm_api", base_url=f"http://127.0.0.1:{server.server_port}", token="t")
    server.shutdown()
    server.server_close()


def test_a_page_that_is_not_json_fails_after_the_retries_with_a_clear_message(broken_api):
    NotJson.requests_seen = 0
    client = CrmClient(broken_api, RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.01))
    with pytest.raises(CrmPageError) as error:
        next(client.pages("clients", None))
    message = str(error.value)
    assert message.startswith(
        "CRM API (connection crm_api) gave no readable page for clients after 3 attempts"
    )
    assert "the page is not the contract's JSON" in message
    assert NotJson.requests_seen == 3
