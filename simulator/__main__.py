"""The source simulator's command line: `python -m simulator <command> --help`.

generate             write a data set folder
serve-crm            serve a folder's CRM API until SIGTERM or SIGINT
load-billing         recreate and fill the billing database from a folder
upsert-billing       apply a delta folder to the billing database
apply-changes        apply one day of changes to a folder (and write its delta)
last-complete-month  print the last complete calendar month of a folder's data
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from datetime import date
from pathlib import Path
from types import FrameType

log = logging.getLogger("simulator")

SCALES = ("tiny", "small", "demo", "large")


def _ensure_contract_importable() -> None:
    plugins = Path(__file__).resolve().parent.parent / "plugins"
    if str(plugins) not in sys.path and plugins.is_dir():
        sys.path.insert(0, str(plugins))


# -- commands ------------------------------------------------------------------------------


def cmd_generate(args: argparse.Namespace) -> int:
    from simulator.generate import generate

    counts = generate(args.out, seed=args.seed, end_date=args.end_date, scale=args.scale)
    print_counts(counts)
    return 0


def cmd_serve_crm(args: argparse.Namespace) -> int:
    from simulator.crm_server import CrmServer, Faults

    faults = Faults(
        error_rate=args.error_rate,
        drop_rate=args.drop_rate,
        rate_limit_rate=args.rate_limit_rate,
        retry_after=args.retry_after,
        seed=args.fault_seed,
    )
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    if not args.token:
        raise SystemExit("serve-crm needs --token or SIMULATOR_CRM_TOKEN")
    with CrmServer(args.data, args.token, host=args.host, port=args.port, faults=faults) as server:
        if args.port_file:
            write_atomically(args.port_file, f"{server.port}\n")
        print(server.url, flush=True)
        while not stop.wait(0.5):
            pass
    if args.port_file:
        args.port_file.unlink(missing_ok=True)
    return 0


def cmd_load_billing(args: argparse.Namespace) -> int:
    from simulator.billing_loader import load_billing

    print_counts(load_billing(args.dsn, args.data))
    return 0


def cmd_upsert_billing(args: argparse.Namespace) -> int:
    from simulator.billing_loader import upsert_billing

    print_counts(upsert_billing(args.dsn, args.delta))
    return 0


def cmd_apply_changes(args: argparse.Namespace) -> int:
    from simulator.changes import apply_day_of_changes

    before = delta_folders(args.data)
    counts = apply_day_of_changes(args.data, seed=args.seed, day=args.day)
    print_counts(counts)
    after = delta_folders(args.data)
    written = [args.data / "_delta" / args.day.isoformat()] if args.day else sorted(after - before)
    if not written and after:
        written = [max(after, key=lambda p: p.stat().st_mtime)]
    for delta in written:
        print(f"delta\t{delta}")
    return 0


def delta_folders(folder: Path) -> set[Path]:
    deltas = folder / "_delta"
    return {p for p in deltas.iterdir() if p.is_dir()} if deltas.is_dir() else set()


def cmd_last_complete_month(args: argparse.Namespace) -> int:
    from simulator.dataset import last_complete_month

    print(last_complete_month(args.data).isoformat())
    return 0


def print_counts(counts: dict[str, int]) -> None:
    for name, count in counts.items():
        print(f"{name}\t{count}")


def write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(text)
    partial.replace(path)


# -- arguments -----------------------------------------------------------------------------


def iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from exc


def existing_folder(text: str) -> Path:
    path = Path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"no such folder: {text}")
    return path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m simulator", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")

    generate = commands.add_parser("generate", help="write a data set folder")
    generate.add_argument("--out", type=Path, required=True)
    generate.add_argument("--seed", type=int, required=True)
    generate.add_argument("--end-date", type=iso_date, required=True)
    generate.add_argument("--scale", choices=SCALES, default="tiny")
    generate.set_defaults(run=cmd_generate)

    serve = commands.add_parser("serve-crm", help="serve a folder's CRM API until SIGTERM or SIGINT")
    serve.add_argument("--data", type=existing_folder, required=True)
    serve.add_argument(
        "--token",
        default=os.environ.get("SIMULATOR_CRM_TOKEN"),
        help="the bearer token; default $SIMULATOR_CRM_TOKEN (keeps it off the process list)",
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=0, help="0 (default): any free port")
    serve.add_argument("--port-file", type=Path, help="write the bound port here once listening")
    serve.add_argument("--error-rate", type=float, default=0.0, help="share of 500/502/503 answers")
    serve.add_argument("--drop-rate", type=float, default=0.0, help="share of connections dropped")
    serve.add_argument("--rate-limit-rate", type=float, default=0.0, help="share of 429 answers")
    serve.add_argument("--retry-after", type=int, default=1, help="Retry-After of a 429, in seconds")
    serve.add_argument("--fault-seed", type=int, default=0)
    serve.set_defaults(run=cmd_serve_crm)

    load = commands.add_parser("load-billing", help="recreate and fill the billing database from a folder")
    load.add_argument("--data", type=existing_folder, required=True)
    load.add_argument("--dsn", required=True, help="a libpq connection string or URL")
    load.set_defaults(run=cmd_load_billing)

    upsert = commands.add_parser("upsert-billing", help="apply a delta folder to the billing database")
    upsert.add_argument("--delta", type=existing_folder, required=True)
    upsert.add_argument("--dsn", required=True, help="a libpq connection string or URL")
    upsert.set_defaults(run=cmd_upsert_billing)

    changes = commands.add_parser("apply-changes", help="apply one day of changes to a folder")
    changes.add_argument("--data", type=existing_folder, required=True)
    changes.add_argument("--seed", type=int, required=True)
    changes.add_argument("--day", type=iso_date, help="default: the day after the data set's last day")
    changes.set_defaults(run=cmd_apply_changes)

    month = commands.add_parser("last-complete-month", help="print the last complete month, YYYY-MM-01")
    month.add_argument("--data", type=existing_folder, required=True)
    month.set_defaults(run=cmd_last_complete_month)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    _ensure_contract_importable()
    try:
        return int(args.run(args))
    except Exception as exc:
        log.error("%s failed: %s", args.command, exc)
        log.debug("details", exc_info=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
