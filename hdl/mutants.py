"""Planted RTL faults, for proving that the regression can fail (test-only hook).

``with planted("name"):`` around the generation of a design (``Accelerator``
elaboration: ``emit_verilog``, ``Simulator(...)``) makes the named component
build itself with one deliberate bug; outside such a block ``active`` is
always False and the generator builds the correct design. Every mutant below
is a fault a real bug could make; the regression (``benchmarks/bench_mutants.py``,
``tests/test_mutants.py``) must report each one as a mismatch.
"""

from __future__ import annotations

import contextlib
import contextvars

__all__ = ["MUTANTS", "FORMAL_ONLY", "planted", "active"]

MUTANTS = {
    "no_forwarding": "synapse: the accumulator read port does not forward the write "
                     "(read-after-write hazard of back-to-back events on one word)",
    "rounding_floor": "neuron: the decay products round down whatever the format says",
    "lane_swap": "neuron: lanes 0 and 1 take each other's synaptic input",
    "short_pass": "neuron: a pass updates one word fewer than the layer has",
    "stuck_spike": "neuron: lane 0 never spikes",
    "no_soft_reset": "neuron: a spike does not subtract the threshold",
    "wrap_not_saturate": "neuron: state updates wrap instead of saturating",
    "no_guard_bits": "neuron: the synaptic input enters the state in weight units",
    "update_before_drain": "sequencer: a layer's update starts before its synapse engine is done",
    "synops_off_by_one": "counters: every input event counts one synaptic operation too many",
    "argmax_ties_high": "sequencer: readout argmax ties go to the highest index",
    "spikes_drop_last_lane": "spike list: a spike in a word's last lane is not kept",
    "input_sign_ignored": "synapse: a negative input event adds its weight instead of subtracting",
    "theta_no_reset": "theta: a spike keeps the vector past V = +inf (no negation)",
    "spikes_ignore_ready": "spike stream: a stalled index is replaced by the next (ready ignored)",
    "config_no_interlock": "configuration port: memory access is not refused while busy",
}

#: Mutants only a formal proof is meant to catch (``sim.formal``): the simulation regression
#: does not run them. Their harnesses (``hdl.formal_harness``) plant them.
FORMAL_ONLY = frozenset({"spikes_ignore_ready", "config_no_interlock"})

_active = contextvars.ContextVar("spikeforge_mutant", default=None)


@contextlib.contextmanager
def planted(name: str):
    """Build designs with mutant ``name`` inside this block."""
    if name not in MUTANTS:
        raise ValueError(f"unknown mutant {name!r}; known: {', '.join(MUTANTS)}")
    token = _active.set(name)
    try:
        yield
    finally:
        _active.reset(token)


def active(name: str) -> bool:
    """Whether the design being built carries mutant ``name`` (only inside ``planted``)."""
    return _active.get() == name
