"""Fuzz the host link: the frame decoder under line noise, and the host driver against a
board that breaks the protocol.

    python benchmarks/fuzz_link.py [--cases N] [--seed S] [--timeout SECONDS] [--json]

Three families of seeded cases (N of each):

* ``decoder``: good frames with random garbage before, between and after them (random
  bytes, runs of SYNC 0xA5, frame starts cut short, frames with a byte changed, headers
  of every command), fed in random pieces. Every good frame must come out exactly and in
  order; the only excuse is a *false frame*: garbage that happens to be a frame passing
  every check (grammar and CRC-8), which no decoder can tell from a real one.
* ``noise``: a whole run (identify, load, run, counters) through ``FakeBoard`` with line
  noise between the board's frames (the run must come out exact: an error is a frame
  ``lost``, unless garbage made a false frame), or bytes changed or lost inside them.
* ``protocol``: the same run with the board's records or replies changed the way a broken
  board would (records dropped, repeated, swapped, of another kind or layer; replies of
  the wrong command or length; impossible IDENTIFY fields).

Outcomes per family: ``ok`` (exact result), ``clean`` (a one-line ``BoardError``, or a
mismatch the scoreboard reports), ``false_frame`` (garbage that passed for a frame),
``lost`` (good frames not recovered from noise between frames), ``traceback`` (any other
exception), ``hang`` (no end within the per-case timeout) and ``wrong`` (a result that
differs from the golden model with nothing reported). Only ok, clean and false_frame
are acceptable.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
import traceback
from collections import Counter

import numpy as np

from spikeforge.boards import link
from spikeforge.boards.host import Board
from spikeforge.boards.link import (REPLY, SYNC, Command, FrameDecoder, LinkInfo, encode_frame,
                                    frame_lengths, identify_payload)
from spikeforge.boards.targets import BoardError
from spikeforge.golden import Decision, NeuronKind, simulate
from spikeforge.golden.randnet import random_events, random_network
from spikeforge.hdl.config import COUNTERS, REGISTERS, HardwareConfig
from spikeforge.hdl.protocol import (InputKind, OutputKind, expected_records, input_layout,
                                     output_layout, pack, unpack)

OUTCOMES = ("ok", "clean", "false_frame", "lost", "traceback", "hang", "wrong")
#: Outcomes that break the promise (the rest are acceptable).
BAD = ("lost", "traceback", "hang", "wrong")


# -- a board model behind a pyserial-like port --

class FakeBoard:
    """A pyserial-like port with a spikeforge board behind it: the link protocol of
    ``boards.link``, outputs from the golden model (``hdl.protocol.expected_records``) and
    golden counters. Hooks change what it sends, as a broken board or a noisy line would:

    ``records(sample, records) -> records``   the output records of each sample
    ``reply(command, payload) -> [(code, payload), ...] or None``   replace a reply
    ``line(frame_bytes) -> bytes``   every frame's bytes on their way to the host
    """

    def __init__(self, network, config: HardwareConfig = HardwareConfig(), *,
                 clk_hz: int = 12_000_000, divisor: int = 4, records=None, reply=None,
                 line=None, identify: bytes | None = None):
        self.network, self.config = network, config
        self.info = LinkInfo.for_design(network, config, clk_hz, divisor)
        self.identify_bytes = identify if identify is not None else identify_payload(self.info)
        self._in_layout, self._out_layout = input_layout(network), output_layout(network)
        self._rx = FrameDecoder(frame_lengths("to_board", in_bytes=self.info.in_bytes))
        self._hooks = {"records": records, "reply": reply, "line": line}
        self._out = bytearray()
        self.sent = []              # (code, payload) of every frame, before the line hook
        self.timeout = None
        self.closed = False
        self.registers = {}
        self._steps, self._step = [], {}
        self._samples = 0
        self._clear_counters()

    # pyserial's surface
    @property
    def in_waiting(self) -> int:
        return len(self._out)

    def read(self, n: int = 1) -> bytes:
        if not self._out:
            time.sleep(min(self.timeout or 0.0, 0.001))
            return b""
        data = bytes(self._out[:n])
        del self._out[:n]
        return data

    def write(self, data: bytes) -> int:
        for command, payload in self._rx.feed(bytes(data)):
            self._handle(command, payload)
        return len(data)

    def reset_input_buffer(self) -> None:
        self._out.clear()

    def close(self) -> None:
        self.closed = True

    # the board
    def _clear_counters(self):
        n_layers = len(self.network.layers)
        self.counters = {name: 0 for name in COUNTERS}
        self.counters["SPIKES"] = [0] * n_layers

    def send(self, code: int, payload: bytes = b"") -> None:
        self.sent.append((int(code), bytes(payload)))
        frame = encode_frame(code, payload)
        line = self._hooks["line"]
        self._out += line(frame) if line else frame

    def _reply(self, command: int, payload: bytes = b"") -> None:
        hook = self._hooks["reply"]
        replaced = hook(command, payload) if hook else None
        if replaced is None:
            replaced = [(command | REPLY, payload)]
        for code, body in replaced:
            self.send(code, body)

    def _handle(self, command: int, payload: bytes) -> None:
        if command == Command.IDENTIFY:
            self._reply(command, self.identify_bytes)
        elif command == Command.RESET:
            self._steps, self._step = [], {}
            self._reply(command)
        elif command == Command.WRITE:
            for k in range(0, len(payload), 8):
                addr = int.from_bytes(payload[k:k + 4], "little")
                value = int.from_bytes(payload[k + 4:k + 8], "little")
                if addr == REGISTERS["CONTROL"] and value & 1:
                    self._clear_counters()
                self.registers[addr] = value
            self._reply(command)
        elif command == Command.READ:
            values = []
            for k in range(0, len(payload), 4):
                values.append(self._register(int.from_bytes(payload[k:k + 4], "little")))
            self._reply(command, b"".join(v.to_bytes(4, "little") for v in values))
        elif command == Command.EVENTS:
            nb = self.info.in_bytes
            for k in range(0, len(payload), nb):
                self._event(unpack(self._in_layout, int.from_bytes(payload[k:k + nb], "little")))
            self._reply(command)

    def _register(self, addr: int) -> int:
        names = {v: k for k, v in REGISTERS.items()}
        spikes = REGISTERS["SPIKES"]
        if spikes <= addr < spikes + len(self.network.layers):
            return self.counters["SPIKES"][addr - spikes] & 0xFFFF_FFFF
        if names.get(addr) in self.counters:
            return self.counters[names[addr]] & 0xFFFF_FFFF
        return self.registers.get(addr, 0)

    def _event(self, rec: dict) -> None:
        kind = rec["kind"]
        if kind == InputKind.EVENT.value:
            self._step[rec["channel"]] = rec["value"]
        elif kind == InputKind.END_STEP.value:
            self._steps.append(self._step)
            self._step = {}
        elif kind == InputKind.END_SAMPLE.value:
            self._end_sample()

    def _end_sample(self) -> None:
        net = self.network
        x = np.zeros((1, len(self._steps), net.n_inputs), np.int64)
        for t, step in enumerate(self._steps):
            for channel, value in step.items():
                x[0, t, channel] = value
        self._steps, self._step = [], {}
        result = simulate(net, x)
        totals = result.totals()
        for key, name in (("synaptic_ops", "SYNOPS"), ("neuron_updates", "NEURON_UPDATES"),
                          ("input_events", "INPUT_EVENTS")):
            self.counters[name] += totals[key]
        self.counters["CYCLES"] += 10 * x.shape[1] + 5
        self.counters["SPIKES"] = [a + b for a, b in zip(self.counters["SPIKES"],
                                                           totals["spikes_per_layer"])]
        records = expected_records(net, result, hidden_spikes=self.config.emit_spikes)
        hook = self._hooks["records"]
        if hook:
            records = hook(self._samples, records)
        self._samples += 1
        nb = self.info.out_bytes
        words = [pack(self._out_layout, r).to_bytes(nb, "little") for r in records]
        per_frame = link.MAX_PAYLOAD // nb
        for k in range(0, len(words), per_frame):
            self.send(Command.RESULTS, b"".join(words[k:k + per_frame]))


class WatchedBoard(Board):
    """A ``Board`` that notes every frame it received in ``received`` (a list)."""

    def __init__(self, *args, received: list, **kwargs):
        self.received = received
        super().__init__(*args, **kwargs)

    def _receive(self, timeout):
        frame = super()._receive(timeout)
        if frame is not None:
            self.received.append(frame)
        return frame


def fake_board(network, *, timeout: float = 0.05, received: list | None = None,
               **hooks) -> Board:
    """A ``Board`` driver talking to a ``FakeBoard`` of ``network``."""
    port = FakeBoard(network, **hooks)
    return WatchedBoard(port, "fake board", network, timeout=timeout,
                        received=[] if received is None else received)


# -- per-case watchdog --

class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang()


def run_case(func, timeout: float):
    """``func()`` -> outcome, with SIGALRM after ``timeout`` seconds meaning a hang."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        return func(), None
    except Hang:
        return "hang", None
    except Exception:   # noqa: BLE001 -- the fuzz classifies every exception
        return "traceback", traceback.format_exc(limit=-3)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# -- decoder cases --

_COMMANDS = sorted(frame_lengths("to_host"))


def _random_frame(rng) -> tuple[int, bytes]:
    code = int(rng.choice(_COMMANDS))
    allowed = sorted(frame_lengths("to_host")[code])
    length = int(rng.choice(allowed[:40]))
    return code, bytes(rng.integers(0, 256, length, dtype=np.uint8))


def _garbage(rng) -> bytes:
    kind = int(rng.integers(7))
    n = int(rng.integers(0, 40))
    if kind == 0:
        return bytes(rng.integers(0, 256, n, dtype=np.uint8))
    if kind == 1:
        return bytes([SYNC]) * n
    if kind == 2:   # SYNC-heavy noise
        return bytes(np.where(rng.random(n) < 0.5, SYNC, rng.integers(0, 256, n)).astype(np.uint8))
    if kind == 3:   # a frame cut short
        frame = encode_frame(*_random_frame(rng))
        return frame[:int(rng.integers(1, len(frame)))]
    if kind == 4:   # a frame with one byte changed
        frame = bytearray(encode_frame(*_random_frame(rng)))
        k = int(rng.integers(1, len(frame)))
        frame[k] ^= int(rng.integers(1, 256))
        return bytes(frame)
    if kind == 5:   # headers of every command, lengths allowed or not
        return bytes([SYNC, int(rng.choice(_COMMANDS + [0, 0x33, SYNC])), int(rng.integers(256))])
    return b""


def decoder_case(rng) -> str:
    good = [_random_frame(rng) for _ in range(int(rng.integers(1, 6)))]
    stream = bytearray(_garbage(rng))
    for frame in good:
        stream += encode_frame(*frame) + _garbage(rng)
    decoder = FrameDecoder(frame_lengths("to_host"))
    got, k = [], 0
    while k < len(stream):
        n = int(rng.integers(1, 64))
        got += decoder.feed(bytes(stream[k:k + n]))
        k += n
    got += decoder.flush()
    if decoder.pending or decoder.skipped + sum(4 + len(p) for _, p in got) != len(stream):
        return "wrong"          # the byte count is not coherent
    if got == good:
        return "ok"
    # an extra or a missing frame: only a false frame (garbage passing every check) excuses it
    false = [f for f in got if f not in good]
    in_order = [f for f in got if f in good]
    if false and all(encode_frame(*f) in stream for f in false) and \
            in_order == [f for f in good if f in in_order]:
        return "false_frame"
    return "wrong"


# -- host cases --

def _network(rng):
    choice = int(rng.integers(4))
    seed = int(rng.integers(1 << 30))
    if choice == 0:
        return random_network(seed, 3, (5,), 3, kind=NeuronKind.LIF)
    if choice == 1:
        return random_network(seed, 3, (4,), 2, kind=NeuronKind.CUBA, readout=NeuronKind.LIF,
                              decision=Decision.SPIKE_COUNT)
    if choice == 2:
        return random_network(seed, 2, (4,), 3, kind=NeuronKind.LIF, readout=NeuronKind.LIF,
                              decision=Decision.FIRST_SPIKE)
    return random_network(seed, 3, (4, 3), 2, kind=NeuronKind.ALIF, decision=Decision.LAST)


def _session(net, x, board_hooks, *, exact: bool = False) -> str:
    """connect, load, run, counters and the scoreboard, as ``spikeforge run`` does;
    ``exact``: the board's frames all reach the host (noise only between them)."""
    from spikeforge.sim.scoreboard import Scoreboard
    received, ports = [], []

    def port_of(*args, **kwargs):
        ports.append(FakeBoard(*args, **kwargs))
        return ports[-1]
    try:
        board = WatchedBoard(port_of(net, **board_hooks), "fake board", net, timeout=0.05,
                             received=received)
        board.load(net)
        board.clear_counters()
        got = board.run(x)
        counters = board.counters()
    except BoardError as exc:
        if "\n" in str(exc):
            return "traceback"      # not one line
        if exact:
            sent = ports[0].sent
            return "false_frame" if any(f not in sent for f in received) else "lost"
        return "clean"
    expected = simulate(net, x)
    problems = Scoreboard(net, hidden_spikes=True).check(
        expected, board.last_records, int(x.shape[0]), int(x.shape[1]), counters)
    same = (np.array_equal(got.readout, expected.readout)
            and np.array_equal(got.decisions, expected.decisions)
            and all(np.array_equal(a, b) for a, b in zip(got.spikes, expected.spikes)))
    if problems:
        return "clean"
    return "ok" if same else "wrong"


def _noise_line(rng, mode):
    rate = float(rng.uniform(0.02, 0.3))

    def line(frame: bytes) -> bytes:
        out = bytearray()
        if rng.random() < rate:
            out += _garbage(rng)
        if mode == 1 and rng.random() < rate / 4:          # a byte changed inside the frame
            frame = bytearray(frame)
            frame[int(rng.integers(len(frame)))] ^= int(rng.integers(1, 256))
        if mode == 2 and rng.random() < rate / 8:          # a byte lost
            k = int(rng.integers(len(frame)))
            frame = frame[:k] + frame[k + 1:]
        return bytes(out) + bytes(frame)
    return line


def noise_case(rng) -> str:
    net = _network(rng)
    x = random_events(int(rng.integers(1 << 30)), 2, int(rng.integers(1, 5)), net.n_inputs,
                      values=(1, -1))
    mode = int(rng.integers(3))
    return _session(net, x, {"line": _noise_line(rng, mode)}, exact=mode == 0)


def _mutate_records(rng, net):
    out_layout = output_layout(net)
    fields = {name: field.width for name, field in out_layout}
    which = int(rng.integers(9))
    target = int(rng.integers(2))          # which sample

    def records(sample, recs):
        if sample != target or not recs:
            return recs
        recs = [dict(r) for r in recs]
        k = int(rng.integers(len(recs)))
        if which == 0:
            del recs[k]
        elif which == 1:
            recs.insert(k, dict(recs[k]))
        elif which == 2 and len(recs) > 1:
            j = int(rng.integers(len(recs)))
            recs[k], recs[j] = recs[j], recs[k]
        elif which == 3:
            recs[k]["kind"] = int(rng.integers(5, 1 << fields["kind"]))
        elif which == 4:
            recs[k]["layer"] = int(rng.integers(1 << fields["layer"]))
        elif which == 5:
            recs[k]["index"] = int(rng.integers(1 << fields["index"]))
        elif which == 6:
            recs[k]["kind"] = int(rng.integers(5))
        elif which == 7:
            recs = recs[:k]
        else:
            recs += [dict(recs[int(rng.integers(len(recs)))]) for _ in range(rng.integers(1, 4))]
        return recs
    return records


def _mutate_reply(rng):
    which = int(rng.integers(6))
    victim = int(rng.choice([Command.IDENTIFY, Command.WRITE, Command.READ, Command.EVENTS]))
    armed = [True]

    def reply(command, payload):
        if command != victim or not armed[0] or rng.random() < 0.5:
            return None
        armed[0] = False
        if which == 0:      # the wrong command
            return [(int(rng.choice([c | REPLY for c in (1, 2, 3, 4, 5)])), payload)]
        if which == 1:      # too short
            return [(command | REPLY, payload[:int(rng.integers(len(payload)))] if payload
                     else b"")] if payload else [(command | REPLY, b"\x00")]
        if which == 2:      # too long
            return [(command | REPLY, payload + bytes(int(rng.integers(1, 9))))]
        if which == 3:      # an ERROR
            return [(Command.ERROR, bytes([int(rng.integers(0, 5)), command]))]
        if which == 4:      # no reply at all
            return []
        return [(command | REPLY, payload)] * 2          # twice
    return reply


def _bad_identify(rng, net):
    info = LinkInfo.for_design(net, HardwareConfig(), 12_000_000, 4)
    payload = bytearray(identify_payload(info))
    k = int(rng.integers(len(payload)))
    payload[k] = int(rng.choice([0, 0xFF, int(rng.integers(256))]))
    return bytes(payload)


def protocol_case(rng) -> str:
    net = _network(rng)
    x = random_events(int(rng.integers(1 << 30)), 2, int(rng.integers(1, 5)), net.n_inputs,
                      values=(1, -1))
    family = int(rng.integers(3))
    if family == 0:
        hooks = {"records": _mutate_records(rng, net)}
    elif family == 1:
        hooks = {"reply": _mutate_reply(rng)}
    else:
        hooks = {"identify": _bad_identify(rng, net)}
    return _session(net, x, hooks)


FAMILIES = {"decoder": decoder_case, "noise": noise_case, "protocol": protocol_case}


def fuzz(cases: int, seed: int, *, timeout: float = 5.0, families=tuple(FAMILIES),
         examples: int = 3) -> dict:
    """Run ``cases`` cases of each family; {family: Counter of outcomes} and, per family,
    the first ``examples`` tracebacks."""
    report = {}
    for f_index, family in enumerate(families):
        rng = np.random.default_rng([seed, f_index])
        counts, shown = Counter(), []
        for _ in range(cases):
            outcome, trace = run_case(lambda: FAMILIES[family](rng), timeout)
            counts[outcome] += 1
            if trace and len(shown) < examples:
                shown.append(trace)
        report[family] = {"tried": cases, **{o: counts.get(o, 0) for o in OUTCOMES},
                          "tracebacks": shown}
    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000, help="cases per family (default 2000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per case (a hang)")
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=list(FAMILIES))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    start = time.perf_counter()
    report = fuzz(args.cases, args.seed, timeout=args.timeout, families=args.families)
    seconds = time.perf_counter() - start
    if args.json:
        print(json.dumps({"seed": args.seed, "seconds": round(seconds, 1), "families": report},
                         indent=1))
    else:
        print(f"{'family':<10}" + "".join(f"{o:>13}" for o in ("tried",) + OUTCOMES))
        for family, row in report.items():
            print(f"{family:<10}" + "".join(f"{row[o]:>13}" for o in ("tried",) + OUTCOMES))
            for trace in row["tracebacks"]:
                print("  " + trace.strip().replace("\n", "\n  "))
        print(f"seed {args.seed}, {seconds:.1f} s")
    bad = sum(row[o] for row in report.values() for o in BAD)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
