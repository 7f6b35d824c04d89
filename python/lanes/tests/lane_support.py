"""What the lane tests share besides fixtures: which lane this is (`TRDM_LANE`) and the emulator helpers of
python/tests/conftest.py (loaded by path: a second `conftest` module name would be ambiguous)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

LANE = os.environ.get("TRDM_LANE", "")
# Where the lane keeps its tables: the seed's catalog `dev` through Unity Catalog, or the session catalog.
CAT = "spark_catalog" if LANE == "delta3" else "dev"
UNITY = LANE in ("delta-uc", "connect-uc")  # lane_session.UNITY_LANES
CONNECT = LANE == "connect-uc"
# Spark 3.5's read path is the one that once shifted timestamps by the session's offset: run it elsewhere
# than UTC, with daylight saving time.
SESSION_TIME_ZONE = "America/New_York" if LANE == "delta3" else "UTC"

_spec = importlib.util.spec_from_file_location(
    "trdm_tests_conftest", Path(__file__).parents[2] / "tests" / "conftest.py"
)
assert _spec is not None and _spec.loader is not None
_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_conftest)

ROOT: Path = _conftest.ROOT
CLIENT_ID: str = _conftest.CLIENT_ID
CLIENT_SECRET: str = _conftest.CLIENT_SECRET
running_emulator = _conftest.running_emulator
by_table = _conftest.by_table
staged_or_direct = _conftest.staged_or_direct
history_rows = _conftest.history_rows
conformance_params = _conftest.conformance_params
run_conformance = _conftest.run_conformance

_spec = importlib.util.spec_from_file_location(
    "trdm_lane_session", Path(__file__).parents[1] / "lane_session.py"
)
assert _spec is not None and _spec.loader is not None
lane_session = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lane_session)
