"""The fixed-point network description and its file format.

A ``Network`` is everything the golden model and the hardware generator need:
layer sizes, neuron models, folded integer parameters, the number formats and
the decision rule. It is saved as one ``.npz`` file: a JSON ``header`` entry
plus one integer array per parameter, loaded with ``allow_pickle=False`` and
validated field by field (``NetworkFileError`` names the file and the field).

Folded parameters (see ``spikeforge.golden.neuron`` for the update equations):

* ``w_in[src, dst]``, ``w_rec[src, dst]``: weights already multiplied by
  ``(1 - alpha[dst])`` and divided by the layer's state scale;
* ``bias[dst]``: likewise folded, in state units;
* ``alpha``, ``rho``: decay factors, unsigned with ``decay_bits`` fraction bits;
* ``b0``: baseline threshold in state units;
* ``adapt``: threshold increment per spike, ``(1 - rho) * beta / scale``;
* ``p0``, ``q0``: initial state of a theta neuron (``spikeforge.golden.theta``),
  whose weights are in units of ``2**-weight_shift`` of ``X = (V - 1/2) / r``.
"""

from __future__ import annotations

import enum
import json
import math
import os
from dataclasses import dataclass, field

import numpy as np

from .files import atomic_write, read_npz, strict_json
from .fixed import Fixed, Overflow, Rounding, bits_for_range, out_of_range
from .theta import MAX_THETA_STATE_BITS, ThetaModel, normalise

__all__ = [
    "NeuronKind", "Decision", "Formats", "Layer", "Network",
    "NetworkFileError", "FILE_FORMAT", "FILE_VERSION", "ThetaModel",
]

FILE_FORMAT = "spikeforge-network"
#: Version 2 added ``formats.guard_bits``; a version 1 file means guard_bits = 0.
FILE_VERSION = 2
READABLE_VERSIONS = (1, 2)
#: Most ticks a theta trial may have.
MAX_STEPS = 1 << 20


class NetworkFileError(ValueError):
    """A network file or description is malformed; the message names the field."""


class NeuronKind(enum.Enum):
    LIF = "lif"    # leaky integrate-and-fire, soft reset, fixed threshold
    ALIF = "alif"  # adaptive LIF (Yin et al.): threshold b0 + beta*b
    CUBA = "cuba"  # current-based LIF: a synaptic current with its own decay feeds the membrane
    LI = "li"      # leaky integrator, no spikes (readout only)
    THETA = "theta"  # quadratic integrate-and-fire as a phase (Klos & Memmesheimer)

    @property
    def spiking(self) -> bool:
        return self is not NeuronKind.LI


class Decision(enum.Enum):
    PER_STEP = "per_step"        # argmax of the readout at every step
    LAST = "last"                # argmax of the readout at the last step
    SPIKE_COUNT = "spike_count"  # output neuron with most spikes (spiking readout)
    FIRST_SPIKE = "first_spike"  # output neuron that spiked first (spiking readout)
    # theta readout: the output that spiked first; within that tick the one furthest along
    # its period after it (the earliest spike); no output spike in the trial: the one with
    # the largest final phase (the no-spike rule)
    TTFS = "ttfs"


@dataclass(frozen=True)
class Formats:
    """Bit widths and modes of every stage; the single source for golden and HDL."""

    weight_bits: int = 8   # signed weights
    state_bits: int = 24   # signed membrane, threshold, adaptation, readout, bias
    decay_bits: int = 16   # unsigned decay factors alpha, rho in [0, 1)
    input_bits: int = 2    # signed input event values (2 bits: -2..1)
    # of the decay products alpha*u, rho*a: toward zero, so that with guard bits every leak
    # reaches exactly zero (half-up would hold |u| <= 0.5 / (1 - alpha) state LSBs)
    rounding: Rounding = Rounding.TOWARD_ZERO
    overflow: Overflow = Overflow.SATURATE   # of every state update
    # fraction bits of the state below the weight LSB: the synaptic input enters the state
    # as acc * 2**guard_bits, so leaks and thresholds resolve below one weight; 0 for theta
    guard_bits: int = 4

    def __post_init__(self):
        for name, lo, hi in (("weight_bits", 2, 16), ("state_bits", 8, 31),
                             ("decay_bits", 4, 20), ("input_bits", 2, 8), ("guard_bits", 0, 12)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
                raise NetworkFileError(f"formats.{name}: {value!r} is not an integer in {lo}..{hi}")
        if not isinstance(self.rounding, Rounding):
            raise NetworkFileError(f"formats.rounding: {self.rounding!r} is not a Rounding")
        if not isinstance(self.overflow, Overflow):
            raise NetworkFileError(f"formats.overflow: {self.overflow!r} is not an Overflow")

    @property
    def weight(self) -> Fixed:
        return Fixed(self.weight_bits, signed=True)

    @property
    def state(self) -> Fixed:
        return Fixed(self.state_bits, signed=True)

    @property
    def decay(self) -> Fixed:
        return Fixed(self.decay_bits, signed=False, frac=self.decay_bits)

    @property
    def input(self) -> Fixed:
        return Fixed(self.input_bits, signed=True)

    def to_json(self) -> dict:
        return {"weight_bits": self.weight_bits, "state_bits": self.state_bits,
                "decay_bits": self.decay_bits, "input_bits": self.input_bits,
                "rounding": self.rounding.value, "overflow": self.overflow.value,
                "guard_bits": self.guard_bits}

    @classmethod
    def from_json(cls, obj, version: int = FILE_VERSION) -> "Formats":
        """Formats of a file of ``version``: version 1 has no guard bits (0), version 2
        names them."""
        if not isinstance(obj, dict):
            raise NetworkFileError(f"formats: expected an object, got {type(obj).__name__}")
        known = {"weight_bits", "state_bits", "decay_bits", "input_bits", "rounding", "overflow"}
        if version >= 2:
            known.add("guard_bits")
            if "guard_bits" not in obj:
                raise NetworkFileError("formats.guard_bits: missing (version 2 files name it)")
        unknown = set(obj) - known
        if unknown:
            raise NetworkFileError(f"formats: unknown field(s) {sorted(unknown)}; allowed: {sorted(known)}")
        kwargs = {k: obj[k] for k in known - {"rounding", "overflow"} if k in obj}
        kwargs.setdefault("guard_bits", 0)
        if "rounding" in obj:
            kwargs["rounding"] = _enum(Rounding, obj["rounding"], "formats.rounding")
        if "overflow" in obj:
            kwargs["overflow"] = _enum(Overflow, obj["overflow"], "formats.overflow")
        return cls(**kwargs)


def _enum(enum_cls, value, where):
    try:
        return enum_cls(value)
    except ValueError:
        allowed = ", ".join(repr(e.value) for e in enum_cls)
        raise NetworkFileError(f"{where}: {value!r} is not one of {allowed}") from None


#: Per-neuron parameter vectors of a layer (the decays alpha, rho, alpha_syn are unsigned).
NEURON_PARAMS = ("bias", "alpha", "rho", "b0", "adapt", "alpha_syn", "p0", "q0")

#: Parameters that must be all zero unless the layer is of the given kind.
KIND_ONLY = {"rho": NeuronKind.ALIF, "adapt": NeuronKind.ALIF, "alpha_syn": NeuronKind.CUBA,
             "p0": NeuronKind.THETA, "q0": NeuronKind.THETA}
#: Parameters that must be all zero in a theta layer (its state is the phase alone).
THETA_UNUSED = ("bias", "alpha", "b0")
#: Parameters a file may omit (zero) for layers that do not use them (older files).
OPTIONAL = {"alpha_syn": NeuronKind.CUBA, "p0": NeuronKind.THETA, "q0": NeuronKind.THETA}


@dataclass
class Layer:
    """One layer of neurons and the synapses that feed it (all integers)."""

    kind: NeuronKind
    w_in: np.ndarray                 # (n_in, size)
    w_rec: np.ndarray | None         # (size, size) or None
    bias: np.ndarray                 # (size,)
    alpha: np.ndarray                # (size,)
    rho: np.ndarray                  # (size,) zero unless ALIF
    b0: np.ndarray                   # (size,) zero for LI
    adapt: np.ndarray                # (size,) zero unless ALIF
    scale: float = 1.0               # real value of one state LSB (for reports)
    name: str = ""
    alpha_syn: np.ndarray | None = None   # (size,) synaptic decay, CUBA only (None: zeros)
    p0: np.ndarray | None = None          # (size,) initial theta state, THETA only (None: zeros)
    q0: np.ndarray | None = None
    weight_shift: int = 0                 # THETA: one weight LSB is 2**-weight_shift of X

    def __post_init__(self):
        for name in OPTIONAL:
            if getattr(self, name) is None:
                setattr(self, name, np.zeros(np.shape(self.alpha), np.int64))

    @property
    def size(self) -> int:
        return self.w_in.shape[1]

    @property
    def n_in(self) -> int:
        return self.w_in.shape[0]

    @property
    def recurrent(self) -> bool:
        return self.w_rec is not None


@dataclass
class Network:
    """A fixed-point spiking network; the last layer is the readout."""

    n_inputs: int
    layers: list[Layer]
    decision: Decision = Decision.PER_STEP
    formats: Formats = field(default_factory=Formats)
    skip_steps: int = 0    # steps not scored by per-step accuracy
    name: str = "network"
    theta: ThetaModel | None = None   # the theta neuron and trial of a theta network

    def __post_init__(self):
        self.validate()

    # -- derived quantities shared by the golden model and the generator --

    @property
    def readout(self) -> Layer:
        return self.layers[-1]

    @property
    def n_outputs(self) -> int:
        return self.readout.size

    def synaptic_range(self, index: int) -> tuple[int, int]:
        """The least and the greatest exact synaptic input any neuron of layer ``index`` can
        receive in one step.

        A source carries at most one event per step: an input channel one value of the
        input format (the input stream enforces it: a step's EVENTs come in strictly
        increasing channel order, ``hdl.protocol``), a spiking neuron 0 or 1. A column's
        extremes take each weight's worst event on its own: its greatest input is
        ``sum(w > 0) w * x_max + sum(w < 0) w * x_min``, its least the reverse.
        """
        layer = self.layers[index]
        if index == 0:
            fmt = self.formats.input
            x_lo, x_hi = fmt.min, fmt.max
        else:
            x_lo, x_hi = 0, 1
        w = layer.w_in.astype(np.int64)
        hi = np.maximum(w * x_lo, w * x_hi).sum(axis=0)
        lo = np.minimum(w * x_lo, w * x_hi).sum(axis=0)
        if layer.w_rec is not None:
            rec = layer.w_rec.astype(np.int64)
            hi = hi + np.clip(rec, 0, None).sum(axis=0)
            lo = lo + np.clip(rec, None, 0).sum(axis=0)
        return int(lo.min(initial=0)), int(hi.max(initial=0))

    def accumulator(self, index: int) -> Fixed:
        """Signed format wide enough for the exact synaptic input of layer ``index``
        (``synaptic_range``): accumulation never overflows, so it is order-independent."""
        return Fixed(max(bits_for_range(*self.synaptic_range(index)), 2), signed=True)

    def weight_lsb(self, index: int) -> float:
        """Real value of one weight LSB of layer ``index`` (``scale`` is the state LSB's)."""
        return self.layers[index].scale * (1 << self.formats.guard_bits)

    def synapses(self) -> int:
        return sum(l.w_in.size + (l.w_rec.size if l.recurrent else 0) for l in self.layers)

    def summary(self) -> str:
        parts = [str(self.n_inputs)]
        for layer in self.layers:
            parts.append(f"{layer.size}{' rec' if layer.recurrent else ''} {layer.kind.value}")
        return " -> ".join(parts)

    # -- validation --

    def validate(self):
        f = self.formats
        if not isinstance(f, Formats):
            raise NetworkFileError(f"formats: expected Formats, got {type(f).__name__}")
        if not isinstance(self.decision, Decision):
            raise NetworkFileError(f"decision.rule: {self.decision!r} is not a Decision")
        if not isinstance(self.n_inputs, (int, np.integer)) or self.n_inputs < 1:
            raise NetworkFileError(f"inputs.channels: {self.n_inputs!r} must be a positive integer")
        if not isinstance(self.skip_steps, (int, np.integer)) or self.skip_steps < 0:
            raise NetworkFileError(f"decision.skip_steps: {self.skip_steps!r} must be an integer >= 0")
        if not self.layers:
            raise NetworkFileError("layers: a network needs at least one layer (the readout)")
        self._validate_theta()
        n_in = self.n_inputs
        for i, layer in enumerate(self.layers):
            where = f"layers[{i}]"
            if not isinstance(layer.kind, NeuronKind):
                raise NetworkFileError(f"{where}.kind: {layer.kind!r} is not a NeuronKind")
            if layer.kind is NeuronKind.LI and i != len(self.layers) - 1:
                raise NetworkFileError(f"{where}.kind: 'li' (leaky integrator) is only allowed "
                                       f"for the readout, the last layer")
            size = _check_array(layer.w_in, f"{where}.w_in", f.weight, ndim=2, rows=n_in).shape[1]
            if size < 1:
                raise NetworkFileError(f"{where}.w_in: a layer needs at least one neuron")
            if layer.w_rec is not None:
                _check_array(layer.w_rec, f"{where}.w_rec", f.weight, shape=(size, size))
            _check_array(layer.bias, f"{where}.bias", f.state, shape=(size,))
            _check_array(layer.alpha, f"{where}.alpha", f.decay, shape=(size,))
            _check_array(layer.rho, f"{where}.rho", f.decay, shape=(size,))
            _check_array(layer.b0, f"{where}.b0", f.state, shape=(size,))
            _check_array(layer.adapt, f"{where}.adapt", f.state, shape=(size,))
            _check_array(layer.alpha_syn, f"{where}.alpha_syn", f.decay, shape=(size,))
            _check_array(layer.p0, f"{where}.p0", f.state, shape=(size,))
            _check_array(layer.q0, f"{where}.q0", f.state, shape=(size,))
            for name, owner in KIND_ONLY.items():
                if layer.kind is not owner and np.any(getattr(layer, name) != 0):
                    raise NetworkFileError(f"{where}.{name}: must be all zero for a "
                                           f"{layer.kind.value!r} layer (only {owner.value!r} "
                                           f"uses it)")
            if layer.kind is NeuronKind.THETA:
                _check_theta_layer(layer, where, f)
            elif layer.weight_shift != 0:
                raise NetworkFileError(f"{where}.weight_shift: {layer.weight_shift!r}; only "
                                       f"'theta' layers have one (must be 0)")
            for name in ("w_in", "w_rec") + NEURON_PARAMS:  # validated: now int64
                if getattr(layer, name) is not None:
                    setattr(layer, name, getattr(layer, name).astype(np.int64))
            if not np.isfinite(layer.scale) or layer.scale <= 0:
                raise NetworkFileError(f"{where}.scale: {layer.scale!r} must be a positive finite number")
            n_in = size
        readout = self.layers[-1]
        if (self.decision is Decision.TTFS) != (self.theta is not None):
            raise NetworkFileError(f"decision.rule: {self.decision.value!r}; 'ttfs' is the rule of "
                                   f"theta networks, and theta networks decide by 'ttfs'")
        if self.decision in (Decision.SPIKE_COUNT, Decision.FIRST_SPIKE) and not readout.kind.spiking:
            raise NetworkFileError(f"decision.rule: {self.decision.value!r} needs a spiking readout "
                                   f"('lif' or 'alif'), but the last layer is 'li'")
        for i in range(len(self.layers)):
            acc = self.accumulator(i)
            if acc.width > 31:
                raise NetworkFileError(f"layers[{i}]: synaptic input needs {acc.width} bits, "
                                       f"more than the 31 allowed; use smaller weights")

    def _validate_theta(self):
        kinds = {layer.kind is NeuronKind.THETA for layer in self.layers}
        if len(kinds) > 1:
            raise NetworkFileError("layers: a network's layers are all 'theta' or none is "
                                   f"({self.summary()})")
        if kinds == {True} and self.theta is None:
            raise NetworkFileError("theta: missing (a theta network needs tau, i0, rotation, steps)")
        if kinds == {False} and self.theta is not None:
            raise NetworkFileError("theta: only theta networks have theta parameters")
        model, f = self.theta, self.formats
        if model is None:
            return
        if not isinstance(model, ThetaModel):
            raise NetworkFileError(f"theta: expected a ThetaModel, got {type(model).__name__}")
        for name in ("tau", "i0"):
            value = getattr(model, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) \
                    or not math.isfinite(float(value) if abs(value) < 1e300 else math.inf):
                raise NetworkFileError(f"theta.{name}: {value!r} is not a finite number")
        if not model.tau > 0:
            raise NetworkFileError(f"theta.tau: {model.tau!r} must be > 0")
        if not model.i0 > 0.25:
            raise NetworkFileError(f"theta.i0: {model.i0!r} must be > 1/4 (an oscillating neuron)")
        one = 1 << f.decay_bits
        if not _is_int(model.rotation) or not 1 <= model.rotation < one:
            raise NetworkFileError(f"theta.rotation: {model.rotation!r} is not an integer in "
                                   f"1..{one - 1} (the flow of one tick, {f.decay_bits} fraction bits)")
        if not _is_int(model.steps) or not 1 <= model.steps <= MAX_STEPS:
            raise NetworkFileError(f"theta.steps: {model.steps!r} is not an integer in "
                                   f"1..{MAX_STEPS} (ticks per trial)")
        if f.state_bits > MAX_THETA_STATE_BITS:
            raise NetworkFileError(f"formats.state_bits: {f.state_bits} is more than the "
                                   f"{MAX_THETA_STATE_BITS} a theta network allows")
        if f.guard_bits:
            raise NetworkFileError(f"formats.guard_bits: {f.guard_bits}; a theta network has none "
                                   f"(its weights scale by weight_shift)")

    # -- file format --

    def save(self, path) -> None:
        header = {
            "format": FILE_FORMAT, "version": FILE_VERSION, "name": self.name,
            "inputs": {"channels": int(self.n_inputs)},
            "formats": self.formats.to_json(),
            "decision": {"rule": self.decision.value, "skip_steps": int(self.skip_steps)},
            "layers": [{"name": l.name, "kind": l.kind.value, "size": int(l.size),
                        "recurrent": l.recurrent, "scale": float(l.scale),
                        **({"weight_shift": int(l.weight_shift)}
                           if l.kind is NeuronKind.THETA else {})}
                       for l in self.layers],
        }
        if self.theta is not None:
            header["theta"] = self.theta.to_json()
        arrays = {"header": np.array(json.dumps(header, indent=1))}
        for i, layer in enumerate(self.layers):
            arrays[f"layers.{i}.w_in"] = layer.w_in
            if layer.w_rec is not None:
                arrays[f"layers.{i}.w_rec"] = layer.w_rec
            for name in NEURON_PARAMS:
                if OPTIONAL.get(name, layer.kind) is layer.kind:
                    arrays[f"layers.{i}.{name}"] = getattr(layer, name)
        with atomic_write(path, "network file") as fh:  # np.savez would append ".npz"
            np.savez_compressed(fh, **arrays)

    @classmethod
    def load(cls, path) -> "Network":
        """Read a network file; every problem is one ``NetworkFileError`` naming the file and
        the field. The header is read and checked first: the arrays' sizes follow from it and
        are checked against the limits (``MAX_LAYERS``, ``MAX_NEURONS``, ``MAX_INPUTS``,
        ``MAX_SYNAPSES``) before any array is decompressed."""
        path = os.fspath(path)
        try:
            first = read_npz(path, "network file", NetworkFileError, only=("header",))
            if "header" not in first:
                raise NetworkFileError("missing 'header' entry (is this a spikeforge network file?)")
            header = _parse_header(first["header"])
            contents = read_npz(path, "network file", NetworkFileError,
                                sizes=_member_budget(header, first["header"].nbytes))
            return cls._from_header(header, contents)
        except NetworkFileError as exc:
            text = str(exc)
            raise NetworkFileError(text if text.startswith(path + ":") else f"{path}: {text}") from None

    @classmethod
    def _from_header(cls, header: dict, contents: dict) -> "Network":
        version = header["version"]
        inputs = _field(header, "inputs", dict)
        decision = _field(header, "decision", dict)
        layer_specs = _field(header, "layers", list)
        for obj, where, allowed in ((inputs, "inputs", {"channels"}),
                                    (decision, "decision", {"rule", "skip_steps"})):
            if set(obj) - allowed:
                raise NetworkFileError(f"{where}: unknown field(s) {sorted(set(obj) - allowed)}; "
                                       f"allowed: {sorted(allowed)}")
        layers = []
        for i, spec in enumerate(layer_specs):
            where = f"layers[{i}]"
            if not isinstance(spec, dict):
                raise NetworkFileError(f"{where}: expected an object")
            kind = _enum(NeuronKind, _field(spec, "kind", str, where), f"{where}.kind")
            recurrent = _field(spec, "recurrent", bool, where)
            arrays = {}
            names = ("w_in",) + (("w_rec",) if recurrent else ()) + NEURON_PARAMS
            for name in names:
                key = f"layers.{i}.{name}"
                if name in OPTIONAL and key not in contents and kind is not OPTIONAL[name]:
                    continue  # zero: the kind does not use it (and older files lack it)
                if key not in contents:
                    raise NetworkFileError(f"{where}.{name}: missing array {key!r}")
                arrays[name] = contents[key]
            scale = _number(spec, "scale", where)
            size = _field(spec, "size", int, where)
            if arrays["w_in"].ndim == 2 and arrays["w_in"].shape[1] != size:
                raise NetworkFileError(f"{where}.w_in: shape {arrays['w_in'].shape} does not match "
                                       f"size {size}")
            shift = _field(spec, "weight_shift", int, where) if kind is NeuronKind.THETA else 0
            layers.append(Layer(kind=kind, w_in=arrays["w_in"], w_rec=arrays.get("w_rec"),
                                bias=arrays["bias"], alpha=arrays["alpha"], rho=arrays["rho"],
                                b0=arrays["b0"], adapt=arrays["adapt"], scale=float(scale),
                                name=_field(spec, "name", str, where) if "name" in spec else "",
                                alpha_syn=arrays.get("alpha_syn"),
                                p0=arrays.get("p0"), q0=arrays.get("q0"), weight_shift=shift))
        theta = None
        if "theta" in header:
            spec = _field(header, "theta", dict)
            known = {"tau", "i0", "rotation", "steps"}
            if set(spec) != known:
                raise NetworkFileError(f"theta: fields {sorted(spec)}; expected {sorted(known)}")
            theta = ThetaModel(tau=_number(spec, "tau", "theta"), i0=_number(spec, "i0", "theta"),
                               rotation=_field(spec, "rotation", int, "theta"),
                               steps=_field(spec, "steps", int, "theta"))
        return cls(n_inputs=_field(inputs, "channels", int, "inputs"), layers=layers,
                   decision=_enum(Decision, _field(decision, "rule", str, "decision"), "decision.rule"),
                   formats=Formats.from_json(_field(header, "formats", dict), version),
                   skip_steps=_field(decision, "skip_steps", int, "decision")
                   if "skip_steps" in decision else 0,
                   name=_field(header, "name", str) if "name" in header else "network",
                   theta=theta)


#: Largest networks a file may declare (checked before any array is read).
MAX_LAYERS = 64
MAX_NEURONS = 1 << 16        # per layer
MAX_INPUTS = 1 << 16         # input channels
MAX_SYNAPSES = 1 << 24       # in the whole network

HEADER_KEYS = {"format", "version", "name", "inputs", "formats", "decision", "layers", "theta"}
LAYER_KEYS = {"name", "kind", "size", "recurrent", "scale", "weight_shift"}


def _parse_header(array) -> dict:
    if not isinstance(array, np.ndarray) or array.dtype.kind != "U" or array.ndim != 0:
        raise NetworkFileError("header: expected one JSON text (a 0-d string array)")
    if array.nbytes > 1 << 20:
        raise NetworkFileError(f"header: {array.nbytes:,} bytes, more than a header may take")
    try:
        header = strict_json(str(array[()]))
    except ValueError as exc:
        raise NetworkFileError(f"header: {exc}") from None
    if not isinstance(header, dict):
        raise NetworkFileError("header: expected a JSON object")
    if header.get("format") != FILE_FORMAT:
        raise NetworkFileError(f"header.format: {header.get('format')!r}, expected {FILE_FORMAT!r}")
    version = header.get("version")
    if isinstance(version, bool) or version not in READABLE_VERSIONS:
        raise NetworkFileError(f"header.version: {version!r} is not supported "
                               f"(this spikeforge reads versions "
                               f"{', '.join(map(str, READABLE_VERSIONS))})")
    unknown = set(header) - HEADER_KEYS
    if unknown:
        raise NetworkFileError(f"header: unknown field(s) {sorted(unknown)}; allowed: "
                               f"{sorted(HEADER_KEYS)}")
    return header


def _member_budget(header: dict, header_bytes: int) -> dict:
    """The arrays the header declares and the most bytes each may take decompressed (an
    .npy header plus at most 8 bytes per element); the declared sizes within the limits."""
    inputs = _field(header, "inputs", dict)
    n_in = _field(inputs, "channels", int, "inputs")
    if not 1 <= n_in <= MAX_INPUTS:
        raise NetworkFileError(f"inputs.channels: {n_in} is not in 1..{MAX_INPUTS}")
    specs = _field(header, "layers", list)
    if not 1 <= len(specs) <= MAX_LAYERS:
        raise NetworkFileError(f"layers: {len(specs)} layers, allowed 1..{MAX_LAYERS}")
    budget = {"header": header_bytes + 512}
    synapses = 0
    rows = n_in
    for i, spec in enumerate(specs):
        where = f"layers[{i}]"
        if not isinstance(spec, dict):
            raise NetworkFileError(f"{where}: expected an object")
        unknown = set(spec) - LAYER_KEYS
        if unknown:
            raise NetworkFileError(f"{where}: unknown field(s) {sorted(unknown)}; allowed: "
                                   f"{sorted(LAYER_KEYS)}")
        size = _field(spec, "size", int, where)
        if not 1 <= size <= MAX_NEURONS:
            raise NetworkFileError(f"{where}.size: {size} is not in 1..{MAX_NEURONS}")
        recurrent = _field(spec, "recurrent", bool, where)
        synapses += rows * size + (size * size if recurrent else 0)
        if synapses > MAX_SYNAPSES:
            raise NetworkFileError(f"{where}: the network declares more than {MAX_SYNAPSES:,} "
                                   f"synapses, the most a network file may hold")
        npy = 512
        budget[f"layers.{i}.w_in"] = npy + 8 * rows * size
        if recurrent:
            budget[f"layers.{i}.w_rec"] = npy + 8 * size * size
        for name in NEURON_PARAMS:
            budget[f"layers.{i}.{name}"] = npy + 8 * size
        rows = size
    return budget


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_theta_layer(layer: Layer, where: str, f: Formats):
    if not _is_int(layer.weight_shift) or not 0 <= layer.weight_shift <= 30:
        raise NetworkFileError(f"{where}.weight_shift: {layer.weight_shift!r} is not an integer "
                               f"in 0..30")
    for name in THETA_UNUSED:
        if np.any(getattr(layer, name) != 0):
            raise NetworkFileError(f"{where}.{name}: must be all zero for a 'theta' layer")
    p0, q0 = layer.p0.astype(np.int64), layer.q0.astype(np.int64)
    if np.any(q0 < 0):
        raise NetworkFileError(f"{where}.q0: value {int(q0.min())} < 0; a theta state has q >= 0")
    zero = np.flatnonzero((p0 == 0) & (q0 == 0))
    if zero.size:
        raise NetworkFileError(f"{where}.p0/q0: neuron {int(zero[0])} state (0, 0) is no phase")
    np_, nq = normalise(p0, q0, f.state_bits)
    bad = np.flatnonzero((np_ != p0) | (nq != q0))
    if bad.size:
        j = int(bad[0])
        raise NetworkFileError(f"{where}.p0/q0: neuron {j} state ({int(p0[j])}, {int(q0[j])}) is "
                               f"not normalised (the longer of p, q has exactly "
                               f"{f.state_bits - 1} significant bits)")


def _number(obj: dict, key: str, where: str) -> float:
    """A finite real number from the header (ints beyond the float range included)."""
    value = _field(obj, key, (int, float), where)
    try:
        value = float(value)
    except OverflowError:
        value = math.inf
    if not math.isfinite(value):
        raise NetworkFileError(f"{where}.{key}: {_short(obj[key])} is not a finite number")
    return value


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:20] + "..." + text[-10:] + f" ({len(text)} characters)"


def _field(obj: dict, key: str, types, where: str = "header"):
    if key not in obj:
        raise NetworkFileError(f"{where}.{key}: missing")
    value = obj[key]
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise NetworkFileError(f"{where}.{key}: {value!r} has the wrong type")
    if not isinstance(value, types):
        names = types.__name__ if isinstance(types, type) else "/".join(t.__name__ for t in types)
        raise NetworkFileError(f"{where}.{key}: expected {names}, got {value!r}")
    return value


def _check_array(value, where: str, fmt: Fixed, *, shape=None, ndim=None, rows=None) -> np.ndarray:
    """Validate one parameter array: integer dtype, shape, range of ``fmt``."""
    if not isinstance(value, np.ndarray):
        raise NetworkFileError(f"{where}: expected a NumPy array, got {type(value).__name__}")
    if value.dtype.kind == "f":
        if not np.all(np.isfinite(value)):
            raise NetworkFileError(f"{where}: contains NaN or infinity; parameters must be integers")
        raise NetworkFileError(f"{where}: dtype {value.dtype} is floating point; parameters are "
                               f"raw integers (quantise the network first)")
    if value.dtype.kind not in "iu":
        raise NetworkFileError(f"{where}: dtype {value.dtype} is not an integer type")
    if shape is not None and value.shape != shape:
        raise NetworkFileError(f"{where}: shape {value.shape}, expected {shape}")
    if ndim is not None and value.ndim != ndim:
        raise NetworkFileError(f"{where}: {value.ndim}-D array, expected {ndim}-D")
    if rows is not None and value.shape[0] != rows:
        raise NetworkFileError(f"{where}: shape {value.shape}, expected {rows} rows "
                               f"(one per source)")
    bad = out_of_range(value, fmt)
    if bad is not None:
        raise NetworkFileError(f"{where}: value {bad} outside {fmt} range [{fmt.min}, {fmt.max}]")
    return value
