"""The model side of every RTL comparison: golden reference and exact scoreboard.

Shared by the cocotb testbench, the native Verilator path and Amaranth-simulator
tests, so all compare the same way: the exact output record stream, and every
counter after every sample.
"""

from __future__ import annotations

from ..golden.network import Network
from ..golden.simulate import Result, simulate
from ..hdl.config import COUNTER_BITS
from ..hdl.protocol import ProtocolError, compare_records, decode_outputs

__all__ = ["GoldenReference", "Scoreboard", "sample_deltas", "COUNTER_MOD"]

COUNTER_MOD = 1 << COUNTER_BITS


class GoldenReference:
    """The model side of the comparison: the golden simulator on the same events."""

    def __init__(self, network: Network):
        self.network = network

    def predict(self, x) -> Result:
        return simulate(self.network, x)


def sample_deltas(sample_counters: list[dict]) -> list[dict]:
    """Each sample's own counts from the cumulative counters read after every sample
    (32-bit counters wrap: differences are taken modulo 2**32)."""
    out, before = [], None
    for now in sample_counters:
        delta = {}
        for name, value in now.items():
            if name == "SPIKES":
                prev = before["SPIKES"] if before else [0] * len(value)
                delta[name] = [(v - p) % COUNTER_MOD for v, p in zip(value, prev)]
            else:
                delta[name] = (value - (before[name] if before else 0)) % COUNTER_MOD
        out.append(delta)
        before = now
    return out


class Scoreboard:
    """Compares the collected records and counters with the golden result, exactly.

    The records must be the exact stream ``hdl.protocol.expected_records`` demands (each
    difference names the sample, step, layer and neuron); the counters after every sample
    must equal that sample's golden counts, and DROPPED_EVENTS stay 0.
    """

    def __init__(self, network: Network, *, hidden_spikes: bool, config=None):
        """``config``: the core's HardwareConfig; with it (and the inputs given to ``check``)
        each sample's STEP_CYCLES - STALL_CYCLES and INPUT_CYCLES must equal the cycle model
        (``hdl.schedule``), and CYCLES too when the run fed its inputs back to back and never
        stalled the results (``check(..., back_to_back=True)``)."""
        self.network, self.hidden_spikes, self.config = network, hidden_spikes, config
        self.mismatches: list[str] = []
        self.decoded = None   # the RTL's outputs as arrays, once they decode

    def check(self, expected: Result, records, samples: int, steps: int, counters: dict,
              sample_counters: list[dict] | None = None, x=None,
              back_to_back: bool = False) -> list[str]:
        self.mismatches += compare_records(self.network, expected, records,
                                           hidden_spikes=self.hidden_spikes, limit=0)
        try:
            self.decoded = decode_outputs(self.network, records, samples, steps)
        except ProtocolError as exc:
            if not self.mismatches:
                self.mismatches.append(f"protocol: {exc}")
        totals = expected.totals()
        want = {"SYNOPS": totals["synaptic_ops"], "NEURON_UPDATES": totals["neuron_updates"],
                "INPUT_EVENTS": totals["input_events"], "SPIKES": totals["spikes_per_layer"],
                "DROPPED_EVENTS": 0}
        for name, value in want.items():  # the hardware counters are 32 bits and wrap
            value = [v % COUNTER_MOD for v in value] if isinstance(value, list) else value % COUNTER_MOD
            if counters.get(name) != value:
                self.mismatches.append(f"counter {name}: expected {value}, got {counters.get(name)}")
        if sample_counters is not None:
            if len(sample_counters) != samples:
                self.mismatches.append(f"counters read after {len(sample_counters)} samples, "
                                       f"expected {samples}")
            for n, got in enumerate(sample_deltas(sample_counters)[:samples]):
                want = {"SYNOPS": int(expected.synops[n]),
                        "NEURON_UPDATES": int(expected.neuron_updates[n]),
                        "INPUT_EVENTS": int(expected.input_events[n]),
                        "SPIKES": [int(v) for v in expected.layer_spikes[n]], "DROPPED_EVENTS": 0}
                for name, value in want.items():
                    if got.get(name) != value:
                        self.mismatches.append(f"sample {n}: counter {name}: expected {value}, "
                                               f"got {got.get(name)}")
            if self.config is not None and x is not None:
                from ..hdl import schedule
                steps_model = schedule.step_cycles(self.network, self.config, expected)
                input_model = schedule.input_cycles(self.network, self.config, x).sum(axis=1)
                union_model = schedule.cycles(self.network, self.config, expected, x)
                for n, got in enumerate(sample_deltas(sample_counters)[:samples]):
                    figures = [("STEP_CYCLES - STALL_CYCLES",
                                got.get("STEP_CYCLES", 0) - got.get("STALL_CYCLES", 0), steps_model[n]),
                               ("INPUT_CYCLES", got.get("INPUT_CYCLES"), input_model[n])]
                    if back_to_back:
                        figures.append(("CYCLES", got.get("CYCLES"), union_model[n]))
                    for name, value, model in figures:
                        if value != model:
                            self.mismatches.append(f"sample {n}: {name} = {value}, the cycle "
                                                   f"model says {int(model)}")
        return self.mismatches
