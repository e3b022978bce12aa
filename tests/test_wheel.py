"""A plain (not editable) install works: the wheel carries the harnesses and the built-in
networks, and the demo's Verilator path runs from it in a fresh virtual environment."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_installs_into_a_fresh_venv_and_runs_the_demo(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels),
                    str(ROOT)], check=True, capture_output=True, text=True)
    wheel, = wheels.glob("spikeforge-*.whl")
    import zipfile
    names = zipfile.ZipFile(wheel).namelist()
    for needed in ("spikeforge/sim/harness.cpp", "spikeforge/sim/board_harness.cpp",
                   "spikeforge/networks/digits.npz", "spikeforge/networks/ecg.npz"):
        assert needed in names, needed
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)],
                         capture_output=True, text=True)
    assert pip.returncode == 0, pip.stderr[-2000:]
    # run outside the checkout, so nothing can be imported from the source tree
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    demo = subprocess.run([str(venv / "bin" / "spikeforge"), "demo", "--samples", "4", "-o",
                           str(tmp_path / "demo"), "--json", "--quiet"],
                          capture_output=True, text=True, cwd=tmp_path, env=env)
    assert demo.returncode == 0, demo.stderr[-2000:]
    report = json.loads(demo.stdout)
    assert report["mismatches"] == 0 and report["samples"] == 4
    where = subprocess.run([str(venv / "bin" / "python"), "-c",
                            "import spikeforge.sim.native as n; print(n.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path, env=env)
    assert str(venv) in where.stdout, where.stdout
