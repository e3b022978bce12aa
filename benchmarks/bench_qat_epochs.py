"""QAT epoch by epoch: a task's float network, then quantisation-aware epochs at several
learning rates, each measured on the test set in fixed point (golden model) after every epoch.

    python benchmarks/bench_qat_epochs.py --task digits --seed 0 --lrs 1e-3 1e-4 3e-5
    python benchmarks/bench_qat_epochs.py --task digits --lrs 1e-4 --weight-clip 0.999 --json

The float phase is the recipe's (trained once; every learning rate starts from the same
float network); the QAT phase is the recipe's length and cosine schedule with the given
starting rate. Training needs torch (the ``train`` extra).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n".join(__doc__.splitlines()[1:4]))
    p.add_argument("--task", choices=("digits", "ecg"), default="digits")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lrs", type=float, nargs="+", default=[1e-3, 1e-4, 3e-5])
    p.add_argument("--weight-clip", type=float, help="quantile the weight scale is set by")
    p.add_argument("--qat-epochs", type=int, help="QAT epochs (default: the recipe's)")
    p.add_argument("--data", metavar="DIR", help="QTDB folder for ecg")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    import torch
    from spikeforge.train.cli import task_data
    from spikeforge.train.trainer import RECIPES, Trainer, evaluate_fixed, quantize_model
    torch.set_num_threads(1)
    base = RECIPES[args.task].replace(weight_clip=args.weight_clip)
    if args.qat_epochs is not None:
        base = base.replace(qat_epochs=args.qat_epochs)
    xtr, ytr, _, _, xte, yte = task_data(args.task, args.data, 0.0)
    floated = Trainer(base.replace(qat_epochs=0), seed=args.seed, progress=False)
    floated.fit(xtr, ytr)

    def fixed(model):
        return evaluate_fixed(quantize_model(model, base.formats), xte, yte)["accuracy"]

    rows = []
    for lr in args.lrs:
        trainer = Trainer(base.replace(qat_lr=lr), seed=args.seed, progress=False)
        trainer.model = copy.deepcopy(floated.model)
        trainer.epoch = floated.epoch
        accuracies = [fixed(trainer.model)]
        trainer.fit(xtr, ytr, eval_every=1,
                    eval_fn=lambda model, quant: accuracies.append(fixed(model)) or {})
        rows.append({"task": args.task, "seed": args.seed, "qat_lr": lr,
                     "weight_clip": args.weight_clip, "fixed_accuracy_by_epoch": accuracies})
        if not args.json:
            print(f"{args.task} seed {args.seed}, QAT lr {lr:g}, clip {args.weight_clip or 'none'}: "
                  f"{100 * min(accuracies[1:]):.2f}–{100 * max(accuracies[1:]):.2f} % over the "
                  f"epochs, {100 * accuracies[-1]:.2f} % after the last (before QAT "
                  f"{100 * accuracies[0]:.2f} %)", flush=True)
    if args.json:
        print(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
