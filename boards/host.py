"""Host driver: one API for a real board on a serial port and for the simulated board.

    board = connect("/dev/ttyUSB1", network)          # a real board (pyserial)
    board = connect_sim(network, HardwareConfig(lanes=2))   # Verilator behind a pty
    decoded = board.run(x)                           # hdl.protocol.Decoded
    board.counters()                                 # hardware counters
    board.close()

Frames and checksums are ``boards.link``'s; input and output records are the
accelerator's stream payloads (``hdl.protocol``).
"""

from __future__ import annotations

import time

import numpy as np

from ..golden.network import Network
from ..hdl.config import REGISTERS, AddressMap, HardwareConfig, counter_addresses, counters_from
from ..hdl.protocol import (Decoded, OutputKind, decode_outputs, encode_inputs, input_layout,
                            output_layout, pack, unpack)
from . import link
from .link import REPLY, Command, ErrorCode, FrameDecoder, LinkInfo
from .targets import BoardError

__all__ = ["Board", "LinkError", "NoBoardError", "connect", "connect_sim", "open_serial"]


class LinkError(BoardError):
    """The board answered wrongly, or not at all."""


class NoBoardError(LinkError):
    """Nothing (or no spikeforge board) answers on the port."""


def open_serial(port: str, baud: int, timeout: float):
    try:
        import serial
    except ImportError:
        raise BoardError("pyserial is not installed: pip install 'spikeforge[boards]' "
                         "(or pip install pyserial)") from None
    try:
        return serial.Serial(port, baudrate=baud, timeout=timeout)
    except (serial.SerialException, OSError) as exc:
        raise NoBoardError(f"cannot open {port}: {exc}") from None


class Board:
    """A spikeforge board top on the other end of ``port`` (a pyserial-like object)."""

    def __init__(self, port, name: str, network: Network | None = None, *,
                 timeout: float = 2.0, sim=None):
        self._port, self.name, self.timeout, self._sim = port, name, timeout, sim
        self._decoder = FrameDecoder()
        self._pending = []          # frames received but not yet consumed
        self._results = []          # RESULTS payloads, in order
        self.last_records = []      # output records of the last run, in stream order
        self.network = network
        self.info = self.identify()
        if network is not None:
            self.check_network(network)

    # -- frames --
    def _send(self, command: Command, payload: bytes = b"") -> None:
        self._port.write(link.encode_frame(command, payload))

    def _receive(self, timeout: float) -> tuple[int, bytes] | None:
        deadline = time.monotonic() + timeout
        while not self._pending:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self._port.timeout = min(left, 0.05)
            data = self._port.read(max(1, self._port.in_waiting or 1))
            if data:
                deadline = time.monotonic() + timeout    # progress: the board is talking
                try:
                    self._pending += self._decoder.feed(data)
                except link.FrameError as exc:
                    raise LinkError(f"{self.name}: {exc}") from None
        return self._pending.pop(0)

    def _call(self, command: Command, payload: bytes = b"", *, what: str = "") -> bytes:
        """Send one command frame and wait for its reply; RESULTS frames are kept."""
        self._send(command, payload)
        while True:
            frame = self._receive(self.timeout)
            if frame is None:
                raise NoBoardError(f"no answer from a spikeforge board on {self.name} within "
                                   f"{self.timeout:g} s ({what or command.name}); is the "
                                   f"bitstream loaded and the port right?")
            code, body = frame
            if code == Command.RESULTS:
                self._results.append(body)
            elif code == command | REPLY:
                return body
            elif code == Command.ERROR:
                reason = ErrorCode(body[0]).name if body and body[0] in set(ErrorCode) else body.hex()
                raise LinkError(f"{self.name}: the board rejected {command.name}: {reason}")
            else:
                raise LinkError(f"{self.name}: unexpected frame 0x{code:02x} waiting for "
                                f"{command.name}")

    # -- commands --
    def identify(self) -> LinkInfo:
        try:
            return link.parse_identify(self._call(Command.IDENTIFY, what="identify"))
        except link.FrameError as exc:
            raise NoBoardError(f"{self.name}: {exc}") from None

    def check_network(self, network: Network, config: HardwareConfig | None = None) -> None:
        """Raise LinkError unless the bitstream was built for ``network``'s architecture."""
        layers = range(len(network.layers))
        placements = [tuple(i for i in layers if mask >> i & 1) for mask in range(1 << len(layers))]
        configs = [config] if config else [HardwareConfig(lanes=p, spram_layers=s)
                                           for p in (1, 2, 4, 8, 16) for s in placements]
        for cfg in configs:
            if link.design_tag(network, cfg) == self.info.tag:
                self.network, self.config = network, cfg
                self.address_map = AddressMap(network, cfg)
                return
        raise LinkError(f"{self.name}: the board's bitstream (design tag {self.info.tag:08x}) "
                        f"was not built for {network.name} ({network.summary()}); build and "
                        f"flash it for this network first")

    def reset(self) -> None:
        self._call(Command.RESET)
        self._results.clear()

    def write(self, writes) -> None:
        """Configuration writes [(address, value), ...]."""
        writes = list(writes)
        per_frame = link.MAX_PAYLOAD // link.WRITE_RECORD
        for k in range(0, len(writes), per_frame):
            payload = b"".join(int(a).to_bytes(4, "little") + (int(v) & 0xFFFF_FFFF).to_bytes(4, "little")
                               for a, v in writes[k:k + per_frame])
            self._call(Command.WRITE, payload)

    def read(self, addresses) -> list[int]:
        addresses = list(addresses)
        per_frame = link.MAX_PAYLOAD // link.READ_RECORD
        values = []
        for k in range(0, len(addresses), per_frame):
            chunk = addresses[k:k + per_frame]
            body = self._call(Command.READ, b"".join(int(a).to_bytes(4, "little") for a in chunk))
            values += [int.from_bytes(body[4 * j:4 * j + 4], "little") for j in range(len(chunk))]
        return values

    def counters(self) -> dict:
        n_layers = len(self.network.layers) if self.network else 0
        return counters_from(self.read(counter_addresses(n_layers)))

    def clear_counters(self) -> None:
        self.write([(REGISTERS["CONTROL"], 1)])

    def load(self, network: Network) -> None:
        """Write ``network``'s weights and parameters (same architecture) into the core."""
        self._need_network()
        self.write(self.address_map.network_writes(network))
        self.network = network

    def _need_network(self):
        if self.network is None:
            raise BoardError(f"{self.name}: no network given; connect(..., network=...) first")

    def run(self, x, *, progress=None) -> Decoded:
        """Stream events ``x`` (samples, steps, channels) through the board; the decoded outputs."""
        self._need_network()
        net = self.network
        x = np.asarray(x)
        in_layout, out_layout = input_layout(net), output_layout(net)
        if in_layout.size != self.info.in_bits or out_layout.size != self.info.out_bits:
            raise LinkError(f"{self.name}: payload widths {self.info.in_bits}/{self.info.out_bits} "
                            f"bits, the network needs {in_layout.size}/{out_layout.size}")
        nb_in, nb_out = self.info.in_bytes, self.info.out_bytes
        records = encode_inputs(net, x)
        data = b"".join(pack(in_layout, r).to_bytes(nb_in, "little") for r in records)
        per_frame = (link.MAX_PAYLOAD // nb_in) * nb_in
        self._results.clear()
        samples, steps = int(x.shape[0]), int(x.shape[1])
        total = len(data)
        for k in range(0, total, per_frame):
            self._call(Command.EVENTS, data[k:k + per_frame], what="events")
            if progress and (k // per_frame) % 64 == 0:
                progress(f"sent {k + per_frame if k + per_frame < total else total:,} of "
                         f"{total:,} input bytes")
        # wait for every sample's SAMPLE_DONE
        done_kind = OutputKind.SAMPLE_DONE.value
        outputs = []
        done = 0
        buffered = b""

        def absorb():
            nonlocal buffered, done
            while self._results:
                buffered += self._results.pop(0)
                whole = len(buffered) // nb_out * nb_out
                for j in range(0, whole, nb_out):
                    rec = unpack(out_layout, int.from_bytes(buffered[j:j + nb_out], "little"))
                    outputs.append(rec)
                    done += rec["kind"] == done_kind
                buffered = buffered[whole:]

        absorb()
        while done < samples:
            frame = self._receive(self.timeout)
            if frame is None:
                raise LinkError(f"{self.name}: outputs stopped after {done} of {samples} samples "
                                f"({len(outputs)} records)")
            code, body = frame
            if code != Command.RESULTS:
                raise LinkError(f"{self.name}: unexpected frame 0x{code:02x} while waiting for results")
            self._results.append(body)
            absorb()
        self.last_records = outputs
        return decode_outputs(net, outputs, samples, steps)

    def close(self) -> None:
        try:
            self._port.close()
        finally:
            if self._sim is not None:
                self._sim.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def connect(port: str, network: Network | None = None, *, baud: int = 115200,
            timeout: float = 2.0) -> Board:
    """A real board on serial ``port``; checks that it answers IDENTIFY."""
    serial_port = open_serial(port, baud, timeout)
    try:
        serial_port.reset_input_buffer()
        return Board(serial_port, port, network, timeout=timeout)
    except BaseException:
        serial_port.close()
        raise


def connect_sim(network: Network, config: HardwareConfig = HardwareConfig(), *,
                timeout: float = 10.0, progress=None) -> Board:
    """The simulated board of ``network`` under ``config`` (compiled on first use)."""
    from ..sim.board import build_sim_board
    sim = build_sim_board(network, config, progress=progress)
    path = sim.start()
    try:
        serial_port = open_serial(path, 115200, timeout)
        return Board(serial_port, f"simulated board ({path})", network, timeout=timeout, sim=sim)
    except BaseException:
        sim.close()
        raise
