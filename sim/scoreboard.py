"""The model side of every RTL comparison: golden reference and exact scoreboard.

Shared by the cocotb testbench and the native Verilator path, so both compare
the same way: every output record and every counter, exactly.
"""

from __future__ import annotations

from ..golden.network import Network
from ..golden.simulate import Result, simulate
from ..hdl.config import COUNTER_BITS
from ..hdl.protocol import ProtocolError, compare, decode_outputs

__all__ = ["GoldenReference", "Scoreboard"]

COUNTER_MOD = 1 << COUNTER_BITS


class GoldenReference:
    """The model side of the comparison: the golden simulator on the same events."""

    def __init__(self, network: Network):
        self.network = network

    def predict(self, x) -> Result:
        return simulate(self.network, x)


class Scoreboard:
    """Compares the collected records with the golden result, exactly.

    Each mismatch names the sample, step, layer, neuron, expected and got;
    counters are compared with the golden totals.
    """

    def __init__(self, network: Network, *, hidden_spikes: bool):
        self.network, self.hidden_spikes = network, hidden_spikes
        self.mismatches: list[str] = []
        self.decoded = None   # the RTL's outputs as arrays, once checked

    def check(self, expected: Result, records, samples: int, steps: int, counters: dict) -> list[str]:
        try:
            got = self.decoded = decode_outputs(self.network, records, samples, steps)
        except ProtocolError as exc:
            self.mismatches.append(f"protocol: {exc}")
            return self.mismatches
        self.mismatches += compare(self.network, expected, got, hidden_spikes=self.hidden_spikes,
                                   limit=0)
        totals = expected.totals()
        want = {"SYNOPS": totals["synaptic_ops"], "NEURON_UPDATES": totals["neuron_updates"],
                "INPUT_EVENTS": totals["input_events"], "SPIKES": totals["spikes_per_layer"],
                "DROPPED_EVENTS": 0}
        for name, value in want.items():  # the hardware counters are 32 bits and wrap
            value = [v % COUNTER_MOD for v in value] if isinstance(value, list) else value % COUNTER_MOD
            if counters.get(name) != value:
                self.mismatches.append(f"counter {name}: expected {value}, got {counters.get(name)}")
        return self.mismatches
