"""The Databricks example notebook, run cell by cell on local Spark against the emulator.

Only what Databricks itself provides is stood in for: `dbutils` (secrets from the emulator, widgets with
`catalog` set to `spark_catalog` as a job parameter would), `display`, and the `%pip` / markdown cells,
which are skipped. The notebook's own code runs unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import CLIENT_ID, CLIENT_SECRET, ROOT, running_emulator

NOTEBOOK = ROOT / "examples" / "databricks_spark_sync.py"


class _Secrets:
    def __init__(self, values: dict[str, str]) -> None:
        self._values = values

    def get(self, scope: str, key: str) -> str:
        assert scope == "titan-rdm", scope
        return self._values[key]


class _Widgets:
    def __init__(self, parameters: dict[str, str]) -> None:
        self._parameters = parameters
        self._defaults: dict[str, str] = {}

    def text(self, name: str, default: str, label: str = "") -> None:
        self._defaults[name] = default

    def get(self, name: str) -> str:
        return self._parameters.get(name, self._defaults[name])


class _Library:
    def restartPython(self) -> None:  # noqa: N802 (Databricks' name)
        pass


class DbUtils:
    """The parts of Databricks' `dbutils` the notebook uses."""

    def __init__(self, secrets: dict[str, str], parameters: dict[str, str]) -> None:
        self.secrets = _Secrets(secrets)
        self.widgets = _Widgets(parameters)
        self.library = _Library()


def code_cells(path: Path) -> list[str]:
    """The notebook's Python cells, in order (markdown and `%pip` cells are all `# MAGIC` lines)."""
    text = path.read_text()
    assert text.startswith("# Databricks notebook source\n")
    cells = text.removeprefix("# Databricks notebook source\n").split("\n# COMMAND ----------\n")
    code = []
    for cell in cells:
        lines = [line for line in cell.strip("\n").splitlines() if line.strip()]
        if lines and not all(line.startswith("# MAGIC") for line in lines):
            code.append(cell)
    return code


@pytest.fixture
def emulator() -> Iterator[str]:
    with running_emulator() as url:
        yield url


def test_the_example_notebook_runs_on_local_spark(spark, emulator):
    displayed = []
    namespace = {
        "spark": spark,
        "display": displayed.append,
        "dbutils": DbUtils(
            {"url": emulator, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
            {
                "catalog": "spark_catalog",
                "branch_name": "dev",
                "download_schema": "nb_in",
                "upload_schema": "nb_out",
            },
        ),
    }
    cells = code_cells(NOTEBOOK)
    assert len(cells) >= 8
    seeded = False
    for cell in cells:
        if "upload_sync_by_convention" in cell and not seeded:
            # What the notebook's markdown tells the user to do before uploading: seed the upload schema from
            # the download, here with one site renamed.
            for name in ("clin_sites", "clin_delivery_centre", "clin_org_unit"):
                df = spark.table(f"spark_catalog.nb_in.{name}")
                df = df.select([c for c in df.columns if not c.startswith("trdm_")])
                if name == "clin_sites":
                    df = df.selectExpr(
                        *[
                            "CASE WHEN site_code = '0047' THEN 'Renamed in the notebook' ELSE site_name END AS site_name"
                            if c == "site_name"
                            else f"`{c}`"
                            for c in df.columns
                        ]
                    )
                df.write.mode("overwrite").saveAsTable(f"spark_catalog.nb_out.{name}")
            seeded = True
        exec(compile(cell, str(NOTEBOOK), "exec"), namespace)  # noqa: S102

    def statuses(name: str) -> dict[str, str]:
        return {r["table"]: r["status"] for r in namespace[name]}

    everything = {"sites": "success", "delivery_centre": "success", "org_unit": "success"}
    assert statuses("download_results") == everything
    unchanged = {
        "sites": "success",
        "delivery_centre": "skipped (unchanged)",
        "org_unit": "skipped (unchanged)",
    }
    assert statuses("plan_results") == dict.fromkeys(everything, "planned")
    planned = next(r for r in namespace["plan_results"] if r["table"] == "sites")["plan"]
    assert (planned["inserted"], planned["updated"], planned["deleted"]) == (0, 1, 0), planned
    assert statuses("upload_results") == unchanged
    sites = next(r for r in namespace["upload_results"] if r["table"] == "sites")
    assert (sites["inserted"], sites["updated"], sites["deleted"]) == (0, 1, 0)
    assert statuses("site_results") == {"sites": "skipped (unchanged)"}  # sent just before
    assert statuses("incremental_results") == everything
    renamed = spark.table("spark_catalog.nb_in.clin_sites").where("site_code = '0047'").collect()
    assert renamed[0]["site_name"] == "Renamed in the notebook" and renamed[0]["trdm_tran_code"] == "u"
    assert spark.table("spark_catalog.nb_in.clin_sites").count() == 150  # merged, not replaced by the change
    assert displayed, "the notebook's display cells ran"
