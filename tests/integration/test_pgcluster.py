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
        offered = [taken.getsockname()[1]]

        def free_port_taken_once() -> int:
            if len(offered) == 1:
                offered.append(-1)
                return offered[0]
            offered[-1] = real_free_port()
            return offered[-1]

        monkeypatch.setattr(pgcluster, "free_port", free_port_taken_once)
        cluster = pgcluster.Cluster(tmp_path / "pg")
        try:
            port = cluster.start()
            with psycopg.connect(cluster.url("warehouse")) as conn:
                assert conn.execute("select 1").fetchone() == (1,)
        finally:
            cluster.remove()

    assert port == offered[1] != offered[0]
