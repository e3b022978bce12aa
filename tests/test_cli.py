"""The command line end to end: outputs, --json, exit codes, one-line errors."""

import json
import subprocess
import sys

import numpy as np
import pytest

from spikeforge.cli import main
from spikeforge.golden import accuracy, simulate
from spikeforge.golden.inputs import OUTPUT_ARRAYS, load_inputs, save_inputs
from spikeforge.golden.randnet import random_events, random_network


@pytest.fixture
def files(tmp_path):
    net = random_network(7, 4, (10,), 3)
    net.skip_steps = 2
    net_path = tmp_path / "net.npz"
    net.save(net_path)
    x = random_events(1, 4, 25, 4, values=(1, -1))
    y = np.random.default_rng(0).integers(0, 3, (4, 25))
    in_path = tmp_path / "in.npz"
    save_inputs(in_path, x, y)
    return net, net_path, x, y, in_path, tmp_path


def test_simulate_json_and_output(files, capsys):
    net, net_path, x, y, in_path, tmp = files
    out = tmp / "out.npz"
    assert main(["simulate", str(net_path), "--input", str(in_path), "--json",
                 "--output", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    golden = simulate(net, x)
    assert report["accuracy"] == pytest.approx(accuracy(net, golden.decisions, y))
    assert report["synaptic_ops"] == golden.synops.sum()
    assert report["spikes_per_layer"] == golden.layer_spikes.sum(axis=0).tolist()
    assert report["mismatches"] == 0
    with np.load(out) as data:
        assert set(OUTPUT_ARRAYS) <= set(data.files)
        assert np.array_equal(data["decisions"], golden.decisions)
        assert np.array_equal(data["readout"], golden.readout)


def test_simulate_text(files, capsys):
    _, net_path, _, _, in_path, _ = files
    assert main(["simulate", str(net_path), "--input", str(in_path)]) == 0
    text = capsys.readouterr().out
    assert "accuracy" in text and "first 2 steps skipped" in text and "synaptic" in text


def test_info(files, capsys):
    _, net_path, *_ = files
    assert main(["info", str(net_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [l["size"] for l in report["layers"]] == [10, 3]
    # memory per layer (weights: rows x neurons x weight bits at P = 1) and a board-fit table
    from spikeforge.golden import Network
    net = Network.load(net_path)
    layer0 = net.layers[0]
    rows = layer0.w_in.shape[0] + (layer0.size if layer0.recurrent else 0)
    assert report["layers"][0]["memory_bits"]["weights"] == rows * layer0.size * net.formats.weight_bits
    assert report["boards"]["icebreaker"]["fits"] and report["lanes"] == 1
    assert main(["info", str(net_path), "--lanes", "4"]) == 0
    text = capsys.readouterr().out
    assert "memory estimate at P = 4" in text and "tangnano9k" in text


@pytest.mark.parametrize("make_bad,message", [
    (lambda t: t / "missing.npz", "no such file"),
    (lambda t: (t / "j.npz").write_text("x") and t / "j.npz", "not a network file"),
])
def test_bad_network_is_one_line_exit_2(files, capsys, make_bad, message):
    *_, in_path, tmp = files
    assert main(["simulate", str(make_bad(tmp)), "--input", str(in_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("spikeforge: error: ") and message in err and err.count("\n") == 1


@pytest.mark.parametrize("arrays,message", [
    ({"y": np.zeros(3, np.int64)}, "no array 'x'"),
    ({"x": np.zeros((2, 5, 4))}, "events must be integers"),
    ({"x": np.zeros((2, 5), np.int64)}, "expected (samples, steps, channels)"),
    ({"x": np.zeros((2, 5, 3), np.int64)}, "3 channels, but the network has 4 inputs"),
    ({"x": np.full((2, 5, 4), 7, np.int64)}, "event value 7 outside"),
    ({"x": np.zeros((2, 5, 4), np.int64), "y": np.zeros(5, np.int64)}, "y has shape (5,)"),
])
def test_bad_inputs_are_one_line_exit_2(files, capsys, arrays, message):
    _, net_path, *_, tmp = files
    bad = tmp / "bad.npz"
    np.savez(bad, **arrays)
    assert main(["simulate", str(net_path), "--input", str(bad)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_input_file_round_trip(tmp_path):
    x = random_events(3, 2, 6, 5, values=(1, -1, 2))
    save_inputs(tmp_path / "i.npz", x, np.array([1, 0]))
    x2, y2 = load_inputs(tmp_path / "i.npz")
    assert np.array_equal(x, x2) and y2.tolist() == [1, 0]


def test_entry_point_help_version_and_usage_errors():
    run = lambda *a: subprocess.run([sys.executable, "-m", "spikeforge", *a],
                                    capture_output=True, text=True)
    assert "simulate" in run("--help").stdout
    assert run("--version").stdout.startswith("spikeforge ")
    assert run("simulate").returncode == 2
    assert run("simulate", "x.npz", "--input", "y.npz", "--simulator", "spice").returncode == 2
    assert run().returncode == 2


def test_compile_writes_verilog_and_manifest(files, capsys):
    _, net_path, *_, tmp = files
    out = tmp / "gen"
    assert main(["compile", str(net_path), "-o", str(out), "--lanes", "2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert "module spikeforge_accelerator" in (out / "accelerator.v").read_text()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["hardware"]["lanes"] == 2 and report["manifest"] == manifest
    assert report["files"] == ["accelerator.v", "manifest.json"]    # contents inline
    assert main(["compile", str(net_path), "-o", str(out), "--lanes", "5"]) == 2


def test_compile_with_weights_in_spram(files, capsys):
    _, net_path, *_, tmp = files
    out = tmp / "spram"
    assert main(["compile", str(net_path), "-o", str(out), "--weights", "spram", "--json"]) == 0
    manifest = json.loads(capsys.readouterr().out)["manifest"]
    layers = len(manifest["network"]["layers"])
    assert manifest["hardware"]["spram_layers"] == list(range(layers))
    assert (out / "accelerator.v").read_text().count("SB_SPRAM256KA") >= layers
    weights = [m for m in manifest["memories"] if m["name"].endswith(".weights")]
    assert all(m["primitive"] == "SB_SPRAM256KA" and m["loaded_at_run_time"] for m in weights)
    assert main(["compile", str(net_path), "-o", str(out), "--weights", "spram:0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["manifest"]["hardware"]["spram_layers"] == [0]
    for bad in ("spram:9", "spram:x", "auto", "all"):
        assert main(["compile", str(net_path), "-o", str(out), "--weights", bad]) == 2
        assert f"--weights {bad!r}" in capsys.readouterr().err


def test_demo_runs_the_builtin_network_through_verilator(tmp_path, capsys):
    from conftest import require_simulator
    require_simulator("verilator")
    assert main(["demo", "-o", str(tmp_path / "demo"), "--samples", "40", "--json", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["mismatches"] == 0 and report["samples"] == 40
    assert report["rtl_accuracy"] == report["golden_accuracy"] > 0.8
    assert (tmp_path / "demo" / "accelerator.v").is_file()


def test_theta_network_info_simulate_and_compile(tmp_path, capsys):
    from spikeforge.golden.randnet import random_theta_network
    net = random_theta_network(4, 6, (8,), 3, steps=12)
    net.save(tmp_path / "theta.npz")
    x = random_events(2, 6, 12, 6, rate=0.2)
    x[0] = 0
    y = np.arange(6) % 3
    save_inputs(tmp_path / "in.npz", x, y)
    assert main(["info", str(tmp_path / "theta.npz")]) == 0
    out = capsys.readouterr().out
    assert "decision  ttfs" in out and "trial 12 ticks" in out and "weight LSB 2^-" in out
    assert main(["simulate", str(tmp_path / "theta.npz"), "--input", str(tmp_path / "in.npz"),
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    golden = simulate(net, x)
    spiked = golden.spikes[-1].any(axis=(1, 2))
    assert report["accuracy"] == pytest.approx(np.mean(golden.decisions == y))
    assert report["no_spike_samples"] == int((~spiked).sum())
    assert report["accuracy_spikes_only"] == pytest.approx(np.mean((golden.decisions == y) & spiked))
    assert main(["compile", str(tmp_path / "theta.npz"), "-o", str(tmp_path / "v")]) == 0
    manifest = json.loads((tmp_path / "v" / "manifest.json").read_text())
    assert manifest["network"]["theta"]["steps"] == 12
    save_inputs(tmp_path / "short.npz", x[:, :5], y)
    assert main(["simulate", str(tmp_path / "theta.npz"), "--input", str(tmp_path / "short.npz")]) == 2
    assert "trial is 12 ticks" in capsys.readouterr().err


@pytest.mark.parametrize("arrays, message", [
    ({"x": np.full((2, 5, 4), 2 ** 64 - 1, np.uint64)}, "18446744073709551615"),
    ({"x": np.zeros((2, 5, 4), np.int64), "y": np.full(2, 99)}, "label 99 is not a class"),
    ({"x": np.zeros((2, 5, 4), np.int64), "z": np.zeros(2)}, "unexpected array 'z'"),
])
def test_inputs_that_used_to_give_wrong_results_are_refused(files, capsys, arrays, message):
    _, net_path, *_, tmp = files
    bad = tmp / "bad.npz"
    np.savez(bad, **arrays)
    assert main(["simulate", str(net_path), "--input", str(bad)]) == 2
    err = capsys.readouterr().err
    assert message in err and str(bad) in err and err.count("\n") == 1


def test_errors_under_json_are_one_json_object_and_exit_codes_are_documented(files, capsys):
    net, net_path, x, y, in_path, tmp = files
    assert main(["simulate", str(tmp / "missing.npz"), "--input", str(in_path), "--json"]) == 2
    out = capsys.readouterr()
    report = json.loads(out.out)
    assert report["exit_code"] == 2 and "no such file" in report["error"] and out.err == ""
    assert main(["simulate", str(net_path), "--input", str(in_path), "--lanes", "3"]) == 2
    assert "--lanes 3" in capsys.readouterr().err
    assert main(["demo", "--samples", "0"]) == 2
    assert "--samples 0" in capsys.readouterr().err
    net.skip_steps = 30
    net.save(tmp / "skip.npz")
    assert main(["simulate", str(tmp / "skip.npz"), "--input", str(in_path), "--json"]) == 2
    assert "skip_steps 30" in json.loads(capsys.readouterr().out)["error"]
    help_text = subprocess.run([sys.executable, "-m", "spikeforge", "--help"], capture_output=True,
                               text=True).stdout
    assert "exit codes: 0 ok; 1 the RTL differs" in " ".join(help_text.split())


# -- one command line: what every command shares --

def _commands():
    import argparse
    from spikeforge.cli import build_parser
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices


def test_every_command_shares_json_quiet_help_and_examples():
    commands = _commands()
    assert set(commands) >= {"demo", "info", "compile", "simulate", "import", "export", "train",
                             "build", "flash", "run", "fit", "bench", "sweep"}
    for name, p in commands.items():
        options = {s for a in p._actions for s in a.option_strings}
        assert {"--json", "--quiet"} <= options, name
        assert p.epilog and p.epilog.startswith("examples:\n  spikeforge "), name
        for action in p._actions:
            if action.option_strings and action.option_strings != ["-h", "--help"]:
                assert action.help, f"{name} {action.option_strings[0]} has no help"
            if action.dest == "output":
                assert "-o" in action.option_strings, f"{name} --output has no -o"
            if action.dest == "lanes":
                assert action.default in (1, [1]), f"{name} --lanes defaults to {action.default}"
    for name in ("demo", "simulate", "run"):
        assert any("--samples" in a.option_strings for a in commands[name]._actions), name


def test_usage_errors_have_the_one_error_prefix(capsys):
    for argv, where in ((["simulate", "builtin:ecg"], "simulate: "),
                        (["demo", "--lanes", "two"], "demo: "),
                        (["nosuch"], "")):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith(f"spikeforge: error: {where}") and len(err.splitlines()) == 1, err


def test_simulate_takes_short_output_and_samples(tmp_path, capsys):
    net = random_network(3, 4, (6,), 3)
    net.save(tmp_path / "n.npz")
    save_inputs(tmp_path / "x.npz", random_events(1, 5, 6, 4))
    out = tmp_path / "out.npz"
    assert main(["simulate", str(tmp_path / "n.npz"), "--input", str(tmp_path / "x.npz"),
                 "-o", str(out), "--samples", "2", "--json", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["samples"] == 2 and report["output"] == str(out)
    assert np.load(out)["decisions"].shape[0] == 2
    assert main(["simulate", str(tmp_path / "n.npz"), "--input", str(tmp_path / "x.npz"),
                 "--samples", "0"]) == 2
    assert "--samples 0: must be at least 1" in capsys.readouterr().err


def test_simulate_plots_the_first_samples(tmp_path, capsys):
    net = random_network(3, 4, (6,), 3)
    net.save(tmp_path / "n.npz")
    save_inputs(tmp_path / "x.npz", random_events(1, 5, 6, 4))
    base = ["simulate", str(tmp_path / "n.npz"), "--input", str(tmp_path / "x.npz"), "--quiet"]
    assert main(base + ["--plot", str(tmp_path / "p"), "--plot-samples", "2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert sorted(report["plots"]) == [str(tmp_path / "p" / f"sample-{n}.png") for n in (0, 1)]
    for path in report["plots"]:
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert not list((tmp_path / "p").glob("*.tmp*"))
    (tmp_path / "afile").write_text("x")
    assert main(base + ["--plot", str(tmp_path / "afile")]) == 2
    assert "is not a folder" in capsys.readouterr().err
