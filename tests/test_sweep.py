"""``spikeforge sweep``: points as Ray tasks on an embedded local Ray, results and the front."""

import json

import pytest

from conftest import require_extra
from spikeforge import sweep
from spikeforge.cli import main
from spikeforge.golden.randnet import random_network


def test_points_are_the_product_and_the_front_is_the_undominated():
    todo = sweep.points(["a.npz", "builtin:ecg"], ["icebreaker"], [1, 2], [8, 6], ["auto"])
    assert len(todo) == 8 and len(set(todo)) == 8
    rows = [{"status": "built", "lut": 100, "fmax_x_lanes": 30.0, "point": "small"},
            {"status": "built", "lut": 200, "fmax_x_lanes": 60.0, "point": "big"},
            {"status": "built", "lut": 250, "fmax_x_lanes": 50.0, "point": "worse"},
            {"status": "does not fit", "point": "none"}]
    assert [r["point"] for r in sweep.pareto(rows)] == ["small", "big"]
    assert [r["pareto"] for r in rows] == [True, True, False, False]


@pytest.mark.slow
def test_two_point_sweep_on_local_ray(tmp_path, monkeypatch, capsys):
    require_extra("ray", "sweep")
    require_extra("amaranth_boards")
    monkeypatch.setenv("SPIKEFORGE_CACHE", str(tmp_path / "cache"))   # cold builds
    import numpy as np
    from spikeforge.golden import accuracy, simulate
    from spikeforge.golden.inputs import save_inputs
    from spikeforge.golden.randnet import random_events
    net = random_network(2, 4, (8,), 3)
    net.save(tmp_path / "net.npz")
    x = random_events(0, 6, 5, 4)
    y = np.arange(30).reshape(6, 5) % 3      # this network decides per step
    save_inputs(tmp_path / "in.npz", x, y)
    args = ["sweep", str(tmp_path / "net.npz"), "--boards", "ulx3s-12f", "--lanes", "1",
            "--weight-bits", "8", "6", "--cpus", "2", "--input", str(tmp_path / "in.npz"),
            "-o", str(tmp_path / "out"), "--json", "--quiet"]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    rows = report["points"]
    assert sorted(r["weight_bits"] for r in rows) == [6, 8]
    assert all(r["status"] == "built" and r["cached"] is False for r in rows), rows
    assert all(r["lut"] > 0 and r["fmax_mhz"] > 0 for r in rows)
    eight = next(r for r in rows if r["weight_bits"] == 8)     # the file's own width
    assert eight["accuracy"] == round(accuracy(net, simulate(net, x).decisions, y), 4)
    assert eight["cycles_per_inference"] > 0
    assert report["pareto"] and set(report["pareto"]) <= {r["point"] for r in rows}
    saved = [json.loads(line) for line in (tmp_path / "out" / "sweep.jsonl").read_text().splitlines()]
    assert len(saved) == 2
    # the same sweep again: every point's build comes from the content-hashed cache
    assert main(args) == 0
    again = json.loads(capsys.readouterr().out)["points"]
    assert all(r["cached"] is True for r in again)
    assert sorted((r["weight_bits"], r["lut"], r["fmax_mhz"]) for r in again) == \
        sorted((r["weight_bits"], r["lut"], r["fmax_mhz"]) for r in rows)


def test_sweep_rejects_bad_input_before_ray_starts(tmp_path, capsys):
    assert main(["sweep", str(tmp_path / "missing.npz"), "--boards", "icebreaker"]) == 2
    assert "missing.npz" in capsys.readouterr().err
    assert main(["sweep", "builtin:ecg", "--boards", "icebreaker", "--lanes", "3"]) == 2
    assert "--lanes 3" in capsys.readouterr().err
    corrupt = tmp_path / "in.npz"
    corrupt.write_bytes(b"PK\x03\x04 truncated")
    assert main(["sweep", "builtin:ecg", "--boards", "icebreaker", "--input", str(corrupt)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"spikeforge: error: {corrupt}: ") and err.count("\n") == 1
