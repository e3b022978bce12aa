"""The formal proofs: each one on the design and on its planted mutant, with depth and time.

    python benchmarks/bench_formal.py [--json] [--only NAME ...]

Every proof of ``spikeforge.sim.formal.PROOFS`` is run twice with SymbiYosys (Yosys,
SymbiYosys and Boolector from the PyPI wheels): on the generated design, where it must
PASS, and with its mutant planted (``hdl.mutants``), where it must FAIL. Exit status 1 if
either outcome is not what it must be.
"""

import argparse
import json
import sys

from spikeforge.hdl import mutants
from spikeforge.sim.formal import PROOFS, prove


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="+", choices=sorted(PROOFS), metavar="NAME")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows, ok = [], True
    for name in args.only or list(PROOFS):
        proof = PROOFS[name]
        clean = prove(proof.make(), mode=proof.mode, depth=proof.depth, name=name)
        with mutants.planted(proof.mutant):
            planted = prove(proof.make(), mode=proof.mode, depth=proof.depth, name=name)
        row = {"proof": name, "claim": proof.claim, "mode": proof.mode, "depth": proof.depth,
               "status": clean.status, "seconds": round(clean.seconds, 1),
               "mutant": proof.mutant, "mutant_status": planted.status,
               "mutant_seconds": round(planted.seconds, 1), "mutant_failed": planted.failed}
        ok &= clean.status == "PASS" and planted.status == "FAIL"
        rows.append(row)
        if not args.json:
            print(f"{name:30s} {proof.mode:5s} depth {proof.depth:3d}: {clean.status} "
                  f"({clean.seconds:.1f} s); mutant {proof.mutant}: {planted.status} "
                  f"({planted.seconds:.1f} s)", flush=True)
    if args.json:
        print(json.dumps(rows, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
