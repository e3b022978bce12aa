"""The Pareto sweep's bookkeeping (benchmarks/bench_pareto.py): mean ± s.d. per recipe, the
front, a resumable JSON-lines file and the plot; the training runs themselves are the
benchmark's (tests/test_train.py covers ``train_task`` with validation)."""

import json

import pytest

from conftest import load_benchmark


def _bench():
    return load_benchmark("bench_pareto")


def _row(penalty, seed, acc, ops):
    return {"task": "digits", "hidden": 128, "rate_penalty": penalty, "rate_target": 0.0, "weight_bits": 8,
            "seed": seed, "epochs": 80, "qat_epochs": 20, "validation_samples": 135, "fixed_accuracy": acc, "synaptic_ops_per_sample": ops,
            "dense_macs_per_sample": 200_000.0, "firing_rate": [acc / 10],
            "train_seconds": 100.0}


ROWS = [_row(0.0, 0, 0.96, 20_000), _row(0.0, 1, 0.94, 22_000),     # accurate, busy
        _row(2.0, 0, 0.95, 10_000), _row(2.0, 1, 0.95, 12_000),     # the knee
        _row(8.0, 0, 0.90, 11_000), _row(8.0, 1, 0.92, 13_000)]     # dominated by 2.0


def test_recipes_mean_sd_and_front():
    bench = _bench()
    rows = {r["rate_penalty"]: r for r in bench.recipes(ROWS)}
    assert rows[0.0]["accuracy_mean"] == pytest.approx(0.95)
    assert rows[0.0]["accuracy_sd"] == pytest.approx(0.0141421, rel=1e-4)
    assert rows[2.0]["synops_mean"] == 11_000 and rows[2.0]["seeds"] == [0, 1]
    assert [rows[p]["pareto"] for p in (0.0, 2.0, 8.0)] == [False, True, False]
    assert rows[0.0]["quantisation_loss_mean"] is None          # no float accuracy recorded
    with_float = [{**r, "float_accuracy": r["fixed_accuracy"] + 0.01} for r in ROWS]
    loss = {r["rate_penalty"]: r["quantisation_loss_mean"] for r in bench.recipes(with_float)}
    assert loss[2.0] == pytest.approx(0.01)


def test_table_resume_and_plot(tmp_path, capsys, monkeypatch):
    bench = _bench()
    out = tmp_path / "sweep.jsonl"
    out.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    ran = []
    def fake(task, hidden, penalty, target, bits, seed, **kwargs):
        ran.append((task, penalty, target, bits, seed, hidden))
        return {**_row(penalty, seed, 0.95, 11_000), "hidden": hidden,
                "epochs": kwargs["epochs"] or 150}
    monkeypatch.setattr(bench, "run_point", fake)
    plot = tmp_path / "front.png"
    assert bench.main(["--penalties", "0", "2", "--seeds", "0", "1", "2", "--epochs", "80",
                       "--out", str(out), "--plot", str(plot)]) == 0
    # only the missing points run: seed 2 of penalties 0 and 2
    assert [(a[1], a[4]) for a in ran] == [(0.0, 2), (2.0, 2)]
    assert len(out.read_text().splitlines()) == len(ROWS) + 2
    table = capsys.readouterr().out
    assert "| digits | 128 | 2 | 0 | 8 | max | 80 | 20 | best on validation | 3 | 95.00 ± 0.00 % |" \
        in table
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # another float epoch count is another recipe: all three seeds of both penalties run
    ran.clear()
    assert bench.main(["--penalties", "0", "2", "--seeds", "0", "1", "2", "--epochs", "120",
                       "--out", str(out)]) == 0
    assert len(ran) == 6
    # and so is another hidden layer size, which the run is given
    ran.clear()
    assert bench.main(["--penalties", "2", "--seeds", "0", "--epochs", "80", "--hidden", "64",
                       "--out", str(out)]) == 0
    assert ran == [("digits", 2.0, 0.0, 8, 0, 64)]
    assert "| digits | 64 | 2 | 0 | 8 | max | 80 |" in capsys.readouterr().out


def test_a_corrupt_sweep_file_is_one_line(tmp_path, capsys):
    bench = _bench()
    path = tmp_path / "sweep.jsonl"
    good = json.dumps(ROWS[0])
    for bad in (good[:-7], '{"task": "digits"}', "[1, 2]", "\x00\xff garbage"):
        path.write_text(good + "\n" + bad + "\n")
        assert bench.main(["--table", str(path)]) == 2
        captured = capsys.readouterr()
        assert captured.err.startswith(f"bench_pareto: error: {path}: line 2: not a run")
        assert len(captured.err.splitlines()) == 1 and captured.out == ""


def test_networks_folder_that_cannot_be_made_is_one_line(tmp_path, capsys):
    bench = _bench()
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert bench.main(["--penalties", "0", "--seeds", "0", "--out", str(tmp_path / "s.jsonl"),
                       "--networks", str(blocker / "nets")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("bench_pareto: error: --networks ") and "\n" not in err
    assert not (tmp_path / "s.jsonl").exists()
