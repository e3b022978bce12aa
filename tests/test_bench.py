"""``spikeforge bench``: its measurements (a small plan, real RTL runs) and its report."""

import json

import pytest

from spikeforge import bench
from spikeforge.bench import measure, report
from spikeforge.cli import main

SMALL = measure.Plan(quick=True, lanes=(1,), dense_lanes=(1,), ecg_records=2, digits_samples=6,
                     software_records=2, software_repeat=1, cocotb_steps=10, boards=(),
                     networks=("digits",))


@pytest.mark.slow
def test_small_bench_measures_rtl_equal_to_golden_and_writes_the_report(tmp_path):
    rows = bench.run(SMALL, tmp_path, sections=("throughput", "workloads", "accuracy", "peers"),
                     say=lambda m: None)
    meta, *measured = rows
    assert meta["section"] == "run" and meta["quick"] is True
    saved = [json.loads(line) for line in (tmp_path / "bench.jsonl").read_text().splitlines()]
    assert len(saved) == len(rows) and not list(tmp_path.glob(".*"))     # no temporary left
    dense = [r for r in measured if r["section"] == "throughput"]
    assert [r["lanes"] for r in dense] == [1]
    d = dense[0]
    # 64 channels x 4 steps, each event fans out to all 64 outputs
    assert d["synops"] == 64 * 64 * 4 and d["cycles"] == d["model_cycles"]
    assert 0.9 < d["synops_per_clock"] <= 1 and d["limit_synops_per_clock"] == 1
    work = [r for r in measured if r["section"] == "workloads"]
    assert len(work) == 1 and work[0]["network"] == "builtin:digits" and work[0]["samples"] == 6
    w = work[0]
    assert w["rtl_accuracy"] == w["golden_accuracy"] and w["cycles"] == w["model_cycles"]
    assert w["dense_macs_per_inference"] > w["synops_per_inference"] > 0
    assert w["dense_energy_pj_per_inference"] > w["energy_pj_per_inference"] > 0
    acc = [r for r in measured if r["section"] == "accuracy"]
    assert sorted({r["weight_bits"] for r in acc}) == [4, 6, 8] and len(acc) == 6
    assert any(r["section"] == "peers" and r["published_not_measured_here"] for r in measured)

    path = report.write(rows, tmp_path, "spikeforge bench (test)")
    text = path.read_text()
    assert f"| 1 | {d['synops']:,} | {d['cycles']:,} | {d['model_cycles']:,} |" in text
    assert "builtin:digits" in text and "*Published, not measured here.*" in text
    for key in ("throughput", "accuracy"):
        assert (tmp_path / report.PLOTS[key]).stat().st_size > 1000
        assert f"]({report.PLOTS[key]})" in text


@pytest.mark.slow
def test_a_cycle_model_that_disagrees_stops_the_bench(tmp_path, monkeypatch, capsys):
    from spikeforge.hdl import schedule
    real = schedule.cycles
    monkeypatch.setattr(schedule, "cycles", lambda *a: real(*a) + 1)
    code = main(["bench", "--sections", "throughput", "-o", str(tmp_path), "--quiet", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and "the cycle model says" in out["error"]
    assert not (tmp_path / "bench.jsonl").exists()      # no report of figures not trusted
    assert not list(tmp_path.glob(".*"))                 # and no temporary left


def test_report_of_board_rows_names_what_did_not_fit():
    rows = [{"section": "run", "seconds": 60.0, "date": "2026-12-02"},
            {"section": "boards", "measure": "icebreaker, P = 2", "board": "icebreaker",
             "lanes": 2, "status": "does not fit", "reason": "needs 14 DSP, the device has 8"},
            {"section": "boards", "measure": "ulx3s-85f, P = 1", "board": "ulx3s-85f", "lanes": 1,
             "status": "built", "fmax_mhz": 107.35, "critical_path_ns": 9.3,
             "resources": {"lut": {"used": 5000, "available": 83640}, "ff": {"used": 4000},
                           "bram": {"used": 6}, "dsp": {"used": 8}},
             "synops_per_second_at_fmax": 104_000_000, "ecg_realtime_factor_at_fmax": 600.0}]
    text = report.markdown(rows, "spikeforge bench", {})
    assert "| icebreaker | 2 | does not fit |" in text and "needs 14 DSP" in text
    assert "| ulx3s-85f | 1 | built | 5,000 / 83,640 | 4,000 | 6 | 8 | 107.35 | 9.3 | 104.0 M | 600.0x |" in text


def test_bench_help_has_examples(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    text = capsys.readouterr().out
    assert "spikeforge bench --quick" in text and "--sections" in text


def test_bench_and_sweep_refuse_an_output_that_is_a_file(tmp_path, capsys):
    target = tmp_path / "afile"
    target.write_text("x")
    for argv in (["bench", "--sections", "peers", "-o", str(target)],
                 ["sweep", "builtin:ecg", "--boards", "icebreaker", "-o", str(target)]):
        assert main(argv) == 2
        assert f"-o {target}: is a file" in capsys.readouterr().err
    assert target.read_text() == "x"


def test_bench_and_sweep_refuse_a_qtdb_folder_without_the_records(tmp_path, capsys):
    for argv in (["bench", "--sections", "peers", "--qtdb", str(tmp_path), "-o", str(tmp_path / "o")],
                 ["sweep", "builtin:ecg", "--boards", "icebreaker", "--qtdb", str(tmp_path)]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("spikeforge: error: ") and str(tmp_path) in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()
