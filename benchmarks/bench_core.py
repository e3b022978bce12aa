"""The core's step costs, measured in the native Verilator harness beside the cycle model.

    python benchmarks/bench_core.py [--json] [--quick]

* a silent step (no input event, no spike) of the ECG-shaped network (4 -> 36
  recurrent LIF -> 6 LI) at P = 2, and the fixed per-step cost in general
  against sum_layers ceil(size / P);
* whole-step synaptic operations per clock on dense fan-out (64 inputs all
  firing -> 64 leaky integrators) for P = 1, 2, 4, 8, against the limit P;
* ``builtin:ecg`` on the QTDB test records (all 141; ``--quick``: 10): cycles
  per step, and the real-time factor at the iCEBreaker's 12 MHz and the
  ULX3S's 25 MHz clocks (QTDB is sampled at 250 Hz: 1301 steps = 5.2 s).

Every run is checked against the golden model and the cycle model
(``hdl.schedule``) is printed beside the CYCLES counter (they must be equal).
"""

import argparse
import json

import numpy as np

from spikeforge.golden.network import NeuronKind
from spikeforge.golden.randnet import random_events, random_network
from spikeforge.hdl import schedule
from spikeforge.hdl.config import HardwareConfig
from spikeforge.bench.measure import QTDB_HZ, BenchError, checked_rtl


def run(net, x, lanes, emit_spikes=True):
    try:
        outcome, cycles, _ = checked_rtl(net, x, lanes, emit_spikes=emit_spikes, say=lambda m: None)
    except BenchError as exc:
        raise SystemExit(str(exc)) from None
    return outcome, cycles


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rows = []

    # a silent step: no input, no spike (zero bias, so nothing fires on its own)
    ecg_shape = random_network(0, 4, (36,), 6, kind=NeuronKind.LIF)
    for layer in ecg_shape.layers:
        layer.bias[:] = 0
    x = np.zeros((1, 20, 4), np.int64)
    outcome, cycles = run(ecg_shape, x, 2)
    steps = schedule.per_step_cycles(ecg_shape, HardwareConfig(lanes=2), outcome.golden, x)
    words = sum(schedule.words(l.size, 2) for l in ecg_shape.layers)
    rows.append({"measure": "silent step, 4 -> 36 rec LIF -> 6 LI, P = 2",
                 "cycles_per_step": int(steps[0, -1]), "sum_words": words,
                 "fixed_per_layer": (int(steps[0, -1]) - words) / len(ecg_shape.layers)})

    # dense fan-out: whole-step synaptic ops per clock
    dense = random_network(0, 64, (), 64, recurrent=False)
    x = np.ones((1, 4, 64), np.int64)
    for lanes in (1, 2, 4, 8):
        outcome, cycles = run(dense, x, lanes, emit_spikes=False)
        synops = outcome.counters["SYNOPS"]
        rows.append({"measure": f"dense fan-out 64 -> 64, P = {lanes}", "lanes": lanes,
                     "synops": synops, "cycles": cycles,
                     "synops_per_clock": round(synops / cycles, 3),
                     "of_limit": round(synops / cycles / lanes, 3)})

    # builtin:ecg on QTDB
    from spikeforge import builtin
    from spikeforge.datasets import load_qtdb
    ecg = builtin.load("ecg")
    x, _ = load_qtdb("test")
    if args.quick:
        x = x[:10]
    for lanes in (1, 2):
        outcome, cycles = run(ecg, x, lanes)
        per_step = cycles / (x.shape[0] * x.shape[1])
        seconds_per_record = x.shape[1] / QTDB_HZ
        row = {"measure": f"builtin:ecg on {x.shape[0]} QTDB records, P = {lanes}", "lanes": lanes,
               "cycles": cycles, "cycles_per_step": round(per_step, 1)}
        for board, mhz in (("icebreaker", 12.0), ("ulx3s", 25.0)):
            # how many times faster than the signal: real time / compute time
            row[f"realtime_factor_{board}_{mhz:g}MHz"] = round(
                (1.0 / QTDB_HZ) / (per_step / (mhz * 1e6)), 1)
        rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    for row in rows:
        print(row["measure"] + ": " + ", ".join(f"{k} {v}" for k, v in row.items() if k != "measure"))


if __name__ == "__main__":
    main()
