"""Will it fit? Block RAM needed per memory of a design vs what a device has.

Every memory of the accelerator (``hdl.compile``'s list: per layer the weight
and parameter memories, the accumulators and the neuron state; all P lanes
wide) and of the board link (frame buffer, result FIFO) is counted in whole
blocks of the device's best aspect ratio, as Yosys maps them (on ECP5 and Gowin
memories at most 64 deep go to LUT RAM instead, as Yosys chose in the builds
measured here; iCE40 has no LUT RAM). This is an
estimate made before synthesis (small memories may end up in logic instead);
the nextpnr report of a real build is the measured number.
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.lib import data

from ..golden.network import Network
from ..hdl.config import HardwareConfig
from ..hdl.layer import layer_memories
from ..hdl.neuron import state_layout
from .link import LinkInfo
from .targets import Board, BoardError, Device

__all__ = ["MemoryUse", "FitReport", "design_memories", "blocks_for", "estimate", "check_fit",
           "FitError", "largest_hidden", "ecg_shaped"]


class FitError(BoardError):
    """The network does not fit the board; the message says which memory and what to change."""


@dataclass(frozen=True)
class MemoryUse:
    name: str
    depth: int
    width: int
    blocks: int
    shape: tuple      # (depth, width) of one block as used

    @property
    def bits(self) -> int:
        return self.depth * self.width

    def to_json(self) -> dict:
        return {"name": self.name, "depth": self.depth, "width": self.width, "bits": self.bits,
                "blocks": self.blocks, "block_shape": list(self.shape)}


def blocks_for(depth: int, width: int, device: Device) -> tuple[int, tuple]:
    """Fewest blocks (and the block shape) holding a depth x width memory; (0, ("lut", 0))
    for a memory shallow enough that Yosys puts it in LUT RAM."""
    if depth <= device.lutram_depth:
        return 0, ("lutram", device.lutram_depth)
    best = None
    for d, w in device.bram_shapes:
        n = -(-depth // d) * -(-width // w)
        if best is None or n < best[0]:
            best = (n, (d, w))
    return best


def design_memories(network: Network, config: HardwareConfig) -> list[tuple[str, int, int]]:
    """(name, depth, width in bits) of every memory of the board design."""
    P, f = config.lanes, network.formats
    mems = []
    for i, layer in enumerate(network.layers):
        acc_bits = network.accumulator(i).width
        words = -(-layer.size // P)
        for name, (shape, init) in layer_memories(layer, f, P, acc_bits).items():
            width = data.Layout.cast(data.ArrayLayout(shape, P)).size
            mems.append((f"layers.{i}.{name}", int(init.shape[0]), width))
        mems.append((f"layers.{i}.acc", words, acc_bits * P))
        mems.append((f"layers.{i}.state", words, state_layout(layer.kind, f).size * P))
    from .top import RESULT_FIFO_DEPTH
    info = LinkInfo.for_design(network, config, 1, 4)
    mems.append(("link.frame_buffer", 256, 8))
    mems.append(("link.results", RESULT_FIFO_DEPTH, info.out_bits))
    return mems


@dataclass
class FitReport:
    board: str
    device: Device
    memories: list
    lanes: int

    @property
    def blocks(self) -> int:
        return sum(m.blocks for m in self.memories)

    @property
    def fits(self) -> bool:
        return self.blocks <= self.device.bram_blocks

    def largest(self) -> MemoryUse:
        return max(self.memories, key=lambda m: m.blocks)

    def message(self) -> str:
        dev = self.device
        big = self.largest()
        return (f"{big.name} needs {big.bits:,} bits ({big.depth} x {big.width}) in {big.blocks} "
                f"block RAMs and the design {self.blocks} in all; {dev.name} has "
                f"{dev.bram_blocks} ({dev.bram_kbits:g} kbit), {self.blocks - dev.bram_blocks} "
                f"too many: use fewer lanes/neurons/weight bits or a larger board")

    def to_json(self) -> dict:
        return {"board": self.board, "device": self.device.name, "lanes": self.lanes,
                "bram_blocks": self.blocks, "bram_available": self.device.bram_blocks,
                "fits": self.fits, "memories": [m.to_json() for m in self.memories]}


def estimate(network: Network, config: HardwareConfig, board: Board) -> FitReport:
    dev = board.device
    uses = []
    for name, depth, width in design_memories(network, config):
        n, shape = blocks_for(depth, width, dev)
        uses.append(MemoryUse(name, depth, width, n, shape))
    return FitReport(board.name, dev, uses, config.lanes)


def check_fit(network: Network, config: HardwareConfig, board: Board) -> FitReport:
    report = estimate(network, config, board)
    if not report.fits:
        raise FitError(f"{network.name} on {board.name} (lanes {config.lanes}): {report.message()}")
    return report


def ecg_shaped(hidden: int, *, weight_bits: int = 8, seed: int = 0) -> Network:
    """A 4 -> hidden (recurrent ALIF) -> 6 (LI) network, the shape of the ECG task."""
    from ..golden.network import Formats
    from ..golden.randnet import random_network
    return random_network(seed, 4, (hidden,), 6, formats=Formats(weight_bits=weight_bits))


def largest_hidden(board: Board, config: HardwareConfig, *, weight_bits: int = 8,
                   limit: int = 4096) -> tuple[int, FitReport]:
    """Largest hidden size N of a 4 -> N -> 6 ECG-shaped network whose memories fit (by
    bisection over the estimate, which grows with N)."""
    def fits(n):
        return estimate(ecg_shaped(n, weight_bits=weight_bits), config, board).fits
    if not fits(1):
        raise FitError(f"even a 4 -> 1 -> 6 network does not fit {board.name}")
    lo, hi = 1, 2
    while hi <= limit and fits(hi):
        lo, hi = hi, hi * 2
    hi = min(hi, limit + 1)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo, estimate(ecg_shaped(lo, weight_bits=weight_bits), config, board)
