"""Shared test fixtures and helpers: the QTDB folder from ../shared, never skipped in CI;
skips that fail under CI; a watchdog for code that could hang."""

import contextlib
import os
import signal

import pytest

from spikeforge.datasets import default_qtdb_dir


@pytest.fixture(scope="session")
def qtdb_dir():
    folder = default_qtdb_dir()
    if not (folder / "QTDB_test.mat").is_file():
        if os.environ.get("CI"):
            pytest.fail(f"QTDB data missing at {folder}; CI must run with ../shared beside the checkout")
        pytest.skip(f"QTDB data not found at {folder} (set SPIKEFORGE_QTDB)")
    return folder


def skip_or_fail(message: str):
    """Skip locally; fail in CI (``CI`` set), where everything the suite needs is installed."""
    if os.environ.get("CI"):
        pytest.fail(f"CI must have it: {message}")
    pytest.skip(message)


def require_extra(module: str, extra: str = "boards"):
    """The imported module of an optional extra, or a skip (locally) / failure (CI)."""
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError:
        skip_or_fail(f"{module} missing: pip install -e '.[{extra}]'")


def build_small_network(board_name: str, build_dir, **options):
    """``build_bitstream`` of a 4 -> 8 -> 3 random network on ``board_name`` (timing not
    checked), or a skip (locally) / failure (CI) when a tool is missing."""
    require_extra("amaranth_boards")
    from spikeforge.boards.build import build_bitstream
    from spikeforge.boards.targets import ToolMissing, board
    from spikeforge.golden.randnet import random_network
    from spikeforge.hdl.config import HardwareConfig
    try:
        return build_bitstream(random_network(2, 4, (8,), 3), board(board_name),
                               config=HardwareConfig(lanes=1), build_dir=build_dir,
                               check_timing=False, **options)
    except ToolMissing as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(exc))


def require_simulator(name: str):
    """The simulator's Tool, or a skip (locally) / failure (CI) saying how to install it."""
    from spikeforge.sim.tools import ToolError, find_simulator
    try:
        return find_simulator(name)
    except ToolError as exc:
        skip_or_fail(str(exc))


@contextlib.contextmanager
def watchdog(seconds):
    """Fail (instead of hanging) when the block takes longer than ``seconds``."""
    def alarm(signum, frame):
        raise AssertionError(f"no end within {seconds} s: a hang")
    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def load_benchmark(name: str):
    """A module of ``benchmarks/`` (not a package) by its file name, for the tests that
    share its code (the fuzzers' generators, the sweeps' bookkeeping)."""
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
