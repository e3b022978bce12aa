"""The mutation regression: small designs and stimuli that must expose every planted fault.

``REGRESSION`` names a few designs (network, hardware configuration, inputs)
that together exercise every datapath, rule and counter; ``MUTANT_DESIGNS``
says which of them a mutant (``hdl.mutants``) can show up in. ``kills(mutant,
engine)`` builds those designs with the mutant planted and runs them through
the exact checker (``sim.scoreboard``) in Amaranth's simulator or in cocotb
under Verilator or Icarus: the mutant is killed when any run mismatches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..golden.network import Decision, Formats, NeuronKind
from ..golden.randnet import random_events, random_network, random_theta_network
from ..golden.simulate import simulate
from ..hdl import mutants
from ..hdl.config import HardwareConfig
from .scoreboard import Scoreboard

__all__ = ["REGRESSION", "MUTANT_DESIGNS", "Design", "kills", "ENGINES"]

ENGINES = ("pysim", "verilator", "icarus")


@dataclass(frozen=True)
class Design:
    make: object          # () -> Network
    config: HardwareConfig
    inputs: object        # (network) -> x


def _one_word():
    # the first layer fits one word: back-to-back events hit the same accumulators
    return random_network(41, 6, (4,), 3, weight_scale=1.5)


def _multi_word():
    net = random_network(42, 5, (10,), 4, readout=NeuronKind.LIF, weight_scale=1.2,
                         formats=Formats(input_bits=3))
    net.layers[-1].bias[:] = 0        # silent steps leave the readout tied at 0
    return net


def _multi_word_inputs(net):
    x = random_events(3, 3, 8, net.n_inputs, rate=0.5, values=(1, -1, -2, 3))
    x[:, :2] = 0                       # silent steps first: readout ties
    return x


def _saturating():
    return random_network(43, 4, (8,), 3, readout=NeuronKind.LIF, decision=Decision.FIRST_SPIKE,
                          formats=Formats(state_bits=8, guard_bits=0), weight_scale=1.5)


def _theta():
    return random_theta_network(44, 6, (8,), 3, steps=10)


REGRESSION = {
    "one-word-P4": Design(_one_word, HardwareConfig(lanes=4),
                          lambda net: random_events(1, 2, 6, net.n_inputs, rate=0.9)),
    "multi-word-P2": Design(_multi_word, HardwareConfig(lanes=2), _multi_word_inputs),
    "saturating-P2": Design(_saturating, HardwareConfig(lanes=2),
                            lambda net: random_events(2, 2, 8, net.n_inputs, rate=0.6,
                                                      values=(1, -1))),
    "theta-P2": Design(_theta, HardwareConfig(lanes=2),
                       lambda net: random_events(4, 3, 10, net.n_inputs, rate=0.3)),
}

#: The designs each mutant can show up in (all of them are run).
MUTANT_DESIGNS = {
    "no_forwarding": ("one-word-P4",),
    "rounding_floor": ("multi-word-P2",),
    "lane_swap": ("multi-word-P2",),
    "short_pass": ("multi-word-P2",),
    "stuck_spike": ("multi-word-P2",),
    "no_soft_reset": ("multi-word-P2",),
    "wrap_not_saturate": ("saturating-P2",),
    "no_guard_bits": ("multi-word-P2",),
    "update_before_drain": ("one-word-P4", "multi-word-P2"),
    "synops_off_by_one": ("multi-word-P2",),
    "argmax_ties_high": ("multi-word-P2",),
    "spikes_drop_last_lane": ("multi-word-P2",),
    "input_sign_ignored": ("multi-word-P2",),
    "theta_no_reset": ("theta-P2",),
}
assert set(MUTANT_DESIGNS) == set(mutants.MUTANTS) - mutants.FORMAL_ONLY


def _run(design: Design, engine: str) -> list[str]:
    """Every mismatch of ``design`` built now (with whatever mutant is planted)."""
    net = design.make()
    x = design.inputs(net)
    if engine == "pysim":
        from ..hdl.pysim import run_accelerator
        run = run_accelerator(net, design.config, x)
        return Scoreboard(net, hidden_spikes=design.config.emit_spikes).check(
            simulate(net, x), run.records, x.shape[0], x.shape[1], run.counters,
            run.sample_counters)
    from .runner import build_cocotb
    return build_cocotb(net, design.config, engine).run(x).mismatches


def kills(mutant: str | None, engine: str) -> dict[str, list[str]]:
    """Mismatches per design of ``mutant`` (None: the correct design) under ``engine``."""
    if engine not in ENGINES:
        raise ValueError(f"engine {engine!r}; choose one of {', '.join(ENGINES)}")
    names = MUTANT_DESIGNS[mutant] if mutant else tuple(REGRESSION)
    out = {}
    for name in names:
        if mutant is None:
            out[name] = _run(REGRESSION[name], engine)
        else:
            with mutants.planted(mutant):
                out[name] = _run(REGRESSION[name], engine)
    return out
