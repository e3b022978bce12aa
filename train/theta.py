"""Feed-forward theta (QIF) networks trained with exact spike-time gradients.

The method is that of Klos & Memmesheimer (PRL 134, 027301, 2025; the
reference code is ``chklos/spikegd``): the network is simulated event by event
in *continuous* time, and autodiff through that simulation gives the exact
gradient of every spike time, with no surrogate.

Each neuron is a phase ``phi`` in ``[0, Theta)`` that advances at rate 1; a
pulse of weight ``w`` (V units) maps it by ``H(phi, w) = Phi(Phi^-1(phi) + w)``
(``golden.theta.pulse_float`` in NumPy); when ``phi`` reaches ``Theta`` the
neuron spikes and restarts at 0. One event of ``ThetaNet.run``, batched over
samples::

    next event = the next input tick that carries events (all of its events
                 summed into one pulse, as the discrete model sums a tick's
                 pulses), or the network neuron with the largest phase
                 reaching Theta, whichever is first; none before T: stop at T
    all phases advance to the event; H with the source's weights moves its
    targets (inputs: the first layer; a neuron of layer l: layer l + 1); a
    spiking neuron restarts at 0

Pseudodynamics after the trial end T (for neurons that did not spike, so that a
gradient can make them spike): pseudo-rates layer by layer, input rate 0,
``rate_l = H(phi_T,l, rate_(l-1) @ W_l) / Theta``, and the output pseudospike
time ``T + Theta - H(phi_T,out, rate @ W_out)``. An output's time ``t_out`` is
its first ordinary spike, else its pseudospike; the loss is
``-log softmax(-t_out)[y] + gamma (exp(t_y / T) - 1)``.

The trained float network exports as a ``golden.FloatNetwork`` (decision
``ttfs``) whose tick is exactly representable by the fixed-point rotation
(``FloatTheta.exact``); training uses the trial ``T = steps * tick`` so that the
continuous and the discrete models run the same trial. Input events arrive at
their tick's start, ``k * tick``: TTFS-coded pixels at tick 0, t = 0.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from spikeforge.golden import Decision, FloatLayer, FloatNetwork, Formats, NeuronKind
from spikeforge.golden.reference import THETA_FORMATS, FloatTheta
from spikeforge.golden.theta import free_period, theta_r

from .checkpoint import read_checkpoint, write_checkpoint
from .trainer import progress_bar

__all__ = ["ThetaNeuron", "ThetaNet", "ThetaRun", "ttfs_loss", "ThetaRecipe", "THETA_RECIPES",
           "ThetaTrainer", "AdaBelief", "shift_ttfs", "SHIFTS", "evaluate_continuous", "flip_ttfs", "theta_of",
           "exact_trial", "discrete_figures", "fake_quantize",
           "pad_ticks", "measure_discrete",
           "evaluate_theta"]

#: The paper's neuron: tau = 6 / pi, I0 = 5/4, so r = 1 and Theta = 6.
PAPER_TAU = 6 / math.pi
PAPER_I0 = 1.25


@dataclass(frozen=True)
class ThetaNeuron:
    """The theta neuron: ``tau dV/dt = V (V - 1) + I0 + tau sum w delta(t - t_i)``.

    ``eps``: phases within ``eps`` of 0 or Theta (V near -+inf) are left alone by
    pulses, as the reference code does, so ``tan`` is never evaluated at its pole
    and no gradient becomes infinite or NaN.
    """

    tau: float = PAPER_TAU
    i0: float = PAPER_I0
    eps: float = 1e-6

    def __post_init__(self):
        if not self.tau > 0:
            raise ValueError(f"tau {self.tau!r}: must be > 0")
        if not self.i0 > 0.25:
            raise ValueError(f"i0 {self.i0!r}: must be > 1/4 (an oscillating neuron)")

    @property
    def r(self) -> float:
        return theta_r(self.i0)

    @property
    def period(self) -> float:
        """Theta, the free period and the spike threshold in phase."""
        return free_period(self.tau, self.i0)

    def pulse(self, phi, w):
        """``H(phi, w)``: the phase after a pulse of ``w`` (V units), differentiable."""
        theta, k = self.period, self.r / self.tau
        inside = (phi > self.eps) & (phi < theta - self.eps)
        safe = torch.where(inside, phi, torch.full_like(phi, theta / 2))
        x = torch.tan(safe * k - math.pi / 2) + w / self.r
        return torch.where(inside, (torch.atan(x) + math.pi / 2) / k, phi)


def theta_of(net: FloatNetwork) -> ThetaNeuron:
    return ThetaNeuron(tau=net.theta.tau, i0=net.theta.i0)


@dataclass
class ThetaRun:
    """What one continuous-time run produced, per sample (torch tensors)."""

    t_out: torch.Tensor           # (B, outputs) first ordinary output spike, else pseudospike
    t_pseudo: torch.Tensor        # (B, outputs) pseudospike times
    first: list[torch.Tensor]     # per layer (B, size): first spike time, inf if none
    counts: list[torch.Tensor]    # per layer (B, size): ordinary spikes in the trial
    phi_end: list[torch.Tensor]   # per layer (B, size): phases at T
    events: int                   # loop iterations (the batch's most events)

    @property
    def out_spiked(self) -> torch.Tensor:
        return torch.isfinite(self.first[-1])

    def decisions(self) -> torch.Tensor:
        """argmin of ``t_out`` (ties: lowest index)."""
        return torch.argmin(self.t_out, dim=1)


class ThetaNet(nn.Module):
    """A feed-forward theta network: per layer the weights ``(n_in, size)`` (V units, as
    ``FloatLayer.w_in``) and the initial phases ``phi0`` (trainable, kept in [0, Theta])."""

    def __init__(self, n_inputs: int, sizes, neuron: ThetaNeuron = ThetaNeuron(), *,
                 w_scale: float = 0.5, seed: int = 0, name: str = "theta"):
        super().__init__()
        sizes = [int(s) for s in sizes]
        if n_inputs < 1 or not sizes or min(sizes) < 1:
            raise ValueError(f"layer sizes {n_inputs!r} -> {sizes!r}: must be positive")
        self.n_inputs, self.sizes, self.neuron, self.name = int(n_inputs), sizes, neuron, name
        self.quant: Formats | None = None    # set: runs use the quantised weights (QAT)
        gen = torch.Generator().manual_seed(seed)
        self.weights = nn.ParameterList()
        self.phi0 = nn.ParameterList()
        rows = self.n_inputs
        for size in sizes:
            width = w_scale / math.sqrt(rows)   # as the reference: uniform +-w_scale / sqrt(fan-in)
            w = (torch.rand(rows, size, generator=gen, dtype=torch.float64) * 2 - 1) * width
            self.weights.append(nn.Parameter(w))
            self.phi0.append(nn.Parameter(torch.full((size,), neuron.period / 2,
                                                     dtype=torch.float64)))
            rows = size

    def layer_weights(self) -> list:
        """The weights a run uses: the float ones, or with ``self.quant`` set (quantisation-
        aware training) those ``golden.quantize`` makes of them, straight-through."""
        if self.quant is None:
            return list(self.weights)
        return [fake_quantize(w, self.neuron.r, self.quant) for w in self.weights]

    @torch.no_grad()
    def clamp_(self):
        for phi0 in self.phi0:
            phi0.clamp_(0.0, self.neuron.period)

    # -- simulation --

    def run(self, x, tick: float, trial: float, *, max_events: int | None = None) -> ThetaRun:
        """Simulate events ``x`` (B, steps, n_in) in continuous time, inputs of tick k at
        ``k * tick``, up to ``trial``; see the module docstring."""
        neuron, theta = self.neuron, self.neuron.period
        x = torch.as_tensor(np.asarray(x) if not torch.is_tensor(x) else x, dtype=torch.float64)
        if x.ndim != 3 or x.shape[2] != self.n_inputs:
            raise ValueError(f"x: shape {tuple(x.shape)}; expected (samples, steps, "
                             f"{self.n_inputs})")
        batch, steps, _ = x.shape
        sizes, n = self.sizes, sum(self.sizes)
        weights = self.layer_weights()
        offsets = np.cumsum([0] + sizes)
        layer_of = torch.as_tensor(np.repeat(np.arange(len(sizes)), sizes))
        rows = torch.arange(batch)

        # input events: the ticks that carry any, in order, as summed pulses to layer 0
        active = x.abs().sum(2) > 0                                           # (B, steps)
        n_events = int(active.sum(1).max()) if steps else 0
        order = torch.argsort((~active).to(torch.int8), dim=1, stable=True)[:, :n_events]
        has = active.gather(1, order)
        in_time = torch.where(has, order.to(torch.float64) * tick, torch.inf)
        in_time = torch.cat([in_time, torch.full((batch, 1), torch.inf, dtype=torch.float64)], 1)
        pulses = x[rows[:, None], order] @ weights[0]                         # (B, E, size0)
        pulses = torch.cat([F.pad(pulses, (0, n - sizes[0])),
                            torch.zeros(batch, 1, n, dtype=torch.float64)], 1)

        # network weights as one block matrix: row = source neuron, column = target
        blocks = []
        for l, size in enumerate(sizes):
            if l + 1 < len(sizes):
                w = weights[l + 1]
                blocks.append(F.pad(w, (int(offsets[l + 1]), n - int(offsets[l + 2]))))
            else:
                blocks.append(torch.zeros(size, n, dtype=torch.float64))
        w_net = torch.cat(blocks, 0)                                          # (N, N)

        phi = torch.cat(list(self.phi0)).expand(batch, n)
        t = torch.zeros(batch, dtype=torch.float64)
        ptr = torch.zeros(batch, dtype=torch.long)
        first = torch.full((batch, n), torch.inf, dtype=torch.float64)
        counts = torch.zeros(batch, n, dtype=torch.long)
        cols = torch.arange(n)
        done = torch.zeros(batch, dtype=torch.bool)
        limit = max_events or (n_events + 64 * n + 16)
        events = 0
        while not bool(done.all()):
            if events >= limit:
                raise RuntimeError(f"theta simulation: more than {limit} events in one trial")
            events += 1
            phi_max, j = phi.max(1)
            dt_net = theta - phi_max
            dt_in = in_time.gather(1, ptr[:, None])[:, 0] - t
            use_in = dt_in <= dt_net            # a tick's pulses come before its flow
            dt = torch.where(use_in, dt_in, dt_net)
            remaining = trial - t
            in_trial = (dt < remaining) & ~done
            dt = torch.where(in_trial, dt, remaining)
            t = t + dt
            phi = phi + dt[:, None]
            spike_net = in_trial & ~use_in
            spike_in = in_trial & use_in
            w = torch.where(use_in[:, None], pulses[rows, ptr], w_net[j])
            target = torch.where(use_in, 0, layer_of[j] + 1)
            hit = (layer_of[None, :] == target[:, None]) & in_trial[:, None]
            phi = torch.where(hit, neuron.pulse(phi, w), phi)
            fired = (cols[None, :] == j[:, None]) & spike_net[:, None]
            first = torch.where(fired & torch.isinf(first), t[:, None], first)
            phi = torch.where(fired, torch.zeros_like(phi), phi)
            counts = counts + fired
            ptr = ptr + spike_in
            done = done | ~in_trial

        split = lambda v: [v[:, int(offsets[l]):int(offsets[l + 1])] for l in range(len(sizes))]
        phi_end = split(phi)
        rate = None
        for l in range(len(sizes) - 1):   # pseudo-rates; the inputs' is 0
            drive = torch.zeros_like(phi_end[l]) if rate is None else rate @ weights[l]
            rate = neuron.pulse(phi_end[l], drive) / theta
        drive = torch.zeros_like(phi_end[-1]) if rate is None else rate @ weights[-1]
        t_pseudo = trial + theta - neuron.pulse(phi_end[-1], drive)
        first_out = split(first)[-1]
        t_out = torch.where(torch.isfinite(first_out), first_out, t_pseudo)
        return ThetaRun(t_out=t_out, t_pseudo=t_pseudo, first=split(first), counts=split(counts),
                        phi_end=phi_end, events=events)

    # -- export / import --

    def export(self, steps: int, trial: float, *, decay_bits: int = 16,
               name: str | None = None) -> FloatNetwork:
        """The float network with ``steps`` ticks of about ``trial / steps`` (exact in
        fixed point); train it with ``trial = steps * theta.tick`` (``exact_trial``)."""
        theta = FloatTheta.exact(self.neuron.tau, self.neuron.i0, trial, steps, decay_bits)
        layers = []
        for l, (w, phi0) in enumerate(zip(self.weights, self.phi0)):
            last = l == len(self.sizes) - 1
            layers.append(FloatLayer(
                kind=NeuronKind.THETA, w_in=w.detach().numpy().copy(),
                phi0=np.clip(phi0.detach().numpy(), 0.0, self.neuron.period),
                name="output" if last else f"hidden{l}"))
        return FloatNetwork(n_inputs=self.n_inputs, layers=layers, decision=Decision.TTFS,
                            name=name or self.name, theta=theta)

    @classmethod
    def from_float(cls, net: FloatNetwork) -> "ThetaNet":
        """A torch twin of a feed-forward float theta network (to run it in continuous time)."""
        if net.theta is None or any(l.kind is not NeuronKind.THETA or l.w_rec is not None
                                    for l in net.layers):
            raise ValueError(f"{net.name}: not a feed-forward theta network")
        model = cls(net.n_inputs, [l.size for l in net.layers], theta_of(net), name=net.name)
        with torch.no_grad():
            for l, layer in enumerate(net.layers):
                model.weights[l].copy_(torch.as_tensor(layer.w_in, dtype=torch.float64))
                phi0 = net.theta.period / 2 if layer.phi0 is None else layer.phi0
                model.phi0[l].copy_(torch.as_tensor(np.broadcast_to(phi0, (layer.size,)).copy(),
                                                    dtype=torch.float64))
        return model


def fake_quantize(w, r: float, formats: Formats):
    """``w`` (V units) on the grid ``golden.quantize`` puts a theta layer's weights on: one
    power-of-two scale per layer, the largest that fits ``formats.weight``, rounded half to
    even and saturated; the gradient passes straight through the rounding."""
    largest = float(w.detach().abs().max()) / r
    shift = 30 if largest == 0 else min(int(math.floor(math.log2(formats.weight.max / largest))), 30)
    if shift < 0:
        raise ValueError(f"weights up to {largest * r:.3g} do not fit weight_bits="
                         f"{formats.weight_bits}")
    one = float(1 << shift)
    raw = w / r * one
    rounded = torch.clamp(torch.round(raw), formats.weight.min, formats.weight.max)
    return (raw + (rounded - raw).detach()) * (r / one)


def exact_trial(neuron: ThetaNeuron, trial: float, steps: int, decay_bits: int = 16) -> tuple:
    """``(tick, steps * tick)``: the exactly representable tick near ``trial / steps``."""
    tick = FloatTheta.exact(neuron.tau, neuron.i0, trial, steps, decay_bits).tick
    return tick, steps * tick


def ttfs_loss(t_out, y, trial: float, gamma: float):
    """Cross entropy of ``softmax(-t_out)`` plus ``gamma (exp(t_y / T) - 1)`` (mean over B)."""
    y = torch.as_tensor(y, dtype=torch.long)
    t_y = t_out.gather(1, y[:, None])[:, 0]
    return (F.cross_entropy(-t_out, y, reduction="none")
            + gamma * (torch.exp(t_y / trial) - 1)).mean()


#: One-pixel moves of the shift augmentation (and no move).
SHIFTS = ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1))


def shift_ttfs(x: np.ndarray, shape: tuple, rng: np.random.Generator) -> np.ndarray:
    """Shift augmentation: every sample's channels, as an image of ``shape``, moved by one
    of ``SHIFTS`` drawn at random (zero filled); events keep their ticks."""
    n, steps, _ = x.shape
    images = np.asarray(x).reshape(n, steps, *shape)
    out = np.zeros_like(images)
    rows, cols = shape
    moves = rng.integers(0, len(SHIFTS), n)
    for m, (dy, dx) in enumerate(SHIFTS):
        sel = moves == m
        src = images[sel]
        dst = np.zeros_like(src)
        dst[:, :, max(dy, 0):rows + min(dy, 0), max(dx, 0):cols + min(dx, 0)] = \
            src[:, :, max(-dy, 0):rows + min(-dy, 0), max(-dx, 0):cols + min(-dx, 0)]
        out[sel] = dst
    return out.reshape(x.shape)


def flip_ttfs(x: np.ndarray, p: float, rng: np.random.Generator) -> np.ndarray:
    """Input flips (augmentation): each channel, with probability ``p``, swaps spiking and
    silent; a channel flipped on spikes at tick 0 (an inverted TTFS pixel)."""
    spikes = np.asarray(x).any(axis=1)
    flip = rng.random(spikes.shape) < p
    out = np.where(flip[:, None, :], 0, x)
    out[:, 0, :] = np.where(flip & ~spikes, 1, out[:, 0, :])
    return out


class AdaBelief(torch.optim.Optimizer):
    """AdaBelief (Zhuang et al. 2020) as optax's ``adabelief`` (the reference's optimizer):
    Adam with the second moment of ``g - m`` instead of ``g``."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-16, eps_root=1e-16):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, eps_root=eps_root))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            b1, b2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = torch.zeros((), dtype=torch.float64)
                    state["m"] = torch.zeros_like(p)
                    state["s"] = torch.zeros_like(p)
                state["step"] += 1
                k = float(state["step"])
                m, s, g = state["m"], state["s"], p.grad
                m.mul_(b1).add_(g, alpha=1 - b1)
                s.mul_(b2).addcmul_(g - m, g - m, value=1 - b2).add_(group["eps_root"])
                m_hat = m / (1 - b1 ** k)
                s_hat = s / (1 - b2 ** k)
                p.sub_(group["lr"] * m_hat / (s_hat.sqrt() + group["eps"]))


# -- recipes and training --

@dataclass
class ThetaRecipe:
    """Everything that decides a theta training result."""

    name: str
    n_inputs: int
    hidden: tuple = (100,)
    n_outputs: int = 10
    tau: float = PAPER_TAU
    i0: float = PAPER_I0
    trial: float = 2.0            # T, nominal (exact: steps * tick)
    steps: int = 64               # ticks of the exported discrete network
    lr: float = 4e-3
    lr_decay_epochs: float = 100.0   # lr * exp(-epoch / lr_decay_epochs), per batch
    batch: int = 32
    epochs: int = 200
    gamma: float = 1e-2
    p_flip: float = 0.02
    shift_shape: tuple | None = None   # input channels as an image: random one-pixel shifts
    w_scale: float = 0.5
    optimizer: str = "adabelief"   # or 'adam'
    qat_epochs: int = 0           # then quantisation-aware epochs (weights on the golden grid)
    qat_lr: float = 2e-4          # their learning rate (constant)
    validation: float = 0.15      # fraction of the training samples held out
    keep: str = "last"            # the epoch the command keeps: 'last', or 'best' on validation
    formats: Formats = field(default_factory=lambda: THETA_FORMATS)

    def replace(self, **changes) -> "ThetaRecipe":
        return dataclasses.replace(self, **changes)

    @property
    def neuron(self) -> ThetaNeuron:
        return ThetaNeuron(tau=self.tau, i0=self.i0)

    def to_json(self) -> dict:
        out = dataclasses.asdict(self)
        out["hidden"] = list(self.hidden)
        out["shift_shape"] = None if self.shift_shape is None else list(self.shift_shape)
        out["formats"] = self.formats.to_json()
        return out


THETA_RECIPES = {
    # 64-100-100-10; 400 epochs with the learning rate decayed e-fold every 133 (to 2e-4),
    # then 30 quantisation-aware epochs at 2e-4, the last epoch kept; 32 ticks (docs/theta.md:
    # each choice measured on the validation split)
    "digits-ttfs": ThetaRecipe(name="digits-ttfs", n_inputs=64, hidden=(100, 100), steps=32,
                               epochs=400, lr_decay_epochs=133.0, qat_epochs=30),
    # the paper's MNIST setup: 784-100-100-10, pixel >= 128 spikes at t = 0, T = 2
    "mnist-ttfs": ThetaRecipe(name="mnist-ttfs", n_inputs=784, hidden=(100, 100), steps=32,
                              batch=100, epochs=100, validation=1 / 12),
}


class ThetaTrainer:
    """Trains one ``ThetaNet``; keeps the parameters of the epoch with the best validation
    score (``fit``). Deterministic for a seed on one
    thread (seeded initialisation, batch order and flips)."""

    def __init__(self, recipe: ThetaRecipe, *, seed: int = 0, progress: bool = True,
                 checkpoint=None, log=None):
        self.recipe, self.seed, self.progress = recipe, seed, progress
        self.checkpoint, self.log = checkpoint, log or (lambda rec: None)
        self.model = ThetaNet(recipe.n_inputs, list(recipe.hidden) + [recipe.n_outputs],
                              recipe.neuron, w_scale=recipe.w_scale, seed=seed, name=recipe.name)
        self.tick, self.trial = exact_trial(recipe.neuron, recipe.trial, recipe.steps,
                                            recipe.formats.decay_bits)
        if recipe.optimizer == "adabelief":
            self.optimizer = AdaBelief(self.model.parameters(), lr=recipe.lr)
        elif recipe.optimizer == "adam":
            self.optimizer = torch.optim.Adam(self.model.parameters(), lr=recipe.lr)
        else:
            raise ValueError(f"optimizer {recipe.optimizer!r}: expected 'adabelief' or 'adam'")
        self.history: list[dict] = []
        self.epoch = 0
        self.best: dict | None = None       # {"epoch", "score", "state"}

    def lr_at(self, batches_done: float, batches_per_epoch: int) -> float:
        r = self.recipe
        return r.lr * math.exp(-batches_done / (r.lr_decay_epochs * batches_per_epoch))

    @property
    def total_epochs(self) -> int:
        return self.recipe.epochs + self.recipe.qat_epochs

    def run_epoch(self, x, y) -> dict:
        r = self.recipe
        qat = self.epoch >= r.epochs
        self.model.quant = r.formats if qat else None
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(len(x))
        batches = [order[i:i + r.batch] for i in range(0, len(order), r.batch)]
        bar = progress_bar(len(batches), f"{r.name} {'qat' if qat else 'float'} {self.epoch + 1}/"
                   f"{self.total_epochs}", self.progress)
        total, correct, spiked = 0.0, 0, 0
        self.model.train()
        for b, idx in enumerate(batches):
            xb = x[idx]
            if r.shift_shape:
                xb = shift_ttfs(xb, r.shift_shape, rng)
            if r.p_flip:
                xb = flip_ttfs(xb, r.p_flip, rng)
            for g in self.optimizer.param_groups:
                g["lr"] = r.qat_lr if qat else self.lr_at(self.epoch * len(batches) + b,
                                                           len(batches))
            run = self.model.run(xb, self.tick, self.trial)
            loss = ttfs_loss(run.t_out, y[idx], self.trial, r.gamma)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            self.model.clamp_()
            total += loss.item() * len(idx)
            yb = torch.as_tensor(y[idx])
            correct += int((run.decisions() == yb).sum())
            spiked += int(run.out_spiked.any(1).sum())
            if bar is not None:
                bar.set_postfix(loss=f"{loss.item():.4f}")
                bar.update(1)
        if bar is not None:
            bar.close()
        self.epoch += 1
        return {"epoch": self.epoch, "phase": "qat" if qat else "float",
                "loss": total / len(x), "train_accuracy": correct / len(x),
                "train_output_spiked": spiked / len(x),
                "lr": self.optimizer.param_groups[0]["lr"]}

    def fit(self, x, y, x_valid=None, y_valid=None, *, epochs: int | None = None,
            score_fn=None) -> list[dict]:
        """Train up to ``epochs`` (default the recipe's float and QAT epochs; from epoch
        ``recipe.epochs`` on, runs use the quantised weights). With a validation set, measure it
        after every epoch and keep the parameters of the best-scoring epoch in
        ``self.best``: ``score_fn(model)`` returns a dict of validation figures with a
        ``score`` (default: the continuous model's accuracy)."""
        epochs = self.total_epochs if epochs is None else epochs
        x, y = np.asarray(x), np.asarray(y)
        if score_fn is None and x_valid is not None:
            def score_fn(model):
                figures = evaluate_continuous(model, x_valid, y_valid, self.tick, self.trial)
                return {"valid_accuracy": figures["accuracy"],
                        "valid_ordinary_accuracy": figures["ordinary_accuracy"],
                        "score": figures["accuracy"]}
        while self.epoch < epochs:
            start = time.perf_counter()
            rec = self.run_epoch(x, y)
            rec["seconds"] = time.perf_counter() - start
            if score_fn is not None:
                rec.update(score_fn(self.model))
                if self.best is None or rec["score"] > self.best["score"]:
                    self.best = {"epoch": self.epoch, "score": float(rec["score"]),
                                 "state": {k: v.detach().clone()
                                           for k, v in self.model.state_dict().items()}}
            self.history.append(rec)
            self.log(rec)
            if self.checkpoint:
                self.save_checkpoint(self.checkpoint)
        return self.history

    def use_best(self):
        """Load the best validation epoch's parameters (if a validation set was given)."""
        if self.best is not None:
            self.model.load_state_dict(self.best["state"])
            self.model.quant = self.recipe.formats if self.best["epoch"] > self.recipe.epochs \
                else None

    # -- checkpoints: tensors and plain data only (torch.load(weights_only=True)) --

    def save_checkpoint(self, path):
        best = None if self.best is None else {
            "epoch": int(self.best["epoch"]), "score": float(self.best["score"]),
            "state": self.best["state"]}
        ckpt = {"model": self.model.state_dict(), "epoch": int(self.epoch), "seed": int(self.seed),
                "recipe": self.recipe.name, "history": json.dumps(self.history, default=float),
                "optimizer": self.optimizer.state_dict(), "best": best}
        write_checkpoint(ckpt, path)

    def load_checkpoint(self, path):
        ckpt, epoch, history = read_checkpoint(path, self.recipe.name)
        best = ckpt.get("best")
        if best is not None and (not isinstance(best, dict) or set(best) != {
                "epoch", "score", "state"}):
            raise ValueError(f"{path}: best: not a best-epoch record")
        try:
            self.model.load_state_dict(ckpt.get("model"))
            self.optimizer.load_state_dict(ckpt.get("optimizer"))
        except (RuntimeError, TypeError, ValueError, KeyError) as exc:
            raise ValueError(f"{path}: parameters do not fit recipe {self.recipe.name!r}: "
                             f"{str(exc).splitlines()[0]}") from None
        self.epoch, self.history, self.best = epoch, history, best
        self.model.quant = self.recipe.formats if epoch > self.recipe.epochs else None


@torch.no_grad()
def evaluate_continuous(model: ThetaNet, x, y, tick: float, trial: float, *,
                        batch: int = 256) -> dict:
    """Continuous-time figures: accuracy with pseudospike decisions (argmin ``t_out``),
    with ordinary spikes only (correct and the decided output spiked within T), the
    fraction of samples with an output spike, spikes per neuron per sample per layer."""
    x, y = np.asarray(x), np.asarray(y)
    correct = ordinary = spiked = 0
    spikes = np.zeros(len(model.sizes))
    for i in range(0, len(x), batch):
        run = model.run(x[i:i + batch], tick, trial)
        yb = torch.as_tensor(y[i:i + batch])
        # ordinary spikes only: the first output spike decides (ties: lowest index)
        t_ord = torch.where(run.out_spiked, run.t_out, torch.inf)
        ok_ord = (torch.argmin(t_ord, 1) == yb) & run.out_spiked.any(1)
        correct += int((run.decisions() == yb).sum())
        ordinary += int(ok_ord.sum())
        spiked += int(run.out_spiked.any(1).sum())
        spikes += np.array([float(c.sum()) for c in run.counts])
    n = len(x)
    return {"accuracy": correct / n, "ordinary_accuracy": ordinary / n,
            "output_spiked": spiked / n,
            "spikes_per_neuron": [float(s / (n * size)) for s, size in zip(spikes, model.sizes)]}


def discrete_figures(result, y) -> dict:
    """Accuracy of a discrete-time run (``golden.simulate`` or ``simulate_float``) with the
    no-spike rule, with ordinary spikes only (correct and some output spiked), the fraction
    of samples with an output spike, spikes per neuron per sample per layer."""
    y = np.asarray(y)
    correct = np.asarray(result.decisions) == y
    spiked = result.spikes[-1].any(axis=(1, 2))
    return {"accuracy": float(correct.mean()), "ordinary_accuracy": float((correct & spiked).mean()),
            "output_spiked": float(spiked.mean()),
            "spikes_per_neuron": [float(s.sum() / (s.shape[0] * s.shape[2])) for s in result.spikes]}


def pad_ticks(x, steps: int) -> np.ndarray:
    """Events ``x`` (n, s, channels) of the first ``s <= steps`` ticks as a whole trial of
    ``steps`` ticks (the rest silent). TTFS data are kept as their one tick 0 (n, 1, ...)
    until a discrete model needs the trial: MNIST at 32 ticks would be 32 times larger."""
    x = np.asarray(x)
    if x.shape[1] > steps:
        raise ValueError(f"x: {x.shape[1]} ticks do not fit a trial of {steps}")
    out = np.zeros((x.shape[0], steps, x.shape[2]), x.dtype)
    out[:, :x.shape[1]] = x
    return out


def measure_discrete(simulate_fn, x, y, steps: int, *, chunk: int = 500) -> dict:
    """``discrete_figures`` of ``simulate_fn`` (``golden.simulate`` or ``simulate_float`` of
    one network) over ``x`` padded to ``steps`` ticks, ``chunk`` samples at a time; plus the
    synaptic operations per sample when the results count them."""
    x, y = np.asarray(x), np.asarray(y)
    correct = ordinary = spiked = 0
    spikes, synops = None, 0.0
    for i in range(0, len(x), chunk):
        result = simulate_fn(pad_ticks(x[i:i + chunk], steps))
        fig = discrete_figures(result, y[i:i + chunk])
        m = len(x[i:i + chunk])
        correct += fig["accuracy"] * m
        ordinary += fig["ordinary_accuracy"] * m
        spiked += fig["output_spiked"] * m
        sums = np.array(fig["spikes_per_neuron"]) * m
        spikes = sums if spikes is None else spikes + sums
        synops += float(getattr(result, "synops", np.zeros(1)).sum())
    n = len(x)
    out = {"accuracy": correct / n, "ordinary_accuracy": ordinary / n, "output_spiked": spiked / n,
           "spikes_per_neuron": [float(v) for v in spikes / n]}
    if hasattr(result, "synops"):
        out["synaptic_ops_per_sample"] = synops / n
    return out


def evaluate_theta(float_net: FloatNetwork, x, y, *, network=None, continuous: bool = True) -> dict:
    """Test figures of a theta network: the continuous-time model (``ThetaNet.run`` on the
    float network's parameters, trial ``steps * tick``), the discrete float model
    (``simulate_float``) and, given the quantised ``network``, the golden fixed point.
    ``x`` may hold fewer ticks than the trial (``pad_ticks``)."""
    from spikeforge.golden import simulate, simulate_float
    out = {}
    th = float_net.theta
    if continuous:
        model = ThetaNet.from_float(float_net)
        out["continuous"] = evaluate_continuous(model, x, y, th.tick, th.steps * th.tick)
    out["float"] = measure_discrete(lambda xs: simulate_float(float_net, xs), x, y, th.steps)
    if network is not None:
        out["fixed"] = measure_discrete(lambda xs: simulate(network, xs), x, y, th.steps)
    return out
