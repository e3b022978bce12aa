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
           "LinkInfo", "identify_payload", "parse_identify", "design_tag"]

SYNC = 0xA5
PROTOCOL_VERSION = 1
MAX_PAYLOAD = 255
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
    """A received frame failed its checksum."""


class FrameDecoder:
    """Bytes in, ``(command, payload)`` frames out; garbage before SYNC is skipped."""

    def __init__(self):
        self._buf = bytearray()
        self.skipped = 0

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self._buf += data
        frames = []
        while True:
            start = self._buf.find(SYNC)
            if start < 0:
                self.skipped += len(self._buf)
                self._buf.clear()
                return frames
            if start:
                self.skipped += start
                del self._buf[:start]
            if len(self._buf) < 3:
                return frames
            length = self._buf[2]
            if len(self._buf) < 4 + length:
                return frames
            body = bytes(self._buf[1:3 + length])
            crc = self._buf[3 + length]
            if crc8(body) != crc:
                raise FrameError(f"received frame (command 0x{body[0]:02x}, {length} bytes) "
                                 f"has CRC 0x{crc:02x}, expected 0x{crc8(body):02x}")
            del self._buf[:4 + length]
            frames.append((body[0], body[2:]))


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
    if len(payload) != 16 or payload[0] != PROTOCOL_VERSION:
        raise FrameError(f"IDENTIFY reply {payload.hex()} is not spikeforge link protocol "
                         f"version {PROTOCOL_VERSION}")
    u32 = [int.from_bytes(payload[k:k + 4], "little") for k in (4, 8, 12)]
    return LinkInfo(payload[1], payload[2], payload[3], *u32)
