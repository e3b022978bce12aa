"""Board builds: resource use and Fmax per board and lane count, and the largest network that fits.

    python benchmarks/bench_boards.py                       # the full sweep (tens of minutes)
    python benchmarks/bench_boards.py --boards icebreaker --lanes 1 2
    python benchmarks/bench_boards.py --table results.json  # print a saved sweep again
    python benchmarks/bench_boards.py --largest             # fit search only (seconds)
    python benchmarks/bench_boards.py --confirm --boards icebreaker --lanes 1
                                      # build the largest network the search finds

Builds run one at a time (Yosys and nextpnr from the YoWASP wheels); each
result, or the reason a build did not fit, is appended to ``--out`` as JSON
lines, so a long sweep can run under nohup and be tabulated at any time.
The network is ECG-shaped: ``builtin:ecg`` if it exists, else
``random_network(0, 4, (36,), 6)`` (4 -> 36 recurrent ALIF -> 6 LI).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from spikeforge.boards.build import BuildError, build_bitstream
from spikeforge.boards.fit import FitError, ecg_shaped, estimate, largest_hidden
from spikeforge.boards.targets import BOARDS, board
from spikeforge.hdl.config import HardwareConfig

DEFAULT_BOARDS = ["icebreaker", "ulx3s-85f", "orangecrab"]


def ecg_network():
    from spikeforge import builtin
    if "ecg" in builtin.names():
        return builtin.load("ecg")
    return ecg_shaped(36)


def sweep(boards, lanes, out: Path, build_root: Path, network, *, largest: bool = False):
    """Build ``network`` (or, with ``largest``, the largest ECG-shaped network the fit
    search finds for each board and lane count) and append the results to ``out``."""
    for name in boards:
        for P in lanes:
            b = board(name)
            if largest:
                n, _ = largest_hidden(b, HardwareConfig(lanes=P), weights="auto")
                network = ecg_shaped(n)
                network.name = f"largest-{n}"
            entry = {"board": name, "lanes": P, "network": network.name,
                     "summary": network.summary()}
            start = time.perf_counter()
            print(f"== {name} lanes {P}", file=sys.stderr, flush=True)
            try:
                r = build_bitstream(network, b, config=HardwareConfig(lanes=P),
                                    build_dir=build_root / f"{name}-p{P}", check_timing=False,
                                    progress=lambda m: print(f"   {m}", file=sys.stderr, flush=True))
                entry.update(status="built", **r.to_json())
            except (FitError, BuildError) as exc:
                entry.update(status="does not fit" if isinstance(exc, FitError) else "failed",
                             reason=str(exc), seconds=round(time.perf_counter() - start, 1))
            with open(out, "a") as fh:
                fh.write(json.dumps(entry) + "\n")
            print(f"   {entry['status']}", file=sys.stderr, flush=True)


def _use(res, key):
    use = res.get(key)
    if not use:
        return "-"
    return f"{use['used']}/{use['available']}" if use.get("available") else str(use["used"])


def table(path: Path) -> str:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    lines = ["| board | network | P | LUT | FF | BRAM (est.) | SPRAM | DSP | Fmax MHz | clock MHz | timing | build s | critical path |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["status"] != "built":
            lines.append(f"| {r['board']} | {r['summary']} | {r['lanes']} | {r['status']}: "
                         f"{r['reason'][:150]} | | | | | | | | {r.get('seconds', '')} |")
            continue
        res = r["resources"]
        lines.append(f"| {r['board']} | {r['summary']} | {r['lanes']} | {_use(res, 'lut')} | {_use(res, 'ff')} | "
                     f"{_use(res, 'bram')} ({r['estimate_bram_blocks']}) | {_use(res, 'spram')} | "
                     f"{_use(res, 'dsp')} | {r['fmax_mhz']} | {r['clock_mhz']:g} | "
                     f"{'pass' if r['timing_ok'] else 'FAIL'} | {r['seconds']} | "
                     f"{_path(r.get('critical_path'))} |")
    return "\n".join(lines)


def _path(path) -> str:
    if not path:
        return "-"
    hdl = [s for s in path["sources"] if s.startswith(("hdl/", "boards/", "sim/"))]
    return f"{path['delay_ns']} ns, {path['logic_levels']} levels" + (f" ({', '.join(hdl[:3])})" if hdl else "")


def largest_table(boards, lanes, weight_bits=8) -> str:
    lines = ["| board | device | block RAMs | " + " | ".join(f"N at P={p}" for p in lanes) + " |",
             "|---|---|---|" + "---|" * len(lanes)]
    for name in boards:
        b = board(name)
        cells = []
        for P in lanes:
            try:
                n, fit = largest_hidden(b, HardwareConfig(lanes=P), weight_bits=weight_bits,
                                        weights="auto")
                cells.append(f"{n} ({fit.blocks}" + (f", {fit.spram} SPRAM" if fit.spram else "") + ")")
            except FitError:
                cells.append("none")
        lines.append(f"| {name} | {b.device.name} | {b.device.bram_blocks} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--boards", nargs="+", default=DEFAULT_BOARDS, choices=list(BOARDS))
    p.add_argument("--lanes", nargs="+", type=int, default=[1, 2, 4, 8])
    p.add_argument("--out", type=Path, default=Path("/tmp/spikeforge-bench-boards.jsonl"))
    p.add_argument("--build-root", type=Path, default=Path("/tmp/spikeforge-bench-builds"))
    p.add_argument("--table", type=Path, metavar="JSONL", help="only print a saved sweep")
    p.add_argument("--largest", action="store_true", help="only the fit search")
    p.add_argument("--network", metavar="NETWORK",
                   help="build this network (a file or builtin:NAME) instead of builtin:ecg")
    p.add_argument("--confirm", action="store_true",
                   help="build the largest network the fit search finds (per board and lanes)")
    args = p.parse_args(argv)
    if args.table:
        print(table(args.table))
        return 0
    print("Largest 4 -> N (recurrent ALIF) -> 6 network at 8-bit weights whose memories fit "
          "(estimate; block RAMs used in brackets):\n")
    print(largest_table(args.boards if not args.largest else list(BOARDS), args.lanes))
    if args.largest:
        return 0
    if args.confirm:
        sweep(args.boards, args.lanes, args.out, args.build_root, None, largest=True)
        print("\nBuilds of the largest networks:\n")
        print(table(args.out))
        return 0
    if args.network:
        from spikeforge.cli import load_network
        net = load_network(args.network)
    else:
        net = ecg_network()
    print(f"\nEstimated block RAMs for {net.name} ({net.summary()}):")
    for name in args.boards:
        print(f"  {name}: " + ", ".join(
            f"P={P}: {estimate(net, HardwareConfig(lanes=P), board(name)).blocks}" for P in args.lanes))
    sweep(args.boards, args.lanes, args.out, args.build_root, net)
    print(f"\nBuilds of {net.name} ({net.summary()}):\n")
    print(table(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
