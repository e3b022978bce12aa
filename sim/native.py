"""The fast path: a native C++ Verilator harness for whole data sets.

The generated Verilog and ``harness.cpp`` are compiled once per design into a
cache folder named by their hash, then every run streams the encoded input
records from a file and reads the output records back (``hdl.protocol``
encodes and decodes both; the comparison with the golden model is the same as
on the cocotb path).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..golden.network import Network
from ..hdl.config import HardwareConfig, counter_addresses, counters_from
from ..hdl.protocol import InputKind, OutputKind, encode_inputs, input_layout, output_layout, pack, unpack
from .tools import ToolError, find_verilator
from .verilog import TOP_NAME, VERILATOR_WAIVED, emit_verilog

__all__ = ["NativeModel", "NativeRun", "build_native", "build_lock", "cache_dir", "compile_harness"]

HARNESS = Path(__file__).with_name("harness.cpp")


def cache_dir() -> Path:
    """``$SPIKEFORGE_CACHE`` or ``~/.cache/spikeforge``: compiled models, reused across runs."""
    root = os.environ.get("SPIKEFORGE_CACHE") or Path.home() / ".cache" / "spikeforge"
    return Path(root)


@contextlib.contextmanager
def build_lock(folder: Path):
    """Serialise builds of one design across processes (pytest-xdist workers)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.with_name(folder.name + ".lock"), "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@dataclass
class NativeRun:
    records: list          # output records (dicts) in stream order
    cycles: int            # clock cycles from the first event to the last SAMPLE_DONE
    counters: dict         # hardware counters read after the run
    seconds: float         # wall time of the simulation itself
    sample_counters: list  # the counters read after each sample (cumulative)


class NativeModel:
    """A compiled Verilator model of one design (network architecture + hardware config)."""

    def __init__(self, network: Network, config: HardwareConfig, binary: Path):
        self.network, self.config, self.binary = network, config, binary

    def run(self, x, *, writes=(), stall_every: int = 0, max_cycles: int | None = None) -> NativeRun:
        net = self.network
        in_layout, out_layout = input_layout(net), output_layout(net)
        words = np.array([pack(in_layout, r) for r in encode_inputs(net, x)], dtype="<u8")
        samples = int(np.asarray(x).shape[0])
        reads = counter_addresses(len(net.layers))
        kind, in_kind = out_layout["kind"], in_layout["kind"]
        if kind.offset != 0 or in_kind.offset != 0:
            raise RuntimeError("the harness expects the record kinds in the low bits")
        with tempfile.TemporaryDirectory(prefix="spikeforge-run-") as tmp:
            in_path, out_path = Path(tmp) / "in.bin", Path(tmp) / "out.bin"
            words.tofile(in_path)
            cmd = [str(self.binary), str(in_path), str(out_path), "--samples", str(samples),
                   "--kind-bits", str(kind.width), "--done-kind", str(OutputKind.SAMPLE_DONE.value),
                   "--in-kind-bits", str(in_kind.width),
                   "--end-sample-kind", str(InputKind.END_SAMPLE.value),
                   "--read", ",".join(map(str, reads))]
            if writes:
                cfg_path = Path(tmp) / "cfg.bin"
                np.array([(a, v & 0xFFFF_FFFF) for a, v in writes], dtype="<u4").tofile(cfg_path)
                cmd += ["--config", str(cfg_path)]
            if stall_every:
                cmd += ["--stall-every", str(stall_every)]
            if max_cycles:
                cmd += ["--max-cycles", str(max_cycles)]
            start = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True)
            seconds = time.perf_counter() - start
            if proc.returncode != 0:
                raise RuntimeError(f"native simulation failed ({proc.returncode}): "
                                   f"{proc.stderr.strip() or proc.stdout.strip()}")
            summary = json.loads(proc.stdout.strip().splitlines()[-1])
            out_words = np.fromfile(out_path, dtype="<u8")
        records = [unpack(out_layout, int(w)) for w in out_words]
        counters = counters_from(summary["reads"])
        return NativeRun(records=records, cycles=summary["cycles"], counters=counters,
                         seconds=seconds,
                         sample_counters=[counters_from(r) for r in summary["sample_reads"]])


def build_native(network: Network, config: HardwareConfig, *, progress=None) -> NativeModel:
    """Compile (or reuse) the native model of ``network`` under ``config``."""
    binary = compile_harness(emit_verilog(network, config), TOP_NAME, HARNESS, "native",
                             progress=progress)
    return NativeModel(network, config, binary)


def compile_harness(verilog: str, top: str, harness: Path, kind: str, *, progress=None) -> Path:
    """Compile ``verilog`` (top module ``top``) with the C++ ``harness`` into an executable,
    once: the folder under ``cache_dir()`` is named by ``kind`` and the hash of both sources.
    The harness includes ``Vharness_top.h``."""
    tool = find_verilator()
    key = hashlib.sha256((verilog + harness.read_text() + tool.version).encode()).hexdigest()[:16]
    folder = cache_dir() / f"{kind}-{key}"
    binary = folder / "Vharness_top"
    with build_lock(folder):
        if binary.is_file():
            return binary
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{top}.v").write_text(verilog)
        if progress:
            progress(f"compiling the Verilator model in {folder} (about a minute) ...")
        cmd = ["verilator", "--cc", "--exe", "--build", "-O3", "--x-assign", "fast",
               "--x-initial", "fast", "--noassert", "--top-module", top,
               "--prefix", "Vharness_top", "-Mdir", str(folder), "-o", "Vharness_top",
               "-j", str(os.cpu_count() or 1), "-CFLAGS", "-O2",
               *[f"-Wno-{w}" for w in VERILATOR_WAIVED],
               str(harness), str(folder / f"{top}.v")]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=tool.environ(), cwd=folder)
        if proc.returncode != 0 or not binary.is_file():
            raise ToolError(f"Verilator failed to build {folder}:\n"
                            + (proc.stderr or proc.stdout)[-3000:])
    return binary
