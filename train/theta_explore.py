"""Recipe exploration for digits-ttfs: train a variant of the recipe, log the validation
figures after every epoch (continuous model, and the quantised network through the golden
model), write the last epoch's float network. Never looks at the test set.

    python -m spikeforge.train.theta_explore OUT [--epochs N] [--decay EPOCHS] [--gamma G]
        [--shift] [--steps TICKS] [--qat-epochs N] [--seed S] ...

    python -m spikeforge.train.theta_explore --ticks FLOAT.npz

One JSON line per epoch on stdout (``v``/``vo``: continuous accuracy with pseudospike
decisions / ordinary spikes only; ``vq``/``vqo``: the same for the fixed-point network with
the no-spike rule; ``spk``: spikes per neuron per sample by layer), then ``OUT.float.npz``.
``--ticks`` measures a trained float network at 16..128 ticks: validation accuracy of the
discrete float and fixed-point models, and (label free) how many of the 1,348 training
samples' fixed-point decisions differ from the continuous model's.
docs/theta.md lists the variants run and what they measured.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from spikeforge.golden import quantize, simulate

from .data import load_digits_ttfs, split_validation
from .theta import THETA_RECIPES, ThetaTrainer, discrete_figures, evaluate_continuous


TICKS = (16, 24, 32, 48, 64, 128)


def tick_study(path) -> list[dict]:
    """Validation accuracy and training-sample agreement with the continuous model, per
    tick count, of the float network at ``path`` (re-exported with exact ticks)."""
    import numpy as np
    from spikeforge.golden import simulate_float
    from spikeforge.golden.reference import THETA_FORMATS, FloatNetwork, FloatTheta
    from .theta import ThetaNet
    fnet = FloatNetwork.load(path)
    th, recipe = fnet.theta, THETA_RECIPES["digits-ttfs"]
    x, _ = load_digits_ttfs("train", th.steps)
    with torch.no_grad():
        continuous = ThetaNet.from_float(fnet).run(x, th.tick, th.steps * th.tick).decisions()
    rows = []
    for steps in TICKS:
        theta = FloatTheta.exact(th.tau, th.i0, th.steps * th.tick, steps, THETA_FORMATS.decay_bits)
        net = FloatNetwork(n_inputs=fnet.n_inputs, layers=fnet.layers, decision=fnet.decision,
                           theta=theta)
        x, y = load_digits_ttfs("train", steps)
        _, _, xv, yv = split_validation(x, y, recipe.validation)
        fixed = quantize(net, THETA_FORMATS)
        rows.append({"steps": steps,
                     "valid_float": discrete_figures(simulate_float(net, xv), yv),
                     "valid_fixed": discrete_figures(simulate(fixed, xv), yv),
                     "train_disagree_fixed": int(np.sum(simulate(fixed, x).decisions
                                                        != continuous.numpy()))})
    return rows


def main(argv=None) -> int:
    import sys
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--ticks"]:
        torch.set_num_threads(1)
        for row in tick_study(argv[1]):
            print(json.dumps({"steps": row["steps"],
                              "valid_float": round(row["valid_float"]["accuracy"], 4),
                              "valid_float_ordinary": round(row["valid_float"]["ordinary_accuracy"], 4),
                              "valid_fixed": round(row["valid_fixed"]["accuracy"], 4),
                              "valid_fixed_ordinary": round(row["valid_fixed"]["ordinary_accuracy"], 4),
                              "train_disagree_fixed": row["train_disagree_fixed"]}))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", help="prefix of the files written (OUT.float.npz, OUT.ckpt)")
    ap.add_argument("--hidden", default="100,100", help="hidden layer sizes (default 100,100)")
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--qat-epochs", type=int, default=0)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=64)
    ap.add_argument("--optimizer", default="adabelief", choices=("adabelief", "adam"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lr", type=float, default=4e-3)
    ap.add_argument("--decay", type=float, default=100.0, help="lr decay time constant, epochs")
    ap.add_argument("--gamma", type=float, default=0.01)
    ap.add_argument("--flip", type=float, default=0.02)
    ap.add_argument("--w-scale", type=float, default=0.5)
    ap.add_argument("--shift", action="store_true", help="random one-pixel shift augmentation")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    recipe = THETA_RECIPES["digits-ttfs"].replace(
        hidden=tuple(int(v) for v in a.hidden.split(",")), epochs=a.epochs,
        qat_epochs=a.qat_epochs, batch=a.batch, steps=a.steps, optimizer=a.optimizer, lr=a.lr,
        lr_decay_epochs=a.decay, gamma=a.gamma, p_flip=a.flip, w_scale=a.w_scale,
        shift_shape=(8, 8) if a.shift else None)
    x, y = load_digits_ttfs("train", recipe.steps)
    xf, yf, xv, yv = split_validation(x, y, recipe.validation)

    def score(model):
        c = evaluate_continuous(model, xv, yv, trainer.tick, trainer.trial)
        q = quantize(model.export(recipe.steps, recipe.trial), recipe.formats)
        f = discrete_figures(simulate(q, xv), yv)
        return {"v": c["accuracy"], "vo": c["ordinary_accuracy"], "vq": f["accuracy"],
                "vqo": f["ordinary_accuracy"],
                "spk": [round(v, 3) for v in c["spikes_per_neuron"]],
                "score": f["accuracy"] + 1e-3 * c["accuracy"]}

    def log(rec):
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in rec.items()}),
              flush=True)

    trainer = ThetaTrainer(recipe, seed=a.seed, progress=False, log=log,
                           checkpoint=a.out + ".ckpt")
    start = time.perf_counter()
    trainer.fit(xf, yf, xv, yv, score_fn=score)
    print(json.dumps({"total_seconds": round(time.perf_counter() - start, 1)}))
    trainer.model.export(recipe.steps, recipe.trial).save(a.out + ".float.npz")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
