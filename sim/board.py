"""The simulated board: the board top's Verilog in Verilator behind a pseudo-terminal.

``build_sim_board`` compiles ``BoardLink`` (accelerator + UART link) with
``board_harness.cpp`` once per design into the cache (as ``sim.native`` does);
``SimBoard.start()`` runs it and returns the pty path that the host driver
opens with pyserial, exactly as it opens a real board's serial port.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from amaranth.back import verilog

from ..golden.network import Network
from ..hdl.config import HardwareConfig
from .native import compile_harness

__all__ = ["SimBoard", "build_sim_board", "SIM_CLK_HZ", "SIM_DIVISOR"]

HARNESS = Path(__file__).with_name("board_harness.cpp")
TOP = "board_top"
#: The simulated board's nominal clock and its fast UART: 4 clocks per bit.
SIM_CLK_HZ = 12_000_000
SIM_DIVISOR = 4


class SimBoard:
    """A compiled simulated board; ``start()`` runs one, ``close()`` stops it."""

    def __init__(self, network: Network, config: HardwareConfig, binary: Path, divisor: int):
        self.network, self.config, self.binary, self.divisor = network, config, binary, divisor
        self.proc = None
        self.port = None

    def start(self) -> str:
        self.proc = subprocess.Popen([str(self.binary), "--divisor", str(self.divisor)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        line = self.proc.stdout.readline().decode().strip()
        if not line.startswith("/dev/"):
            err = self.proc.stderr.read().decode() if self.proc.poll() is not None else ""
            self.close()
            raise RuntimeError(f"the simulated board did not start: {line!r} {err.strip()}")
        self.port = line
        return line

    def close(self) -> None:
        if self.proc is not None:
            try:
                self.proc.stdin.close()          # end of file: the harness exits
                self.proc.wait(timeout=5)
            except (subprocess.TimeoutExpired, OSError):
                self.proc.kill()
                self.proc.wait()
            self.proc = None


def build_sim_board(network: Network, config: HardwareConfig = HardwareConfig(), *,
                    divisor: int = SIM_DIVISOR, progress=None) -> SimBoard:
    """Compile (or reuse) the simulated board of ``network`` under ``config``."""
    from ..boards.top import BoardLink
    top = BoardLink(network, config, clk_hz=SIM_CLK_HZ, divisor=divisor, led_bits=4)
    text = verilog.convert(top, name=TOP, emit_src=False)
    binary = compile_harness(text, TOP, HARNESS, "board", progress=progress)
    return SimBoard(network, config, binary, divisor)
