"""Golden-model speed on the whole QTDB test set (141 records x 1301 steps), one core.

    python benchmarks/bench_golden.py [--json]

Prints wall time, input events per second and synaptic operations per second
for a 4 -> 36 (recurrent ALIF) -> 6 (leaky-integrator) network quantised from
float arrays, as the golden model runs it (batch-vectorised over records).
"""

import argparse
import json
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, as the figure claims

from spikeforge.datasets import load_qtdb  # noqa: E402
from spikeforge.golden import quantize, simulate  # noqa: E402
from spikeforge.golden.randnet import random_float_network  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    x, _ = load_qtdb("test")
    net = quantize(random_float_network(0, 4, (36,), 6))
    best = float("inf")
    for _ in range(args.repeat):
        start = time.perf_counter()
        result = simulate(net, x)
        best = min(best, time.perf_counter() - start)
    totals = result.totals()
    report = {"benchmark": "golden_qtdb_test", "records": x.shape[0], "steps": x.shape[1],
              "seconds": round(best, 3),
              "input_events_per_second": round(totals["input_events"] / best),
              "synaptic_ops_per_second": round(totals["synaptic_ops"] / best),
              "neuron_updates_per_second": round(totals["neuron_updates"] / best), **totals}
    if args.json:
        print(json.dumps(report))
    else:
        for key, value in report.items():
            print(f"{key:28s} {value}")


if __name__ == "__main__":
    main()
