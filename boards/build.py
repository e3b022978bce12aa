"""Build a bitstream for a board and read back what it used.

``build_bitstream`` checks the memory fit, elaborates ``BoardTop`` on the
board's amaranth-boards platform, extracts the build plan and runs its script
with the toolchain environment (``targets.toolchain_env``), logging to
``build.log``. nextpnr writes a JSON report (``--report``): cells used and
available, and the achieved clock frequency; Yosys' log gives LUT and FF
counts. Timing is checked against the board clock.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..golden.network import Network
from ..hdl.config import HardwareConfig
from .fit import check_fit
from .targets import Board, BoardError, toolchain_env
from .top import BoardTop

__all__ = ["BuildResult", "BuildError", "TimingError", "build_bitstream", "parse_reports",
           "DEFAULT_BAUD", "NAME"]

DEFAULT_BAUD = 115200
NAME = "spikeforge"

#: nextpnr cell types -> report keys.
_CELLS = {
    "ice40": {"ICESTORM_LC": "logic_cells", "ICESTORM_RAM": "bram", "ICESTORM_SPRAM": "spram",
              "ICESTORM_DSP": "dsp"},
    "ecp5": {"TRELLIS_COMB": "lut", "TRELLIS_FF": "ff", "DP16KD": "bram",
             "MULT18X18D": "dsp", "TRELLIS_RAMW": "lutram"},
    "gowin": {"LUT4": "lut", "DFF": "ff", "BSRAM": "bram", "MULT18X18": "dsp"},
}


class BuildError(BoardError):
    """The toolchain failed; the message names the step and the log."""


class TimingError(BoardError):
    """The design built but does not meet the board clock."""


@dataclass
class BuildResult:
    board: str
    lanes: int
    bitstream: Path
    resources: dict           # key -> {"used": n, "available": n}
    fmax_mhz: float | None
    clock_mhz: float
    seconds: float
    estimate_bram: int
    log: Path
    extra: dict = field(default_factory=dict)

    @property
    def timing_ok(self) -> bool:
        return self.fmax_mhz is not None and self.fmax_mhz >= self.clock_mhz

    def to_json(self) -> dict:
        return {"board": self.board, "lanes": self.lanes, "bitstream": str(self.bitstream),
                "bitstream_bytes": self.bitstream.stat().st_size if self.bitstream.exists() else None,
                "resources": self.resources, "fmax_mhz": self.fmax_mhz,
                "clock_mhz": self.clock_mhz, "timing_ok": self.timing_ok,
                "seconds": round(self.seconds, 1), "estimate_bram_blocks": self.estimate_bram,
                "log": str(self.log), **self.extra}


def parse_reports(build_dir: Path, family: str, name: str = NAME) -> tuple[dict, float | None]:
    """Resources and Fmax (MHz, slowest clock) from nextpnr's JSON report and Yosys' log."""
    report = json.loads((build_dir / f"{name}.report.json").read_text())
    resources = {}
    for cell, key in _CELLS[family].items():
        use = report.get("utilization", {}).get(cell)
        if use is not None:
            resources[key] = {"used": int(use["used"]), "available": int(use["available"])}
    if family == "ice40":
        # nextpnr counts logic cells (LUT + FF pairs); Yosys' statistics split them
        lcs = resources.get("logic_cells", {}).get("available")
        stats = _yosys_cells(build_dir / f"{name}.rpt")
        resources["lut"] = {"used": stats.get("SB_LUT4", 0), "available": lcs}
        resources["ff"] = {"used": sum(n for c, n in stats.items() if c.startswith("SB_DFF")),
                           "available": lcs}
    fmax = [v.get("achieved") for v in report.get("fmax", {}).values() if v.get("achieved")]
    return resources, (round(min(fmax), 2) if fmax else None)


def _yosys_cells(rpt: Path) -> dict:
    """Cell counts of the last statistics block in a Yosys log."""
    if not rpt.exists():
        return {}
    text = rpt.read_text(errors="replace")
    start = text.rfind("Number of cells")
    if start < 0:
        return {}
    cells = {}
    for line in text[start:].splitlines()[1:]:
        m = re.match(r"^\s+(\d+)\s+(?:[\d.]+\s+)?(\$?[A-Za-z_][\w$]*)\s*$", line) or \
            re.match(r"^\s+(\$?[A-Za-z_][\w$]*)\s+(\d+)\s*$", line)
        if m:
            a, b = m.groups()
            count, cell = (int(a), b) if a.isdigit() else (int(b), a)
            cells[cell] = cells.get(cell, 0) + count
        elif cells and not line.strip():
            break
    return cells


def build_bitstream(network: Network, board: Board, *, config: HardwareConfig = HardwareConfig(),
                    build_dir, baud: int = DEFAULT_BAUD, progress=None,
                    check_timing: bool = True) -> BuildResult:
    """Fit check, elaborate, synthesise, place and route, pack. Raises FitError,
    ToolMissing, BuildError, or TimingError (after the bitstream is written)."""
    fit = check_fit(network, config, board)
    env = toolchain_env(board)
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda message: None)
    say(f"elaborating {network.name} for {board.name} (lanes {config.lanes}, "
        f"~{fit.blocks} of {board.device.bram_blocks} block RAMs estimated)")
    platform = board.platform()
    top = BoardTop(network, config, clk_hz=board.clk_hz, baud=baud)
    plan = platform.prepare(top, name=NAME,
                            nextpnr_opts=f"--report {NAME}.report.json --timing-allow-fail")
    plan.extract(build_dir)
    log = build_dir / "build.log"
    say(f"running Yosys and nextpnr in {build_dir} (log {log}; minutes) ...")
    start = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.run(["sh", f"build_{NAME}.sh"], cwd=build_dir, env=env,
                              stdout=fh, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise BuildError(f"{board.name}: the toolchain failed ({_failure(log, build_dir)}); "
                         f"full log {log}")
    bitstream = build_dir / f"{NAME}.{board.bitstream_ext}"
    resources, fmax = parse_reports(build_dir, board.device.family)
    result = BuildResult(board=board.name, lanes=config.lanes, bitstream=bitstream,
                         resources=resources, fmax_mhz=fmax, clock_mhz=board.clk_hz / 1e6,
                         seconds=seconds, estimate_bram=fit.blocks, log=log,
                         extra={"baud": baud, "link": top.link.info.to_json(),
                                "network": network.name})
    say(f"built {bitstream} in {seconds:.0f} s: Fmax {fmax} MHz (clock {board.clk_hz / 1e6:g} MHz)")
    if check_timing and not result.timing_ok:
        raise TimingError(f"{board.name}: timing fails: nextpnr's Fmax {fmax} MHz is below the "
                          f"{board.clk_hz / 1e6:g} MHz board clock; use fewer lanes (bitstream "
                          f"{bitstream} written anyway)")
    return result


def _failure(log: Path, build_dir: Path) -> str:
    """The first error line of the logs, for a one-line message."""
    for path in (log, build_dir / f"{NAME}.tim", build_dir / f"{NAME}.rpt"):
        if path.exists():
            for line in path.read_text(errors="replace").splitlines():
                if re.search(r"\bERROR\b|error:", line, re.IGNORECASE):
                    return line.strip()[:300]
    return "see the log"
