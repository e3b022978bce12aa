"""``spikeforge train TASK -o NET.npz``: train, fine-tune quantisation-aware, quantise,
measure through the golden model, and write the network and its held-out test set.

PyTorch is imported only when a training command runs; without it the command
fails with one line telling how to install it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

__all__ = ["add_train_parser", "cmd_train", "main", "train_task"]

TORCH_MISSING = "training needs PyTorch: pip install 'spikeforge[train]'"


def add_train_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``train`` on the ``spikeforge`` sub-command parsers; returns its parser."""
    from .data import TASKS
    p = subparsers.add_parser(
        "train", help="train a spiking network on a task and save it quantised",
        description="Train a spiking network, quantise it and measure it through the golden "
                    "model; writes the network and the held-out test set. ecg, digits: an "
                    "adaptive spiking recurrent network (float BPTT with a surrogate gradient, "
                    "then quantisation-aware fine-tuning). digits-ttfs, mnist-ttfs: a "
                    "feed-forward theta (QIF) network with time-to-first-spike input and "
                    "output, trained with exact spike-time gradients in continuous time "
                    "(Klos & Memmesheimer); also writes the float network (NET.float.npz).",
        epilog="examples:\n"
               "  spikeforge train digits -o digits.npz\n"
               "  spikeforge train digits-ttfs -o dt.npz --epochs 300 --steps 64 --json\n"
               "  spikeforge train mnist-ttfs --images train-images-idx3-ubyte.gz "
               "--labels train-labels-idx1-ubyte.gz \\\n"
               "      --test-images t10k-images-idx3-ubyte.gz "
               "--test-labels t10k-labels-idx1-ubyte.gz -o mnist.npz\n"
               "  spikeforge simulate dt.npz --input dt.test.npz",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("task", choices=TASKS, help="ecg: QTDB per-step segmentation; digits: "
                   "scikit-learn 8x8 digits presented row by row; digits-ttfs: the digits as "
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
                   help="no progress bars on stderr (epoch lines stay)")
    p.add_argument("--quiet", action="store_true", help="nothing on stderr but errors")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.set_defaults(func=cmd_train)
    return p


def _command_error():
    from spikeforge.cli import CommandError
    return CommandError


def _positive(name, value):
    if value is not None and value < (0 if name.endswith("epochs") else 1):
        raise _command_error()(f"--{name.replace('_', '-')} {value!r}: must be "
                               f"{'>= 0' if name.endswith('epochs') else '>= 1'}")


def task_data(task: str, folder=None):
    """(x_train, y_train, x_test, y_test); the digits training set is augmented."""
    from .data import load_digits_split, load_ecg
    if task == "digits":
        xtr, ytr = load_digits_split("train", augment=True)
        xte, yte = load_digits_split("test")
    else:
        xtr, ytr = load_ecg("train", folder)
        xte, yte = load_ecg("test", folder)
    return xtr, ytr, xte, yte


def train_task(task: str, output, *, epochs=None, qat_epochs=None, seed=0, test_out=None,
               checkpoint=None, resume=False, data=None, threads=1, lr=None, batch=None,
               weight_bits=None, progress=True, log=None) -> dict:
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
                        ("batch", batch)):
        _positive(name, value)
    if lr is not None and not lr > 0:
        raise _command_error()(f"--lr {lr!r}: must be > 0")
    out_dir = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(out_dir):
        raise _command_error()(f"{output}: folder {out_dir} does not exist")
    if resume and not os.path.isfile(checkpoint):
        raise _command_error()(f"--resume: no checkpoint at {checkpoint}")

    torch.set_num_threads(threads)
    recipe = RECIPES[task]
    changes = {k: v for k, v in (("epochs", epochs), ("qat_epochs", qat_epochs), ("lr", lr),
                                 ("batch", batch)) if v is not None}
    if weight_bits is not None:
        import dataclasses
        from spikeforge.golden import NetworkFileError
        try:
            changes["formats"] = dataclasses.replace(recipe.formats, weight_bits=weight_bits)
        except NetworkFileError as exc:
            raise _command_error()(f"--weight-bits: {exc}") from None
    recipe = recipe.replace(**changes)
    xtr, ytr, xte, yte = task_data(task, data)
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
            + "".join(f" {k} {100 * v:.2f} %" for k, v in rec.items() if k.startswith("test_")))

    trainer = Trainer(recipe, seed=seed, progress=progress, checkpoint=checkpoint, log=on_epoch)
    if resume:
        try:
            trainer.load_checkpoint(checkpoint)
        except (ValueError, RuntimeError, OSError) as exc:
            raise _command_error()(f"{checkpoint}: cannot resume: {exc}") from None
        if trainer.epoch >= recipe.epochs:  # float phase done before: measure it now
            measured["float_accuracy"] = evaluate_float(trainer.model, xte, yte)
    start = time.perf_counter()
    trainer.fit(xtr, ytr, eval_fn=on_phase_end, eval_every=0)
    seconds = time.perf_counter() - start

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
        "train_seconds": round(seconds, 1),
        "float_accuracy": measured.get("float_accuracy"),
        "float_accuracy_after_qat": float_export,
        "fixed_accuracy": fixed["accuracy"],
        "firing_rate": fixed["firing_rate"],
        "synaptic_ops_per_sample": fixed["synaptic_ops_per_sample"],
        "dense_macs_per_sample": fixed["dense_macs_per_sample"],
        "test_samples": int(len(xte)),
        "final_loss": history[-1]["loss"] if history else None,
    }
    return report


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

    report = train_task(args.task, args.output, epochs=args.epochs, qat_epochs=args.qat_epochs,
                        seed=args.seed, test_out=args.test_out, checkpoint=args.checkpoint,
                        resume=args.resume, data=args.data, threads=args.threads, lr=args.lr,
                        batch=args.batch, weight_bits=args.weight_bits, progress=progress, log=log)
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
        f"spikes     firing rate {', '.join(f'{r:.4f}' for r in report['firing_rate'])} "
        f"spikes/neuron/step",
        f"operations {report['synaptic_ops_per_sample']:,.0f} synaptic per sample "
        f"(dense RNN: {report['dense_macs_per_sample']:,.0f} MACs)",
        f"wrote      {report['network']}, {report['test_inputs']} (score: spikeforge simulate "
        f"{report['network']} --input {report['test_inputs']})"]))
    return 0


def main(argv=None) -> int:
    """Stand-alone entry point: ``python -m spikeforge.train.cli TASK -o NET.npz``."""
    from spikeforge.cli import EXIT_USAGE, _user_errors
    parser = argparse.ArgumentParser(prog="spikeforge")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_train_parser(sub)
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] != "train":
        argv = ["train"] + argv
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except _user_errors() as exc:
        print(f"spikeforge: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
