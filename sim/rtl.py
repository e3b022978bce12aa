"""One entry point for RTL simulation: events in, outputs checked against the golden model.

``engine``: ``cocotb`` (the testbench, Verilator or Icarus, with waveforms on
request) or ``native`` (the C++ Verilator harness, for whole data sets);
``auto`` picks native for Verilator runs longer than ``NATIVE_ABOVE_STEPS``
sample-steps unless waveforms are asked for.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..golden.network import Network
from ..golden.simulate import InputError, Result, check_inputs, operation_counts
from ..hdl.config import HardwareConfig
from ..hdl.protocol import ProtocolError, decode_outputs
from .scoreboard import GoldenReference, Scoreboard

__all__ = ["RtlOutcome", "run_rtl", "decoded_as_result", "NATIVE_ABOVE_STEPS"]

#: Above this many samples x steps, Verilator runs use the native harness.
NATIVE_ABOVE_STEPS = 2000


@dataclass
class RtlOutcome:
    engine: str              # "cocotb" or "native"
    golden_network: Network
    simulator: str
    golden: Result           # what the golden model says
    decoded: object          # the RTL's outputs (hdl.protocol.Decoded), None if undecodable
    counters: dict
    mismatches: list         # every difference, "sample n step t layer i neuron j: ..."
    sim_seconds: float       # wall time of the simulation itself
    waves: Path | None = None

    @property
    def cycles(self) -> int:
        return int(self.counters.get("CYCLES", 0))


def run_rtl(network: Network, x, *, simulator: str = "verilator",
            config: HardwareConfig = HardwareConfig(), engine: str = "auto", waves: Path | None = None,
            progress=None) -> RtlOutcome:
    x = check_inputs(network, x)
    if config.unit_inputs and np.any((x != 0) & (np.abs(x) != 1)):
        raise InputError("x: event values other than +1/-1, but the core is built with "
                         "unit_inputs (it only negates); build it without unit_inputs")
    samples, steps, _ = x.shape
    if engine == "auto":
        engine = "native" if (simulator == "verilator" and not waves
                              and samples * steps > NATIVE_ABOVE_STEPS) else "cocotb"
    if engine == "native" and simulator != "verilator":
        raise ValueError(f"the native harness runs only in Verilator, not {simulator!r}")
    if engine == "native" and waves:
        raise ValueError("waveforms need the cocotb engine")
    golden = GoldenReference(network).predict(x)
    if engine == "native":
        from .native import build_native
        model = build_native(network, config, progress=progress)
        if progress:
            progress(f"running {samples} samples x {steps} steps in the native Verilator harness ...")
        run = model.run(x)
        counters, seconds = run.counters, run.seconds
        scoreboard = Scoreboard(network, hidden_spikes=config.emit_spikes)
        mismatches = scoreboard.check(golden, run.records, samples, steps, counters)
        decoded = scoreboard.decoded
    elif engine == "cocotb":
        from .runner import build_cocotb
        model = build_cocotb(network, config, simulator, waves=bool(waves), progress=progress)
        if progress:
            progress(f"running {samples} samples x {steps} steps in cocotb + {simulator} ...")
        start = time.perf_counter()
        run = model.run(x, keep=waves)
        seconds = time.perf_counter() - start
        # the testbench's own scoreboard compared everything; only decode here
        counters, mismatches = run.counters, run.mismatches
        try:
            decoded = decode_outputs(network, run.records, samples, steps)
        except ProtocolError:
            decoded = None   # the scoreboard's mismatches say why
    else:
        raise ValueError(f"unknown engine {engine!r}; choose auto, cocotb or native")
    return RtlOutcome(engine=engine, golden_network=network, simulator=simulator, golden=golden, decoded=decoded,
                      counters=counters, mismatches=mismatches, sim_seconds=seconds,
                      waves=Path(waves) if waves else None)


def decoded_as_result(outcome: RtlOutcome, x) -> Result:
    """The RTL's outputs in the golden ``Result`` shape; per-sample operation counts are
    derived from the RTL's own spike trains (its counters are checked in total)."""
    d = outcome.decoded
    if any(s is None for s in d.spikes):
        raise ValueError("per-sample counts need every layer's spikes (emit_spikes)")
    return Result(spikes=d.spikes, readout=d.readout, decisions=d.decisions,
                  **operation_counts(outcome.golden_network, np.asarray(x), d.spikes))
