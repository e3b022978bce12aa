"""Figures of the built-in trained networks, measured through the golden model.

    python benchmarks/bench_train.py [--json] [--qtdb DIR]

For each built-in network (digits; ecg when the QTDB folder is found): the
fixed-point test accuracy, firing rate (spikes/neuron/step), synaptic
operations per sample against the multiply-accumulates of a dense RNN of the
same size, and the golden simulation time. The digits test set is computed
from scikit-learn (``spikeforge.train.data.load_digits_split('test')``); QTDB
records are read from ``--qtdb`` / ``$SPIKEFORGE_QTDB`` / ../shared/data/qtdb.
"""

from __future__ import annotations

import argparse
import json
import time

from spikeforge import builtin
from spikeforge.golden import InputError
from spikeforge.train.data import load_ecg, load_digits_split
from spikeforge.train.trainer import evaluate_fixed


def measure(name: str, qtdb=None) -> dict | None:
    net = builtin.load(name)
    if name == "digits":
        x, y = load_digits_split("test")
    elif name == "ecg":
        try:
            x, y = load_ecg("test", qtdb)
        except InputError as exc:
            print(f"ecg: skipped ({exc})")
            return None
    else:
        return None
    start = time.perf_counter()
    figures = evaluate_fixed(net, x, y)
    seconds = time.perf_counter() - start
    samples, steps, _ = x.shape
    return {"network": f"builtin:{name}", "summary": net.summary(), "samples": samples,
            "steps": steps, "synapses": net.synapses(), "golden_seconds": round(seconds, 2),
            **figures,
            "dense_to_event_ratio": figures["dense_macs_per_sample"]
            / max(figures["synaptic_ops_per_sample"], 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--qtdb", metavar="DIR", help="QTDB folder (QTDB_test.mat)")
    args = parser.parse_args(argv)
    rows = [r for r in (measure(n, args.qtdb) for n in builtin.names()) if r]
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    for r in rows:
        scope = "per step" if r["network"].endswith("ecg") else "per sample"
        print(f"{r['network']}: {r['summary']}, {r['synapses']:,} synapses")
        print(f"  fixed-point accuracy {100 * r['accuracy']:.2f} % ({scope}, {r['samples']} test "
              f"samples x {r['steps']} steps)")
        print(f"  firing rate {', '.join(f'{v:.4f}' for v in r['firing_rate'])} spikes/neuron/step; "
              f"{r['input_events_per_sample']:,.0f} input events per sample")
        print(f"  synaptic ops {r['synaptic_ops_per_sample']:,.0f} per sample vs dense RNN "
              f"{r['dense_macs_per_sample']:,.0f} MACs ({r['dense_to_event_ratio']:.1f}x fewer)")
        print(f"  golden model {r['golden_seconds']:.2f} s for the test set")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
