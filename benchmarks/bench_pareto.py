"""Accuracy against synaptic operations: the firing-rate penalty swept, several seeds each.

    python benchmarks/bench_pareto.py --task digits --penalties 0 2 8 --seeds 0 1 2 \\
        --out pareto.jsonl --plot pareto.png
    python benchmarks/bench_pareto.py --table pareto.jsonl --plot pareto.png   # again

Every point is a whole ``spikeforge train`` run of the task's recipe with a
validation split carved from the training samples (``--validation``, default
0.1) and the best validation epoch kept (``--keep best``; ``--validation 0``:
the last epoch), then measured on the
test set through the golden model: fixed-point accuracy, synaptic operations
per sample, the dense RNN's multiply-accumulates, firing rate per spiking layer,
training time. The test set never chooses anything. Each finished run is
appended to ``--out`` as one JSON line (a long sweep can be stopped and
continued: points already in the file are not run again); the table gives
mean ± s.d. over the seeds of each recipe (hidden size, penalty, target, weight
bits, weight clip, epochs) and marks the recipes on the Pareto front (no other
recipe has both higher mean accuracy and fewer mean synaptic operations). ``--plot`` draws every run and
the recipes' means (matplotlib). Training needs torch (the ``train`` extra).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile


def point_key(row) -> tuple:
    return (row["task"], row["hidden"], row["rate_penalty"], row["rate_target"],
            row["weight_bits"], row.get("weight_clip"), row.get("epochs"), row.get("qat_epochs"),
            row.get("validation_samples", 1) > 0, row["seed"])


def network_name(task, hidden, penalty, target, bits, clip, epochs, seed) -> str:
    """The file ``--networks`` keeps a run's network in."""
    return (f"{task}-h{hidden}-p{penalty:g}-t{target:g}-{bits}b-q{clip or 'max'}-e{epochs}"
            f"-s{seed}.npz")


def run_point(task, hidden, penalty, target, bits, seed, *, clip=None, validation, epochs,
              qat_epochs, data, keep_in=None) -> dict:
    from spikeforge.golden.files import atomic_path
    from spikeforge.train.cli import train_task
    with tempfile.TemporaryDirectory() as tmp:
        net = os.path.join(tmp, "net.npz")
        report = train_task(task, net, seed=seed, epochs=epochs,
                            qat_epochs=qat_epochs, data=data, weight_bits=bits, weight_clip=clip,
                            validation=validation, keep="best" if validation else "last",
                            rate_penalty=penalty,
                            rate_target=target, hidden=hidden, progress=False)
        if keep_in:
            with atomic_path(os.path.join(keep_in, network_name(task, hidden, penalty, target,
                                                                bits, clip, report["epochs"], seed))) as path:
                shutil.copyfile(net, path)   # /tmp may be another file system
    return {"task": task, "hidden": hidden, "rate_penalty": penalty, "rate_target": target,
            "weight_bits": bits, "weight_clip": clip, "seed": seed, "epochs": report["epochs"],
            "qat_epochs": report["qat_epochs"], "kept_epoch": report["kept_epoch"],
            "validation_samples": report["validation_samples"],
            "valid_fixed_accuracy": report["valid_fixed_accuracy"],
            "float_accuracy": report["float_accuracy"],   # the float network, end of float phase
            "fixed_accuracy": report["fixed_accuracy"], "firing_rate": report["firing_rate"],
            "synaptic_ops_per_sample": report["synaptic_ops_per_sample"],
            "dense_macs_per_sample": report["dense_macs_per_sample"],
            "train_seconds": report["train_seconds"]}


def default_hidden(task) -> int:
    from spikeforge.train.trainer import RECIPES
    return RECIPES[task].layers[0].size


def recipes(rows) -> list[dict]:
    """Mean ± s.d. over the seeds of each recipe, and whether it is on the Pareto front."""
    groups = {}
    for r in rows:
        groups.setdefault(point_key(r)[:-1], []).append(r)     # a recipe: a point without its seed
    out = []
    for (task, hidden, penalty, target, bits, clip, epochs, qat, validated), runs in sorted(groups.items(),
                                                           key=lambda kv: str(kv[0])):
        acc = [r["fixed_accuracy"] for r in runs]
        ops = [r["synaptic_ops_per_sample"] for r in runs]
        sd = (lambda v: statistics.stdev(v) if len(v) > 1 else 0.0)
        out.append({"task": task, "hidden": hidden, "rate_penalty": penalty, "rate_target": target,
                    "weight_bits": bits, "weight_clip": clip, "epochs": epochs,
                    "qat_epochs": qat,
                    "kept": "best on validation" if validated else "last",
                    "seeds": sorted(r["seed"] for r in runs),
                    "accuracy_mean": statistics.fmean(acc), "accuracy_sd": sd(acc),
                    # fixed point minus float, where the runs recorded the float accuracy
                    "quantisation_loss_mean": (statistics.fmean(
                        r["float_accuracy"] - r["fixed_accuracy"] for r in runs)
                        if all(r.get("float_accuracy") is not None for r in runs) else None),
                    "synops_mean": statistics.fmean(ops), "synops_sd": sd(ops),
                    "dense_macs": runs[0]["dense_macs_per_sample"],
                    "firing_rate_mean": [statistics.fmean(r["firing_rate"][i] for r in runs)
                                         for i in range(len(runs[0]["firing_rate"]))],
                    "train_seconds_mean": statistics.fmean(r["train_seconds"] for r in runs)})
    def dominates(o, r):
        return (o["task"] == r["task"] and o["accuracy_mean"] >= r["accuracy_mean"]
                and o["synops_mean"] <= r["synops_mean"]
                and (o["accuracy_mean"] > r["accuracy_mean"] or o["synops_mean"] < r["synops_mean"]))
    for r in out:
        r["pareto"] = not any(dominates(o, r) for o in out)
    return out


def print_table(rows) -> None:
    print("| task | hidden | penalty | target | weight bits | weight clip | epochs | QAT epochs | "
          "epoch kept | seeds | fixed-point accuracy | synaptic ops per sample | dense MACs / synaptic ops | "
          "firing rate | train s | Pareto |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in recipes(rows):
        print(f"| {r['task']} | {r['hidden']} | {r['rate_penalty']:g} | {r['rate_target']:g} | "
              f"{r['weight_bits']} | {r['weight_clip'] or 'max'} | {r['epochs']} | "
              f"{r['qat_epochs']} | "
              f"{r['kept']} | {len(r['seeds'])} | "
              f"{100 * r['accuracy_mean']:.2f} ± "
              f"{100 * r['accuracy_sd']:.2f} % | {r['synops_mean']:,.0f} ± {r['synops_sd']:,.0f} | "
              f"{r['dense_macs'] / max(r['synops_mean'], 1):.1f}× | "
              f"{', '.join(f'{v:.3f}' for v in r['firing_rate_mean'])} | "
              f"{r['train_seconds_mean']:.0f} | {'yes' if r['pareto'] else ''} |")


def plot(rows, path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    for r in rows:
        ax.plot(r["synaptic_ops_per_sample"], 100 * r["fixed_accuracy"], ".", color="0.6")
    means = recipes(rows)
    for r in means:
        ax.errorbar(r["synops_mean"], 100 * r["accuracy_mean"], xerr=r["synops_sd"],
                    yerr=100 * r["accuracy_sd"], fmt="o" if r["pareto"] else "s",
                    color="C0" if r["pareto"] else "C1", capsize=3)
        ax.annotate(f"{r['rate_penalty']:g}/{r['weight_bits']}b"
                    + (f"/h{r['hidden']}" if r["hidden"] != default_hidden(r["task"]) else "")
                    + (f"/q{r['weight_clip']:g}" if r["weight_clip"] else ""),
                    (r["synops_mean"], 100 * r["accuracy_mean"]), textcoords="offset points",
                    xytext=(4, 4), fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("synaptic operations per sample (golden model, test set)")
    ax.set_ylabel("fixed-point test accuracy (%)")
    ax.set_title("accuracy vs operations (penalty/weight bits; mean ± s.d. over seeds)",
                 fontsize=9)
    fig.tight_layout()
    tmp = f"{path}.tmp.png"
    fig.savefig(tmp, dpi=120)
    os.replace(tmp, path)
    plt.close(fig)


class SweepFileError(ValueError):
    """A sweep file that does not hold runs; the message names the file and the line."""


def load_rows(path) -> list[dict]:
    """The runs saved in ``path`` (none if it does not exist); a line that is not a run's JSON
    object stops with one line naming the file and the line."""
    rows = []
    if path and os.path.exists(path):
        with open(path, errors="replace") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                    point_key(row), row["fixed_accuracy"], row["synaptic_ops_per_sample"]
                except (ValueError, KeyError, TypeError, AttributeError) as exc:
                    raise SweepFileError(f"{path}: line {number}: not a run "
                                         f"({exc.__class__.__name__}: {exc})") from None
                rows.append(row)
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n".join(__doc__.splitlines()[1:5]))
    p.add_argument("--task", choices=("digits", "ecg"), default="digits")
    p.add_argument("--penalties", type=float, nargs="+", default=[0.0, 2.0, 8.0])
    p.add_argument("--target", type=float, default=0.0, help="rate target (default 0)")
    p.add_argument("--hidden", type=int, help="neurons in the hidden layer (default: the "
                   "recipe's)")
    p.add_argument("--weight-bits", type=int, nargs="+", default=[8])
    p.add_argument("--weight-clip", type=float, help="quantile a layer's weight scale is set "
                   "by (default: the largest weight; see spikeforge train --weight-clip)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--validation", type=float, default=0.1,
                   help="held-out fraction of the training samples; the best epoch on it is "
                        "kept (0: no validation, the last epoch is kept)")
    p.add_argument("--epochs", type=int, help="float epochs (default: the recipe's)")
    p.add_argument("--qat-epochs", type=int, help="QAT epochs (default: the recipe's)")
    p.add_argument("--data", metavar="DIR", help="QTDB folder for ecg")
    p.add_argument("--out", metavar="JSONL", default="pareto.jsonl")
    p.add_argument("--networks", metavar="DIR", help="keep every run's fixed-point network "
                   "here (TASK-hHIDDEN-pPENALTY-tTARGET-BITSb-qCLIP-eEPOCHS-sSEED.npz)")
    p.add_argument("--table", metavar="JSONL", help="only print (and --plot) a saved sweep")
    p.add_argument("--plot", metavar="PNG")
    p.add_argument("--json", action="store_true", help="print the recipes' rows as JSON")
    args = p.parse_args(argv)
    try:
        rows = load_rows(args.table or args.out)
    except SweepFileError as exc:
        print(f"bench_pareto: error: {exc}", file=sys.stderr)
        return 2
    if args.networks and not args.table:
        try:
            os.makedirs(args.networks, exist_ok=True)
        except OSError as exc:
            print(f"bench_pareto: error: --networks {args.networks}: {exc.strerror}",
                  file=sys.stderr)
            return 2
    if not args.table:
        done = {point_key(r) for r in rows}
        from spikeforge.train.trainer import RECIPES
        qat = RECIPES[args.task].qat_epochs if args.qat_epochs is None else args.qat_epochs
        epochs = RECIPES[args.task].epochs if args.epochs is None else args.epochs
        hidden = default_hidden(args.task) if args.hidden is None else args.hidden
        for bits in args.weight_bits:
            for penalty in args.penalties:
                for seed in args.seeds:
                    # the fields of the run's row that name its point (one definition: point_key)
                    planned = {"task": args.task, "hidden": hidden, "rate_penalty": penalty,
                               "rate_target": args.target, "weight_bits": bits,
                               "weight_clip": args.weight_clip, "epochs": epochs,
                               "qat_epochs": qat, "validation_samples": int(args.validation > 0),
                               "seed": seed}
                    if point_key(planned) in done:
                        continue
                    print(f"training {args.task}: {hidden} hidden, penalty {penalty:g}, "
                          f"target {args.target:g}, "
                          f"{bits}-bit weights, clip {args.weight_clip or 'max'}, seed {seed} ...",
                          file=sys.stderr, flush=True)
                    row = run_point(args.task, hidden, penalty, args.target, bits, seed,
                                    clip=args.weight_clip,
                                    validation=args.validation, epochs=args.epochs,
                                    qat_epochs=args.qat_epochs, data=args.data,
                                    keep_in=args.networks)
                    print(f"  fixed point {100 * row['fixed_accuracy']:.2f} %, "
                          f"{row['synaptic_ops_per_sample']:,.0f} synaptic ops per sample, "
                          f"{row['train_seconds']:.0f} s", file=sys.stderr, flush=True)
                    with open(args.out, "a") as f:
                        f.write(json.dumps(row) + "\n")
                    rows.append(row)
    if args.json:
        print(json.dumps(recipes(rows), indent=1))
    else:
        print_table(rows)
    if args.plot and rows:
        plot(rows, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
