"""``spikeforge train TASK -o NET.npz``: train, fine-tune quantisation-aware, quantise,
measure through the golden model, and write the network and its held-out test set.

PyTorch is imported only when a training command runs; without it the command
fails with one line telling how to install it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time

__all__ = ["add_train_parser", "cmd_train", "main", "train_task"]

TORCH_MISSING = "training needs PyTorch: pip install 'spikeforge[train]'"


def add_train_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``train`` on the ``spikeforge`` sub-command parsers; returns its parser."""
    from .data import TASKS
    from spikeforge.cli import add_command
    p = add_command(
        subparsers, "train", cmd_train, "train a spiking network on a task and save it quantised",
        ["spikeforge train digits -o digits.npz",
         "spikeforge train ecg -o ecg.npz --weight-bits 8 --keep best --rate-penalty 2",
         "spikeforge train digits-ttfs -o dt.npz --epochs 300 --steps 64 --json",
         "spikeforge train mnist-ttfs --images train-images-idx3-ubyte.gz "
         "--labels train-labels-idx1-ubyte.gz \\\n"
         "      --test-images t10k-images-idx3-ubyte.gz "
         "--test-labels t10k-labels-idx1-ubyte.gz -o mnist.npz",
         "spikeforge simulate dt.npz --input dt.test.npz"],
        description="Train a spiking network, quantise it and measure it through the golden "
                    "model; writes the network and the held-out test set. ecg, digits: an "
                    "adaptive spiking recurrent network (float BPTT with a surrogate gradient, "
                    "then quantisation-aware fine-tuning). digits-ttfs, mnist-ttfs: a "
                    "feed-forward theta (QIF) network with time-to-first-spike input and "
                    "output, trained with exact spike-time gradients in continuous time "
                    "(Klos & Memmesheimer); also writes the float network (NET.float.npz).")
    p.add_argument("task", choices=TASKS, help="ecg: QTDB per-step segmentation; digits: "
                   "scikit-learn 8x8 digits, the thermometer-coded image in one step, then 4 "
                   "silent steps; digits-ttfs: the digits as "
                   "theta network, one spike per bright pixel at t = 0; mnist-ttfs: MNIST IDX "
                   "files you bring, 784-100-100-10 theta network")
    p.add_argument("-o", "--output", required=True, metavar="NET.npz", help="network file to write")
    p.add_argument("--epochs", type=int, metavar="N", help="float epochs (default: the recipe's)")
    p.add_argument("--qat-epochs", type=int, metavar="N",
                   help="quantisation-aware fine-tuning epochs (default: the recipe's)")
    p.add_argument("--seed", type=int, default=0, help="seed of initialisation and batch order")
    p.add_argument("--test-out", metavar="FILE",
                   help="test-set input file (default: beside the network, NET.test.npz)")
    p.add_argument("--checkpoint", metavar="FILE",
                   help="checkpoint written after every epoch (default: NET.ckpt)")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint")
    p.add_argument("--data", metavar="DIR", help="QTDB folder for ecg (default: $SPIKEFORGE_QTDB "
                   "or ../shared/data/qtdb)")
    p.add_argument("--threads", type=int, default=1, help="PyTorch CPU threads (default 1)")
    p.add_argument("--lr", type=float, help="initial learning rate (default: the recipe's)")
    p.add_argument("--batch", type=int, help="batch size (default: the recipe's)")
    p.add_argument("--weight-bits", type=int, metavar="BITS",
                   help="signed weight width of the quantised network (default: the recipe's)")
    p.add_argument("--weight-clip", type=float, metavar="QUANTILE",
                   help="ecg, digits: set each layer's weight scale by this quantile of its "
                        "|weights| (e.g. 0.999; the few larger ones saturate) instead of the "
                        "largest, in QAT and in the written network (default: the recipe's)")
    p.add_argument("--validation", type=float, metavar="FRACTION",
                   help="ecg, digits: fraction of the training samples held out to validate "
                        "every epoch in fixed point (default: the recipe's; "
                        f"{DEFAULT_VALIDATION} with --keep best)")
    p.add_argument("--keep", choices=("last", "best"),
                   help="ecg, digits: the epoch whose network is written: the last, or the best "
                        "on validation (default: the recipe's; last with --validation 0)")
    p.add_argument("--hidden", type=int, metavar="N",
                   help="ecg, digits: neurons in the hidden layer (default: the recipe's: "
                        "ecg 36, digits 128)")
    p.add_argument("--rate-penalty", type=float, metavar="WEIGHT",
                   help="ecg, digits: loss += WEIGHT x mean over the spiking layers of each "
                        "layer's firing rate above --rate-target (default: the recipe's)")
    p.add_argument("--rate-target", type=float, metavar="RATE",
                   help="ecg, digits: spikes per neuron per step a layer may fire without "
                        "penalty (default: the recipe's)")
    p.add_argument("--steps", type=int, metavar="TICKS",
                   help="theta tasks: ticks per trial of the discrete network (default: the "
                        "recipe's); the trial stays T = 2")
    p.add_argument("--float-out", metavar="FILE",
                   help="theta tasks: the float network (default: NET.float.npz)")
    p.add_argument("--images", metavar="IDX", help="mnist-ttfs: training images (IDX, may be .gz)")
    p.add_argument("--labels", metavar="IDX", help="mnist-ttfs: training labels (IDX)")
    p.add_argument("--test-images", metavar="IDX",
                   help="mnist-ttfs: test images (default: hold out a seeded sixth of --images)")
    p.add_argument("--test-labels", metavar="IDX", help="mnist-ttfs: test labels")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bars on stderr (epoch lines stay; bars are drawn only "
                        "when stderr is a terminal)")
    return p


#: ``--keep best`` without ``--validation`` on a recipe without one holds out this fraction.
DEFAULT_VALIDATION = 0.1


def _command_error():
    from spikeforge.cli import CommandError
    return CommandError


def _positive(name, value):
    if value is not None and value < (0 if name.endswith("epochs") else 1):
        raise _command_error()(f"--{name.replace('_', '-')} {value!r}: must be "
                               f"{'>= 0' if name.endswith('epochs') else '>= 1'}")


def task_data(task: str, folder=None, validation: float = 0.0):
    """(x_fit, y_fit, x_valid, y_valid, x_test, y_test): the training samples less the
    ``validation`` fraction held out (``train.data.split_validation``; the digits before
    their training copies are augmented), that fraction, and the test set."""
    from .data import load_digits_split, load_ecg, split_validation
    if task == "digits":
        xfit, yfit = load_digits_split("fit", augment=True, validation=validation)
        xval, yval = load_digits_split("valid", validation=validation)
        xte, yte = load_digits_split("test")
    else:
        xfit, yfit, xval, yval = split_validation(*load_ecg("train", folder), validation)
        xte, yte = load_ecg("test", folder)
    return xfit, yfit, xval, yval, xte, yte


def _check_outputs(*outputs) -> None:
    """Refuse, before hours of training, an output that cannot be written (a folder, a
    missing or read-only parent, a device) or two outputs that are the same file."""
    from spikeforge.golden.files import check_output
    seen = {}
    for path, what in outputs:
        check_output(path, what)
        key = os.path.abspath(path)
        if key in seen:
            raise _command_error()(f"{path}: given as both the {seen[key]} and the {what}")
        seen[key] = what


def train_task(task: str, output, *, epochs=None, qat_epochs=None, seed=0, test_out=None,
               checkpoint=None, resume=False, data=None, threads=1, lr=None, batch=None,
               weight_bits=None, weight_clip=None, validation=None, keep=None,
               rate_penalty=None, rate_target=None, hidden=None, progress=True,
               log=None) -> dict:
    """Train ``task`` and write ``output`` (network) and ``test_out`` (test inputs); returns the report."""
    try:
        import torch
    except ImportError:
        raise _command_error()(TORCH_MISSING) from None
    from spikeforge.golden.inputs import save_inputs
    from .trainer import RECIPES, Trainer, evaluate_fixed, evaluate_float

    output = os.fspath(output)
    base = output[:-4] if output.endswith(".npz") else output
    test_out = test_out or base + ".test.npz"
    checkpoint = checkpoint or base + ".ckpt"
    for name, value in (("epochs", epochs), ("qat_epochs", qat_epochs), ("threads", threads),
                        ("batch", batch), ("hidden", hidden)):
        _positive(name, value)
    if lr is not None and not lr > 0:
        raise _command_error()(f"--lr {lr!r}: must be > 0")
    _check_outputs((output, "network"), (test_out, "test inputs"), (checkpoint, "checkpoint"))
    if resume and not os.path.isfile(checkpoint):
        raise _command_error()(f"--resume: no checkpoint at {checkpoint}")

    torch.set_num_threads(threads)
    recipe = RECIPES[task]
    changes = {k: v for k, v in (("epochs", epochs), ("qat_epochs", qat_epochs), ("lr", lr),
                                 ("batch", batch), ("validation", validation), ("keep", keep),
                                 ("weight_clip", weight_clip),
                                 ("rate_penalty", rate_penalty), ("rate_target", rate_target))
               if v is not None}
    if hidden is not None:
        changes["layers"] = [dataclasses.replace(recipe.layers[0], size=hidden), *recipe.layers[1:]]
    if keep == "best" and validation is None and not recipe.validation:
        changes["validation"] = DEFAULT_VALIDATION
    if validation == 0 and keep is None:
        changes["keep"] = "last"   # no validation set: nothing to pick the best epoch on
    if weight_bits is not None:
        from spikeforge.golden import NetworkFileError
        try:
            changes["formats"] = dataclasses.replace(recipe.formats, weight_bits=weight_bits)
        except NetworkFileError as exc:
            raise _command_error()(f"--weight-bits: {exc}") from None
    try:
        recipe = recipe.replace(**changes)
    except ValueError as exc:    # the recipe's own check names the field and what is allowed
        flags = {"validation": "--validation", "keep": "--keep", "rate_penalty": "--rate-penalty",
                 "rate_target": "--rate-target", "weight_clip": "--weight-clip"}
        named = [flag for field, flag in flags.items() if field in str(exc)]
        raise _command_error()(f"{'/'.join(named) or 'train'}: {exc}") from None
    xtr, ytr, xval, yval, xte, yte = task_data(task, data, recipe.validation)
    if xtr.shape[2] != recipe.n_inputs:
        raise _command_error()(f"{task}: data have {xtr.shape[2]} channels, the recipe expects "
                               f"{recipe.n_inputs}")
    say = log or (lambda msg: None)
    measured = {}

    def on_phase_end(model, quant):
        key = "qat_twin_accuracy" if quant else "float_accuracy"
        measured[key] = evaluate_float(model, xte, yte, quant=recipe.formats if quant else None)
        return {"test_" + key: measured[key]}

    def on_epoch(rec):
        say(f"epoch {rec['epoch']:4d} {rec['phase']:5s} loss {rec['loss']:.4f} train "
            f"{100 * rec['train_accuracy']:.2f} % lr {rec['lr']:.2e} {rec['seconds']:.1f} s"
            + "".join(f" {k} {100 * v:.2f} %" for k, v in rec.items()
                      if k.startswith(("test_", "valid_"))))

    trainer = Trainer(recipe, seed=seed, progress=progress, checkpoint=checkpoint, log=on_epoch)
    if resume:
        try:
            trainer.load_checkpoint(checkpoint)
        except (ValueError, RuntimeError, OSError) as exc:
            raise _command_error()(f"{checkpoint}: cannot resume: {exc}") from None
        if trainer.epoch >= recipe.epochs:  # float phase done before: measure it now
            measured["float_accuracy"] = evaluate_float(trainer.model, xte, yte)
    start = time.perf_counter()
    trainer.fit(xtr, ytr, xval, yval, eval_fn=on_phase_end, eval_every=0)
    seconds = time.perf_counter() - start
    if recipe.keep == "best":
        trainer.use_best()

    from .trainer import quantize_model
    network = quantize_model(trainer.model, recipe.formats)
    network.save(output)
    save_inputs(test_out, xte, yte)
    fixed = evaluate_fixed(network, xte, yte)
    float_net = trainer.model.export()
    from spikeforge.golden import accuracy, simulate_float
    float_export = accuracy(network, simulate_float(float_net, xte).decisions, yte)
    history = trainer.history
    report = {
        "task": task, "network": output, "test_inputs": test_out, "checkpoint": checkpoint,
        "seed": seed, "summary": network.summary(), "formats": network.formats.to_json(),
        "epochs": recipe.epochs, "qat_epochs": recipe.qat_epochs,
        "hidden": recipe.layers[0].size,
        "train_seconds": round(seconds, 1),
        "float_accuracy": measured.get("float_accuracy"),
        "float_accuracy_after_qat": float_export,
        "fixed_accuracy": fixed["accuracy"],
        "firing_rate": fixed["firing_rate"],
        "synaptic_ops_per_sample": fixed["synaptic_ops_per_sample"],
        "dense_macs_per_sample": fixed["dense_macs_per_sample"],
        "test_samples": int(len(xte)),
        "final_loss": history[-1]["loss"] if history else None,
        "rate_penalty": recipe.rate_penalty, "rate_target": recipe.rate_target,
        "weight_clip": recipe.weight_clip,
        "validation_samples": int(len(xval)), "keep": recipe.keep,
        "kept_epoch": (trainer.best["epoch"] if recipe.keep == "best" else trainer.epoch),
        "valid_fixed_accuracy": (trainer.best["score"] if recipe.keep == "best" else
                                 history[-1].get("valid_fixed_accuracy") if history else None),
    }
    return report


#: Ticks per trial a theta task accepts (the trial T = 2 is fixed; a tick must turn the
#: phase by less than an eighth of the period, and the golden run grows with the ticks).
THETA_STEPS = (3, 1024)
#: mnist-ttfs without --test-images: this seeded fraction of --images is the test set.
MNIST_TEST_FRACTION = 1 / 6


def theta_task_data(task: str, steps: int, *, seed_split: int = 0, images=None, labels=None,
                    test_images=None, test_labels=None):
    """(x_train, y_train, x_test, y_test) of a theta task, TTFS-coded with ``steps`` ticks
    (``steps=1``: tick 0 alone, which holds every event; ``theta.pad_ticks`` adds the rest)."""
    from .data import load_digits_ttfs, load_mnist_ttfs
    if task == "digits-ttfs":
        xtr, ytr = load_digits_ttfs("train", steps)
        xte, yte = load_digits_ttfs("test", steps)
        return xtr, ytr, xte, yte
    x, y = load_mnist_ttfs(images, labels, steps)
    if test_images is not None:
        xte, yte = load_mnist_ttfs(test_images, test_labels, steps)
        if xte.shape[2] != x.shape[2]:
            raise _command_error()(f"{test_images}: {xte.shape[2]} pixels per image, "
                                   f"{images} has {x.shape[2]}")
        return x, y, xte, yte
    import numpy as np
    held = np.zeros(len(y), bool)
    held[np.random.default_rng(seed_split).permutation(len(y))[:int(round(MNIST_TEST_FRACTION
                                                                          * len(y)))]] = True
    return x[~held], y[~held], x[held], y[held]


def train_theta_task(task: str, output, *, epochs=None, qat_epochs=None, steps=None, seed=0,
                     test_out=None,
                     float_out=None, checkpoint=None, resume=False, threads=1, lr=None,
                     batch=None, weight_bits=None, images=None, labels=None, test_images=None,
                     test_labels=None, progress=True, log=None) -> dict:
    """Train a theta task (``spikeforge.train.theta``); write the quantised network, the
    float network and the test set; returns the report."""
    error = _command_error()
    if task == "mnist-ttfs":
        if images is None or labels is None:
            raise error("mnist-ttfs: give the training IDX files with --images and --labels")
        if (test_images is None) != (test_labels is None):
            raise error("--test-images and --test-labels: give both or neither")
    elif any(v is not None for v in (images, labels, test_images, test_labels)):
        raise error(f"--images/--labels/--test-images/--test-labels: only for mnist-ttfs, "
                    f"not {task}")
    if steps is not None and not THETA_STEPS[0] <= steps <= THETA_STEPS[1]:
        raise error(f"--steps {steps!r}: must be an integer in {THETA_STEPS[0]}..{THETA_STEPS[1]} "
                    f"(ticks per trial of T = 2)")
    for name, value in (("epochs", epochs), ("qat_epochs", qat_epochs), ("threads", threads),
                        ("batch", batch)):
        _positive(name, value)
    if lr is not None and not lr > 0:
        raise error(f"--lr {lr!r}: must be > 0")
    try:
        import torch
    except ImportError:
        raise error(TORCH_MISSING) from None
    output = os.fspath(output)
    base = output[:-4] if output.endswith(".npz") else output
    test_out = test_out or base + ".test.npz"
    float_out = float_out or base + ".float.npz"
    checkpoint = checkpoint or base + ".ckpt"
    _check_outputs((output, "network"), (test_out, "test inputs"), (float_out, "float network"),
                   (checkpoint, "checkpoint"))
    if resume and not os.path.isfile(checkpoint):
        raise error(f"--resume: no checkpoint at {checkpoint}")

    import dataclasses
    from spikeforge.golden import NetworkFileError, quantize, simulate
    from spikeforge.golden.inputs import save_inputs
    from .data import split_validation
    from .theta import THETA_RECIPES, ThetaTrainer, evaluate_theta, measure_discrete, pad_ticks

    torch.set_num_threads(threads)
    recipe = THETA_RECIPES[task]
    changes = {k: v for k, v in (("epochs", epochs), ("qat_epochs", qat_epochs), ("steps", steps),
                                 ("lr", lr), ("batch", batch)) if v is not None}
    if weight_bits is not None:
        try:
            changes["formats"] = dataclasses.replace(recipe.formats, weight_bits=weight_bits)
        except NetworkFileError as exc:
            raise error(f"--weight-bits: {exc}") from None
    recipe = recipe.replace(**changes)
    # tick 0 alone (all TTFS events are there): MNIST at 32 ticks would not fit in memory
    xtr, ytr, xte, yte = theta_task_data(task, 1, images=images, labels=labels,
                                         test_images=test_images, test_labels=test_labels)
    if xtr.shape[2] != recipe.n_inputs:
        recipe = recipe.replace(n_inputs=int(xtr.shape[2]))   # MNIST-style files of another size
    xfit, yfit, xval, yval = split_validation(xtr, ytr, recipe.validation)
    say = log or (lambda msg: None)

    def score(model):
        """Validation figures after an epoch; with ``recipe.keep == 'best'`` the epoch kept is
        the one whose quantised network scores best through the golden model (ties: the
        continuous model's accuracy), else the last."""
        from .theta import evaluate_continuous
        cont = evaluate_continuous(model, xval, yval, trainer.tick, trainer.trial)
        net = quantize(model.export(recipe.steps, recipe.trial,
                                    decay_bits=recipe.formats.decay_bits), recipe.formats)
        fixed = measure_discrete(lambda xs: simulate(net, xs), xval, yval, recipe.steps)
        return {"valid_accuracy": cont["accuracy"],
                "valid_ordinary_accuracy": cont["ordinary_accuracy"],
                "valid_fixed_accuracy": fixed["accuracy"],
                "valid_fixed_ordinary_accuracy": fixed["ordinary_accuracy"],
                "score": fixed["accuracy"] + 1e-3 * cont["accuracy"]}

    def on_epoch(rec):
        say(f"epoch {rec['epoch']:4d} loss {rec['loss']:.4f} train {100 * rec['train_accuracy']:.2f} % "
            f"lr {rec['lr']:.2e} {rec['seconds']:.1f} s valid {100 * rec['valid_accuracy']:.2f} % "
            f"(ordinary spikes {100 * rec['valid_ordinary_accuracy']:.2f} %, fixed point "
            f"{100 * rec['valid_fixed_accuracy']:.2f} %)")

    trainer = ThetaTrainer(recipe, seed=seed, progress=progress, checkpoint=checkpoint,
                           log=on_epoch)
    if resume:
        try:
            trainer.load_checkpoint(checkpoint)
        except ValueError as exc:
            raise error(f"{checkpoint}: cannot resume: {exc}") from None
    start = time.perf_counter()
    trainer.fit(xfit, yfit, xval, yval, score_fn=score)
    seconds = time.perf_counter() - start
    trained = [h["seconds"] for h in trainer.history]
    kept = trainer.epoch
    if recipe.keep == "best" and trainer.best is not None:
        kept = trainer.best["epoch"]
        trainer.use_best()
    valid = next((h for h in trainer.history if h["epoch"] == kept), {})

    float_net = trainer.model.export(recipe.steps, recipe.trial,
                                     decay_bits=recipe.formats.decay_bits, name=task)
    network = quantize(float_net, recipe.formats)
    network.save(output)
    float_net.save(float_out)
    save_inputs(test_out, pad_ticks(xte, recipe.steps), yte)
    test = evaluate_theta(float_net, xte, yte, network=network)
    th = float_net.theta
    synapses = network.synapses()
    report = {
        "task": task, "network": output, "float_network": float_out, "test_inputs": test_out,
        "checkpoint": checkpoint, "seed": seed, "summary": network.summary(),
        "formats": network.formats.to_json(), "recipe": recipe.to_json(),
        "steps": th.steps, "tick": th.tick, "trial": th.steps * th.tick,
        "epochs": recipe.epochs, "qat_epochs": recipe.qat_epochs, "kept_epoch": kept,
        "valid_accuracy": valid.get("valid_accuracy"),
        "valid_fixed_accuracy": valid.get("valid_fixed_accuracy"),
        "valid_fixed_ordinary_accuracy": valid.get("valid_fixed_ordinary_accuracy"),
        "train_seconds": round(seconds, 1),
        "seconds_per_epoch": round(sum(trained) / max(len(trained), 1), 2),
        "valid_samples": int(len(yval)), "test_samples": int(len(yte)),
        "continuous_accuracy": test["continuous"]["accuracy"],
        "continuous_ordinary_accuracy": test["continuous"]["ordinary_accuracy"],
        "float_accuracy": test["float"]["accuracy"],
        "float_ordinary_accuracy": test["float"]["ordinary_accuracy"],
        "fixed_accuracy": test["fixed"]["accuracy"],
        "fixed_ordinary_accuracy": test["fixed"]["ordinary_accuracy"],
        "fixed_output_spiked": test["fixed"]["output_spiked"],
        "spikes_per_neuron": test["fixed"]["spikes_per_neuron"],
        "synaptic_ops_per_sample": test["fixed"]["synaptic_ops_per_sample"],
        "dense_macs_per_sample": float(synapses),
        "final_loss": trainer.history[-1]["loss"] if trainer.history else None,
    }
    return report


def print_theta_report(report) -> None:
    pct = lambda v: "-" if v is None else f"{100 * v:.2f} %"
    print("\n".join([
        f"network    {report['network']}: {report['summary']}, {report['steps']} ticks of "
        f"{report['tick']:.5f} (T = {report['trial']:.4f})",
        f"trained    {report['epochs']} float + {report['qat_epochs']} quantisation-aware epochs "
        f"(kept epoch {report['kept_epoch']}), seed "
        f"{report['seed']}, {report['train_seconds']:.0f} s ({report['seconds_per_epoch']:.2f} "
        f"s/epoch)",
        f"validation fixed-point {pct(report['valid_fixed_accuracy'])} (ordinary spikes only "
        f"{pct(report['valid_fixed_ordinary_accuracy'])}), {report['valid_samples']} samples "
        f"held out of the training set",
        f"accuracy   fixed-point (golden) {pct(report['fixed_accuracy'])} (ordinary spikes only "
        f"{pct(report['fixed_ordinary_accuracy'])}); float discrete "
        f"{pct(report['float_accuracy'])} ({pct(report['float_ordinary_accuracy'])}); "
        f"continuous {pct(report['continuous_accuracy'])} "
        f"({pct(report['continuous_ordinary_accuracy'])}); {report['test_samples']} test samples",
        f"spikes     {', '.join(f'{s:.3f}' for s in report['spikes_per_neuron'])} per neuron "
        f"per sample (fixed point, by layer)",
        f"operations {report['synaptic_ops_per_sample']:,.0f} synaptic per sample (dense: "
        f"{report['dense_macs_per_sample']:,.0f} MACs)",
        f"wrote      {report['network']}, {report['float_network']}, {report['test_inputs']} "
        f"(score: spikeforge simulate {report['network']} --input {report['test_inputs']})"]))


def cmd_train(args) -> int:
    # stdout carries the result (text or --json); progress goes to stderr unless --quiet
    progress = not args.no_progress and not args.quiet

    def log(msg):  # one line per epoch on stderr
        if not args.quiet:
            try:
                from tqdm import tqdm
                tqdm.write(msg, file=sys.stderr)
            except ImportError:
                print(msg, file=sys.stderr)

    from .data import THETA_TASKS
    if args.task in THETA_TASKS:
        for name in ("data", "validation", "keep", "rate_penalty", "rate_target", "weight_clip",
                     "hidden"):
            if getattr(args, name) is not None:
                raise _command_error()(f"--{name.replace('_', '-')}: not used by {args.task}")
        report = train_theta_task(
            args.task, args.output, epochs=args.epochs, qat_epochs=args.qat_epochs,
            steps=args.steps, seed=args.seed,
            test_out=args.test_out, float_out=args.float_out, checkpoint=args.checkpoint,
            resume=args.resume, threads=args.threads, lr=args.lr, batch=args.batch,
            weight_bits=args.weight_bits, images=args.images, labels=args.labels,
            test_images=args.test_images, test_labels=args.test_labels, progress=progress,
            log=log)
        if args.json:
            print(json.dumps(report, indent=1))
        else:
            print_theta_report(report)
        return 0
    for name in ("steps", "float_out", "images", "labels", "test_images", "test_labels"):
        if getattr(args, name) is not None:
            raise _command_error()(f"--{name.replace('_', '-')}: only for the theta tasks "
                                   f"(digits-ttfs, mnist-ttfs), not {args.task}")
    report = train_task(args.task, args.output, epochs=args.epochs, qat_epochs=args.qat_epochs,
                        seed=args.seed, test_out=args.test_out, checkpoint=args.checkpoint,
                        resume=args.resume, data=args.data, threads=args.threads, lr=args.lr,
                        batch=args.batch, weight_bits=args.weight_bits,
                        weight_clip=args.weight_clip, validation=args.validation, keep=args.keep,
                        rate_penalty=args.rate_penalty, rate_target=args.rate_target,
                        hidden=args.hidden, progress=progress, log=log)
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    pct = lambda v: "-" if v is None else f"{100 * v:.2f} %"
    scope = "per step" if args.task == "ecg" else "per sample"
    print("\n".join([
        f"network    {report['network']}: {report['summary']}",
        f"trained    {report['epochs']} float + {report['qat_epochs']} QAT epochs, seed "
        f"{report['seed']}, {report['train_seconds']:.0f} s",
        f"accuracy   float {pct(report['float_accuracy'])}, fixed-point (golden) "
        f"{pct(report['fixed_accuracy'])} ({scope}, {report['test_samples']} test samples)",
        *([f"validated  {report['validation_samples']} training samples held out; kept epoch "
           f"{report['kept_epoch']} ({report['keep']}), fixed point {pct(report['valid_fixed_accuracy'])}"]
          if report["validation_samples"] else []),
        f"spikes     firing rate {', '.join(f'{r:.4f}' for r in report['firing_rate'])} "
        f"spikes/neuron/step",
        f"operations {report['synaptic_ops_per_sample']:,.0f} synaptic per sample "
        f"(dense RNN: {report['dense_macs_per_sample']:,.0f} MACs)",
        f"wrote      {report['network']}, {report['test_inputs']} (score: spikeforge simulate "
        f"{report['network']} --input {report['test_inputs']})"]))
    return 0


def main(argv=None) -> int:
    """Stand-alone entry point: ``python -m spikeforge.train.cli TASK -o NET.npz``."""
    from spikeforge.cli import _Parser, run_command
    parser = _Parser(prog="spikeforge")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    add_train_parser(sub)
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] != "train":
        argv = ["train"] + argv
    return run_command(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
