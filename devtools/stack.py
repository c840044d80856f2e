"""The local stack `make run`, `make pipeline` and the tests stand on.

A project-owned PostgreSQL, a simulator data set loaded into its `billing`
database, and the simulator's CRM server, wired to the pipeline through the
same `AIRFLOW_CONN_*` variables a real deployment sets.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from devtools.pgcluster import Cluster

log = logging.getLogger(__name__)

PROJECT = Path(__file__).resolve().parent.parent
LOCAL = PROJECT / ".local"
DEMO_SEED = 42
DEMO_END_DATE = date(2026, 10, 31)
CONNECTION_VARIABLES = ("AIRFLOW_CONN_CRM_API", "AIRFLOW_CONN_BILLING_DB", "AIRFLOW_CONN_WAREHOUSE_DB")


def connections_are_set(environ: dict[str, str] | os._Environ = os.environ) -> bool:
    return all(environ.get(name) for name in CONNECTION_VARIABLES)


def generated_dataset(scale: str = "demo", seed: int = DEMO_SEED, end_date: date = DEMO_END_DATE) -> Path:
    """A generated data set, cached by its parameters (generation is deterministic)."""
    from simulator.generate import generate

    folder = LOCAL / "datasets" / f"{scale}-seed{seed}-{end_date.isoformat()}"
    done = folder / ".complete"
    if not done.exists():
        shutil.rmtree(folder, ignore_errors=True)
        started = time.monotonic()
        generate(folder, seed=seed, end_date=end_date, scale=scale)
        done.write_text("")
        log.info("generated the %s data set in %.1f s: %s", scale, time.monotonic() - started, folder)
    return folder


def working_copy(source: Path, target: Path) -> Path:
    """A copy of a data set that a run may change (the day-of-changes edits it in place)."""
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".complete", "_delta"))
    return target


@dataclass
class CrmProcess:
    """The simulator's CRM server in a child process."""

    data: Path
    token: str
    process: subprocess.Popen | None = None
    port: int = 0
    port_file: Path = field(default_factory=lambda: LOCAL / "run" / f"crm-{os.getpid()}.port")

    def start(self, extra_args: tuple[str, ...] = ()) -> None:
        self.port_file.parent.mkdir(parents=True, exist_ok=True)
        self.port_file.unlink(missing_ok=True)
        env = {**os.environ, "SIMULATOR_CRM_TOKEN": self.token}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "simulator",
                "serve-crm",
                "--data",
                str(self.data),
                "--port",
                "0",
                "--port-file",
                str(self.port_file),
                *extra_args,
            ],
            cwd=PROJECT,
            env=env,
        )
        deadline = time.monotonic() + 120
        while not self.port_file.exists() or not self.port_file.read_text().strip():
            if self.process.poll() is not None:
                raise RuntimeError(f"the CRM simulator exited with code {self.process.returncode}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the CRM simulator did not start within 120 s")
            time.sleep(0.1)
        self.port = int(self.port_file.read_text())

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.port_file.unlink(missing_ok=True)


@dataclass
class LocalStack:
    cluster: Cluster
    crm: CrmProcess
    data: Path

    def environment(self) -> dict[str, str]:
        """The `AIRFLOW_CONN_*` variables that point the pipeline at this stack."""
        port = self.cluster.port
        return {
            "AIRFLOW_CONN_CRM_API": f"http://:{self.crm.token}@127.0.0.1:{self.crm.port}",
            "AIRFLOW_CONN_BILLING_DB": f"postgresql://postgres@127.0.0.1:{port}/billing",
            "AIRFLOW_CONN_WAREHOUSE_DB": f"postgresql://postgres@127.0.0.1:{port}/warehouse",
        }

    def apply_day_of_changes(self, seed: int = DEMO_SEED) -> dict[str, int]:
        """One more day of source activity: the folder, the billing DB and the CRM server all move on."""
        from simulator.billing_loader import upsert_billing
        from simulator.changes import apply_day_of_changes

        counts = apply_day_of_changes(self.data, seed=seed)
        delta = max((self.data / "_delta").iterdir())
        upsert_billing(self.cluster.url("billing"), delta)
        reload_crm(self.crm)
        return counts


def reload_crm(crm: CrmProcess) -> None:
    import urllib.request

    request = urllib.request.Request(
        f"http://127.0.0.1:{crm.port}/_admin/reload",
        method="POST",
        data=b"{}",
        headers={"Authorization": f"Bearer {crm.token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=300) as response:
        response.read()


@contextmanager
def local_stack(
    data: Path, cluster_home: Path = LOCAL / "pg", keep_cluster: bool = False
) -> Iterator[LocalStack]:
    """Start PostgreSQL, load `data` into its billing DB, serve its CRM; stop both at the end."""
    from simulator.billing_loader import load_billing

    cluster = Cluster(cluster_home)
    crm = CrmProcess(data=data, token=secrets.token_urlsafe(24))
    try:
        cluster.start()
        started = time.monotonic()
        counts = load_billing(cluster.url("billing"), data)
        log.info(
            "loaded the billing source (%s rows) in %.1f s", sum(counts.values()), time.monotonic() - started
        )
        crm.start()
        log.info("CRM simulator serving %s on 127.0.0.1:%s", data, crm.port)
        yield LocalStack(cluster=cluster, crm=crm, data=data)
    finally:
        crm.stop()
        if keep_cluster:
            cluster.stop()
        else:
            cluster.remove()
