"""The project-owned PostgreSQL: parallel test processes start clusters at the same moment."""

from __future__ import annotations

import socket

import psycopg
import pytest

from devtools import pgcluster

pytestmark = pytest.mark.integration


def test_a_cluster_whose_free_port_is_taken_before_it_starts_takes_another(tmp_path, monkeypatch):
    real_free_port = pgcluster.free_port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy_port = taken.getsockname()[1]
        offered: list[int] = []

        def free_port_taken_once() -> int:
            offered.append(real_free_port() if offered else busy_port)
            return offered[-1]

        monkeypatch.setattr(pgcluster, "free_port", free_port_taken_once)
        cluster = pgcluster.Cluster(tmp_path / "pg")
        try:
            port = cluster.start()
            with psycopg.connect(cluster.url("warehouse")) as conn:
                assert conn.execute("select 1").fetchone() == (1,)
        finally:
            cluster.remove()

    assert offered[0] == busy_port
    assert port == offered[1] != busy_port
