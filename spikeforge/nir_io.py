"""NIR (Neuromorphic Intermediate Representation) import and export.

NIR describes neurons in continuous time; spikeforge runs them in steps of
``dt`` with forward Euler, as NIR's reference simulators do: a node with time
constant ``tau`` decays by ``alpha = 1 - dt/tau`` per step. Mapping (float
network, see ``golden.reference``; soft reset by the threshold, as snnTorch's
"subtract" reset does):

* ``Affine``/``Linear`` (weight (out, in), bias) feeding a neuron node become
  its ``w_in`` and ``bias``; an ``Affine``/``Linear`` from a neuron node back
  to itself (flat cycle or a nested recurrent subgraph) becomes ``w_rec``.
* ``LIF(tau, r, v_leak, v_threshold)`` -> LIF with ``w_in = W.T * r``,
  ``bias = r*b + v_leak``, ``b0 = v_threshold``.
* ``CubaLIF(tau_syn, tau_mem, r, v_leak, v_threshold, w_in)`` -> CUBA with the
  input scaled by ``r * w_in`` and ``v_leak`` added to the synaptic current.
* ``LI(tau, r, v_leak)`` -> leaky-integrator readout (last layer only).
* ``IF(r, v_threshold)`` -> LIF with the slowest leak the decay format holds
  (``alpha = 1 - 2**-decay_bits``): exact only while that leak is negligible.

Export writes LIF, CUBA and LI layers back (NIR has no adaptive LIF node) and
stores the formats, decision rule and name in the graph's metadata, so an
exported network imports back to the identical fixed-point ``Network``.
"""

from __future__ import annotations

import json
import os

import numpy as np

from .golden import (Decision, FloatLayer, FloatNetwork, Formats, Network, NeuronKind, quantize)

__all__ = ["NirError", "import_nir", "export_nir", "network_to_nir", "nir_to_float"]

METADATA_KEY = "spikeforge"


class NirError(ValueError):
    """A NIR graph spikeforge cannot run; the message names the node and the parameter."""


def _nir():
    try:
        import nir
    except ImportError:
        raise NirError("NIR import/export needs the nir package: pip install 'spikeforge[nir]'") \
            from None
    return nir


def _tau_steps(alpha: np.ndarray) -> np.ndarray:
    """The time constant in steps (golden.reference: alpha = exp(-1/tau)) of a per-step decay."""
    return -1.0 / np.log(alpha)


def _flatten(graph, prefix=""):
    """Nodes and edges with nested graphs inlined (their Input/Output nodes bypassed)."""
    nir = _nir()
    nodes, edges = {}, []
    entry, exit_ = {}, {}
    for name, node in graph.nodes.items():
        full = prefix + name
        if isinstance(node, nir.NIRGraph):
            inner_nodes, inner_edges, inner_in, inner_out = _flatten(node, full + ".")
            nodes.update(inner_nodes)
            edges += inner_edges
            entry[full], exit_[full] = inner_in, inner_out
        else:
            nodes[full] = node
    # inline: an edge into a subgraph goes to what its Input feeds; out of it, from what
    # feeds its Output
    resolved = []
    for src, dst in graph.edges:
        srcs = exit_.get(prefix + src, [prefix + src])
        dsts = entry.get(prefix + dst, [prefix + dst])
        resolved += [(s, d) for s in srcs for d in dsts]
    inputs = [n for n, v in nodes.items() if isinstance(v, nir.Input) and n.startswith(prefix)
              and n.count(".") == prefix.count(".")]
    outputs = [n for n, v in nodes.items() if isinstance(v, nir.Output) and n.startswith(prefix)
               and n.count(".") == prefix.count(".")]
    if prefix:  # bypass this subgraph's own Input/Output
        feeds_in = [d for s, d in resolved + edges if s in inputs]
        feeds_out = [s for s, d in resolved + edges if d in outputs]
        edges = [(s, d) for s, d in edges if s not in inputs and d not in outputs]
        resolved = [(s, d) for s, d in resolved if s not in inputs and d not in outputs]
        for n in inputs + outputs:
            nodes.pop(n)
        return nodes, edges + resolved, feeds_in, feeds_out
    return nodes, edges + resolved, inputs, outputs


def _vector(node_name, node, param, size):
    value = getattr(node, param, None)
    if value is None:
        raise NirError(f"node {node_name!r}: missing parameter {param!r}")
    vec = np.broadcast_to(np.asarray(value, np.float64).reshape(-1) if np.size(value) > 1
                          else np.asarray(value, np.float64).reshape(()), (size,)).copy()
    if not np.all(np.isfinite(vec)):
        raise NirError(f"node {node_name!r}: {param} contains NaN or infinity")
    return vec


def _affine(name, node):
    nir = _nir()
    weight = np.asarray(node.weight, np.float64)
    if weight.ndim != 2:
        raise NirError(f"node {name!r}: weight has shape {weight.shape}, expected (out, in)")
    bias = np.asarray(node.bias, np.float64).reshape(-1) if isinstance(node, nir.Affine) \
        else np.zeros(weight.shape[0])
    if bias.shape != (weight.shape[0],):
        raise NirError(f"node {name!r}: bias shape {bias.shape}, expected ({weight.shape[0]},)")
    return weight, bias


def nir_to_float(graph, *, dt: float = 1.0, decay_bits: int = Formats().decay_bits,
                 decision: Decision = Decision.PER_STEP, name: str = "nir") -> FloatNetwork:
    """A float network from a NIR graph (see the module docstring for the mapping)."""
    nir = _nir()
    if not dt > 0:
        raise NirError(f"dt {dt!r}: must be > 0")
    nodes, edges, inputs, outputs = _flatten(graph)
    if len(inputs) != 1 or len(outputs) != 1:
        raise NirError(f"graph needs exactly one Input and one Output node, found "
                       f"{len(inputs)} and {len(outputs)}")
    succ, pred = {}, {}
    for s, d in edges:
        succ.setdefault(s, []).append(d)
        pred.setdefault(d, []).append(s)
    neuron_types = (nir.LIF, nir.CubaLIF, nir.LI, nir.IF)
    supported = (nir.Input, nir.Output, nir.Affine, nir.Linear) + neuron_types
    for n, node in nodes.items():
        if not isinstance(node, supported):
            raise NirError(f"node {n!r}: {type(node).__name__} is not supported; spikeforge "
                           f"runs Input, Output, Affine, Linear, LIF, CubaLIF, LI and IF")
    layers = []
    current, n_inputs = inputs[0], None
    while True:
        nxt = succ.get(current, [])
        if len(nxt) != 1:
            raise NirError(f"node {current!r}: feeds {len(nxt)} nodes {nxt}; spikeforge runs "
                           f"chains of layers (with optional recurrence)")
        if nxt[0] == outputs[0]:
            break
        syn_name = nxt[0]
        if not isinstance(nodes[syn_name], (nir.Affine, nir.Linear)):
            raise NirError(f"node {syn_name!r}: expected an Affine or Linear node after "
                           f"{current!r}, found {type(nodes[syn_name]).__name__}")
        weight, bias = _affine(syn_name, nodes[syn_name])
        if n_inputs is None:
            n_inputs = weight.shape[1]
        targets = succ.get(syn_name, [])
        if len(targets) != 1 or not isinstance(nodes[targets[0]], neuron_types):
            raise NirError(f"node {syn_name!r}: must feed exactly one neuron node "
                           f"(LIF, CubaLIF, LI, IF), feeds {targets}")
        neuron_name = targets[0]
        neuron = nodes[neuron_name]
        size = weight.shape[0]
        w_rec = None
        for src in pred.get(neuron_name, []):
            if src == syn_name:
                continue
            if isinstance(nodes[src], (nir.Affine, nir.Linear)) and pred.get(src) == [neuron_name]:
                rec_w, rec_b = _affine(src, nodes[src])
                if rec_w.shape != (size, size):
                    raise NirError(f"node {src!r}: recurrent weight shape {rec_w.shape}, "
                                   f"expected ({size}, {size})")
                w_rec, bias = rec_w.T, bias + rec_b
            else:
                raise NirError(f"node {neuron_name!r}: unexpected input from {src!r}")
        layers.append(_neuron_layer(neuron_name, neuron, weight, bias, w_rec, dt, decay_bits))
        current = neuron_name
        rest = [d for d in succ.get(neuron_name, []) if not (w_rec is not None and
                isinstance(nodes[d], (nir.Affine, nir.Linear)) and pred.get(d) == [neuron_name]
                and neuron_name in succ.get(d, []))]
        succ[neuron_name] = rest
    if not layers:
        raise NirError("graph has no neuron layer between its Input and Output")
    for layer in layers[:-1]:
        if layer.kind is NeuronKind.LI:
            raise NirError(f"node {layer.name!r}: LI (no spikes) is only allowed as the last layer")
    return FloatNetwork(n_inputs=n_inputs, layers=layers, decision=decision, name=name)


def _neuron_layer(name, node, weight, bias, w_rec, dt, decay_bits) -> FloatLayer:
    nir = _nir()
    size = weight.shape[0]

    def decay(param):
        tau = _vector(name, node, param, size)
        if np.any(tau <= dt):
            raise NirError(f"node {name!r}: {param} min {tau.min():g} must exceed dt = {dt:g} "
                           f"(forward Euler needs dt < tau)")
        return 1.0 - dt / tau

    if isinstance(node, nir.IF):
        r = _vector(name, node, "r", size)
        alpha = np.full(size, 1.0 - 2.0 ** -decay_bits)
        gain = 1.0 - alpha
        return FloatLayer(kind=NeuronKind.LIF, w_in=weight.T * (r / gain)[None, :],
                          w_rec=None if w_rec is None else w_rec * (r / gain)[None, :],
                          bias=bias * r / gain, tau_m=_tau_steps(alpha),
                          b0=_vector(name, node, "v_threshold", size), beta=0.0, name=name)
    if isinstance(node, nir.CubaLIF):
        r = _vector(name, node, "r", size) * _vector(name, node, "w_in", size)
        leak = _vector(name, node, "v_leak", size)
        return FloatLayer(kind=NeuronKind.CUBA, w_in=weight.T * r[None, :],
                          w_rec=None if w_rec is None else w_rec * r[None, :],
                          bias=bias * r + leak, tau_m=_tau_steps(decay("tau_mem")),
                          tau_syn=_tau_steps(decay("tau_syn")),
                          b0=_vector(name, node, "v_threshold", size), beta=0.0, name=name)
    r = _vector(name, node, "r", size)
    leak = _vector(name, node, "v_leak", size)
    kind = NeuronKind.LI if isinstance(node, nir.LI) else NeuronKind.LIF
    return FloatLayer(kind=kind, w_in=weight.T * r[None, :],
                      w_rec=None if w_rec is None else w_rec * r[None, :],
                      bias=bias * r + leak, tau_m=_tau_steps(decay("tau")),
                      b0=_vector(name, node, "v_threshold", size) if kind is NeuronKind.LIF else 0.0,
                      beta=0.0, name=name)


def import_nir(path, *, dt: float = 1.0, formats: Formats | None = None,
               decision: Decision | None = None) -> Network:
    """Read a NIR file and quantise it. Metadata written by ``export_nir`` (formats,
    decision rule, name, dt) takes the place of the defaults."""
    nir = _nir()
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise NirError(f"{path}: no such file")
    try:
        graph = nir.read(path)
    except Exception as exc:  # h5py and nir raise many types for a bad file
        raise NirError(f"{path}: not a readable NIR file: {exc}".splitlines()[0]) from None
    meta = {}
    raw = graph.metadata.get(METADATA_KEY) if isinstance(graph.metadata, dict) else None
    if raw is not None:
        meta = json.loads(raw if isinstance(raw, str) else raw.decode())
    fmt = formats or (Formats.from_json(meta["formats"]) if "formats" in meta else Formats())
    rule = decision or Decision(meta.get("decision", Decision.PER_STEP.value))
    try:
        fnet = nir_to_float(graph, dt=float(meta.get("dt", dt)), decay_bits=fmt.decay_bits,
                            decision=rule,
                            name=meta.get("name", os.path.splitext(os.path.basename(path))[0]))
    except NirError as exc:
        raise NirError(f"{path}: {exc}") from None
    fnet.skip_steps = int(meta.get("skip_steps", 0))
    return quantize(fnet, fmt)


def network_to_nir(network: Network, *, dt: float = 1.0):
    """The NIR graph of a fixed-point network: its exact float equivalent."""
    nir = _nir()
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
        tau = dt / (1.0 - alpha)
        if layer.kind is NeuronKind.LI:
            nodes[neuron] = nir.LI(tau=tau, r=ones, v_leak=zeros)
        elif layer.kind is NeuronKind.LIF:
            nodes[neuron] = nir.LIF(tau=tau, r=ones, v_leak=zeros,
                                    v_threshold=layer.b0 * layer.scale)
        else:
            nodes[neuron] = nir.CubaLIF(tau_syn=dt / (1.0 - alpha_syn), tau_mem=tau, r=ones,
                                        v_leak=zeros, v_threshold=layer.b0 * layer.scale,
                                        w_in=ones)
        edges += [(prev, syn), (syn, neuron)]
        if layer.recurrent:
            rec = f"rec{i}"
            nodes[rec] = nir.Linear(weight=(layer.w_rec * w_to_float[None, :]).T)
            edges += [(neuron, rec), (rec, neuron)]
        prev = neuron
    nodes["output"] = nir.Output(output_type={"output": np.array([network.n_outputs])})
    edges.append((prev, "output"))
    meta = {"formats": network.formats.to_json(), "decision": network.decision.value,
            "skip_steps": network.skip_steps, "name": network.name, "dt": dt}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={METADATA_KEY: json.dumps(meta)})


def export_nir(network: Network, path, *, dt: float = 1.0) -> None:
    _nir().write(os.fspath(path), network_to_nir(network, dt=dt))
