"""Will it fit? Block RAM needed per memory of a design vs what a device has.

Every memory of the accelerator (``hdl.compile``'s list: per layer the weight
and parameter memories, the accumulators and the neuron state; all P lanes
wide) and of the board link (frame buffer, result FIFO) is counted in whole
blocks of the device's best aspect ratio, as Yosys maps them (memories at most
``Device.lutram_depth`` deep take no block: LUT RAM up to 64 deep on the ECP5,
flip-flops up to 4 deep on the iCE40, which has no LUT RAM, and up to 3 on the
Gowin, built with LUT RAM off; as Yosys chose in the builds measured here). This is an
estimate made before synthesis (small memories may end up in logic instead);
the nextpnr report of a real build is the measured number.

The weights of the layers in ``HardwareConfig.spram_layers`` go to the iCE40
UP5K's single-port RAMs instead (``hdl.spram``: 16 k x 16 blocks, each lane a
whole number of nibbles, narrow words packed two or four to an entry);
``fitting_config`` moves weight memories there, largest first, when block RAM
alone is too small ("auto").
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from amaranth.lib import data

from ..golden.network import Network
from ..hdl.config import HardwareConfig
from ..hdl.layer import layer_memories
from ..hdl.neuron import state_layout
from ..hdl.spram import SPRAM_DEPTH, SPRAM_WIDTH, lane_bits, spram_tiles
from .link import LinkInfo
from .targets import Board, BoardError, Device

__all__ = ["MemoryUse", "FitReport", "design_memories", "blocks_for", "estimate",
           "FitError", "largest_hidden", "ecg_shaped", "fitting_config", "WEIGHT_CHOICES"]

#: ``--weights`` choices: where the weight memories go ("auto": block RAM, else SPRAM).
WEIGHT_CHOICES = ("auto", "block", "spram")


class FitError(BoardError):
    """The network does not fit the board; the message says which memory and what to change."""


@dataclass(frozen=True)
class MemoryUse:
    name: str
    depth: int
    width: int
    blocks: int
    shape: tuple      # (depth, width) of one block as used
    kind: str = "bram"   # "bram" (blocks are block RAMs), "lutram" (none) or "spram"

    @property
    def bits(self) -> int:
        return self.depth * self.width

    def to_json(self) -> dict:
        return {"name": self.name, "depth": self.depth, "width": self.width, "bits": self.bits,
                "blocks": self.blocks, "block_shape": list(self.shape), "kind": self.kind}


def blocks_for(depth: int, width: int, device: Device, *,
               conservative: bool = False) -> tuple[int, tuple]:
    """Fewest blocks (and the block shape) holding a depth x width memory; (0, ("lut", 0))
    for a memory shallow enough that Yosys puts it in LUT RAM.

    Yosys does not always take the fewest blocks for a memory deeper than one
    block: it weighs the read multiplexer too (measured on the ECP5: 388,125 x 8
    bits took 24 x 8 blocks of 16 k x 1, 192, where 2 k x 9 needs 190; 89,996 x 8
    took 44 blocks of 8 k x 2, the fewest). ``conservative`` counts the deepest
    shape stacked for such memories when that takes more, an upper bound."""
    if depth <= device.lutram_depth:
        return 0, ("lutram", device.lutram_depth)
    best = None
    for d, w in device.bram_shapes:
        n = -(-depth // d) * -(-width // w)
        if best is None or n < best[0]:
            best = (n, (d, w))
    deepest = max(device.bram_shapes)
    if conservative and depth > deepest[0]:
        stacked = -(-depth // deepest[0]) * -(-width // deepest[1])
        best = max(best, (stacked, deepest))
    return best


def design_memories(network: Network, config: HardwareConfig) -> list[tuple[str, int, int, str]]:
    """(name, depth, width in bits, "block" or "spram") of every memory of the board design."""
    P, f = config.lanes, network.formats
    mems = []
    for i, layer in enumerate(network.layers):
        acc_bits = network.accumulator(i).width
        words = -(-layer.size // P)
        for name, (shape, init) in layer_memories(layer, f, P, acc_bits).items():
            if name == "weights" and i in config.spram_layers:
                mems.append((f"layers.{i}.{name}", int(init.shape[0]), P * lane_bits(f.weight_bits),
                             "spram"))
                continue
            width = data.Layout.cast(data.ArrayLayout(shape, P)).size
            mems.append((f"layers.{i}.{name}", int(init.shape[0]), width, "block"))
        mems.append((f"layers.{i}.acc", words, acc_bits * P, "block"))
        mems.append((f"layers.{i}.state", words, state_layout(layer.kind, f).size * P, "block"))
    from .top import RESULT_FIFO_DEPTH
    info = LinkInfo.for_design(network, config, 1, 4)
    mems.append(("link.frame_buffer", 256, 8, "block"))
    mems.append(("link.results", RESULT_FIFO_DEPTH, info.out_bits, "block"))
    return mems


@dataclass
class FitReport:
    board: str
    device: Device
    memories: list
    lanes: int
    spram_layers: tuple = ()

    @property
    def blocks(self) -> int:
        """Block RAMs."""
        return sum(m.blocks for m in self.memories if m.kind == "bram")

    @property
    def spram(self) -> int:
        """SPRAM blocks (iCE40 UP5K)."""
        return sum(m.blocks for m in self.memories if m.kind == "spram")

    @property
    def fits(self) -> bool:
        return self.blocks <= self.device.bram_blocks and self.spram <= self.device.spram_blocks

    def largest(self, kind: str = "bram") -> MemoryUse:
        return max((m for m in self.memories if m.kind == kind), key=lambda m: m.blocks)

    def message(self) -> str:
        dev = self.device
        if self.spram > dev.spram_blocks:
            big = self.largest("spram")
            have = (f"{dev.name} has {dev.spram_blocks}" if dev.spram_blocks else
                    f"{dev.name} has no SPRAM (use --weights block)")
            return (f"{big.name} needs {big.bits:,} bits ({big.depth} x {big.width}) in {big.blocks} "
                    f"SPRAM blocks (16 k x 16) and the design {self.spram} in all; {have}: use "
                    f"fewer lanes/neurons/weight bits or a larger board")
        big = self.largest()
        return (f"{big.name} needs {big.bits:,} bits ({big.depth} x {big.width}) in {big.blocks} "
                f"block RAMs and the design {self.blocks} in all; {dev.name} has "
                f"{dev.bram_blocks} ({dev.bram_kbits:g} kbit), {self.blocks - dev.bram_blocks} "
                f"too many: use fewer lanes/neurons/weight bits or a larger board")

    def to_json(self) -> dict:
        return {"board": self.board, "device": self.device.name, "lanes": self.lanes,
                "spram_layers": list(self.spram_layers),
                "bram_blocks": self.blocks, "bram_available": self.device.bram_blocks,
                "spram_blocks": self.spram, "spram_available": self.device.spram_blocks,
                "fits": self.fits, "memories": [m.to_json() for m in self.memories]}


def estimate(network: Network, config: HardwareConfig, board: Board, *,
             conservative: bool = False) -> FitReport:
    """Blocks per memory (``blocks_for``; ``conservative``: the upper bound)."""
    dev = board.device
    uses = []
    for name, depth, width, where in design_memories(network, config):
        if where == "spram":
            banks, slices = spram_tiles(depth, config.lanes, network.formats.weight_bits)
            uses.append(MemoryUse(name, depth, width, banks * slices, (SPRAM_DEPTH, SPRAM_WIDTH),
                                  "spram"))
            continue
        n, shape = blocks_for(depth, width, dev, conservative=conservative)
        uses.append(MemoryUse(name, depth, width, n, shape, "lutram" if shape[0] == "lutram" else "bram"))
    return FitReport(board.name, dev, uses, config.lanes, config.spram_layers)


def spram_placement(network: Network, weights: str) -> tuple:
    """``spram_layers`` for ``weights`` "block" (none) or "spram" (every layer)."""
    return () if weights == "block" else tuple(range(len(network.layers)))


def fitting_config(network: Network, config: HardwareConfig, board: Board,
                   weights: str = "auto", *, conservative: bool = False
                   ) -> tuple[HardwareConfig, FitReport]:
    """``config`` with its ``spram_layers`` chosen by ``weights`` and its estimate.

    "block": every weight memory in block RAM; "spram": every one in SPRAM;
    "auto": block RAM if the design fits, else the weight memories that take the
    most block RAMs move to SPRAM one by one until the design fits (devices
    with SPRAM only). Raises FitError saying what does not fit."""
    if weights not in WEIGHT_CHOICES:
        raise ValueError(f"weights must be one of {', '.join(WEIGHT_CHOICES)}, not {weights!r}")
    where = f"{network.name} on {board.name} (lanes {config.lanes})"
    if weights == "spram" and not board.device.spram_blocks:
        raise FitError(f"{where}: --weights spram: {board.device.name} has no SPRAM "
                       f"(only the iCE40 UP5K has); use --weights block")
    if weights != "auto":
        candidate = dataclasses.replace(config, spram_layers=spram_placement(network, weights))
        report = estimate(network, candidate, board, conservative=conservative)
        if not report.fits:
            raise FitError(f"{where}: {report.message()}")
        return candidate, report
    candidate = dataclasses.replace(config, spram_layers=())
    first = report = estimate(network, candidate, board, conservative=conservative)
    if board.device.spram_blocks:
        by_size = sorted((m for m in report.memories if m.name.endswith(".weights")),
                         key=lambda m: -m.blocks)
        moved = []
        for memory in by_size:
            if report.fits or memory.blocks == 0:
                break
            moved.append(int(memory.name.split(".")[1]))
            trial = dataclasses.replace(candidate, spram_layers=tuple(sorted(moved)))
            trial_report = estimate(network, trial, board, conservative=conservative)
            if trial_report.spram > board.device.spram_blocks:
                moved.pop()
                continue
            candidate, report = trial, trial_report
    if report.fits:
        return candidate, report
    tail = (f"; with the weights of layers {list(candidate.spram_layers)} in SPRAM: {report.message()}"
            if candidate.spram_layers else "")
    raise FitError(f"{where}: {first.message()}{tail}")


def ecg_shaped(hidden: int, *, weight_bits: int = 8, seed: int = 0) -> Network:
    """A 4 -> hidden (recurrent ALIF) -> 6 (LI) network, the shape of the ECG task."""
    from ..golden.network import Formats
    from ..golden.randnet import random_network
    return random_network(seed, 4, (hidden,), 6, formats=Formats(weight_bits=weight_bits))


def largest_hidden(board: Board, config: HardwareConfig, *, weight_bits: int = 8,
                   weights: str = "block", limit: int = 4096) -> tuple[int, FitReport]:
    """Largest hidden size N of a 4 -> N -> 6 ECG-shaped network whose memories fit with
    its weights placed by ``weights`` (``fitting_config``), by the conservative estimate
    (so that the answer builds), by bisection over N."""
    def fitting(n):
        try:
            return fitting_config(ecg_shaped(n, weight_bits=weight_bits), config, board, weights,
                                  conservative=True)[1]
        except FitError:
            return None
    if fitting(1) is None:
        raise FitError(f"even a 4 -> 1 -> 6 network does not fit {board.name} with the "
                       f"weights in {weights}")
    lo, hi = 1, 2
    while hi <= limit and fitting(hi):
        lo, hi = hi, hi * 2
    hi = min(hi, limit + 1)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fitting(mid) else (lo, mid)
    return lo, fitting(lo)
