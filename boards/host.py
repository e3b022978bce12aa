"""Host driver: one API for a real board on a serial port and for the simulated board.

    board = connect("/dev/ttyUSB1", network)          # a real board (pyserial)
    board = connect_sim(network, HardwareConfig(lanes=2))   # Verilator behind a pty
    decoded = board.run(x)                           # hdl.protocol.Decoded
    board.counters()                                 # hardware counters
    board.close()

Frames and checksums are ``boards.link``'s; input and output records are the
accelerator's stream payloads (``hdl.protocol``). Line noise is dropped by the
frame decoder (a frame start the line leaves unfinished is given up when the
wait ends); whatever the board sends that breaks the protocol (a reply of the
wrong command or length, an impossible IDENTIFY field, an output record the
stream does not allow there, records after the run) is a one-line ``LinkError``
naming what was received and what the protocol allows; no wait is endless.
"""

from __future__ import annotations

import time

import numpy as np

from ..golden.network import Decision, Network
from ..hdl.config import REGISTERS, AddressMap, HardwareConfig, counter_addresses, counters_from
from ..hdl.protocol import (Decoded, OutputKind, decode_outputs, encode_inputs, input_layout,
                            output_layout, pack, unpack)
from . import link
from .link import REPLY, Command, ErrorCode, FrameDecoder, LinkInfo
from .targets import BoardError

__all__ = ["Board", "LinkError", "NoBoardError", "RecordStream", "connect", "connect_sim",
           "open_serial"]

_ERROR_MEANING = {ErrorCode.CHECKSUM: "the frame's CRC was wrong",
                  ErrorCode.COMMAND: "unknown command byte",
                  ErrorCode.LENGTH: "payload length is not a whole number of records"}


class LinkError(BoardError):
    """The board answered wrongly, or not at all: one line naming what was received and
    what the protocol allows."""


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
    except (serial.SerialException, OSError, ValueError) as exc:
        raise NoBoardError(f"cannot open {port}: {exc}") from None


def _describe(rec: dict) -> str:
    try:
        kind = OutputKind(rec["kind"]).name
    except ValueError:
        return f"a record of kind {rec['kind']}"
    return f"{kind} (layer {rec['layer']}, index {rec['index']}, value {rec['value']})"


class RecordStream:
    """The board's output records, checked against the protocol (``hdl.protocol``) as they
    arrive.

    Per step: SPIKE records of the spiking layers the design streams (hidden ones only with
    ``emit_spikes``, the readout's always), layers in order, neurons ascending; one READOUT
    per readout neuron, ascending; the DECISION of a per-step rule; STEP_DONE. Per sample:
    its steps, the DECISION of a per-sample rule, SAMPLE_DONE. A record outside this is a
    ``LinkError`` naming it and what the protocol allows there; values are the
    scoreboard's to check.
    """

    def __init__(self, network: Network, samples: int, steps: int, *, emit_spikes: bool = True,
                 name: str = "board"):
        self.network, self.samples, self.steps, self.name = network, samples, steps, name
        self.layout = output_layout(network)
        self.record_bytes = -(-self.layout.size // 8)
        layers = network.layers
        self.last = len(layers) - 1
        self.streamed = [i for i, l in enumerate(layers)
                         if l.kind.spiking and (emit_spikes or i == self.last)]
        self.per_step = network.decision is Decision.PER_STEP
        self.records: list[dict] = []
        self.n = self.t = 0
        self._new_step()

    @property
    def done(self) -> bool:
        return self.n == self.samples

    def _new_step(self):
        self._spike = (-1, -1)        # last SPIKE (layer, index) of this step
        self._readouts = 0
        self._decided = False

    def _fail(self, rec: dict, what: str):
        where = (f"after the last of {self.samples} samples" if self.done else
                 f"sample {self.n}, " + (f"step {self.t}" if self.t < self.steps else
                                         f"after its {self.steps} steps"))
        raise LinkError(f"{self.name}: output record {len(self.records)} ({where}) is "
                        f"{_describe(rec)}: {what}")

    def feed(self, payload: bytes) -> None:
        nb = self.record_bytes
        if len(payload) % nb:
            raise LinkError(f"{self.name}: RESULTS frame of {len(payload)} bytes; the protocol "
                            f"sends whole {nb}-byte records")
        for j in range(0, len(payload), nb):
            rec = unpack(self.layout, int.from_bytes(payload[j:j + nb], "little"))
            self._check(rec)
            self.records.append(rec)

    def _check(self, rec: dict) -> None:
        net = self.network
        n_out = net.n_outputs
        if self.done:
            self._fail(rec, f"the protocol sends nothing more (every sample ended with "
                            f"SAMPLE_DONE)")
        try:
            kind = OutputKind(rec["kind"])
        except ValueError:
            self._fail(rec, "no record kind of the protocol (SPIKE=0, READOUT=1, DECISION=2, "
                            "STEP_DONE=3, SAMPLE_DONE=4)")
        readouts_left = n_out - self._readouts
        if self.t == self.steps:                        # the end of a sample
            if kind is OutputKind.DECISION and not self.per_step and not self._decided:
                self._check_sample_decision(rec)
                self._decided = True
            elif kind is OutputKind.SAMPLE_DONE and (self.per_step or self._decided):
                self.n, self.t = self.n + 1, 0
                self._new_step()
            else:
                self._fail(rec, f"after a sample's {self.steps} steps the protocol allows only "
                                + ("SAMPLE_DONE" if self.per_step or self._decided else
                                   f"its {net.decision.value} DECISION, then SAMPLE_DONE"))
            return
        if kind is OutputKind.SPIKE:
            layer, index = rec["layer"], rec["index"]
            if layer not in self.streamed:
                why = (f"layer {layer} is {net.layers[layer].kind.value!r} (no spikes)"
                       if layer < len(net.layers) and not net.layers[layer].kind.spiking else
                       f"no layer {layer}" if layer >= len(net.layers) else
                       f"this design does not stream layer {layer}'s spikes")
                self._fail(rec, f"{why}; SPIKE records come from layers {self.streamed}")
            if index >= net.layers[layer].size:
                self._fail(rec, f"layer {layer} has {net.layers[layer].size} neurons")
            if self._readouts or self._decided:
                self._fail(rec, "a step's SPIKE records come before its READOUT records")
            if (layer, index) <= self._spike:
                self._fail(rec, f"after SPIKE layer {self._spike[0]} neuron {self._spike[1]}; "
                                f"SPIKE records come layers in order, neurons ascending, once "
                                f"each")
            self._spike = (layer, index)
        elif kind is OutputKind.READOUT:
            if not readouts_left:
                self._fail(rec, f"the step already has its {n_out} READOUT records")
            if rec["layer"] != self.last or rec["index"] != self._readouts:
                self._fail(rec, f"the protocol's next record here is READOUT layer {self.last} "
                                f"neuron {self._readouts} (one per readout neuron, ascending)")
            self._readouts += 1
        elif kind is OutputKind.DECISION:
            if not self.per_step:
                self._fail(rec, f"the {net.decision.value} rule decides once per sample, after "
                                f"its last step")
            if readouts_left or self._decided:
                self._fail(rec, f"a step's DECISION comes once, after its {n_out} READOUT "
                                f"records ({self._readouts} so far)")
            if not 0 <= rec["index"] < n_out:
                self._fail(rec, f"the winner must be one of the {n_out} outputs")
            self._decided = True
        elif kind is OutputKind.STEP_DONE:
            if readouts_left or (self.per_step and not self._decided):
                self._fail(rec, f"the step has {self._readouts} of {n_out} READOUT records"
                                + ("" if self._decided or not self.per_step else
                                   " and no DECISION") + " before STEP_DONE")
            self.t += 1
            self._new_step()
        else:   # SAMPLE_DONE
            self._fail(rec, f"the sample ended after {self.t} of its {self.steps} steps")

    def _check_sample_decision(self, rec: dict) -> None:
        rule = self.network.decision
        allowed = {Decision.FIRST_SPIKE: (0, -1), Decision.TTFS: (0, 1)}.get(rule, (0,))
        if rec["value"] not in allowed:
            self._fail(rec, f"a {rule.value} DECISION has value {' or '.join(map(str, allowed))}")
        if rec["value"] == -1 and rec["index"] != 0:
            self._fail(rec, "a DECISION without a winner (value -1) has index 0")
        if not 0 <= rec["index"] < self.network.n_outputs:
            self._fail(rec, f"the winner must be one of the {self.network.n_outputs} outputs")


class Board:
    """A spikeforge board top on the other end of ``port`` (a pyserial-like object)."""

    def __init__(self, port, name: str, network: Network | None = None, *,
                 timeout: float = 2.0, sim=None):
        self._port, self.name, self.timeout, self._sim = port, name, timeout, sim
        self._decoder = FrameDecoder(link.frame_lengths("to_host"))
        self._pending = []          # frames received but not yet consumed
        self._stream = None         # the RecordStream of the run in progress
        self._last_run = None       # since connect/reset: None, "ended" or "failed"
        self.stale_frames = 0       # frames dropped: RESULTS before the first run (an earlier
                                    # session's), anything a reset drained
        self.last_records = []      # output records of the last run, in stream order
        self.network = network
        self.info = self.identify()
        self._decoder.lengths = link.frame_lengths("to_host", out_bytes=self.info.out_bytes)
        if network is not None:
            self.check_network(network)

    # -- frames --
    def _send(self, command: Command, payload: bytes = b"") -> None:
        try:
            self._port.write(link.encode_frame(command, payload))
        except OSError as exc:           # serial.SerialException is an OSError
            raise LinkError(f"{self.name}: writing to the port failed: {exc}") from None

    def _receive(self, timeout: float) -> tuple[int, bytes] | None:
        """The next frame, or None when none came within ``timeout`` s. Line noise does not
        extend the wait; a frame start the line left unfinished is dropped at the end."""
        deadline = time.monotonic() + timeout
        while not self._pending:
            left = deadline - time.monotonic()
            if left <= 0:
                if self._decoder.pending:
                    self._pending += self._decoder.flush()
                    if self._pending:
                        break
                return None
            try:
                self._port.timeout = min(left, 0.05)
                data = self._port.read(max(1, self._port.in_waiting or 1))
            except OSError as exc:
                raise LinkError(f"{self.name}: reading from the port failed: {exc}") from None
            if data:
                self._pending += self._decoder.feed(bytes(data))
        return self._pending.pop(0)

    def _dropped(self, skipped0: int) -> str:
        n = self._decoder.skipped - skipped0
        if not n:
            return ""
        return (f"; it sent {n} byte{'s' if n != 1 else ''} that were no frame of the link "
                f"protocol, the last one {self._decoder.last_rejected}")

    def _results(self, body: bytes) -> None:
        """A RESULTS payload: the run's, an earlier session's (before the first run), or
        a LinkError (after a run)."""
        if self._stream is not None:
            self._stream.feed(body)
        elif self._last_run == "failed":
            raise LinkError(f"{self.name}: a RESULTS frame of {len(body)} bytes left over from "
                            f"the run that failed; reset the board before the next one")
        elif self._last_run == "ended":
            raise LinkError(f"{self.name}: a RESULTS frame of {len(body)} bytes after the last "
                            f"run ended (its last SAMPLE_DONE); the protocol sends output "
                            f"records only for events it was given")
        else:
            self.stale_frames += 1

    def _call(self, command: Command, payload: bytes = b"", *, what: str = "",
              reply_bytes: int | None = 0, drain: bool = False) -> bytes:
        """Send one command frame and wait for its reply (``reply_bytes`` long, None: any);
        RESULTS frames go to the run in progress. ``drain``: frames other than the reply
        (left over from an error) are dropped, not an error."""
        if drain:
            self._pending.clear()
        skipped0 = self._decoder.skipped
        self._send(command, payload)
        reply = command | REPLY
        while True:
            frame = self._receive(self.timeout)
            if frame is None:
                dropped = self._dropped(skipped0)
                raise NoBoardError(f"no {'valid ' if dropped else ''}answer from a spikeforge "
                                   f"board on {self.name} within {self.timeout:g} s "
                                   f"({what or command.name}){dropped}; is the bitstream loaded "
                                   f"and the port {'and baud ' if dropped else ''}right?")
            code, body = frame
            if drain and code != reply and not (code == Command.ERROR and body[1] == command):
                self.stale_frames += 1
            elif code == Command.RESULTS:
                self._results(body)
            elif code == reply:
                if reply_bytes is not None and len(body) != reply_bytes:
                    raise LinkError(f"{self.name}: {command.name} reply of {len(body)} bytes; "
                                    f"the protocol answers {command.name} with {reply_bytes}")
                return body
            elif code == Command.ERROR:
                reason = (f"{ErrorCode(body[0]).name} ({_ERROR_MEANING[ErrorCode(body[0])]})"
                          if body[0] in set(ErrorCode) else
                          f"error code {body[0]}, which the protocol does not have (it has "
                          + ", ".join(f"{c.value} {c.name}" for c in ErrorCode) + ")")
                named = "" if body[1] == command else \
                    f", naming command {link.describe_command(body[1])}"
                raise LinkError(f"{self.name}: the board rejected {command.name}: {reason}{named}")
            else:
                raise LinkError(f"{self.name}: a {link.describe_command(code)} frame of "
                                f"{len(body)} bytes while waiting for the {command.name} reply; "
                                f"the protocol answers it with {link.describe_command(reply)}, "
                                f"RESULTS or ERROR")

    # -- commands --
    def identify(self) -> LinkInfo:
        try:
            return link.parse_identify(self._call(Command.IDENTIFY, what="identify",
                                                  reply_bytes=None))
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
        """Reset the core and its result queue; what the link still held (e.g. after an
        error) is dropped."""
        self._last_run = None
        self._call(Command.RESET, drain=True)

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
            body = self._call(Command.READ, b"".join(int(a).to_bytes(4, "little") for a in chunk),
                              reply_bytes=link.READ_RECORD * len(chunk))
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
        """Stream events ``x`` (samples, steps, channels) through the board; the decoded
        outputs. The record stream must follow the protocol (``RecordStream``)."""
        self._need_network()
        net = self.network
        x = np.asarray(x)
        in_layout, out_layout = input_layout(net), output_layout(net)
        if in_layout.size != self.info.in_bits or out_layout.size != self.info.out_bits:
            raise LinkError(f"{self.name}: payload widths {self.info.in_bits}/{self.info.out_bits} "
                            f"bits, the network needs {in_layout.size}/{out_layout.size}")
        nb_in = self.info.in_bytes
        records = encode_inputs(net, x)
        data = b"".join(pack(in_layout, r).to_bytes(nb_in, "little") for r in records)
        per_frame = (link.MAX_PAYLOAD // nb_in) * nb_in
        samples, steps = int(x.shape[0]), int(x.shape[1])
        stream = RecordStream(net, samples, steps, emit_spikes=self.config.emit_spikes,
                              name=self.name)
        if self._last_run:  # what the last run left behind is an error, not this run's
            self._call(Command.READ, REGISTERS["ID"].to_bytes(4, "little"),
                       reply_bytes=link.READ_RECORD)
        self._stream = stream
        skipped0 = self._decoder.skipped
        self._last_run = "failed"      # until it ends
        try:
            total = len(data)
            for k in range(0, total, per_frame):
                self._call(Command.EVENTS, data[k:k + per_frame], what="events")
                if progress and (k // per_frame) % 64 == 0:
                    progress(f"sent {k + per_frame if k + per_frame < total else total:,} of "
                             f"{total:,} input bytes")
            # wait for every sample's SAMPLE_DONE
            while not stream.done:
                frame = self._receive(self.timeout)
                if frame is None:
                    raise LinkError(f"{self.name}: outputs stopped after {stream.n} of {samples} "
                                    f"samples ({len(stream.records)} records)"
                                    f"{self._dropped(skipped0)}")
                code, body = frame
                if code != Command.RESULTS:
                    raise LinkError(f"{self.name}: a {link.describe_command(code)} frame of "
                                    f"{len(body)} bytes while waiting for results; the board "
                                    f"sends only RESULTS now")
                stream.feed(body)
        finally:
            self._stream = None
        self._last_run = "ended"
        self.last_records = stream.records
        return decode_outputs(net, stream.records, samples, steps)

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
