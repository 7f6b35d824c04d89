"""Fixtures: one TitanRDM emulator (the `trdm` binary, Clinics fixture) per test session."""

from __future__ import annotations

import os
import queue
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "fixtures" / "clinics.toml"
CLIENT_ID = "demo-client"
CLIENT_SECRET = "demo-secret"


def _trdm_binary() -> Path:
    """The `trdm` binary: $TRDM_BIN, else target/debug/trdm, built with cargo if missing."""
    if env := os.environ.get("TRDM_BIN"):
        return Path(env)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    binary = target / "debug" / "trdm"
    if not binary.exists():
        subprocess.run(["cargo", "build", "-p", "trdm-cli"], cwd=ROOT, check=True)
    return binary


@pytest.fixture(scope="session")
def emulator_url() -> Iterator[str]:
    """Starts `trdm emulator` on a free port and yields its URL; stops it (by its own pid) afterwards."""
    process = subprocess.Popen(
        [str(_trdm_binary()), "emulator", "--fixture", str(FIXTURE), "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        url = None
        while url is None:
            try:
                line = lines.get(timeout=60)
            except queue.Empty:
                pytest.fail("the emulator did not announce its URL within 60 s")
            if line.startswith("listening on "):
                url = line.removeprefix("listening on ").strip()
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def client(emulator_url: str):  # noqa: ANN201
    from titan_rdm_sdk import TitanRDMClient

    return TitanRDMClient(emulator_url, CLIENT_ID, CLIENT_SECRET)
