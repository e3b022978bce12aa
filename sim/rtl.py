"""One entry point for RTL simulation: events in, outputs checked against the golden model.

``engine``: ``cocotb`` (the testbench, Verilator or Icarus, with waveforms on
request) or ``native`` (the C++ Verilator harness, for whole data sets);
``auto`` picks native for Verilator unless waveforms are asked for (it builds
and runs in seconds where the cocotb testbench takes half a minute), cocotb for
Icarus.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..golden.network import Network
from ..golden.simulate import InputError, Result, check_inputs
from ..hdl.config import HardwareConfig
from ..hdl.protocol import ProtocolError, decode_outputs
from .scoreboard import GoldenReference, Scoreboard, sample_deltas

__all__ = ["RtlOutcome", "run_rtl", "rtl_result"]


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
    sample_counters: list = None   # the counters read after each sample (cumulative)

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
        engine = "native" if simulator == "verilator" and not waves else "cocotb"
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
        scoreboard = Scoreboard(network, hidden_spikes=config.emit_spikes, config=config)
        mismatches = scoreboard.check(golden, run.records, samples, steps, counters,
                                      run.sample_counters, x, back_to_back=True)
        decoded = scoreboard.decoded
        sample_counters = run.sample_counters
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
        sample_counters = run.sample_counters
        try:
            decoded = decode_outputs(network, run.records, samples, steps)
        except ProtocolError:
            decoded = None   # the scoreboard's mismatches say why
    else:
        raise ValueError(f"unknown engine {engine!r}; choose auto, cocotb or native")
    return RtlOutcome(engine=engine, golden_network=network, simulator=simulator, golden=golden, decoded=decoded,
                      counters=counters, mismatches=mismatches, sim_seconds=seconds,
                      waves=Path(waves) if waves else None, sample_counters=sample_counters)


def rtl_result(outcome: RtlOutcome) -> Result | None:
    """What the RTL produced, in the golden ``Result`` shape, and nothing else: outputs
    decoded from its records, per-sample counts from its counters (read after every
    sample); None when its records do not decode. Hidden spikes the core was built not
    to stream are None."""
    d = outcome.decoded
    if d is None or not outcome.sample_counters:
        return None
    deltas = sample_deltas(outcome.sample_counters)
    column = lambda name: np.array([c[name] for c in deltas], np.int64)   # noqa: E731
    return Result(spikes=d.spikes, readout=d.readout, decisions=d.decisions,
                  synops=column("SYNOPS"), neuron_updates=column("NEURON_UPDATES"),
                  layer_spikes=np.array([c["SPIKES"] for c in deltas], np.int64),
                  input_events=column("INPUT_EVENTS"))
