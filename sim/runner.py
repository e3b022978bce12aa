"""cocotb runners: build each design once per simulator, run many jobs against it.

A design is the Verilog of (network, hardware config); its build folder under
``cache_dir()`` is named by the simulator and the Verilog's hash, so a second
build of the same design is skipped. Each ``run`` writes a job file for
``spikeforge.sim.tb_accelerator`` and reads back the records, counters and
mismatches it found.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import logging
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..golden.inputs import save_inputs
from ..golden.network import Network
from ..hdl.config import HardwareConfig
from .components import decode_words
from .native import build_lock, cache_dir
from .tools import ToolError, find_simulator
from .verilog import TOP_NAME, VERILATOR_WAIVED, emit_verilog, for_icarus, vendor_model

__all__ = ["CocotbModel", "RtlRun", "build_cocotb"]

TB_MODULE = "spikeforge.sim.tb_accelerator"


@dataclass
class RtlRun:
    records: list        # output records (dicts), in stream order
    counters: dict       # hardware counters after the run
    mismatches: list     # every difference from the golden model ("sample 0 step 3 layer ...")
    seconds: float
    log: str             # the simulator's output
    test_dir: Path | None = None   # kept when waves were recorded
    sample_counters: list = field(default_factory=list)   # cumulative counters after each sample

    @property
    def cycles(self) -> int:
        return self.counters.get("CYCLES", 0)


@contextlib.contextmanager
def _tool_environment(tool):
    saved = dict(os.environ)
    os.environ.update(tool.environ())
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


class CocotbModel:
    """A built design in one simulator."""

    def __init__(self, simulator: str, network: Network, config: HardwareConfig, build_dir: Path,
                 waves: bool):
        self.simulator, self.network, self.config = simulator, network, config
        self.build_dir, self.waves = build_dir, waves

    def run(self, x, *, network: Network | None = None, writes=(), stall: float = 0.0,
            gaps: float = 0.0, seed: int = 0, keep: Path | None = None) -> RtlRun:
        """Stream ``x`` through the RTL and compare with the golden model of ``network``
        (default: the built one; pass another after loading its weights with ``writes``)."""
        from cocotb_tools.runner import get_runner
        network = network or self.network
        tool = find_simulator(self.simulator)
        tmp = tempfile.TemporaryDirectory(prefix="spikeforge-cocotb-")
        test_dir = Path(keep) if keep else Path(tmp.name)
        test_dir.mkdir(parents=True, exist_ok=True)
        try:
            network.save(test_dir / "network.npz")
            save_inputs(test_dir / "inputs.npz", x)
            job = {"network": str(test_dir / "network.npz"), "inputs": str(test_dir / "inputs.npz"),
                   "results": str(test_dir / "results.json"), "writes": [list(w) for w in writes],
                   "stall": stall, "gaps": gaps, "seed": seed,
                   "lanes": self.config.lanes, "emit_spikes": self.config.emit_spikes}
            (test_dir / "job.json").write_text(json.dumps(job))
            runner = _quiet(get_runner(self.simulator))
            log = io.StringIO()
            start = time.perf_counter()
            with _tool_environment(tool), contextlib.redirect_stdout(log):
                try:
                    runner.test(test_module=TB_MODULE, hdl_toplevel=TOP_NAME,
                                hdl_toplevel_lang="verilog",
                                build_dir=self.build_dir, test_dir=test_dir,
                                results_xml=str(test_dir / "results.xml"),
                                extra_env={"SPIKEFORGE_JOB": str(test_dir / "job.json")},
                                waves=self.waves, seed=seed, log_file=test_dir / "sim.log")
                except SystemExit:
                    pass  # a failing cocotb test; the results file says why
            seconds = time.perf_counter() - start
            results_path = test_dir / "results.json"
            sim_log = (test_dir / "sim.log").read_text() if (test_dir / "sim.log").exists() else ""
            if not results_path.exists():
                raise RuntimeError(f"{self.simulator} simulation ended without results; "
                                   f"log tail:\n{sim_log[-3000:]}")
            results = json.loads(results_path.read_text())
            if self.waves:  # Icarus writes its FST beside the build, Verilator in the test dir
                for trace in [*self.build_dir.glob("*.fst"), *test_dir.glob("dump.fst"),
                              *test_dir.glob("dump.vcd")]:
                    shutil.move(str(trace), test_dir / waves_file(self.simulator))
        finally:
            if not keep:
                tmp.cleanup()
        return RtlRun(records=decode_words(network, [int(w) for w in results["words"]]),
                      counters=results["counters"], mismatches=results["mismatches"],
                      sample_counters=results.get("sample_counters", []),
                      seconds=seconds, log=sim_log, test_dir=Path(keep) if keep else None)


def _quiet(runner):
    """A cocotb runner that logs warnings and errors only: it sets its logger to INFO, which
    prints every command it runs as soon as anything (Norse, for one) configures the root
    logger; spikeforge reports its own progress."""
    runner.log.setLevel(logging.WARNING)
    return runner


def waves_file(simulator: str) -> str:
    """The waveform file a cocotb run with waves leaves in its folder: ``waves.fst`` (a VCD,
    ``waves.vcd``, from Verilator on a machine without the lz4 and zlib headers its FST
    writer needs: ``fst_available``). GTKWave and Surfer open both."""
    return "waves.fst" if simulator == "icarus" or fst_available() else "waves.vcd"


@functools.cache
def fst_available() -> bool:
    """Whether Verilator can write FST here: its writer compiles against lz4.h and zlib.h
    (Debian: liblz4-dev, zlib1g-dev) and links -llz4 -lz."""
    cxx = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++")
    if not cxx:
        return False
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "probe.cpp"
        src.write_text("#include <lz4.h>\n#include <zlib.h>\n"
                       "int main() { return LZ4_versionNumber() > 0 && zlibVersion() ? 0 : 1; }\n")
        try:
            done = subprocess.run([cxx, str(src), "-o", str(Path(tmp) / "probe"), "-llz4", "-lz"],
                                  capture_output=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            return False
        return done.returncode == 0


def build_cocotb(network: Network, config: HardwareConfig, simulator: str, *, waves: bool = False,
                 primitives: bool = False, progress=None) -> CocotbModel:
    """Build (or reuse) ``network`` under ``config`` for ``simulator`` ('verilator' or 'icarus').
    ``primitives``: use the iCE40 SPRAM primitives (``HardwareConfig.spram_layers``) with Yosys'
    simulation model instead of the behavioural single-port memory."""
    tool = find_simulator(simulator)
    if primitives:
        from ..hdl.spram import SPRAM_PRIMITIVES
        verilog = emit_verilog(network, config, platform=SPRAM_PRIMITIVES) + vendor_model("SB_SPRAM256KA")
    else:
        verilog = emit_verilog(network, config)
    if simulator == "icarus":
        verilog = for_icarus(verilog)
    fst = waves and simulator == "verilator" and fst_available()
    key = hashlib.sha256(f"{verilog}{tool.version}{waves}{fst}".encode()).hexdigest()[:16]
    build_dir = cache_dir() / f"cocotb-{simulator}-{key}"
    marker = build_dir / "built.ok"
    with build_lock(build_dir):
        if not marker.exists():
            if progress:
                progress(f"building the {simulator} model in {build_dir} ...")
            _build(simulator, tool, verilog, build_dir, waves)
            marker.write_text("ok\n")
    return CocotbModel(simulator, network, config, build_dir, waves)


def _build(simulator: str, tool, verilog: str, build_dir: Path, waves: bool) -> None:
    from cocotb_tools.runner import get_runner
    build_dir.mkdir(parents=True, exist_ok=True)
    source = build_dir / f"{TOP_NAME}.v"
    source.write_text(verilog)
    build_args = [f"-Wno-{w}" for w in VERILATOR_WAIVED] if simulator == "verilator" else []
    if simulator == "verilator" and waves and fst_available():
        build_args.append("--trace-fst")     # FST, as Icarus writes (else cocotb's VCD)
    runner = _quiet(get_runner(simulator))
    log = build_dir / "build.log"
    with _tool_environment(tool), contextlib.redirect_stdout(io.StringIO()):
        try:
            runner.build(sources=[source], hdl_toplevel=TOP_NAME, build_dir=build_dir,
                         build_args=build_args, timescale=("1ns", "1ps"), waves=waves,
                         log_file=log)
        except RuntimeError as exc:    # the tool failed: its log says why
            tail = log.read_text(errors="replace").strip().splitlines()[-3:] if log.exists() else []
            raise ToolError(f"{simulator} build failed ({exc}; log {log}): "
                            + " | ".join(tail)) from None
