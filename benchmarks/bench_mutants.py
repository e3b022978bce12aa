"""Mutation score: every planted RTL fault (``hdl.mutants``) against the regression, in
Amaranth's simulator, Verilator and Icarus.

    python benchmarks/bench_mutants.py [--engines pysim verilator icarus] [--json]

Each mutant is built into the designs of ``sim.mutation.MUTANT_DESIGNS`` and run
through the exact checker; it is killed when any run reports a mismatch. The
correct designs must pass first (else a kill would mean nothing). Prints the
kill matrix, the kill ratio per engine and the wall time.
"""

import argparse
import json
import time

from spikeforge.hdl.mutants import FORMAL_ONLY, MUTANTS
from spikeforge.sim.mutation import ENGINES, kills


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    start = time.perf_counter()
    rows, ratios = [], {}
    for engine in args.engines:
        base = kills(None, engine)
        failing = {d: m[:2] for d, m in base.items() if m}
        if failing:
            raise SystemExit(f"{engine}: the correct designs mismatch: {failing}")
        killed = 0
        simulated = [name for name in MUTANTS if name not in FORMAL_ONLY]
        for name in simulated:
            t = time.perf_counter()
            result = kills(name, engine)
            first = next((m[0] for m in result.values() if m), None)
            rows.append({"engine": engine, "mutant": name, "killed": first is not None,
                         "designs": list(result), "first_mismatch": first,
                         "seconds": round(time.perf_counter() - t, 1)})
            killed += first is not None
            if not args.json:
                print(f"{engine:9s} {name:26s} {'killed' if first else 'SURVIVED':8s} "
                      f"{rows[-1]['seconds']:6.1f} s  {(first or '')[:90]}", flush=True)
        ratios[engine] = killed / len(simulated)
    seconds = round(time.perf_counter() - start)
    if args.json:
        print(json.dumps({"rows": rows, "kill_ratio": ratios, "seconds": seconds}, indent=1))
    else:
        for engine, ratio in ratios.items():
            print(f"kill ratio {engine}: {100 * ratio:.0f} % of {len(MUTANTS) - len(FORMAL_ONLY)} "
                  f"mutants")
        print(f"wall time {seconds} s")


if __name__ == "__main__":
    main()
