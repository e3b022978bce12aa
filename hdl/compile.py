"""Generate the accelerator for a network: Verilog and a manifest.

``compile_network(network, config, outdir)`` writes ``accelerator.v`` (top
module ``TOP_NAME``; every memory's initial contents are inline in it) and
``manifest.json``, and returns the manifest dict. No separate memory images
are written: the Verilog is the one place the contents are.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from amaranth.back import verilog
from amaranth.lib import data
from amaranth.lib.wiring import Flow

from ..golden.files import atomic_folder
from ..golden.network import Network
from ..golden.simulate import Result
from . import schedule
from .accelerator import Accelerator
from .config import AddressMap, HardwareConfig
from .layer import layer_memories
from .neuron import state_layout
from .protocol import streams_json
from .spram import SPRAM_PRIMITIVES

__all__ = ["compile_network", "verilator_lint_args", "TOP_NAME", "VERILATOR_WAIVED",
           "MANIFEST_VERSION"]

TOP_NAME = "spikeforge_accelerator"
MANIFEST_VERSION = 1

#: Verilator -Wall warnings the generated Verilog triggers, silenced one by one
#: (``-Wno-<name>``); everything else stays an error.
VERILATOR_WAIVED = (
    # Yosys' Verilog backend relies on Verilog's implicit width rules: operands are
    # widened to the exact width of Amaranth arithmetic and results narrowed on assignment.
    "WIDTHEXPAND",
    "WIDTHTRUNC",
    # ...and keeps every intermediate wire, including bits of them nothing reads.
    "UNUSEDSIGNAL",
    # Switches become `case` statements without `default`: the defaults are assigned before.
    "CASEINCOMPLETE",
    # Registers are declared with their reset value (`reg x = 1'h0;`), Amaranth's `init`.
    "PROCASSINIT",
    # Zero-width signals (an index into one word, a one-word memory's address) are `[-1:0]`.
    "ASCRANGE",
    # One file, `accelerator.v`, holds the top module and its submodules.
    "DECLFILENAME",
)


def verilator_lint_args() -> list[str]:
    """Verilator arguments for linting the generated Verilog: -Wall minus ``VERILATOR_WAIVED``."""
    return ["--lint-only", "-Wall", *(f"-Wno-{name}" for name in VERILATOR_WAIVED),
            "--top-module", TOP_NAME]

def _words(size: int, lanes: int) -> int:
    return -(-size // lanes)


def emit_verilog(network: Network, config: HardwareConfig = HardwareConfig(), *,
                 platform=None) -> str:
    """The accelerator's Verilog, reproducible (no source locations). ``platform``
    chooses vendor primitives (e.g. ``hdl.spram.SPRAM_PRIMITIVES``); by default
    every memory is a behavioural one."""
    return verilog.convert(Accelerator(network, config), name=TOP_NAME, emit_src=False,
                           platform=platform)


def compile_network(network: Network, config: HardwareConfig, outdir) -> dict:
    """Write ``accelerator.v`` and ``manifest.json`` into ``outdir``.

    The folder is written whole or not at all: the files go into a temporary folder that
    then replaces ``outdir`` (``golden.files.atomic_folder``), so an interrupted or failed
    compile leaves the previous output as it was and a new one has no stale files. A
    non-empty ``outdir`` that is not an earlier compile output (no manifest.json) is refused.

    The weights of ``config.spram_layers`` are ``SB_SPRAM256KA`` instances (iCE40 UP5K)
    in the Verilog: they have no initial contents, the host writes them (the manifest's
    memory entry says so)."""
    if not isinstance(network, Network):
        raise TypeError(f"compile_network: network must be a spikeforge Network, not {network!r}")
    with atomic_folder(outdir, "manifest.json", "compile output") as tmp:
        return _write_outputs(network, config, Path(tmp))


def _write_outputs(network: Network, config: HardwareConfig, outdir: Path) -> dict:
    top = Accelerator(network, config)
    ports = [{"name": "clk", "direction": "in", "width": 1},
             {"name": "rst", "direction": "in", "width": 1}]
    for path, member, value in top.signature.flatten(top):
        ports.append({"name": "__".join(map(str, path)),
                      "direction": "in" if member.flow is Flow.In else "out",
                      "width": len(value.as_value()) if hasattr(value, "as_value") else len(value)})
    text = verilog.convert(top, name=TOP_NAME, emit_src=False,
                           platform=SPRAM_PRIMITIVES if config.spram_layers else None)
    (outdir / "accelerator.v").write_text(text)

    P, f = config.lanes, network.formats
    memories = []
    for i, layer in enumerate(network.layers):
        acc_bits = network.accumulator(i).width
        words = _words(layer.size, P)
        shapes = {name: (data.Layout.cast(data.ArrayLayout(shape, P)).size // P, init)
                  for name, (shape, init) in layer_memories(layer, f, P, acc_bits).items()}
        shapes["acc"] = (acc_bits, np.zeros((words, P), np.int64))
        shapes["state"] = (state_layout(layer.kind, f).size, np.zeros((words, P), np.int64))
        for name, (bits, init) in shapes.items():
            # a word holds one value per lane, lane 0 in the low bits
            entry = {"name": f"layers.{i}.{name}", "instance": f"layer{i}.mem_{name}",
                     "depth": int(init.shape[0]), "width": bits * P, "lanes": P,
                     "lane_bits": bits, "lane_order": "lane 0 in the low bits",
                     "writable": name not in ("acc", "state")}
            if name == "weights" and i in config.spram_layers:
                memories.append({**entry, "primitive": "SB_SPRAM256KA",
                                 "contents": "none: written through the configuration port",
                                 "loaded_at_run_time": True})
                continue
            memories.append({**entry, "contents": "initialised in accelerator.v"})

    W = [_words(l.size, P) for l in network.layers]
    silent, worst = (int(schedule.per_step_cycles(network, config, r, x)[0, 0])
                     for r, x in (_all_firing(network, False), _all_firing(network, True)))
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "top": TOP_NAME,
        "verilog": "accelerator.v",
        "network": {"name": network.name, "summary": network.summary(),
                    "inputs": network.n_inputs, "decision": network.decision.value,
                    "theta": None if network.theta is None else {
                        **network.theta.to_json(),
                        "weight_shift": [l.weight_shift for l in network.layers],
                        "readout_value": "p * 2**state_bits + q (golden.theta.pack_state)"},
                    "layers": [{"kind": l.kind.value, "size": l.size, "recurrent": l.recurrent,
                                "accumulator_bits": network.accumulator(i).width}
                               for i, l in enumerate(network.layers)]},
        "hardware": config.to_json(),
        "formats": f.to_json(),
        "clock": {"clk": "rising edge", "rst": "synchronous, active high"},
        "ports": ports,
        "streams": streams_json(network),
        "memories": memories,
        "address_map": AddressMap(network, config).to_json(),
        "cycles": {"model": "hdl.schedule.cycles: CYCLES - STALL_CYCLES of each sample, exactly",
                   "phases_per_step": [_phase_text(p) for p in schedule.step_phases(network, config)],
                   "phases_per_sample": [_phase_text(p) for p in schedule.sample_phases(network)],
                   "words_per_layer": W, "silent_step": silent,
                   "step_every_input_and_neuron_firing": worst},
        "verilator_waived": list(VERILATOR_WAIVED),
    }
    with open(outdir / "manifest.json", "w") as fh:
        json.dump(manifest, fh, indent=1)
    return manifest


def _all_firing(network: Network, firing: bool) -> tuple[Result, np.ndarray]:
    """A stand-in golden result of two steps (the second is measured, with the first's spikes
    fed back) in which every input event and every spiking neuron fires, or none does."""
    spikes = [np.full((1, 2, l.size), firing) for l in network.layers if l.kind.spiking]
    result = Result(spikes=spikes, readout=np.zeros((1, 2, network.n_outputs), np.int64),
                    decisions=None, synops=None, neuron_updates=None, layer_spikes=None,
                    input_events=None)
    return result, np.full((1, 2, network.n_inputs), int(firing))


def _phase_text(phase) -> str:
    fields = [f"{k}={v}" for k, v in (("src", phase.src), ("dst", phase.dst)) if v is not None]
    if phase.offset:
        fields.append(f"offset={phase.offset}")
    return phase.kind + (f"({', '.join(fields)})" if fields else "")
