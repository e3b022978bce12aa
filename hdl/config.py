"""Hardware configuration and the configuration-port address map, derived from a Network."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from ..golden.network import Network
from .neuron import DECAYS, PARAMS

__all__ = ["HardwareConfig", "AddressMap", "Region", "config_signature",
           "DATA_BITS", "COUNTER_BITS", "COUNTERS", "counter_addresses", "counters_from", "ID_VALUE", "REGISTERS"]

#: Width of the configuration bus data and of every counter (counters wrap).
DATA_BITS = 32
#: Clocks from a configuration strobe to the core's decision on it (the request is registered).
REQUEST_LATENCY = 1
#: Clocks from that decision to a read's answer (``r_valid``): the memory read, the word
#: registered, the layer's lane-selected read data registered (``hdl.layer.LayerCore``).
ANSWER_LATENCY = 3
COUNTER_BITS = 32
#: Read at address 0: "SF" and protocol version 3 (2 added DROPPED_EVENTS, 3 STEP_CYCLES
#: and INPUT_CYCLES).
ID_VALUE = 0x53460003
#: Register words at the start of the map; spikes of layer i at SPIKES + i.
#: CYCLES counts clocks with the core busy, SYNAPSE_CYCLES clocks with any synapse engine
#: busy, STALL_CYCLES busy clocks spent waiting for the results' consumer (back-pressure:
#: CYCLES - STALL_CYCLES is the core's own work, whatever the link or host). DROPPED_EVENTS
#: counts EVENT records the core ignored: value 0 (or not +-1 with ``unit_inputs``), channel
#: out of range, or channel not above the step's previous one (one event per channel per
#: step, which the accumulator widths assume).
#: STEP_CYCLES counts the sequencer's clocks (steps and sample ends), INPUT_CYCLES the first
#: synapse engine's clocks on input events (one per weight word); CYCLES their union, the
#: clocks the core works (input overlaps the end of the step before: ``hdl.schedule``).
REGISTERS = {"ID": 0, "CONTROL": 1, "CYCLES": 2, "SYNOPS": 3, "NEURON_UPDATES": 4,
             "INPUT_EVENTS": 5, "SYNAPSE_CYCLES": 6, "STALL_CYCLES": 7, "DROPPED_EVENTS": 8,
             "STEP_CYCLES": 9, "INPUT_CYCLES": 10, "SPIKES": 11}
#: The counters every runner reads after a run (SPIKES: one per layer, after these).
COUNTERS = ("CYCLES", "SYNOPS", "NEURON_UPDATES", "INPUT_EVENTS", "SYNAPSE_CYCLES", "STALL_CYCLES",
            "DROPPED_EVENTS", "STEP_CYCLES", "INPUT_CYCLES")


def counter_addresses(n_layers: int) -> list[int]:
    """Addresses of ``COUNTERS`` then of the per-layer spike counters."""
    return [REGISTERS[name] for name in COUNTERS] + [REGISTERS["SPIKES"] + i for i in range(n_layers)]


def counters_from(values) -> dict:
    """The values read at ``counter_addresses`` as {name: value, "SPIKES": [per layer]}."""
    values = [int(v) for v in values]
    out = dict(zip(COUNTERS, values))
    out["SPIKES"] = values[len(COUNTERS):]
    return out


@dataclass(frozen=True)
class HardwareConfig:
    """What the Network does not say: parallelism and options.

    ``lanes``: weights (and neurons) handled per clock, a power of two 1..16.
    ``emit_spikes``: stream hidden-layer spikes (the readout layer's always are).
    ``unit_inputs``: input event values are +1/-1 only; the input layer then
    negates instead of multiplying (other values are dropped and counted; the runners
    refuse inputs that hold them).
    ``spram_layers``: layers whose weights live in iCE40 UP5K single-port RAM
    (``hdl.spram``: no initial contents, the weights are written at run time
    through the configuration port); the others' weights are in inferred
    block RAM initialised with the network's weights.
    """

    lanes: int = 1
    emit_spikes: bool = True
    unit_inputs: bool = False
    spram_layers: tuple = ()

    def __post_init__(self):
        if not isinstance(self.lanes, int) or isinstance(self.lanes, bool) \
                or self.lanes not in (1, 2, 4, 8, 16):
            raise ValueError(f"HardwareConfig.lanes: {self.lanes!r} is not a power of two in 1..16")
        for name in ("emit_spikes", "unit_inputs"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"HardwareConfig.{name}: {getattr(self, name)!r} is not a bool")
        layers = self.spram_layers
        if not isinstance(layers, tuple) or any(not isinstance(i, int) or isinstance(i, bool) or i < 0
                                                for i in layers) or list(layers) != sorted(set(layers)):
            raise ValueError(f"HardwareConfig.spram_layers: {layers!r} is not a sorted tuple of "
                             f"distinct layer indices")

    def to_json(self) -> dict:
        return {"lanes": self.lanes, "emit_spikes": self.emit_spikes, "unit_inputs": self.unit_inputs,
                "spram_layers": list(self.spram_layers)}


def config_signature(addr_bits: int) -> wiring.Signature:
    """The host's view of the configuration port (the accelerator takes it flipped)."""
    return wiring.Signature({
        "addr": Out(addr_bits), "w_data": Out(DATA_BITS), "w_stb": Out(1),
        "r_stb": Out(1), "r_data": In(DATA_BITS), "r_valid": In(1),
    })


@dataclass(frozen=True)
class Region:
    """A run of configuration words; element ``row * row_stride + col`` at ``base + ...``."""

    name: str            # "registers" or "layers.<i>.<weights|bias|alpha|b0|rho|adapt>"
    layer: int | None
    memory: str | None
    base: int
    span: int            # power of two, the region's address space (base is a multiple)
    rows: int
    row_stride: int
    cols: int            # meaningful columns per row (the rest is padding)
    bits: int
    signed: bool

    @property
    def offset_bits(self) -> int:
        return ceil_log2(self.span)

    def to_json(self) -> dict:
        return {"name": self.name, "base": self.base, "span": self.span, "rows": self.rows,
                "row_stride": self.row_stride, "cols": self.cols, "bits": self.bits,
                "signed": self.signed}


class AddressMap:
    """Word addresses of the configuration port.

    Registers first (``REGISTERS``; writing CONTROL bit 0 clears every counter,
    bit 1 clears the refused flag; reading CONTROL gives bit 0 = busy, bit 1 =
    refused). Then per layer the weight memory (rows ``0..n_in-1`` feed-forward,
    ``n_in..n_in+size-1`` recurrent, column = target neuron) and the parameter
    memories (one element per neuron). Memory regions are readable and
    writable only while the core is not busy: an access while it is busy is
    refused (a write is dropped, a read answers 0) and sets the refused flag.
    Registers can be read at any time. Values are sign-extended (unsigned decay
    factors zero-extended) and writes keep the low ``bits`` bits. The core registers
    each request: a write takes effect ``REQUEST_LATENCY`` clock after its strobe, a read
    answers (``r_valid``) ``REQUEST_LATENCY + ANSWER_LATENCY`` (four) clocks after it.
    """

    def __init__(self, network: Network, config: HardwareConfig):
        P = config.lanes
        f = network.formats
        n_regs = REGISTERS["SPIKES"] + len(network.layers)
        regions = [Region("registers", None, None, 0, 1 << ceil_log2(max(n_regs, 16)),
                          1, n_regs, n_regs, DATA_BITS, False)]
        cursor = regions[0].span
        n_in = network.n_inputs
        for i, layer in enumerate(network.layers):
            words = -(-layer.size // P)
            rows = n_in + (layer.size if layer.recurrent else 0)
            specs = [("weights", rows, f.weight_bits, True)]
            specs += [(name, 1, f.decay_bits if name in DECAYS else f.state_bits,
                       name not in DECAYS) for name in PARAMS[layer.kind]]
            for name, n_rows, bits, is_signed in specs:
                span = 1 << ceil_log2(n_rows * words * P)
                base = -(-cursor // span) * span
                regions.append(Region(f"layers.{i}.{name}", i, name, base, span, n_rows,
                                      words * P, layer.size, bits, is_signed))
                cursor = base + span
            n_in = layer.size
        self.regions = regions
        self.formats = network.formats
        # baked into the generated logic, not in a memory: the theta flow and weight scales
        self.constants = (network.theta, [l.weight_shift for l in network.layers])
        self.acc_bits = [network.accumulator(i).width for i in range(len(network.layers))]
        self.addr_bits = max(1, ceil_log2(cursor))

    def region(self, name: str) -> Region:
        for r in self.regions:
            if r.name == name:
                return r
        raise KeyError(f"no region {name!r}; regions: {[r.name for r in self.regions]}")

    def address(self, name: str, row: int = 0, col: int = 0) -> int:
        """Word address of element (row, col) of region ``name`` (e.g. ``layers.0.weights``)."""
        r = self.region(name)
        if not (0 <= row < r.rows and 0 <= col < r.row_stride):
            raise ValueError(f"{name}: element ({row}, {col}) outside {r.rows} x {r.row_stride}")
        return r.base + row * r.row_stride + col

    def network_writes(self, network: Network) -> list[tuple[int, int]]:
        """(address, value) writes that load every weight and neuron parameter of
        ``network`` (same architecture) into a running core: one bitstream, new weights."""
        if network.formats != self.formats:
            raise ValueError(f"formats {network.formats} differ from this core's {self.formats}")
        constants = (network.theta, [l.weight_shift for l in network.layers])
        if constants != self.constants:
            raise ValueError(f"theta model and weight shifts {constants} differ from this core's "
                             f"{self.constants} (they are constants of the generated logic)")
        writes = []
        for i, layer in enumerate(network.layers):
            need = network.accumulator(i).width
            if i >= len(self.acc_bits) or need > self.acc_bits[i]:
                have = self.acc_bits[i] if i < len(self.acc_bits) else None
                raise ValueError(f"layers[{i}]: the new weights need a {need}-bit synaptic "
                                 f"accumulator, this core has {have}")
            rows = layer.w_in if layer.w_rec is None else np.concatenate([layer.w_in, layer.w_rec])
            base = self.region(f"layers.{i}.weights")
            if rows.shape != (base.rows, base.cols):
                raise ValueError(f"layers[{i}]: weights {rows.shape} do not fit this core's "
                                 f"{base.rows} x {base.cols} weight memory")
            # Every element, padding lanes (zero) included: SPRAM weights start undefined.
            padded = np.zeros((base.rows, base.row_stride), np.int64)
            padded[:, :base.cols] = rows
            for row, col in np.ndindex(*padded.shape):
                writes.append((self.address(base.name, row, col), int(padded[row, col])))
            for name in PARAMS[layer.kind]:
                region = self.region(f"layers.{i}.{name}")
                values = np.zeros(region.row_stride, np.int64)
                values[:region.cols] = getattr(layer, name)
                for col, value in enumerate(values):
                    writes.append((self.address(region.name, 0, col), int(value)))
        return writes

    def to_json(self) -> dict:
        return {"addr_bits": self.addr_bits, "data_bits": DATA_BITS,
                "registers": dict(REGISTERS), "id_value": ID_VALUE,
                "regions": [r.to_json() for r in self.regions]}
