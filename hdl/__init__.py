"""spikeforge.hdl: the Amaranth generator of the event-driven SNN accelerator.

``Accelerator(network, HardwareConfig(...))`` is the core; ``compile_network``
writes its Verilog and manifest; ``protocol`` holds the stream
encoding shared by every testbench; ``pysim`` runs the core in Amaranth's
simulator.
"""

from .accelerator import Accelerator
from . import schedule
from .compile import TOP_NAME, VERILATOR_WAIVED, compile_network, verilator_lint_args
from .config import REGISTERS, AddressMap, HardwareConfig
from .protocol import (InputKind, OutputKind, compare, decode_outputs, encode_inputs, input_layout,
                       output_layout, pack, unpack)

__all__ = [
    "Accelerator", "HardwareConfig", "AddressMap", "REGISTERS",
    "compile_network", "schedule", "verilator_lint_args", "TOP_NAME", "VERILATOR_WAIVED",
    "InputKind", "OutputKind", "input_layout", "output_layout", "pack", "unpack",
    "encode_inputs", "decode_outputs", "compare",
]
