"""Simulation speed of the RTL paths, in simulated clock cycles per second.

    python benchmarks/bench_rtl.py [--json]

The same design (4 -> 36 recurrent ALIF -> 6 LI, 2 lanes, the ECG shape) and
the same events (random, rate 0.2) through: the native C++ Verilator harness
(20 samples x 1301 steps), cocotb + Verilator (2 x 150 steps) and cocotb +
Icarus (2 x 40 steps); cocotb figures include the simulator's start-up. Builds are cached and not timed; each run is checked against the
golden model (a mismatch aborts the benchmark).
"""

import argparse
import json

from spikeforge.golden.randnet import random_events, random_network
from spikeforge.hdl.config import HardwareConfig
from spikeforge.sim.rtl import run_rtl


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    net = random_network(0, 4, (36,), 6)
    config = HardwareConfig(lanes=2)
    rows = []
    for simulator, engine, samples, steps in (("verilator", "native", 20, 1301),
                                              ("verilator", "cocotb", 2, 150),
                                              ("icarus", "cocotb", 2, 40)):
        x = random_events(1, samples, steps, 4, rate=0.2, values=(1, -1))
        run_rtl(net, x[:1, :2], simulator=simulator, config=config, engine=engine)  # build
        outcome = run_rtl(net, x, simulator=simulator, config=config, engine=engine)
        if outcome.mismatches:
            raise SystemExit(f"{simulator}/{engine}: {outcome.mismatches[:3]}")
        rows.append({"simulator": simulator, "engine": engine, "samples": samples, "steps": steps,
                     "cycles": outcome.cycles, "seconds": round(outcome.sim_seconds, 3),
                     "cycles_per_second": round(outcome.cycles / outcome.sim_seconds),
                     "cycles_per_step": round(outcome.cycles / (samples * steps), 1)})
    if args.json:
        print(json.dumps(rows))
        return
    print(f"{'simulator':10s} {'engine':7s} {'cycles':>10s} {'seconds':>8s} {'cycles/s':>11s} "
          f"{'cycles/step':>11s}")
    for r in rows:
        print(f"{r['simulator']:10s} {r['engine']:7s} {r['cycles']:10,d} {r['seconds']:8.2f} "
              f"{r['cycles_per_second']:11,d} {r['cycles_per_step']:11.1f}")


if __name__ == "__main__":
    main()
