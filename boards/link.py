"""The host link protocol, in one place for the gateware (``boards.top``) and the host driver.

Every message, either way, is one frame::

    SYNC (0xA5) | CMD (1 byte) | LEN (1 byte, 0..255) | PAYLOAD (LEN bytes) | CRC (1 byte)

CRC is CRC-8 (polynomial x^8 + x^2 + x + 1, 0x07, initial value 0, no
reflection, no final XOR) over CMD, LEN and PAYLOAD. Multi-byte numbers are
little-endian.

Host to board (stop and wait: one command frame, then wait for its reply):

=========  ====================================  ===========================================
command    payload                               reply (``CMD | 0x80``)
=========  ====================================  ===========================================
IDENTIFY   none                                  ``identify_payload`` (see ``LinkInfo``)
RESET      none                                  none; core and result queue reset
WRITE      N x (address u32, data u32)           none, after every configuration write
READ       N x address u32                       N x data u32
EVENTS     N x input payload (``in_bytes`` each) none, once every event entered the core
=========  ====================================  ===========================================

Board to host, at any time between frames: RESULTS, N x output payload
(``out_bytes`` each, ``hdl.protocol.output_layout``), as the core produces them.
A bad frame is answered with ERROR, payload (``ErrorCode``, command byte).
The host drops what it receives that is no frame of this grammar (``frame_lengths``:
a known command byte, a length that command can have, a good CRC) and resynchronises
on the next SYNC byte (``FrameDecoder``).
Input and output payloads are the accelerator's stream payload bits
(``hdl.protocol.input_layout`` / ``output_layout``), zero-padded to whole bytes.
"""

from __future__ import annotations

import enum
import json
import zlib
from dataclasses import dataclass

from ..golden.network import Network
from ..hdl.config import AddressMap, HardwareConfig
from ..hdl.protocol import input_layout, output_layout

__all__ = ["SYNC", "PROTOCOL_VERSION", "MAX_PAYLOAD", "REPLY", "Command", "ErrorCode",
           "CRC_POLY", "crc8_step", "crc8", "encode_frame", "FrameDecoder", "FrameError",
           "frame_lengths", "describe_command", "LinkInfo", "identify_payload", "parse_identify",
           "design_tag", "MAX_RECORD_BITS", "MIN_DIVISOR"]

SYNC = 0xA5
PROTOCOL_VERSION = 1
MAX_PAYLOAD = 255
#: The widest input or output record a board link carries (``BoardLink``).
MAX_RECORD_BITS = 64
#: The fewest clocks per UART bit (``boards.uart``).
MIN_DIVISOR = 4
#: A reply's command byte is the request's with this bit set.
REPLY = 0x80
CRC_POLY = 0x07


class Command(enum.IntEnum):
    IDENTIFY = 0x01
    RESET = 0x02
    WRITE = 0x03
    READ = 0x04
    EVENTS = 0x05
    RESULTS = 0x10     # board to host only
    ERROR = 0x7E       # board to host only


class ErrorCode(enum.IntEnum):
    CHECKSUM = 1       # CRC mismatch: the frame was dropped
    COMMAND = 2        # unknown command byte
    LENGTH = 3         # payload length is not a whole number of records


#: Bytes per record of each command's payload.
WRITE_RECORD = 8
READ_RECORD = 4


def crc8_step(crc: int, byte: int) -> int:
    """CRC-8 of one more byte (the gateware derives its XOR network from this)."""
    crc ^= byte
    for _ in range(8):
        crc = ((crc << 1) ^ CRC_POLY) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def crc8(data: bytes, crc: int = 0) -> int:
    for byte in data:
        crc = crc8_step(crc, byte)
    return crc


def encode_frame(command: int, payload: bytes = b"") -> bytes:
    payload = bytes(payload)
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"frame payload of {len(payload)} bytes; at most {MAX_PAYLOAD}")
    body = bytes([int(command), len(payload)]) + payload
    return bytes([SYNC]) + body + bytes([crc8(body)])


class FrameError(ValueError):
    """A received frame breaks the protocol (e.g. an IDENTIFY reply that is no spikeforge's)."""


def _multiples(size: int, least: int = 0) -> frozenset:
    return frozenset(range(least, MAX_PAYLOAD + 1, size))


_ANY = frozenset(range(MAX_PAYLOAD + 1))
#: IDENTIFY reply: version, in/out/addr bits, tag, clock, divisor (``identify_payload``).
IDENTIFY_BYTES = 16


def frame_lengths(direction: str = "both", *, in_bytes: int | None = None,
                  out_bytes: int | None = None) -> dict[int, frozenset]:
    """The payload lengths each command byte may have on the link, by direction
    (``"to_board"``, ``"to_host"`` or ``"both"``): the frame grammar ``FrameDecoder``
    holds received frames to. ``in_bytes``/``out_bytes`` (from IDENTIFY) narrow EVENTS
    and RESULTS to whole records; RESULTS carry at least one."""
    if direction not in ("to_board", "to_host", "both"):
        raise ValueError(f"direction {direction!r}: 'to_board', 'to_host' or 'both'")
    to_board = {Command.IDENTIFY: frozenset({0}), Command.RESET: frozenset({0}),
                Command.WRITE: _multiples(WRITE_RECORD), Command.READ: _multiples(READ_RECORD),
                Command.EVENTS: _multiples(in_bytes) if in_bytes else _ANY}
    to_host = {Command.IDENTIFY | REPLY: frozenset({IDENTIFY_BYTES}),
               Command.RESET | REPLY: frozenset({0}), Command.WRITE | REPLY: frozenset({0}),
               Command.READ | REPLY: _multiples(READ_RECORD),
               Command.EVENTS | REPLY: frozenset({0}),
               Command.RESULTS: _multiples(out_bytes, out_bytes) if out_bytes else _ANY - {0},
               Command.ERROR: frozenset({2})}
    table = {}
    if direction != "to_host":
        table.update(to_board)
    if direction != "to_board":
        table.update(to_host)
    return {int(k): v for k, v in table.items()}


#: Every command byte of the link, either way.
_LINK_COMMANDS = frozenset(frame_lengths())


def describe_command(code: int) -> str:
    """``0x84 (READ reply)``: a command byte as the protocol names it."""
    names = {int(c): c.name for c in Command}
    if code in names:
        return f"0x{code:02x} ({names[code]})"
    if code & REPLY and code & ~REPLY in names:
        return f"0x{code:02x} ({names[code & ~REPLY]} reply)"
    return f"0x{code:02x} (no command)"


def _unknown(code: int) -> str:
    """Why a frame with command byte ``code`` is not one this decoder takes."""
    if code in _LINK_COMMANDS:
        return f"a {describe_command(code)} frame, which only the other end of the link takes"
    return f"a frame with command byte 0x{code:02x}, which is no command of the link"


def _bytes(n: int) -> str:
    return f"{n} byte{'s' if n != 1 else ''}"


def describe_lengths(lengths: frozenset) -> str:
    """What a set of allowed payload lengths is, in words."""
    if len(lengths) == 1:
        return f"exactly {_bytes(next(iter(lengths)))}"
    values = sorted(lengths)
    step = values[1] - values[0]
    if values == list(range(values[0], values[-1] + 1, step)):
        if step == 1:
            return f"{values[0]} to {values[-1]} bytes"
        return f"a multiple of {step} bytes{f' (at least {values[0]})' if values[0] else ''}"
    return f"one of {values} bytes"


class FrameDecoder:
    """Bytes in, ``(command, payload)`` frames out.

    Whatever is not a frame of the protocol (``frame_lengths``) is dropped: bytes before a
    SYNC byte, and a candidate frame with an unknown command byte, a length that command
    cannot have, or a bad CRC. A rejected candidate costs only its SYNC byte: the decoder
    rescans from the byte after it, so a good frame that began inside the bad bytes is
    still found. ``feed`` never raises and never loses a frame it decoded.

    ``skipped`` counts the bytes dropped, ``rejected`` the candidates thrown away,
    ``last_rejected`` says why the last one was (None: none yet). Every byte fed is in a
    returned frame, in ``skipped``, or held in ``pending`` (the start of a frame still
    arriving).
    """

    def __init__(self, lengths: dict[int, frozenset] | None = None):
        self.lengths = dict(frame_lengths() if lengths is None else lengths)
        self._buf = bytearray()
        self.skipped = 0
        self.rejected = 0
        self.last_rejected: str | None = None

    @property
    def pending(self) -> int:
        """Bytes held: the start of a frame not yet complete."""
        return len(self._buf)

    def _reject(self, why: str) -> None:
        self.rejected += 1
        self.skipped += 1          # the candidate's SYNC byte
        self.last_rejected = why

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self._buf += data
        return self._scan()

    def flush(self) -> list[tuple[int, bytes]]:
        """Give up on the frame start held in ``pending`` (the line went quiet in the middle
        of it: it was noise) and decode what follows it; nothing is held afterwards."""
        frames = []
        while self._buf:
            self._reject(f"a {describe_command(self._buf[1])} frame cut short after "
                         f"{_bytes(len(self._buf))}" if len(self._buf) > 1 else
                         "a SYNC byte with nothing after it")
            del self._buf[:1]
            frames += self._scan()
        return frames

    def _scan(self) -> list[tuple[int, bytes]]:
        buf, frames, pos = self._buf, [], 0
        while True:
            start = buf.find(SYNC, pos)
            if start < 0:
                self.skipped += len(buf) - pos
                pos = len(buf)
                break
            self.skipped += start - pos
            pos = start
            if len(buf) - start < 3:
                if len(buf) - start == 2 and buf[start + 1] not in self.lengths:
                    self._reject(_unknown(buf[start + 1]))
                    pos = start + 1
                    continue
                break
            command, length = buf[start + 1], buf[start + 2]
            allowed = self.lengths.get(command)
            if allowed is None:
                self._reject(_unknown(command))
                pos = start + 1
                continue
            if length not in allowed:
                self._reject(f"a {describe_command(command)} frame with {_bytes(length)} of "
                             f"payload (the protocol allows {describe_lengths(allowed)})")
                pos = start + 1
                continue
            end = start + 4 + length
            if len(buf) < end:
                break
            crc = crc8(buf[start + 1:end - 1])
            if crc != buf[end - 1]:
                self._reject(f"a {describe_command(command)} frame with {_bytes(length)} of "
                             f"payload and CRC 0x{buf[end - 1]:02x}, not 0x{crc:02x}")
                pos = start + 1
                continue
            frames.append((command, bytes(buf[start + 3:end - 1])))
            pos = end
        del buf[:pos]
        return frames


def design_tag(network: Network, config: HardwareConfig) -> int:
    """32-bit fingerprint of what a bitstream can run: layouts, address map and options
    (not the weights, which can be written at run time)."""
    text = json.dumps({"in": input_layout(network).size, "out": output_layout(network).size,
                       "map": AddressMap(network, config).to_json(),
                       "decision": network.decision.value,
                       "layers": [[l.kind.value, l.size, l.recurrent, l.weight_shift]
                                  for l in network.layers],
                       "theta": None if network.theta is None else network.theta.to_json(),
                       "config": config.to_json()}, sort_keys=True)
    return zlib.crc32(text.encode())


@dataclass(frozen=True)
class LinkInfo:
    """What a board link is built for (the gateware bakes it into the IDENTIFY reply)."""

    in_bits: int
    out_bits: int
    addr_bits: int
    tag: int
    clk_hz: int
    divisor: int      # clocks per UART bit

    @classmethod
    def for_design(cls, network: Network, config: HardwareConfig, clk_hz: int, divisor: int):
        return cls(input_layout(network).size, output_layout(network).size,
                   AddressMap(network, config).addr_bits, design_tag(network, config),
                   int(clk_hz), int(divisor))

    @property
    def in_bytes(self) -> int:
        return -(-self.in_bits // 8)

    @property
    def out_bytes(self) -> int:
        return -(-self.out_bits // 8)

    @property
    def baud(self) -> float:
        return self.clk_hz / self.divisor

    def to_json(self) -> dict:
        return {"in_bits": self.in_bits, "out_bits": self.out_bits, "addr_bits": self.addr_bits,
                "tag": f"{self.tag:08x}", "clk_hz": self.clk_hz, "divisor": self.divisor}


def identify_payload(info: LinkInfo) -> bytes:
    """IDENTIFY reply: version, in_bits, out_bits, addr_bits (1 byte each), tag (u32),
    clock in Hz (u32), UART divisor (u32)."""
    return bytes([PROTOCOL_VERSION, info.in_bits, info.out_bits, info.addr_bits]) + \
        info.tag.to_bytes(4, "little") + info.clk_hz.to_bytes(4, "little") + \
        info.divisor.to_bytes(4, "little")


def parse_identify(payload: bytes) -> LinkInfo:
    """The ``LinkInfo`` of an IDENTIFY reply; FrameError names the field a board cannot have."""
    if len(payload) != IDENTIFY_BYTES or payload[0] != PROTOCOL_VERSION:
        raise FrameError(f"IDENTIFY reply {payload.hex()} is not spikeforge link protocol "
                         f"version {PROTOCOL_VERSION}")
    u32 = [int.from_bytes(payload[k:k + 4], "little") for k in (4, 8, 12)]
    info = LinkInfo(payload[1], payload[2], payload[3], *u32)
    for field, value, lo, hi, what in (
            ("in_bits", info.in_bits, 1, MAX_RECORD_BITS, "input record bits"),
            ("out_bits", info.out_bits, 1, MAX_RECORD_BITS, "output record bits"),
            ("addr_bits", info.addr_bits, 1, 32, "configuration address bits"),
            ("clk_hz", info.clk_hz, 1, 0xFFFF_FFFF, "clock in Hz"),
            ("divisor", info.divisor, MIN_DIVISOR, 0xFFFF_FFFF, "UART clocks per bit")):
        if not lo <= value <= hi:
            raise FrameError(f"IDENTIFY reply {payload.hex()}: {field} {value} ({what}) is "
                             f"impossible; the link allows {lo}..{hi}")
    return info
