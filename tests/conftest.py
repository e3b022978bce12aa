"""Shared test fixtures: the QTDB folder from ../shared, never skipped in CI."""

import os

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


def require_extra(module: str):
    """The imported module of an optional extra, or a skip (locally) / failure (CI)."""
    try:
        return __import__(module)
    except ImportError:
        message = f"{module} missing: pip install -e '.[boards]'"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def require_simulator(name: str):
    """The simulator's Tool, or a skip (locally) / failure (CI) saying how to install it."""
    from spikeforge.sim.tools import ToolError, find_simulator
    try:
        return find_simulator(name)
    except ToolError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI must have every simulator: {exc}")
        pytest.skip(str(exc))
