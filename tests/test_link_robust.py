"""The host link under line noise and against a board that breaks the protocol: the decoder
resynchronises and loses no good frame, the driver answers every violation with one line.

The board is ``FakeBoard`` (benchmarks/fuzz_link.py): the link protocol with the golden
model behind a pyserial-like port, with hooks that change what it sends.
"""

import os

import numpy as np
import pytest

from conftest import load_benchmark, watchdog
from spikeforge.boards import link
from spikeforge.boards.host import Board, LinkError, NoBoardError
from spikeforge.boards.link import REPLY, SYNC, Command, FrameDecoder, encode_frame, frame_lengths
from spikeforge.golden import Decision, NeuronKind, simulate
from spikeforge.golden.randnet import random_events, random_network
from spikeforge.hdl.config import HardwareConfig
from spikeforge.hdl.protocol import OutputKind, compare


fuzz_link = load_benchmark("fuzz_link")
FakeBoard, fake_board = fuzz_link.FakeBoard, fuzz_link.fake_board

READ_REPLY = encode_frame(Command.READ | REPLY, bytes(range(8)))
RESULTS = encode_frame(Command.RESULTS, b"\x01\x02\x03")


def one_line(exc) -> str:
    text = str(exc.value)
    assert "\n" not in text and text
    return text


# -- A: the decoder resynchronises --

def test_a_bad_crc_is_dropped_and_frames_before_and_after_it_decode():
    bad = bytearray(READ_REPLY)
    bad[-1] ^= 0x5A
    decoder = FrameDecoder()
    got = decoder.feed(RESULTS + bytes(bad) + READ_REPLY)
    assert got == [(Command.RESULTS, b"\x01\x02\x03"), (Command.READ | REPLY, bytes(range(8)))]
    assert decoder.feed(READ_REPLY) == [(Command.READ | REPLY, bytes(range(8)))]  # still in step
    assert decoder.rejected == 1 and decoder.skipped == len(bad)
    assert "CRC" in decoder.last_rejected and "0x84 (READ reply)" in decoder.last_rejected


def test_a_good_frame_that_starts_inside_a_bad_one_is_found():
    # a header whose length swallows the next frame, and whose CRC then fails
    decoder = FrameDecoder()
    head = bytes([SYNC, Command.READ | REPLY, 4, 0x00])          # 4-byte READ reply, cut short
    assert decoder.feed(head + READ_REPLY) == [(Command.READ | REPLY, bytes(range(8)))]
    assert decoder.skipped == len(head) and decoder.pending == 0


def test_a_stray_sync_byte_does_not_hold_the_next_frame():
    for noise in (b"\xa5", b"\xa5\xa5\xa5", b"\x00\xa5\x13", b"\xa5\x84\xa5", b"\xa5\x81\x07"):
        decoder = FrameDecoder(frame_lengths("to_host"))
        assert decoder.feed(noise + READ_REPLY) == [(Command.READ | REPLY, bytes(range(8)))], noise
        assert decoder.skipped == len(noise) and decoder.pending == 0


def test_a_frame_start_the_line_leaves_unfinished_is_given_up_by_flush():
    decoder = FrameDecoder(frame_lengths("to_host"))
    held = bytes([SYNC, Command.RESULTS, 200])     # a RESULTS header: 200 bytes may follow
    assert decoder.feed(held + READ_REPLY) == []
    assert decoder.pending == len(held) + len(READ_REPLY)
    assert decoder.flush() == [(Command.READ | REPLY, bytes(range(8)))]
    assert decoder.pending == 0 and decoder.skipped == len(held)


def test_a_command_that_does_not_exist_is_no_frame():
    decoder = FrameDecoder()
    assert decoder.feed(b"\xa5\x00\x00\x00") == []
    assert decoder.feed(encode_frame(0x33)) == []
    assert decoder.rejected == 2 and "no command of the link" in decoder.last_rejected


def test_a_length_the_command_cannot_have_is_no_frame():
    decoder = FrameDecoder(frame_lengths("to_host", out_bytes=3))
    for code, payload in ((Command.IDENTIFY | REPLY, bytes(15)), (Command.READ | REPLY, b"\x01"),
                          (Command.EVENTS | REPLY, b"\x00"), (Command.RESULTS, bytes(4)),
                          (Command.RESULTS, b""), (Command.ERROR, b"\x01")):
        assert decoder.feed(encode_frame(code, payload)) == [], (code, payload)
    assert "the protocol allows exactly 2 bytes" in decoder.last_rejected
    assert decoder.feed(encode_frame(Command.RESULTS, bytes(6))) == [(Command.RESULTS, bytes(6))]


def test_decoder_fuzz_recovers_every_good_frame_in_order():
    report = fuzz_link.fuzz(3000, 1, families=("decoder",))["decoder"]
    assert all(report[o] == 0 for o in fuzz_link.BAD), report
    # garbage that is itself a frame passing every check (a 1/256 CRC-8 coincidence)
    assert report["ok"] >= 2950 and report["false_frame"] <= 50, report


# -- B: a board that breaks the protocol gets one line naming what it sent --

@pytest.fixture
def net():
    return random_network(3, 3, (5,), 3, kind=NeuronKind.LIF)


@pytest.fixture
def x():
    return random_events(1, 2, 3, 3, values=(1, -1))


def records_hook(change, sample=0):
    return lambda n, recs: change([dict(r) for r in recs]) if n == sample else recs


def kind(name):
    return OutputKind[name].value


def test_the_fake_board_is_exact(net, x):
    board = fake_board(net)
    got = board.run(x)
    assert compare(net, simulate(net, x), got) == []
    assert board.counters()["INPUT_EVENTS"] == int(np.count_nonzero(x))


def test_unknown_record_kind(net, x):
    def change(recs):
        recs[2]["kind"] = 6
        return recs
    with pytest.raises(LinkError) as info:
        fake_board(net, records=records_hook(change)).run(x)
    assert "output record 2 (sample 0, step 0) is a record of kind 6: no record kind of the " \
           "protocol (SPIKE=0" in one_line(info)


def test_sample_done_too_early(net, x):
    def change(recs):
        first = next(k for k, r in enumerate(recs) if r["kind"] == kind("STEP_DONE"))
        return recs[:first + 1] + [r for r in recs if r["kind"] == kind("SAMPLE_DONE")]
    with pytest.raises(LinkError) as info:
        fake_board(net, records=records_hook(change)).run(x)
    assert "is SAMPLE_DONE" in one_line(info) and "the sample ended after 1 of its 3 steps" in \
        one_line(info)


def test_extra_records_after_the_last_sample(net, x):
    with pytest.raises(LinkError) as info:      # in the frame of the last SAMPLE_DONE
        fake_board(net, records=records_hook(lambda recs: recs + recs[:1], 1)).run(x)
    assert "(after the last of 2 samples)" in one_line(info)
    assert "the protocol sends nothing more" in one_line(info)
    board = fake_board(net)                    # in a frame of its own, after the run
    board.run(x)
    board._port.send(Command.RESULTS, bytes(board.info.out_bytes))
    with pytest.raises(LinkError, match=r"a RESULTS frame of \d+ bytes after the last run ended"):
        board.counters()


def test_records_left_after_a_run_are_not_the_next_runs(net, x):
    board = fake_board(net)
    board.run(x)
    port = board._port
    stale = [f for f in port.sent if f[0] == Command.RESULTS][-1]   # the last records again
    port.send(*stale)
    with pytest.raises(LinkError, match=r"a RESULTS frame of \d+ bytes after the last run ended"):
        board.run(x)
    board.reset()
    assert compare(net, simulate(net, x), board.run(x)) == []


def test_spike_from_an_li_layer(net, x):
    def change(recs):
        return [{"kind": kind("SPIKE"), "layer": 1, "index": 0, "value": 0}] + recs
    with pytest.raises(LinkError) as info:
        fake_board(net, records=records_hook(change)).run(x)
    assert "is SPIKE (layer 1, index 0, value 0): layer 1 is 'li' (no spikes); SPIKE records " \
           "come from layers [0]" in one_line(info)


def test_duplicate_readout(net, x):
    def change(recs):
        k = next(k for k, r in enumerate(recs) if r["kind"] == kind("READOUT"))
        return recs[:k + 1] + [dict(recs[k])] + recs[k + 1:]
    with pytest.raises(LinkError) as info:
        fake_board(net, records=records_hook(change)).run(x)
    assert "is READOUT (layer 1, index 0" in one_line(info)
    assert "the protocol's next record here is READOUT layer 1 neuron 1" in one_line(info)


def test_per_sample_decision_values(x):
    net = random_network(4, 3, (5,), 3, kind=NeuronKind.LIF, readout=NeuronKind.LIF,
                         decision=Decision.SPIKE_COUNT)

    def change(recs):
        k = next(k for k, r in enumerate(recs) if r["kind"] == kind("DECISION"))
        recs[k]["value"] = -1
        return recs
    with pytest.raises(LinkError, match="a spike_count DECISION has value 0"):
        fake_board(net, records=records_hook(change)).run(x)


@pytest.mark.parametrize("field,offset,value,message", [
    ("divisor", 12, 0, "divisor 0 (UART clocks per bit) is impossible; the link allows 4.."),
    ("in_bits", 1, 0, "in_bits 0 (input record bits) is impossible; the link allows 1..64"),
    ("out_bits", 2, 200, "out_bits 200 (output record bits) is impossible"),
    ("clk_hz", 8, 0, "clk_hz 0 (clock in Hz) is impossible"),
])
def test_identify_with_impossible_values(net, field, offset, value, message):
    port = FakeBoard(net)
    payload = bytearray(port.identify_bytes)
    payload[offset:offset + (4 if offset >= 4 else 1)] = \
        value.to_bytes(4 if offset >= 4 else 1, "little")
    with pytest.raises(NoBoardError) as info:
        Board(FakeBoard(net, identify=bytes(payload)), "fake board", net, timeout=0.05)
    assert message in one_line(info)


def reply_hook(command, *frames):
    return lambda cmd, payload: list(frames) if cmd == command else None


def test_read_reply_of_one_byte(net):
    board = fake_board(net, reply=reply_hook(Command.READ, (Command.READ | REPLY, b"\x07")))
    with pytest.raises(NoBoardError) as info:
        board.counters()
    assert "no valid answer" in one_line(info) and "(READ)" in one_line(info)
    assert "0x84 (READ reply) frame with 1 byte of payload (the protocol allows a multiple " \
           "of 4 bytes)" in one_line(info)


def test_read_reply_of_the_wrong_number_of_words(net):
    board = fake_board(net, reply=reply_hook(Command.READ, (Command.READ | REPLY, bytes(8))))
    with pytest.raises(LinkError) as info:
        board.read([0])
    assert "READ reply of 8 bytes; the protocol answers READ with 4" in one_line(info)


def test_reply_with_the_wrong_command(net):
    board = fake_board(net, reply=reply_hook(Command.WRITE, (Command.RESET | REPLY, b"")))
    with pytest.raises(LinkError) as info:
        board.clear_counters()
    assert "a 0x82 (RESET reply) frame of 0 bytes while waiting for the WRITE reply; the " \
           "protocol answers it with 0x83 (WRITE reply), RESULTS or ERROR" in one_line(info)


@pytest.mark.parametrize("payload", [bytes(15), bytes(17)])
def test_identify_reply_too_short_or_long(net, payload):
    with pytest.raises(NoBoardError) as info:
        fake_board(net, identify=payload)
    assert f"0x81 (IDENTIFY reply) frame with {len(payload)} bytes of payload (the protocol " \
           f"allows exactly 16 bytes)" in one_line(info)


def test_events_reply_with_a_payload(net, x):
    board = fake_board(net, reply=reply_hook(Command.EVENTS, (Command.EVENTS | REPLY, b"\x01")))
    with pytest.raises(NoBoardError) as info:
        board.run(x)
    assert "0x85 (EVENTS reply) frame with 1 byte of payload (the protocol allows exactly " \
           "0 bytes)" in one_line(info)


def test_error_reply_names_the_code(net):
    board = fake_board(net, reply=reply_hook(Command.READ, (Command.ERROR, bytes([9, 4]))))
    with pytest.raises(LinkError) as info:
        board.read([0])
    assert "rejected READ: error code 9, which the protocol does not have (it has 1 CHECKSUM, " \
           "2 COMMAND, 3 LENGTH)" in one_line(info)


class NoisyPort(FakeBoard):
    """Garbage forever: a wrong baud rate on a board that keeps talking."""

    def read(self, n=1):
        return bytes(np.random.default_rng(len(self._out)).integers(0, 256, 64, dtype=np.uint8))


def test_endless_line_noise_is_no_hang(net):
    with watchdog(10), pytest.raises(NoBoardError) as info:
        Board(NoisyPort(net), "noisy", net, timeout=0.2)
    assert "no valid answer from a spikeforge board on noisy within 0.2 s (identify); it sent" \
        in one_line(info) and "that were no frame of the link protocol" in one_line(info)


def test_endless_records_are_no_hang(net, x):
    many = records_hook(lambda recs: recs + recs * 2000, 1)
    with watchdog(10), pytest.raises(LinkError) as info:
        fake_board(net, records=many).run(x)
    assert "(after the last of 2 samples)" in one_line(info)


class BrokenPort(FakeBoard):
    def read(self, n=1):
        raise OSError(5, "Input/output error")


def test_a_port_that_fails_is_a_link_error(net):
    with pytest.raises(LinkError) as info:
        Board(BrokenPort(net), "unplugged", net, timeout=0.2)
    assert "unplugged: reading from the port failed" in one_line(info)


def test_a_stray_sync_before_a_reply_costs_a_timeout_not_the_reply(net, x):
    sent = []

    def line(frame):
        sent.append(frame)
        return (bytes([SYNC, Command.RESULTS, 250]) if len(sent) == 1 else b"") + frame
    board = fake_board(net, line=line, timeout=0.1)
    assert board.info.in_bits > 0 and board._decoder.skipped == 3
    assert compare(net, simulate(net, x), board.run(x)) == []


def test_cli_prints_a_board_violation_as_one_line(tmp_path, monkeypatch, capsys, net, x):
    from spikeforge.boards import host
    from spikeforge.cli import EXIT_TOOL, main
    from spikeforge.golden.inputs import save_inputs

    def change(recs):
        recs[0]["kind"] = 7
        return recs
    monkeypatch.setattr(host, "open_serial",
                        lambda port, baud, timeout: FakeBoard(net, records=records_hook(change)))
    path, inputs = tmp_path / "n.npz", tmp_path / "x.npz"
    net.save(path)
    save_inputs(inputs, x)
    # a board that breaks the protocol has failed: the exit code of a failed tool or board
    assert main(["run", str(path), "--port", "/dev/fake", "--input", str(inputs), "--quiet",
                 "--timeout", "0.2"]) == EXIT_TOOL
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("spikeforge: error: /dev/fake: output record 0")
    assert "a record of kind 7: no record kind of the protocol" in err[0]


# -- D: the fuzz, short --

@pytest.mark.parametrize("family", ["noise", "protocol"])
def test_host_fuzz_every_case_is_clean(family):
    report = fuzz_link.fuzz(int(os.environ.get("SPIKEFORGE_FUZZ_CASES", 150)), 2,
                            families=(family,))[family]
    assert all(report[o] == 0 for o in fuzz_link.BAD), report
    assert report["ok"] > 0 and report["clean"] > 0, report
