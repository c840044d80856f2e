"""The Great Expectations gate: validate what BI is about to read, and fail the run when it does not hold.

Suites are data, versioned in `expectations/suites/<schema>.yml` (one suite per
table, each expectation as GX names it). A file-mode GX context under a
working folder holds the data source, suites, validation definitions and one
checkpoint per gate; each run rebuilds them from the suite files, runs the
checkpoint and writes Data Docs, the human-readable report.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

log = logging.getLogger(__name__)

PROJECT = Path(__file__).resolve().parents[2]
SUITES_DIR = PROJECT / "expectations" / "suites"
GX_ROOT = Path(os.environ.get("WAREHOUSE_GX_ROOT") or PROJECT / ".local" / "gx")  # GX's store and Data Docs
URL_VARIABLE = "WAREHOUSE_GX_URL"  # GX reads the URL from the environment, so it never lands in its config


class ValidationFailed(RuntimeError):
    """A gate's checkpoint failed: the tables it checks must not be published."""


@dataclass(frozen=True)
class GateResult:
    checkpoint: str
    success: bool
    failures: list[str]
    data_docs: Path


def load_suites(schema: str, suites_dir: Path = SUITES_DIR) -> dict[str, list[tuple[str, dict]]]:
    """{table: [(expectation name, arguments)]} from `<suites_dir>/<schema>.yml`."""
    raw = yaml.safe_load((suites_dir / f"{schema}.yml").read_text())
    return {table: [next(iter(item.items())) for item in items] for table, items in raw.items()}


def _expectation(name: str, arguments: dict):
    from great_expectations import expectations

    class_name = "".join(part.capitalize() for part in name.split("_"))
    try:
        return getattr(expectations, class_name)(**arguments)
    except AttributeError:
        raise ValueError(f"unknown expectation {name!r} in the suites of expectations/suites") from None


def validate_schema(
    warehouse_url: str, schema: str, gx_root: Path = GX_ROOT, suites_dir: Path = SUITES_DIR
) -> GateResult:
    """Run the `<schema>` gate: every suite of `expectations/suites/<schema>.yml` on its table."""
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction

    gx_root.mkdir(parents=True, exist_ok=True)
    os.environ[URL_VARIABLE] = warehouse_url.replace("postgres://", "postgresql+psycopg://", 1).replace(
        "postgresql://", "postgresql+psycopg://", 1
    )
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="file", project_root_dir=str(gx_root))
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_or_update_postgres(
        name="warehouse", connection_string=f"${{{URL_VARIABLE}}}"
    )
    definitions = []
    for table, expectations in load_suites(schema, suites_dir).items():
        asset = source.add_table_asset(name=f"{schema}.{table}", table_name=table, schema_name=schema)
        batch = asset.add_batch_definition_whole_table(name="whole table")
        suite = context.suites.add_or_update(
            gx.ExpectationSuite(
                name=f"{schema}.{table}", expectations=[_expectation(n, a) for n, a in expectations]
            )
        )
        definitions.append(
            context.validation_definitions.add_or_update(
                gx.ValidationDefinition(name=f"{schema}.{table}", data=batch, suite=suite)
            )
        )
    checkpoint = context.checkpoints.add_or_update(
        gx.Checkpoint(
            name=f"{schema}_gate",
            validation_definitions=definitions,
            actions=[UpdateDataDocsAction(name="data_docs")],
        )
    )
    result = checkpoint.run()
    failures = [
        f"{run.suite_name}: {r.expectation_config.type} {r.expectation_config.kwargs.get('column', '')}".rstrip()
        for run in result.run_results.values()
        for r in run.results
        if not r.success
    ]
    docs = gx_root / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    log.info(
        "gate %s: %s (%d suites); Data Docs: %s",
        checkpoint.name,
        "passed" if result.success else "FAILED",
        len(definitions),
        docs,
    )
    return GateResult(checkpoint.name, bool(result.success), failures, docs)


def require(result: GateResult) -> None:
    if not result.success:
        raise ValidationFailed(
            f"{result.checkpoint} failed; nothing is published. Failed expectations:\n  "
            + "\n  ".join(result.failures)
            + f"\nReport: {result.data_docs}"
        )
