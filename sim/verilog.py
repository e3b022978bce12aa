"""Emitting the accelerator's Verilog for the simulators (reproducible, no source locations)."""

from __future__ import annotations

from amaranth.back import verilog

from ..golden.network import Network
from ..hdl.accelerator import Accelerator
from ..hdl.config import HardwareConfig

__all__ = ["TOP_NAME", "emit_verilog", "VERILATOR_WAIVED"]

TOP_NAME = "spikeforge_accelerator"

#: Verilator warnings the generated Verilog triggers, silenced by name:
#: Yosys' Verilog backend leaves operand widths implicit (Amaranth has already
#: fixed every width, so WIDTHEXPAND/WIDTHTRUNC are intended), and writes
#: ``casez`` without a default where the remaining patterns cannot occur or
#: keep the previous value (CASEINCOMPLETE).
VERILATOR_WAIVED = ("WIDTHEXPAND", "WIDTHTRUNC", "CASEINCOMPLETE")


def emit_verilog(network: Network, config: HardwareConfig) -> str:
    return verilog.convert(Accelerator(network, config), name=TOP_NAME, emit_src=False)
