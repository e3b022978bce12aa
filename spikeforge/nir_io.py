"""NIR (Neuromorphic Intermediate Representation) import and export.

NIR describes neurons in continuous time; spikeforge runs them in steps of
``dt`` with forward Euler, as NIR's reference simulators do: a node with time
constant ``tau`` decays by ``alpha = 1 - dt/tau`` per step. spikeforge's decays
lie in [0, 1), so ``tau`` must be at least ``dt`` (``tau = dt`` is an instant
decay, alpha = 0); a ``tau`` so long that its decay rounds to 1 in the
network's decay bits (no leak at all) is refused, not clamped. Mapping (float
network, see ``golden.reference``):

* ``Affine``/``Linear`` (weight (out, in), bias) feeding a neuron node become
  its ``w_in`` and ``bias``; an ``Affine``/``Linear`` from a neuron node back
  to itself (flat cycle or a nested recurrent subgraph) becomes ``w_rec``.
* ``LIF(tau, r, v_leak, v_threshold)`` -> LIF with ``w_in = W.T * r``,
  ``bias = r*b + v_leak``, ``b0 = v_threshold``.
* ``CubaLIF(tau_syn, tau_mem, r, v_leak, v_threshold, w_in)`` -> CUBA with the
  input scaled by ``r * w_in``. ``v_leak`` must be 0: NIR adds it to the
  membrane, after the synaptic filter, where spikeforge's CUBA neuron has no
  constant input (its bias enters before the filter, so the first ``tau_syn``
  steps of every sample would differ).
* ``LI(tau, r, v_leak)`` -> leaky-integrator readout (last layer only).
* ``IF(r, v_threshold)`` -> LIF with the slowest leak the decay format holds
  (``alpha = 1 - 2**-decay_bits``): exact only while that leak is negligible.

Reset: NIR resets a neuron that fired to ``v_reset``; spikeforge has one reset,
the soft reset of snnTorch's ``reset_mechanism="subtract"``: the threshold is
subtracted from the membrane, whatever it was. No ``v_reset`` reproduces that
exactly (a hard reset forgets how far the membrane overshot), so the import
reads ``v_reset = 0`` (NIR's default when a node gives none, and what
spikeforge's export writes) as "spikeforge's soft reset", the convention of
snnTorch's subtract-reset exports, and refuses any other value rather than
drop it silently.

Export writes LIF, CUBA and LI layers back (NIR has no adaptive LIF node) and
stores the formats, decision rule, name and ``dt`` in the graph's metadata, so
an exported network imports back to the identical fixed-point ``Network``:
decays in [0, 1) export as ``tau = dt / (1 - alpha)`` in [dt, dt * 2**decay_bits].
The export checks this (it imports the graph it made in memory) and refuses a
network that would not come back identically, e.g. one whose largest weight in
a layer does not use the full weight width (the import gives it the full width).

A NIR file is untrusted input: before the HDF5 reader runs, every dataset must
have a standard number or string type and the file at most ``MAX_FILE_VALUES``
values; the reading runs in a child process stopped after ``READ_TIMEOUT``
seconds (a corrupt file can make the HDF5 library loop forever); the
``spikeforge`` metadata is strict JSON, checked field by field. Every error is
a ``NirError`` of one line naming the file (import), the node or field and
what is allowed.
"""

from __future__ import annotations

import faulthandler
import json
import math
import numbers
import os
import select
import signal
import tempfile
import time

import numpy as np

from .golden import (Decision, FloatLayer, FloatNetwork, Formats, Network, NetworkFileError,
                     NeuronKind, QuantizeError, quantize)
from .golden.files import atomic_path, strict_json

__all__ = ["NirError", "import_nir", "export_nir", "network_to_nir", "nir_to_float",
           "graph_to_network"]

METADATA_KEY = "spikeforge"
#: Time constant (in steps) of an instant decay: exp(-1/INSTANT) is exactly 0.
INSTANT = 1e-9
#: Nesting depth of subgraphs the import follows.
MAX_DEPTH = 32
#: Most values one HDF5 dataset of a NIR file may hold, all datasets together, and the
#: most objects (groups and datasets) a file may have: checked before anything is read.
MAX_DATASET_VALUES = 1 << 24
MAX_FILE_VALUES = 1 << 26
MAX_OBJECTS = 1 << 16
#: The HDF5 number types a NIR file's datasets may have (h5py.h5t names).
_NUMBER_TYPES = ("IEEE_F16LE", "IEEE_F16BE", "IEEE_F32LE", "IEEE_F32BE", "IEEE_F64LE",
                 "IEEE_F64BE") + tuple(f"STD_{s}{n}{e}" for s in "IU" for n in (8, 16, 32, 64)
                                       for e in ("LE", "BE"))


class NirError(ValueError):
    """A NIR graph spikeforge cannot run; the message names the node and the parameter."""


def _nir():
    try:
        import nir
    except ImportError:
        raise NirError("NIR import/export needs the nir package: pip install 'spikeforge[nir]'") \
            from None
    return nir


def _check_dt(dt, where="dt") -> float:
    """A time step: a finite number > 0 (and no subnormal, whose few digits would not
    carry ``dt / tau``)."""
    if isinstance(dt, bool) or not isinstance(dt, numbers.Real):
        raise NirError(f"{where}: {dt!r} is not a number (the time step: a finite number > 0)")
    dt = float(dt)
    if not (math.isfinite(dt) and dt >= np.finfo(np.float64).tiny):
        raise NirError(f"{where}: {dt!r} is not a time step (a finite number > 0, not below "
                       f"{np.finfo(np.float64).tiny:.3g})")
    return dt


def _tau_steps(alpha: np.ndarray) -> np.ndarray:
    """The time constant in steps (golden.reference: alpha = exp(-1/tau)) of a per-step
    decay in [0, 1); 0 (instant decay) maps to ``INSTANT``."""
    with np.errstate(divide="ignore"):
        return np.where(alpha > 0, -1.0 / np.log(np.where(alpha > 0, alpha, 0.5)), INSTANT)


# -- reading a graph --

def _flatten(graph, prefix="", depth=0):
    """Nodes and edges with nested graphs inlined (their Input/Output nodes bypassed):
    (nodes, edges, this level's Input names, this level's Output names)."""
    nir = _nir()
    where = prefix[:-1] or "graph"
    if depth > MAX_DEPTH:
        raise NirError(f"node {where!r}: subgraphs nested more than {MAX_DEPTH} deep")
    node_map = getattr(graph, "nodes", None)
    if not isinstance(node_map, dict):
        raise NirError(f"{where}: nodes is {type(node_map).__name__}, expected a dict of nodes")
    nodes, edges = {}, []
    entry, exit_ = {}, {}
    own_inputs, own_outputs = [], []
    for name, node in node_map.items():
        if not isinstance(name, str) or not name:
            raise NirError(f"{where}: node name {name!r} is not a non-empty string")
        full = prefix + name
        if isinstance(node, nir.NIRGraph):
            inner_nodes, inner_edges, inner_in, inner_out = _flatten(node, full + ".", depth + 1)
            clash = set(inner_nodes) & set(nodes)
            nodes.update(inner_nodes)
            edges += inner_edges
            entry[full], exit_[full] = inner_in, inner_out
        else:
            clash = {full} & set(nodes)
            nodes[full] = node
            if isinstance(node, nir.Input):
                own_inputs.append(full)
            elif isinstance(node, nir.Output):
                own_outputs.append(full)
        if clash:
            raise NirError(f"node {sorted(clash)[0]!r}: two nodes have this name once "
                           f"subgraphs are inlined")
    names = set(node_map)
    raw_edges = getattr(graph, "edges", None)
    try:
        raw_edges = list(raw_edges)
    except TypeError:
        raise NirError(f"{where}: edges is {type(raw_edges).__name__}, expected a list of "
                       f"(source, target) pairs") from None
    resolved = []
    for edge in raw_edges:
        try:
            src, dst = edge
        except (TypeError, ValueError):
            raise NirError(f"{where}: edge {edge!r} is not a (source, target) pair") from None
        for end in (src, dst):
            if not isinstance(end, str) or end not in names:
                raise NirError(f"{where}: edge ({src!r}, {dst!r}) names {end!r}, which is no "
                               f"node of this graph")
        # an edge into a subgraph goes to what its Input feeds; out of it, from what feeds
        # its Output
        srcs = exit_.get(prefix + src, [prefix + src])
        dsts = entry.get(prefix + dst, [prefix + dst])
        resolved += [(s, d) for s in srcs for d in dsts]
    edges += resolved
    if prefix:  # bypass this subgraph's own Input/Output
        feeds_in = [d for s, d in edges if s in own_inputs]
        feeds_out = [s for s, d in edges if d in own_outputs]
        edges = [(s, d) for s, d in edges if s not in own_inputs and d not in own_outputs]
        for n in own_inputs + own_outputs:
            nodes.pop(n)
        return nodes, edges, feeds_in, feeds_out
    return nodes, edges, own_inputs, own_outputs


def _numbers(where: str, value) -> np.ndarray:
    """``value`` as a float64 array of finite real numbers."""
    if value is None:
        raise NirError(f"{where}: missing")
    try:
        arr = np.asarray(value)
    except Exception:   # noqa: BLE001 -- anything a file can hold that is not an array
        raise NirError(f"{where}: not an array of numbers") from None
    if arr.dtype.kind not in "iuf":
        raise NirError(f"{where}: {arr.dtype} values; expected real numbers")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise NirError(f"{where}: contains NaN or infinity")
    return arr


def _all_zero(name: str, field: str, values: np.ndarray, why: str) -> None:
    """Refuse a node whose ``field`` is not 0 for every neuron, naming the first that is not."""
    if np.any(values != 0):
        k = int(np.flatnonzero(values)[0])
        raise NirError(f"node {name!r}: {field} {values[k]:g} (neuron {k}) is not 0; {why}")


def _vector(node_name, node, param, size) -> np.ndarray:
    """A per-neuron parameter: one value for all ``size`` neurons, or one each."""
    arr = _numbers(f"node {node_name!r}: {param}", getattr(node, param, None))
    if arr.size == 1:
        return np.full(size, float(arr.reshape(-1)[0]))
    if arr.size != size or arr.squeeze().ndim != 1:
        raise NirError(f"node {node_name!r}: {param} has shape {arr.shape}; the layer has "
                       f"{size} neurons (give 1 or {size} values)")
    return arr.reshape(-1).copy()


def _affine(name, node):
    nir = _nir()
    weight = _numbers(f"node {name!r}: weight", getattr(node, "weight", None))
    if weight.ndim != 2 or 0 in weight.shape:
        raise NirError(f"node {name!r}: weight has shape {weight.shape}, expected (out, in)")
    if isinstance(node, nir.Affine):
        bias = _numbers(f"node {name!r}: bias", getattr(node, "bias", None))
        if bias.size == 1 and weight.shape[0] != 1:
            bias = np.full(weight.shape[0], float(bias.reshape(-1)[0]))
        bias = bias.reshape(-1) if bias.size == weight.shape[0] else bias
        if bias.shape != (weight.shape[0],):
            raise NirError(f"node {name!r}: bias shape {bias.shape}, expected ({weight.shape[0]},)")
    else:
        bias = np.zeros(weight.shape[0])
    return weight, bias


def _declared_size(node):
    """The number of values an Input/Output node declares (None: not given)."""
    types = getattr(node, "input_type", None) or getattr(node, "output_type", None)
    if not isinstance(types, dict) or len(types) != 1:
        return None
    try:
        shape = np.asarray(next(iter(types.values())))
        if shape.dtype.kind not in "iu" or shape.ndim > 1 or np.any(shape < 0):
            return None
        return int(np.prod(shape))
    except (TypeError, ValueError):
        return None


def nir_to_float(graph, *, dt: float = 1.0, decay_bits: int = Formats().decay_bits,
                 decision: Decision = Decision.PER_STEP, name: str = "nir") -> FloatNetwork:
    """A float network from a NIR graph (see the module docstring for the mapping)."""
    nir = _nir()
    dt = _check_dt(dt)
    if not isinstance(graph, nir.NIRGraph):
        raise NirError(f"expected a NIR graph (nir.NIRGraph), got {type(graph).__name__}")
    nodes, edges, inputs, outputs = _flatten(graph)
    if len(inputs) != 1 or len(outputs) != 1:
        raise NirError(f"graph needs exactly one Input and one Output node, found "
                       f"{len(inputs)} and {len(outputs)}")
    succ, pred = {}, {}
    for s, d in dict.fromkeys(edges):      # an edge given twice is one edge
        succ.setdefault(s, []).append(d)
        pred.setdefault(d, []).append(s)
    neuron_types = (nir.LIF, nir.CubaLIF, nir.LI, nir.IF)
    synapse_types = (nir.Affine, nir.Linear)
    supported = (nir.Input, nir.Output) + synapse_types + neuron_types
    for n, node in nodes.items():
        if not isinstance(node, supported):
            raise NirError(f"node {n!r}: {type(node).__name__} is not supported; spikeforge "
                           f"runs Input, Output, Affine, Linear, LIF, CubaLIF, LI and IF")
    if pred.get(inputs[0]):
        raise NirError(f"node {inputs[0]!r}: the Input node has inputs ({pred[inputs[0]]})")

    def is_recurrent(src, neuron_name):
        return (isinstance(nodes[src], synapse_types) and pred.get(src) == [neuron_name]
                and succ.get(src) == [neuron_name])

    _refuse_cycles(nodes, succ, is_recurrent, neuron_types)

    layers = []
    visited = {inputs[0]}
    current, n_in = inputs[0], _declared_size(nodes[inputs[0]])
    while True:
        nxt = succ.get(current, [])
        if len(nxt) != 1:
            raise NirError(f"node {current!r}: feeds {len(nxt)} nodes {nxt}; spikeforge runs "
                           f"chains of layers (with optional recurrence)")
        if nxt[0] == outputs[0]:
            break
        syn_name = nxt[0]
        if syn_name in visited:
            raise NirError(f"node {syn_name!r}: the chain of layers comes back to it from "
                           f"{current!r} (a cycle); spikeforge runs chains of layers, with "
                           f"recurrence only from a layer to itself")
        visited.add(syn_name)
        if not isinstance(nodes[syn_name], synapse_types):
            raise NirError(f"node {syn_name!r}: expected an Affine or Linear node after "
                           f"{current!r}, found {type(nodes[syn_name]).__name__}")
        if pred.get(syn_name) != [current]:
            raise NirError(f"node {syn_name!r}: has inputs {pred.get(syn_name)}; a layer's "
                           f"synapses take only the layer before ({current!r})")
        weight, bias = _affine(syn_name, nodes[syn_name])
        if n_in is not None and weight.shape[1] != n_in:
            raise NirError(f"node {syn_name!r}: weight has shape {weight.shape}; the "
                           f"{'Input' if not layers else 'layer'} before it gives {n_in} values")
        targets = succ.get(syn_name, [])
        if len(targets) != 1 or not isinstance(nodes[targets[0]], neuron_types):
            raise NirError(f"node {syn_name!r}: must feed exactly one neuron node "
                           f"(LIF, CubaLIF, LI, IF), feeds {targets}")
        neuron_name = targets[0]
        if neuron_name in visited:
            raise NirError(f"node {neuron_name!r}: the chain of layers comes back to it from "
                           f"{syn_name!r} (a cycle); spikeforge runs chains of layers, with "
                           f"recurrence only from a layer to itself")
        visited.add(neuron_name)
        neuron = nodes[neuron_name]
        size = weight.shape[0]
        w_rec = None
        for src in pred.get(neuron_name, []):
            if src == syn_name:
                continue
            if is_recurrent(src, neuron_name) and w_rec is None:
                rec_w, rec_b = _affine(src, nodes[src])
                if rec_w.shape != (size, size):
                    raise NirError(f"node {src!r}: recurrent weight shape {rec_w.shape}, "
                                   f"expected ({size}, {size})")
                w_rec, bias = rec_w.T, bias + rec_b
                visited.add(src)
            else:
                raise NirError(f"node {neuron_name!r}: unexpected input from {src!r}")
        layers.append(_neuron_layer(neuron_name, neuron, weight, bias, w_rec, dt, decay_bits))
        current, n_in = neuron_name, size
        succ[neuron_name] = [d for d in succ.get(neuron_name, [])
                             if not (w_rec is not None and is_recurrent(d, neuron_name))]
    if not layers:
        raise NirError("graph has no neuron layer between its Input and Output")
    declared = _declared_size(nodes[outputs[0]])
    if declared is not None and declared != layers[-1].size:
        raise NirError(f"node {outputs[0]!r}: the Output declares {declared} values, the last "
                       f"layer {layers[-1].name!r} has {layers[-1].size} neurons")
    for layer in layers[:-1]:
        if layer.kind is NeuronKind.LI:
            raise NirError(f"node {layer.name!r}: LI (no spikes) is only allowed as the last layer")
    return FloatNetwork(n_inputs=layers[0].w_in.shape[0], layers=layers, decision=decision,
                        name=name)


def _refuse_cycles(nodes, succ, is_recurrent, neuron_types) -> None:
    """NirError naming a cycle of the graph other than a layer's recurrence (a neuron node
    and a synapse node that only feed each other)."""
    def edges_of(n):
        return [d for d in succ.get(n, []) if not (
            (isinstance(nodes[n], neuron_types) and is_recurrent(d, n)) or
            (isinstance(nodes[d], neuron_types) and is_recurrent(n, d)))]

    state = {}                      # 1: on the current path, 2: done
    for root in nodes:
        if root in state:
            continue
        path, stack = [root], [iter(edges_of(root))]
        state[root] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                cycle = path[path.index(nxt):] + [nxt]
                raise NirError(f"node {nxt!r}: the graph has a cycle through it "
                               f"({' -> '.join(cycle)}); spikeforge runs chains of layers, with "
                               f"recurrence only from a layer to itself")
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(edges_of(nxt)))


def _neuron_layer(name, node, weight, bias, w_rec, dt, decay_bits) -> FloatLayer:
    nir = _nir()
    size = weight.shape[0]
    one = float(1 << decay_bits)

    def decay(param):
        """alpha = 1 - dt/tau in [0, 1), as a time constant in steps."""
        tau = _vector(name, node, param, size)
        k = int(np.argmin(tau))
        if tau[k] < dt:
            raise NirError(f"node {name!r}: {param} {tau[k]:g} (neuron {k}) is shorter than "
                           f"dt = {dt:g}; forward Euler needs tau >= dt (tau = dt: an instant "
                           f"decay)")
        alpha = 1.0 - dt / tau
        too_slow = np.flatnonzero(np.rint(alpha * one) >= one)
        if too_slow.size:
            k = int(too_slow[0])
            raise NirError(f"node {name!r}: {param} {tau[k]:g} (neuron {k}) is {tau[k] / dt:.3g} "
                           f"steps of dt = {dt:g}: its decay per step rounds to 1 (no leak) in "
                           f"{decay_bits} decay bits, whose slowest decay is 1 - 2**-{decay_bits} "
                           f"(tau = {2.0 ** decay_bits * dt:g}); use an IF node for no leak, or "
                           f"more decay bits")
        return _tau_steps(alpha)

    def threshold():
        v_th = _vector(name, node, "v_threshold", size)
        v_reset = getattr(node, "v_reset", None)
        if v_reset is not None:
            _all_zero(name, "v_reset", _vector(name, node, "v_reset", size),
                      "spikeforge's only reset subtracts the threshold (snnTorch's "
                      "'subtract'), which it reads from v_reset = 0, and cannot reset "
                      "to another potential")
        return v_th

    if isinstance(node, nir.IF):
        r = _vector(name, node, "r", size)
        alpha = np.full(size, 1.0 - 2.0 ** -decay_bits)
        gain = 1.0 - alpha
        return FloatLayer(kind=NeuronKind.LIF, w_in=weight.T * (r / gain)[None, :],
                          w_rec=None if w_rec is None else w_rec * (r / gain)[None, :],
                          bias=bias * r / gain, tau_m=_tau_steps(alpha),
                          b0=threshold(), beta=0.0, name=name)
    if isinstance(node, nir.CubaLIF):
        r = _vector(name, node, "r", size) * _vector(name, node, "w_in", size)
        _all_zero(name, "v_leak", _vector(name, node, "v_leak", size),
                  "NIR adds a CubaLIF's v_leak to the membrane, and spikeforge's CUBA neuron "
                  "has its constant input (the bias) before the synaptic filter; put it in "
                  "the Affine bias if that is what you mean")
        return FloatLayer(kind=NeuronKind.CUBA, w_in=weight.T * r[None, :],
                          w_rec=None if w_rec is None else w_rec * r[None, :],
                          bias=bias * r, tau_m=decay("tau_mem"), tau_syn=decay("tau_syn"),
                          b0=threshold(), beta=0.0, name=name)
    r = _vector(name, node, "r", size)
    leak = _vector(name, node, "v_leak", size)
    kind = NeuronKind.LI if isinstance(node, nir.LI) else NeuronKind.LIF
    return FloatLayer(kind=kind, w_in=weight.T * r[None, :],
                      w_rec=None if w_rec is None else w_rec * r[None, :],
                      bias=bias * r + leak, tau_m=decay("tau"),
                      b0=threshold() if kind is NeuronKind.LIF else 0.0,
                      beta=0.0, name=name)


# -- the metadata spikeforge writes --

def _metadata(graph) -> dict:
    """The ``spikeforge`` metadata of an exported graph, checked field by field ({} if none)."""
    meta = getattr(graph, "metadata", None)
    raw = meta.get(METADATA_KEY) if isinstance(meta, dict) else None
    if raw is None:
        return {}
    where = f"metadata {METADATA_KEY!r}"
    if isinstance(raw, np.ndarray) and raw.ndim == 0:
        raw = raw[()]
    if isinstance(raw, (bytes, np.bytes_)):
        try:
            raw = bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            raise NirError(f"{where}: not UTF-8 text (spikeforge writes a JSON object)") from None
    if not isinstance(raw, str):
        raise NirError(f"{where}: a {type(raw).__name__}, expected the JSON object text "
                       f"spikeforge's export writes")
    try:
        obj = strict_json(raw)
    except ValueError as exc:
        raise NirError(f"{where}: {str(exc).splitlines()[0]}") from None
    if not isinstance(obj, dict):
        raise NirError(f"{where}: JSON {type(obj).__name__}, expected an object with formats, "
                       f"decision, skip_steps, name, dt")
    out = {}
    if "formats" in obj:
        try:
            out["formats"] = Formats.from_json(obj["formats"])
        except (NetworkFileError, TypeError, ValueError) as exc:
            raise NirError(f"{where}: {str(exc).splitlines()[0]}") from None
    if "decision" in obj:
        rules = [d.value for d in Decision]
        if not isinstance(obj["decision"], str) or obj["decision"] not in rules:
            raise NirError(f"{where}: decision {obj['decision']!r} is not one of "
                           f"{', '.join(rules)}")
        out["decision"] = Decision(obj["decision"])
    if "skip_steps" in obj:
        value = obj["skip_steps"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise NirError(f"{where}: skip_steps {value!r} is not an integer >= 0")
        out["skip_steps"] = value
    if "name" in obj:
        if not isinstance(obj["name"], str) or not obj["name"]:
            raise NirError(f"{where}: name {obj['name']!r} is not a non-empty string")
        out["name"] = obj["name"]
    if "dt" in obj:
        out["dt"] = _check_dt(obj["dt"], f"{where}: dt")
    if "layer_names" in obj:
        names = obj["layer_names"]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise NirError(f"{where}: layer_names {names!r} is not a list of strings")
        out["layer_names"] = names
    return out


def _check_hdf5(path: str) -> None:
    """Refuse (NirError) an HDF5 file that would make the NIR reader hang or run out of
    memory: datasets of non-standard types (h5py can loop forever converting a float with
    a corrupt format), too many values or too many objects."""
    import h5py
    from h5py import h5t
    standard = [getattr(h5t, name) for name in _NUMBER_TYPES]
    seen = {"objects": 0, "values": 0}

    def standard_type(tid) -> bool:
        cls = tid.get_class()
        if cls == h5t.STRING:
            return True
        if cls == h5t.ENUM:           # h5py's booleans
            tid, cls = tid.get_super(), tid.get_super().get_class()
        return cls in (h5t.INTEGER, h5t.FLOAT) and any(tid.equal(t) for t in standard)

    def visit(name, obj):
        seen["objects"] += 1
        if seen["objects"] > MAX_OBJECTS:
            return f"more than {MAX_OBJECTS} groups and datasets"
        if isinstance(obj, h5py.Dataset):
            if not standard_type(obj.id.get_type()):
                return f"dataset {name!r} has a type that is no standard number or string"
            size = int(np.prod(obj.shape, dtype=np.float64)) if obj.shape is not None else 0
            seen["values"] += size
            if size > MAX_DATASET_VALUES or seen["values"] > MAX_FILE_VALUES:
                return (f"dataset {name!r} holds {size:,} values (at most {MAX_DATASET_VALUES:,}"
                        f" each, {MAX_FILE_VALUES:,} in all)")
        return None

    try:
        with h5py.File(path, "r") as fh:
            problem = fh.visititems(visit)
    except Exception as exc:  # noqa: BLE001 -- h5py raises many types for a bad file
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise NirError(f"{path}: not a readable NIR file: {text}") from None
    if problem:
        raise NirError(f"{path}: not a NIR file spikeforge reads: {problem}")


def import_nir(path, *, dt: float = 1.0, formats: Formats | None = None,
               decision: Decision | None = None, weight_clip: float | None = None) -> Network:
    """Read a NIR file and quantise it. Metadata written by ``export_nir`` (formats,
    decision rule, name, dt) takes the place of the defaults.

    The file is read in a child process (``_isolated``): a corrupt HDF5 file can make
    the HDF5 library loop forever or crash, which then ends in a NirError instead."""
    _nir()
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise NirError(f"{path}: no such file")

    def read() -> Network:
        nir = _nir()
        _check_hdf5(path)
        try:
            graph = nir.read(path)
        except Exception as exc:  # noqa: BLE001 -- h5py and nir raise many types for a bad file
            text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise NirError(f"{path}: not a readable NIR file: {text}") from None
        try:
            return graph_to_network(graph, dt=dt, formats=formats, decision=decision,
                                    weight_clip=weight_clip,
                                    name=os.path.splitext(os.path.basename(path))[0])
        except NirError as exc:
            raise NirError(f"{path}: {exc}") from None
    return _isolated(read, path)


#: Seconds a NIR file may take to read before the reader process is stopped.
READ_TIMEOUT = 60.0


def _isolated(work, path: str) -> Network:
    """``work()`` (a Network, or a NirError) in a forked child process, so that a hang or
    a crash of the HDF5 library on a hostile file ends in a NirError after
    ``READ_TIMEOUT`` seconds; the network comes back as a network file (no pickle).
    Without ``os.fork`` (Windows) ``work`` runs here."""
    if not hasattr(os, "fork"):
        return work()
    with tempfile.TemporaryDirectory(prefix="spikeforge-nir-") as folder:
        out = os.path.join(folder, "network.npz")
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:                                    # the child: never returns
            code = 3
            try:
                os.close(read_end)
                # a crash here is the parent's NirError, not a traceback on stderr
                faulthandler.disable()
                try:
                    work().save(out)
                    code, message = 0, ""
                except NirError as exc:
                    code, message = 1, str(exc)
                except KeyboardInterrupt:
                    code, message = 4, ""
                except BaseException as exc:            # noqa: BLE001 -- a bug: say which
                    code, message = 2, f"{type(exc).__name__}: {exc}"
                data = message.encode("utf-8", "replace")
                while data:
                    data = data[os.write(write_end, data):]
            finally:
                os._exit(code)
        os.close(write_end)
        chunks, status = [], None
        try:
            deadline = time.monotonic() + READ_TIMEOUT
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([read_end], [], [], left)[0]:
                    raise NirError(f"{path}: not a readable NIR file: reading it took longer "
                                   f"than {READ_TIMEOUT:g} s and was stopped (a corrupt HDF5 "
                                   f"file can make the HDF5 library loop)")
                chunk = os.read(read_end, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
            status = os.waitpid(pid, 0)[1]
        finally:
            os.close(read_end)
            if status is None:                          # stopped early: end the child
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
        message = b"".join(chunks).decode("utf-8", "replace")
        if os.WIFSIGNALED(status):
            raise NirError(f"{path}: not a readable NIR file: the HDF5 reader crashed "
                           f"({signal.Signals(os.WTERMSIG(status)).name})")
        code = os.WEXITSTATUS(status)
        if code == 1:
            raise NirError(message)
        if code == 4:
            raise KeyboardInterrupt
        if code != 0:
            raise RuntimeError(f"NIR import of {path} failed in its reader process: {message}")
        try:
            return Network.load(out)
        except NetworkFileError as exc:
            raise NirError(f"{path}: {exc}") from None


def graph_to_network(graph, *, dt: float = 1.0, formats: Formats | None = None,
                     decision: Decision | None = None, name: str = "nir",
                     weight_clip: float | None = None) -> Network:
    """``import_nir`` of a graph in memory: the float network quantised (``weight_clip``:
    see ``golden.quantize``), with the graph's spikeforge metadata taking the place of the
    defaults."""
    meta = _metadata(graph)
    fmt = formats or meta.get("formats", Formats())
    fnet = nir_to_float(graph, dt=meta.get("dt", dt), decay_bits=fmt.decay_bits,
                        decision=decision or meta.get("decision", Decision.PER_STEP),
                        name=meta.get("name", name))
    fnet.skip_steps = meta.get("skip_steps", 0)
    names = meta.get("layer_names")
    if names is not None and len(names) == len(fnet.layers):
        for layer, layer_name in zip(fnet.layers, names):
            layer.name = layer_name
    try:
        return quantize(fnet, fmt, weight_clip=weight_clip)
    except (QuantizeError, NetworkFileError) as exc:
        raise NirError(str(exc).splitlines()[0]) from None


# -- writing a graph --

def network_to_nir(network: Network, *, dt: float = 1.0):
    """The NIR graph of a fixed-point network: its exact float equivalent."""
    nir = _nir()
    dt = _check_dt(dt)
    one = float(1 << network.formats.decay_bits)
    nodes = {"input": nir.Input(input_type={"input": np.array([network.n_inputs])})}
    edges = []
    prev = "input"
    for i, layer in enumerate(network.layers):
        if layer.kind is NeuronKind.ALIF:
            raise NirError(f"layers[{i}] is 'alif': NIR has no adaptive LIF node, so this network "
                           f"cannot be exported")
        if layer.kind is NeuronKind.THETA:
            raise NirError(f"layers[{i}] is 'theta': NIR has no theta (QIF) node, so this network "
                           f"cannot be exported (its float twin, NET.float.npz, keeps the trained "
                           f"parameters)")
        alpha = layer.alpha / one
        alpha_syn = layer.alpha_syn / one
        gain = (1.0 - alpha) * ((1.0 - alpha_syn) if layer.kind is NeuronKind.CUBA else 1.0)
        to_float = layer.scale / gain                   # state LSBs (bias) to real units
        w_to_float = network.weight_lsb(i) / gain        # weight LSBs (2**guard_bits coarser)
        w = layer.w_in * w_to_float[None, :]
        syn, neuron = f"fc{i}", f"layer{i}"
        nodes[syn] = nir.Affine(weight=w.T, bias=layer.bias * to_float)
        size = layer.size
        ones, zeros = np.ones(size), np.zeros(size)
        with np.errstate(over="ignore"):  # a dt too large overflows: refused below
            tau = dt / (1.0 - alpha)      # alpha in [0, 1): tau in [dt, dt * 2**decay_bits]
            tau_syn = dt / (1.0 - alpha_syn)
        if layer.kind is NeuronKind.LI:
            nodes[neuron] = nir.LI(tau=tau, r=ones, v_leak=zeros)
        elif layer.kind is NeuronKind.LIF:
            nodes[neuron] = nir.LIF(tau=tau, r=ones, v_leak=zeros,
                                    v_threshold=layer.b0 * layer.scale, v_reset=zeros)
        else:
            nodes[neuron] = nir.CubaLIF(tau_syn=tau_syn, tau_mem=tau, r=ones,
                                        v_leak=zeros, v_threshold=layer.b0 * layer.scale,
                                        v_reset=zeros, w_in=ones)
        edges += [(prev, syn), (syn, neuron)]
        if layer.recurrent:
            rec = f"rec{i}"
            nodes[rec] = nir.Linear(weight=(layer.w_rec * w_to_float[None, :]).T)
            edges += [(neuron, rec), (rec, neuron)]
        prev = neuron
    nodes["output"] = nir.Output(output_type={"output": np.array([network.n_outputs])})
    edges.append((prev, "output"))
    for node_name, node in nodes.items():
        for param, value in vars(node).items():
            if isinstance(value, np.ndarray) and value.dtype.kind == "f" and \
                    not np.all(np.isfinite(value)):
                raise NirError(f"dt {dt:g}: node {node_name!r} {param} overflows float64; "
                               f"use a smaller dt")
    meta = {"formats": network.formats.to_json(), "decision": network.decision.value,
            "skip_steps": int(network.skip_steps), "name": network.name, "dt": dt,
            "layer_names": [layer.name for layer in network.layers]}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={METADATA_KEY: json.dumps(meta)})


def _first_difference(network: Network, back: Network) -> str | None:
    """Where ``back`` differs from ``network`` (None: identical)."""
    if back.summary() != network.summary():
        return f"layers: {back.summary()} instead of {network.summary()}"
    for i, (a, b) in enumerate(zip(network.layers, back.layers)):
        for param in ("w_in", "w_rec", "bias", "alpha", "alpha_syn", "b0"):
            va, vb = getattr(a, param), getattr(b, param)
            if (va is None) != (vb is None) or (va is not None and not np.array_equal(va, vb)):
                return f"layers[{i}].{param}"
    return None


def export_nir(network: Network, path, *, dt: float = 1.0) -> None:
    """Write ``network`` as a NIR graph. NirError (naming the layer or ``dt``, not the
    file) for a network that would not import back identically; the file is written
    whole or not at all (OSError when it cannot be)."""
    nir = _nir()
    path = os.fspath(path)
    graph = network_to_nir(network, dt=dt)
    for i, layer in enumerate(network.layers):
        largest = max(int(np.abs(layer.w_in).max(initial=0)),
                      int(np.abs(layer.w_rec).max(initial=0)) if layer.recurrent else 0)
        if largest not in (0, network.formats.weight.max):
            raise NirError(f"layers[{i}]: largest |weight| {largest}, not the full width "
                           f"{network.formats.weight.max} of {network.formats.weight_bits}-bit "
                           f"weights; NIR carries real values and the import gives each layer's "
                           f"largest weight the full width, so this network would not come back "
                           f"identically (requantise it first)")
    where = _first_difference(network, graph_to_network(graph))
    if where is not None:
        raise NirError(f"{where} would not import back identically from NIR at dt {dt:g}")
    with atomic_path(path, "NIR graph") as tmp:
        nir.write(tmp, graph)
