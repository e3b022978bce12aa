"""The native Verilator harness: whole data sets, checked exactly like the cocotb path."""

import json
import os

import numpy as np
import pytest

from conftest import require_simulator
from spikeforge.cli import main
from spikeforge.datasets import load_qtdb
from spikeforge.golden import accuracy
from spikeforge.golden.inputs import save_inputs
from spikeforge.golden.randnet import random_events, random_network
from spikeforge.hdl.config import HardwareConfig
from spikeforge.sim.native import build_native
from spikeforge.sim.rtl import run_rtl
from spikeforge.sim.runner import build_cocotb


def ecg_network():
    from spikeforge import builtin
    if "ecg" in builtin.names():
        return builtin.load("ecg")
    return random_network(0, 4, (36,), 6)


def test_native_and_cocotb_agree_record_for_record():
    require_simulator("verilator")
    net = random_network(31, 4, (10,), 3)
    config = HardwareConfig(lanes=2)
    x = random_events(9, 2, 8, 4, values=(1, -1))
    native = build_native(net, config).run(x)
    cocotb = build_cocotb(net, config, "verilator").run(x)
    assert native.records == cocotb.records
    assert native.counters["SYNOPS"] == cocotb.counters["SYNOPS"]
    assert native.counters["CYCLES"] == cocotb.counters["CYCLES"]


def test_ecg_records_through_the_rtl_with_zero_mismatches(qtdb_dir):
    require_simulator("verilator")
    x, y = load_qtdb("test", qtdb_dir)
    x, y = x[:20], y[:20]
    net = ecg_network()
    outcome = run_rtl(net, x, simulator="verilator", config=HardwareConfig(lanes=2), engine="native")
    assert outcome.mismatches == []
    assert outcome.cycles > 20 * 1301
    assert np.array_equal(outcome.decoded.decisions, outcome.golden.decisions)
    assert accuracy(net, outcome.decoded.decisions, y) == accuracy(net, outcome.golden.decisions, y)


def test_native_harness_detects_a_planted_fault():
    require_simulator("verilator")
    from spikeforge.hdl.config import AddressMap
    net = random_network(32, 4, (10,), 3)
    config = HardwareConfig(lanes=1)
    x = random_events(2, 2, 10, 4, rate=0.5, values=(1, -1))
    amap = AddressMap(net, config)
    writes = [(amap.address("layers.0.bias", 0, 3), int(net.layers[0].bias[3]) + 5000)]
    run = build_native(net, config).run(x, writes=writes)
    from spikeforge.golden import simulate
    from spikeforge.sim.scoreboard import Scoreboard
    mismatches = Scoreboard(net, hidden_spikes=True).check(simulate(net, x), run.records, 2, 10,
                                                            run.counters)
    assert any("layer 0 neuron 3: spike expected" in m for m in mismatches)


@pytest.mark.parametrize("simulator,engine", [("verilator", "native"), ("icarus", "cocotb")])
def test_cli_simulate_rtl_json_and_output(tmp_path, capsys, simulator, engine):
    require_simulator(simulator)
    net = random_network(33, 4, (8,), 3)
    net.save(tmp_path / "net.npz")
    x = random_events(1, 3, 6, 4, values=(1, -1))
    y = np.array([0, 1, 2])
    save_inputs(tmp_path / "in.npz", x, np.tile(y[:, None], (1, 6)))
    out_golden, out_rtl = tmp_path / "g.npz", tmp_path / "r.npz"
    assert main(["simulate", str(tmp_path / "net.npz"), "--input", str(tmp_path / "in.npz"),
                 "--output", str(out_golden), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["simulate", str(tmp_path / "net.npz"), "--input", str(tmp_path / "in.npz"),
                 "--simulator", simulator, "--engine", engine, "--lanes", "2", "--json", "--quiet",
                 "--output", str(out_rtl)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["mismatches"] == 0 and report["engine"] == engine and report["cycles"] > 0
    with np.load(out_golden) as g, np.load(out_rtl) as r:
        assert sorted(g.files) == sorted(r.files)
        for name in g.files:
            assert np.array_equal(g[name], r[name]), name


def test_cli_rtl_usage_errors(tmp_path, capsys):
    net = random_network(33, 4, (8,), 3)
    net.save(tmp_path / "net.npz")
    save_inputs(tmp_path / "in.npz", random_events(1, 1, 3, 4))
    base = ["simulate", str(tmp_path / "net.npz"), "--input", str(tmp_path / "in.npz")]
    assert main(base + ["--waves", str(tmp_path / "w")]) == 2
    assert "--waves needs an RTL simulator" in capsys.readouterr().err
    assert main(base + ["--simulator", "icarus", "--engine", "native"]) == 2
    assert main(base + ["--simulator", "verilator", "--lanes", "3"]) == 2
    assert "--lanes 3" in capsys.readouterr().err


@pytest.mark.parametrize("simulator", ["icarus", "verilator"])
def test_cli_waves(tmp_path, capsys, simulator):
    """Both simulators leave one trace, waves.fst (Verilator: waves.vcd on a machine without
    the lz4/zlib headers its FST writer needs; CI installs them), named in the report."""
    from spikeforge.sim.runner import fst_available
    require_simulator(simulator)
    net = random_network(34, 3, (4,), 2)
    net.save(tmp_path / "net.npz")
    save_inputs(tmp_path / "in.npz", random_events(1, 1, 3, 3))
    assert main(["simulate", str(tmp_path / "net.npz"), "--input", str(tmp_path / "in.npz"),
                 "--simulator", simulator, "--waves", str(tmp_path / "w"), "--quiet",
                 "--json"]) == 0
    fst = simulator == "icarus" or fst_available()
    if os.environ.get("CI"):
        assert fst, "CI installs liblz4-dev and zlib1g-dev, so Verilator writes FST"
    trace = tmp_path / "w" / ("waves.fst" if fst else "waves.vcd")
    assert json.loads(capsys.readouterr().out)["waves"] == str(trace)
    head = trace.read_bytes()[:64]
    assert head[:1] == b"\x00" if fst else b"$" in head   # an FST header block, VCD text
    assert [p.name for p in (tmp_path / "w").glob("waves.*")] == [trace.name]
