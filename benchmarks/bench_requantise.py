"""A built-in network requantised at other weight widths and weight clips, measured through
the golden model on its test set.

    python benchmarks/bench_requantise.py --network ecg --bits 10 8 6 --clips none 0.999 0.995
    python benchmarks/bench_requantise.py --network digits --bits 8 6 4 --json

Each point is ``golden.reference.requantize(shipped, B, Q)``: ``quantize`` of the float
network the shipped one is the exact quantisation of (``dequantize``), at B weight bits with
weight clip Q ("none": the scale from the largest weight). QTDB records are read from
``--qtdb`` / ``$SPIKEFORGE_QTDB`` / ../shared/data/qtdb.
"""

from __future__ import annotations

import argparse
import json
import sys

from spikeforge import builtin
from spikeforge.golden.reference import requantize
from spikeforge.train.data import load_digits_split, load_ecg
from spikeforge.train.trainer import evaluate_fixed


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n".join(__doc__.splitlines()[1:4]))
    p.add_argument("--network", choices=("ecg", "digits"), default="ecg")
    p.add_argument("--bits", type=int, nargs="+", default=[10, 8, 6])
    p.add_argument("--clips", nargs="+", default=["none", "0.999", "0.995", "0.99"],
                   help="weight clips: quantiles, or none")
    p.add_argument("--qtdb", metavar="DIR", help="QTDB folder (QTDB_test.mat)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    try:
        clips = [None if c == "none" else float(c) for c in args.clips]
    except ValueError:
        p.error(f"--clips {args.clips}: quantiles (0 < q < 1) or none")
    shipped = builtin.load(args.network)
    x, y = load_ecg("test", args.qtdb) if args.network == "ecg" else load_digits_split("test")
    rows = []
    for bits in args.bits:
        for clip in clips:
            figures = evaluate_fixed(requantize(shipped, bits, clip), x, y)
            rows.append({"network": f"builtin:{args.network}", "weight_bits": bits,
                         "weight_clip": clip, **figures})
            if not args.json:
                print(f"{args.network}: {bits}-bit weights, clip {clip or 'none'}: "
                      f"{100 * figures['accuracy']:.2f} %, firing rate "
                      f"{', '.join(f'{r:.3f}' for r in figures['firing_rate'])}", flush=True)
    if args.json:
        print(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
