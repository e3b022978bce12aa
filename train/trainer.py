"""Training loop: float BPTT, then quantisation-aware fine-tuning, then the
fixed-point network measured through the golden model.

A ``Recipe`` names everything that decides a result (layers, learning rate and
schedule, batch, truncated-BPTT chunk, epochs); ``RECIPES`` holds the ones the
built-in networks were trained with. Runs are deterministic for a seed on one
machine (one thread, fixed batch order).
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from spikeforge.golden import Decision, Formats, NeuronKind, accuracy, quantize, simulate, simulate_float
from spikeforge.golden.reference import check_weight_clip

from .checkpoint import read_checkpoint, write_checkpoint
from .data import DIGITS_LEVELS, DIGITS_ROWS_PER_STEP
from .srnn import SRNN, LayerSpec

__all__ = ["Recipe", "RECIPES", "Trainer", "evaluate_fixed", "evaluate_float", "quantize_model",
           "float_reference_accuracy"]


@dataclass
class Recipe:
    """Everything that decides a training result."""

    name: str
    n_inputs: int
    layers: list[LayerSpec]
    decision: Decision
    skip_steps: int = 0
    lr: float = 1e-2
    lr_final: float = 5e-4        # cosine decay from lr to lr_final over the float epochs
    batch: int = 64
    chunk: int | None = None      # truncated BPTT: steps per gradient update (None: whole sequence)
    epochs: int = 100
    qat_epochs: int = 10
    qat_lr: float = 1e-3
    rate_penalty: float = 0.0     # loss += rate_penalty * mean over the spiking layers of
    rate_target: float = 0.0      # ... each layer's firing rate above rate_target
    weight_clip: float | None = None   # the |weight| quantile a layer's scale is set by (None: max)
    validation: float = 0.0       # fraction of the training samples held out for validation
    keep: str = "last"            # the epoch kept: 'last', or 'best' fixed-point validation accuracy
    formats: Formats = field(default_factory=Formats)

    def __post_init__(self):
        if self.keep not in ("last", "best"):
            raise ValueError(f"Recipe {self.name}: keep {self.keep!r} (allowed: 'last', 'best')")
        if self.keep == "best" and not self.validation:
            raise ValueError(f"Recipe {self.name}: keep 'best' needs a validation fraction > 0")
        check_weight_clip(self.weight_clip)     # before any training, as quantize would
        if not 0 <= self.validation < 1:
            raise ValueError(f"Recipe {self.name}: validation {self.validation!r} (allowed: "
                             f"0 <= fraction < 1)")
        if self.rate_penalty < 0 or not 0 <= self.rate_target <= 1:
            raise ValueError(f"Recipe {self.name}: rate_penalty {self.rate_penalty!r} must be "
                             f">= 0 and rate_target {self.rate_target!r} in [0, 1] spikes per "
                             f"neuron per step")

    def replace(self, **changes) -> "Recipe":
        return dataclasses.replace(self, **changes)


RECIPES = {
    "digits": Recipe(
        name="digits", n_inputs=DIGITS_ROWS_PER_STEP * 8 * len(DIGITS_LEVELS),
        layers=[LayerSpec(128, NeuronKind.ALIF, recurrent=True, tau_m=(8.0, 2.0),
                          tau_adp=(30.0, 5.0), b0=0.1, beta=1.8, name="hidden"),
                LayerSpec(10, NeuronKind.LI, recurrent=False, tau_m=(10.0, 2.0), name="readout")],
        decision=Decision.LAST, lr=1e-2, lr_final=2e-4, batch=64, epochs=150, qat_epochs=20,
        qat_lr=1e-3, rate_penalty=0.1, validation=0.1, keep="best"),
    "ecg": Recipe(
        # As the reference code: recurrent LIF hidden neurons (threshold b0, no
        # adaptation), spiking ALIF outputs whose membrane potential is the readout.
        # (ALIF hidden + LI readout plateaued at 84.2 % float; docs/training.md.)
        name="ecg", n_inputs=4,
        layers=[LayerSpec(36, NeuronKind.LIF, recurrent=True, tau_m=(20.0, 1.0),
                          b0=0.01, beta=0.0, name="hidden"),
                LayerSpec(6, NeuronKind.ALIF, recurrent=False, tau_m=(20.0, 1.0),
                          tau_adp=(100.0, 5.0), b0=0.01, beta=1.8, name="readout")],
        decision=Decision.PER_STEP, skip_steps=10, lr=1e-2, lr_final=3e-4, batch=64, chunk=326,
        epochs=110, qat_epochs=10, qat_lr=5e-4,
        # The knee of the rate-penalty front at 8 bits (docs/training.md): penalty 1
        # gives ~12x fewer synaptic ops than dense MACs (seeds 0, 1, 2: 82.36, 84.30, 83.23 %);
        # 0.25 gave ~6x (seed 0: 84.10 %).
        rate_penalty=1.0, validation=0.1, keep="best",
        formats=Formats(weight_bits=8)),
}


def _loss_and_correct(readout, y, decision: Decision, offset: int, skip: int):
    """Cross entropy of the readout and the number of correct decisions scored."""
    if decision is Decision.PER_STEP:
        steps = readout.shape[1]
        first = max(skip - offset, 0)
        if first >= steps:
            return None, 0, 0
        logits = readout[:, first:].reshape(-1, readout.shape[2])
        target = y[:, first:].reshape(-1)
        loss = F.cross_entropy(logits, target)
        correct = int((logits.argmax(1) == target).sum())
        return loss, correct, target.numel()
    logits = readout[:, -1]
    loss = F.cross_entropy(logits, y)
    return loss, int((logits.argmax(1) == y).sum()), y.numel()


class Trainer:
    """Trains one ``SRNN`` with a recipe; ``progress`` draws tqdm bars on stderr."""

    def __init__(self, recipe: Recipe, *, seed: int = 0, progress: bool = True,
                 checkpoint=None, log=None):
        self.recipe, self.seed, self.progress = recipe, seed, progress
        self.checkpoint, self.log = checkpoint, log or (lambda msg: None)
        torch.manual_seed(seed)
        self.model = SRNN(recipe.n_inputs, recipe.layers, seed=seed, decision=recipe.decision,
                          skip_steps=recipe.skip_steps, name=recipe.name,
                          weight_clip=recipe.weight_clip)
        self.history: list[dict] = []
        self.epoch = 0  # epochs done, float and QAT together
        self.best = None  # the best validation epoch: {"epoch", "score", "state"}

    # -- one epoch --

    def run_epoch(self, x, y, optimizer, *, quant: bool, desc: str) -> dict:
        r = self.recipe
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(len(x))
        xt = torch.as_tensor(np.asarray(x), dtype=torch.float64)
        yt = torch.as_tensor(np.asarray(y), dtype=torch.long)
        steps = xt.shape[1]
        chunk = r.chunk or steps
        batches = [order[i:i + r.batch] for i in range(0, len(order), r.batch)]
        bar = progress_bar(len(batches), desc, self.progress)
        total_loss, n_loss, correct, scored = 0.0, 0, 0, 0
        self.model.train()
        for idx in batches:
            xb, yb = xt[idx], yt[idx]
            state = None
            for start in range(0, steps, chunk):
                stop = min(start + chunk, steps)
                readout, counts, state = self.model(xb[:, start:stop], state,
                                                    quant=r.formats if quant else None)
                ylab = yb[:, start:stop] if r.decision is Decision.PER_STEP else yb
                if r.decision is not Decision.PER_STEP and stop < steps:
                    loss = None  # per-sample decisions: only the last chunk is scored
                else:
                    loss, c, n = _loss_and_correct(readout, ylab, r.decision, start, r.skip_steps)
                    correct += c
                    scored += n
                if loss is not None and r.rate_penalty:
                    loss = loss + r.rate_penalty * self._rate(counts, stop - start)
                if loss is not None:
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    self.model.clamp_()
                    total_loss += loss.item()
                    n_loss += 1
                state = [tuple(t.detach() for t in s) for s in state]
            if bar is not None:
                bar.set_postfix(loss=f"{total_loss / max(n_loss, 1):.4f}",
                                acc=f"{100 * correct / max(scored, 1):.1f}%")
                bar.update(1)
        if bar is not None:
            bar.close()
        self.epoch += 1
        return {"epoch": self.epoch, "phase": "qat" if quant else "float",
                "loss": total_loss / max(n_loss, 1), "train_accuracy": correct / max(scored, 1)}

    def _rate(self, counts, steps):
        """The firing-rate penalty's argument: the mean over the spiking layers of each one's
        rate (spikes/neuron/step) in this chunk above ``rate_target`` (no target: the rate)."""
        target = self.recipe.rate_target
        sizes = [(i, l.size) for i, l in enumerate(self.model.layers) if l.kind.spiking]
        rates = [counts[:, i].mean() / (steps * n) for i, n in sizes]
        if target:
            rates = [torch.clamp(r - target, min=0.0) for r in rates]
        return sum(rates) / max(len(sizes), 1)

    def fit(self, x, y, x_valid=None, y_valid=None, *, epochs: int | None = None,
            qat_epochs: int | None = None, eval_fn=None, eval_every: int = 0) -> list[dict]:
        """Float epochs (cosine-decayed Adam), then QAT epochs; returns per-epoch records.

        With a validation set (not empty), every epoch's network is measured on it in fixed point
        (the QAT twin, equal to the golden model; ``valid_fixed_accuracy``) and the best
        epoch's parameters are kept in ``self.best`` (``use_best`` loads them)."""
        r = self.recipe
        epochs = r.epochs if epochs is None else epochs
        qat_epochs = r.qat_epochs if qat_epochs is None else qat_epochs
        phases = [("float", epochs, r.lr, r.lr_final), ("qat", qat_epochs, r.qat_lr, r.qat_lr * 0.1)]
        done = self.epoch
        for phase, n, lr0, lr1 in phases:
            if n <= 0:
                continue
            skip = min(done, n)  # resumed runs skip the epochs already done
            done -= skip
            optimizer = torch.optim.Adam(self.model.parameters(), lr=lr0)
            if getattr(self, "_optimizer_state", None) and skip < n and phase == self._optimizer_phase:
                optimizer.load_state_dict(self._optimizer_state)
                self._optimizer_state = None
            for e in range(skip, n):
                lr = lr1 + 0.5 * (lr0 - lr1) * (1 + math.cos(math.pi * e / max(n - 1, 1)))
                for g in optimizer.param_groups:
                    g["lr"] = lr
                start = time.perf_counter()
                rec = self.run_epoch(x, y, optimizer, quant=phase == "qat",
                                     desc=f"{r.name} {phase} {e + 1}/{n}")
                rec.update(lr=lr, seconds=time.perf_counter() - start)
                if x_valid is not None and len(x_valid):
                    self._validate(rec, x_valid, y_valid)
                if eval_fn is not None and eval_every and (e + 1) % eval_every == 0 or \
                        eval_fn is not None and e == n - 1:
                    rec.update(eval_fn(self.model, phase == "qat"))
                self.history.append(rec)
                self.log(rec)
                if self.checkpoint:
                    self.save_checkpoint(self.checkpoint, optimizer, phase)
        return self.history

    def _validate(self, rec, x_valid, y_valid):
        """Measure the epoch on the validation set; a tie goes to the later epoch (a small
        validation set ties often, and the later epoch is further down the schedule)."""
        score = evaluate_float(self.model, x_valid, y_valid, quant=self.recipe.formats)
        rec["valid_fixed_accuracy"] = score
        if self.best is None or score >= self.best["score"]:
            self.best = {"epoch": int(self.epoch), "score": float(score),
                         "state": {k: v.detach().clone() for k, v in self.model.state_dict().items()}}

    def use_best(self):
        """Load the parameters of the epoch with the best validation score (if validated)."""
        if self.best is not None:
            self.model.load_state_dict(self.best["state"])

    # -- checkpoints --

    def save_checkpoint(self, path, optimizer=None, phase="float"):
        """Write the checkpoint atomically: tensors and plain data only, so that
        ``load_checkpoint`` can read it with ``torch.load(weights_only=True)``."""
        best = None if self.best is None else dict(self.best)
        ckpt = {"model": self.model.state_dict(), "epoch": int(self.epoch), "seed": int(self.seed),
                "recipe": self.recipe.name, "history": json.dumps(self.history, default=float),
                "phase": phase, "optimizer": None if optimizer is None else optimizer.state_dict(),
                "best": best}
        write_checkpoint(ckpt, path)

    def load_checkpoint(self, path):
        """Restore a checkpoint written by ``save_checkpoint``.

        Only tensors and plain data are unpickled (``weights_only=True``): a
        checkpoint is user input, and a full unpickler would run any code it holds.
        """
        ckpt, epoch, history = read_checkpoint(path, self.recipe.name)
        phase = ckpt.get("phase")
        if phase not in ("float", "qat"):
            raise ValueError(f"{path}: phase: {phase!r} (allowed: 'float', 'qat')")
        model = ckpt.get("model")
        if not isinstance(model, dict):
            raise ValueError(f"{path}: model: not a state dict")
        self.model.load_state_dict(model)
        optimizer = ckpt.get("optimizer")
        if optimizer is not None and not isinstance(optimizer, dict):
            raise ValueError(f"{path}: optimizer: not an optimizer state dict")
        best = ckpt.get("best")
        if best is not None and (not isinstance(best, dict) or set(best) != {"epoch", "score", "state"}
                                 or not isinstance(best["state"], dict)):
            raise ValueError(f"{path}: best: not a best-epoch record")
        self.epoch, self.history, self.best = epoch, history, best
        self._optimizer_state, self._optimizer_phase = optimizer, phase


def progress_bar(total, desc, enabled):
    """A tqdm bar on stderr for ``total`` batches, or None (disabled, stderr not a terminal
    (a redirected log gets the epoch lines, not thousands of bar redraws), or no tqdm)."""
    if not enabled or not sys.stderr.isatty():
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=desc, file=sys.stderr, leave=False, dynamic_ncols=True)


# -- measurement --

def evaluate_float(model: SRNN, x, y, *, quant: Formats | None = None, batch: int = 256) -> float:
    """Accuracy of the torch model (float, or integer-faithful with ``quant``)."""
    model.eval()
    correct = scored = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            readout, _, _ = model(np.asarray(x[i:i + batch]), quant=quant)
            yb = torch.as_tensor(np.asarray(y[i:i + batch]), dtype=torch.long)
            _, c, n = _loss_and_correct(readout, yb, model.decision, 0, model.skip_steps)
            correct, scored = correct + c, scored + n
    return correct / max(scored, 1)


def evaluate_fixed(network, x, y) -> dict:
    """Golden-model figures of a fixed-point network on (x, y)."""
    result = simulate(network, x)
    samples, steps, _ = np.asarray(x).shape
    spiking = [(i, l) for i, l in enumerate(network.layers) if l.kind.spiking]
    dense = steps * network.synapses()
    return {
        "accuracy": accuracy(network, result.decisions, y),
        "firing_rate": [float(result.layer_spikes[:, i].sum()) / (samples * steps * l.size)
                        for i, l in spiking],
        "synaptic_ops_per_sample": float(result.synops.mean()),
        "dense_macs_per_sample": float(dense),
        "input_events_per_sample": float(result.input_events.mean()),
    }


def float_reference_accuracy(float_net, x, y, network) -> float:
    """Accuracy of the exported float network through ``golden.simulate_float``."""
    return accuracy(network, simulate_float(float_net, x).decisions, y)


def quantize_model(model: SRNN, formats: Formats):
    """The fixed-point network the model's integer twin runs (its ``weight_clip`` too)."""
    return quantize(model.export(), formats, weight_clip=model.weight_clip)
