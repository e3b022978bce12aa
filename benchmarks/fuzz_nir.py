"""Fuzz NIR import and export: mutated files, graphs, parameters and metadata.

    python benchmarks/fuzz_nir.py [--cases N] [--seed S] [--timeout SECONDS] [--json]

Families of seeded cases (N of each), each run in a worker process (a hang is a case
that does not end within the timeout; a crash is a worker that died, e.g. in h5py):

* ``bytes``: an exported graph's HDF5 file with bytes changed, zeroed, cut off or
  repeated. The import must refuse it with a ``NirError`` or give a valid network
  (one that simulates and saves).
* ``graph``: the graph's structure changed: a node or edge removed, an edge added, a
  cycle, a node of another type, and transformations that keep the meaning (nodes
  renamed, reordered, a layer wrapped in a subgraph), which must import to the
  identical network.
* ``params``: parameters set to NaN, infinity, huge, zero or negative values, another
  shape or dtype, a non-zero ``v_reset`` or CubaLIF ``v_leak``; values that break
  what spikeforge can run must be refused.
* ``metadata``: the ``spikeforge`` metadata replaced by other JSON, non-JSON or other
  types.
* ``export``: random networks (LIF/CUBA/LI, decays 0 and the largest) exported at random
  ``dt`` (also 0, negative, NaN, infinite, tiny, huge): the export must refuse a bad
  ``dt`` and every graph it writes must import back to the identical network.

Outcomes: ``ok``, ``clean`` (a one-line ``NirError``), ``traceback`` (any other
exception, or an error of more than one line), ``hang``, ``crash`` and ``wrong`` (a
graph that must be refused was imported, or one that must import identically did not).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
import traceback
from collections import Counter

import numpy as np

OUTCOMES = ("ok", "clean", "traceback", "hang", "crash", "wrong")
BAD = ("traceback", "hang", "crash", "wrong")


# -- source graphs --

def _random_net(rng):
    from spikeforge.golden import Decision, Formats, NeuronKind
    from spikeforge.golden.randnet import random_network
    kind = [NeuronKind.LIF, NeuronKind.CUBA][int(rng.integers(2))]
    readout = [NeuronKind.LI, NeuronKind.LIF, NeuronKind.CUBA][int(rng.integers(3))]
    decision = Decision.PER_STEP if readout is NeuronKind.LI else \
        [Decision.PER_STEP, Decision.LAST, Decision.SPIKE_COUNT, Decision.FIRST_SPIKE][
            int(rng.integers(4))]
    formats = Formats(weight_bits=int(rng.integers(3, 13)), state_bits=int(rng.integers(20, 32)),
                      decay_bits=int(rng.integers(4, 21)), guard_bits=int(rng.integers(0, 5)))
    hidden = tuple(int(rng.integers(1, 7)) for _ in range(int(rng.integers(0, 3))))
    net = random_network(int(rng.integers(1 << 30)), int(rng.integers(1, 6)), hidden,
                         int(rng.integers(1, 5)), kind=kind, readout=readout,
                         decision=decision, formats=formats, recurrent=bool(rng.integers(2)))
    one = 1 << formats.decay_bits
    for layer in net.layers:        # decays at the edges: instant (0) and the slowest
        for name in ("alpha", "alpha_syn") if layer.kind is NeuronKind.CUBA else ("alpha",):
            value = getattr(layer, name)
            pick = rng.integers(0, 4, value.shape)
            setattr(layer, name, np.where(pick == 0, 0, np.where(pick == 1, one - 1, value)))
    return net


def _network(rng):
    from spikeforge.golden import QuantizeError
    for _ in range(20):
        try:
            return _random_net(rng)
        except QuantizeError:       # formats too narrow for that network: draw again
            continue
    raise RuntimeError("no random network")


def _source(rng):
    """A graph to mutate: spikeforge's export of a random network, or a foreign-looking
    one (r != 1, v_leak, metadata-free, a nested recurrent subgraph)."""
    import nir
    from spikeforge.nir_io import network_to_nir
    if rng.random() < 0.7:
        net = _network(rng)
        return network_to_nir(net, dt=float(10.0 ** rng.uniform(-4, 1))), net
    n_in, n_h, n_out = (int(rng.integers(1, 5)) for _ in range(3))
    lif = nir.LIF(tau=rng.uniform(0.02, 0.1, n_h), r=rng.uniform(0.5, 2.0, n_h),
                  v_leak=rng.normal(0, 0.01, n_h), v_threshold=rng.uniform(0.3, 1.0, n_h))
    rec = nir.NIRGraph(nodes={"input": nir.Input(input_type={"input": np.array([n_h])}),
                              "lif": lif,
                              "w_rec": nir.Linear(weight=rng.normal(0, 0.3, (n_h, n_h))),
                              "output": nir.Output(output_type={"output": np.array([n_h])})},
                       edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"),
                              ("lif", "output")])
    graph = nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([n_in])}),
        "fc1": nir.Affine(weight=rng.normal(0, 1.0, (n_h, n_in)), bias=rng.normal(0, 0.1, n_h)),
        "rnn": rec,
        "fc2": nir.Affine(weight=rng.normal(0, 1.0, (n_out, n_h)), bias=np.zeros(n_out)),
        "li": nir.LI(tau=np.full(n_out, 0.01), r=np.ones(n_out), v_leak=np.zeros(n_out)),
        "output": nir.Output(output_type={"output": np.array([n_out])})},
        edges=[("input", "fc1"), ("fc1", "rnn"), ("rnn", "fc2"), ("fc2", "li"),
               ("li", "output")])
    graph.metadata = {"spikeforge": json.dumps({"dt": 1e-3})}
    return graph, None


# -- what an imported network must satisfy --

def _usable(net) -> bool:
    """The imported network simulates and saves (a NirError-free import must give this)."""
    from spikeforge.golden import simulate
    from spikeforge.golden.randnet import random_events
    simulate(net, random_events(0, 1, 3, net.n_inputs, values=(1, -1)))
    with tempfile.TemporaryDirectory() as folder:
        net.save(os.path.join(folder, "n.npz"))
    return True


def _same(a, b) -> bool:
    from spikeforge.nir_io import _first_difference
    return _first_difference(a, b) is None and a.formats == b.formats and \
        a.decision is b.decision and a.skip_steps == b.skip_steps


def _import_graph(graph, folder):
    """Write ``graph`` and import the file: a network, or the NirError (a graph NIR cannot
    write, e.g. with text parameters, is imported in memory)."""
    import nir
    from spikeforge.nir_io import graph_to_network, import_nir
    path = os.path.join(folder, "g.nir")
    try:
        nir.write(path, graph)
    except Exception:   # noqa: BLE001 -- what h5py cannot store
        return graph_to_network(graph)
    return import_nir(path)


def _classify(func):
    """func() -> "ok"/"wrong"; NirError -> clean; anything else -> traceback."""
    from spikeforge.nir_io import NirError
    try:
        return func(), None
    except NirError as exc:
        if "\n" in str(exc) or not str(exc):
            return "traceback", f"NirError not one line: {exc!r}"
        return "clean", None
    except Exception:   # noqa: BLE001 -- the fuzz classifies every exception
        return "traceback", traceback.format_exc(limit=-4)


# -- families --

def case_bytes(rng, folder):
    import nir
    from spikeforge.nir_io import import_nir
    graph, _ = _source(rng)
    path = os.path.join(folder, "g.nir")
    nir.write(path, graph)
    data = bytearray(open(path, "rb").read())
    for _ in range(int(rng.integers(1, 6))):
        how = int(rng.integers(5))
        k = int(rng.integers(len(data)))
        if how == 0:
            data[k] ^= 1 << int(rng.integers(8))
        elif how == 1:
            data[k] = int(rng.integers(256))
        elif how == 2:
            n = int(rng.integers(1, 64))
            data[k:k + n] = bytes(min(n, len(data) - k))
        elif how == 3:
            del data[k:]
            data += b"" if data else b"\0"
        else:
            n = int(rng.integers(1, 256))
            data[k:k] = data[k:k + n]
    with open(path, "wb") as fh:
        fh.write(bytes(data))
    return _classify(lambda: "ok" if _usable(import_nir(path)) else "wrong")


def _wrap_layer(graph, rng):
    """A neuron node (with its recurrent Linear) moved into a subgraph: same meaning."""
    import nir
    neurons = [n for n, v in graph.nodes.items()
               if isinstance(v, (nir.LIF, nir.CubaLIF, nir.LI))]
    if not neurons:
        return None
    name = neurons[int(rng.integers(len(neurons)))]
    rec = [s for s, d in graph.edges if d == name and (name, s) in graph.edges]
    inner = {name: graph.nodes[name], **{r: graph.nodes[r] for r in rec}}
    size = np.array([np.size(getattr(graph.nodes[name], "r"))])
    inner_edges = [("input", name), (name, "output")] + \
        [e for e in graph.edges if e[0] in inner and e[1] in inner]
    sub = nir.NIRGraph(nodes={"input": nir.Input(input_type={"input": size}), **inner,
                              "output": nir.Output(output_type={"output": size})},
                       edges=inner_edges, type_check=False)
    nodes = {k: v for k, v in graph.nodes.items() if k not in inner}
    nodes["sub"] = sub
    edges = []
    for s, d in graph.edges:
        if s in inner and d in inner:
            continue
        edges.append(("sub" if s in inner else s, "sub" if d in inner else d))
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=graph.metadata, type_check=False)


def case_graph(rng, folder):
    import nir
    from spikeforge.nir_io import graph_to_network
    graph, _ = _source(rng)
    try:
        reference = graph_to_network(graph)
    except Exception:   # noqa: BLE001 -- a source that does not import is a finding too
        return "traceback", traceback.format_exc(limit=-4)
    nodes, edges = dict(graph.nodes), list(graph.edges)
    names = list(nodes)
    how = int(rng.integers(9))
    keeps_meaning = how >= 6
    if how == 0:                                        # a node removed
        del nodes[names[int(rng.integers(len(names)))]]
    elif how == 1 and edges:                            # an edge removed
        del edges[int(rng.integers(len(edges)))]
    elif how == 2:                                      # an edge added
        edges.append((names[int(rng.integers(len(names)))], names[int(rng.integers(len(names)))]))
    elif how == 3:                                      # a cycle back to the first synapse
        last = [s for s, d in edges if d == "output"]
        first = [d for s, d in edges if s == "input"]
        if last and first:
            edges = [e for e in edges if e[1] != "output"] + [(last[0], first[0])]
    elif how == 4:                                      # an edge to a node that is not there
        edges.append((names[int(rng.integers(len(names)))], "ghost"))
    elif how == 5:                                      # a node of another type
        k = names[int(rng.integers(len(names)))]
        size = 3
        nodes[k] = [nir.Delay(delay=np.ones(size)), nir.Threshold(threshold=np.ones(size)),
                    nir.Scale(scale=np.ones(size)),
                    nir.LI(tau=np.ones(size), r=np.ones(size), v_leak=np.zeros(size)),
                    nir.Linear(weight=np.ones((size, size)))][int(rng.integers(5))]
    elif how == 6:                                      # renamed
        new = {n: f"n{int(rng.integers(1 << 20))}_{k}" for k, n in enumerate(names)}
        nodes = {new[n]: v for n, v in nodes.items()}
        edges = [(new[s], new[d]) for s, d in edges]
    elif how == 7:                                      # reordered
        order = rng.permutation(len(names))
        nodes = {names[k]: nodes[names[k]] for k in order}
        edges = [edges[k] for k in rng.permutation(len(edges))]
    else:                                               # a layer in a subgraph
        wrapped = _wrap_layer(graph, rng)
        if wrapped is None:
            return "ok", None
        nodes, edges = dict(wrapped.nodes), list(wrapped.edges)
    mutated = nir.NIRGraph(nodes=nodes, edges=edges, metadata=graph.metadata, type_check=False)

    def check():
        try:
            back = _import_graph(mutated, folder)
        except Exception as exc:   # noqa: BLE001
            if keeps_meaning:
                raise AssertionError(f"a graph with the same meaning was refused: {exc}") from None
            raise
        if keeps_meaning and not _same(reference, back):
            return "wrong"
        return "ok" if _usable(back) else "wrong"
    outcome, detail = _classify(check)
    if outcome == "traceback" and detail and "with the same meaning" in detail:
        outcome = "wrong"
    return outcome, detail


def _must_refuse(func):
    outcome, detail = _classify(func)
    return ("wrong", "imported a graph that must be refused") if outcome == "ok" else \
        (outcome, detail)


def _graph_settings(graph):
    """(dt, decay_bits) the import will use for ``graph``."""
    meta = json.loads(graph.metadata.get("spikeforge", "{}"))
    bits = meta.get("formats", {}).get("decay_bits", 16)
    return float(meta.get("dt", 1.0)), int(bits)


def _breaks_the_rules(node, param, value, dt, bits) -> bool:
    """Whether ``value`` for ``node.param`` is something spikeforge must refuse."""
    import nir
    value = np.asarray(value)
    if value.dtype.kind not in "iuf":
        return True
    if not np.all(np.isfinite(value)):
        return True
    if param == "v_reset" and np.any(value != 0):
        return True
    if param == "v_leak" and isinstance(node, nir.CubaLIF) and np.any(value != 0):
        return True
    if param.startswith("tau") and value.size:
        with np.errstate(divide="ignore", invalid="ignore"):
            alpha = 1.0 - dt / value.astype(np.float64)
        one = float(1 << bits)
        return bool(np.any(value < dt) or np.any(np.rint(alpha * one) >= one))
    return False


def case_params(rng, folder):
    import nir
    graph, _ = _source(rng)
    dt, bits = _graph_settings(graph)
    owners = [(graph, n) for n in graph.nodes] + \
        [(g, n) for g in graph.nodes.values() if isinstance(g, nir.NIRGraph) for n in g.nodes]
    owners = [(g, n) for g, n in owners
              if isinstance(g.nodes[n], (nir.Affine, nir.Linear, nir.LIF, nir.CubaLIF, nir.LI))]
    owner, name = owners[int(rng.integers(len(owners)))]
    node = owner.nodes[name]
    params = [p for p, v in vars(node).items() if isinstance(v, np.ndarray)
              and not p.endswith("_type")]
    param = params[int(rng.integers(len(params)))]
    value = np.array(getattr(node, param), np.float64)
    how = int(rng.integers(9))
    flat = value.reshape(-1)
    k = int(rng.integers(flat.size)) if flat.size else 0
    if how == 0 and flat.size:
        flat[k] = np.nan
    elif how == 1 and flat.size:
        flat[k] = [np.inf, -np.inf][int(rng.integers(2))]
    elif how == 2 and flat.size:
        flat[k] = float(rng.choice([1e300, -1e300, 1e-300, 0.0, -1.0]))
    elif how == 3:          # one value more or fewer
        value = np.append(flat, 1.0) if rng.random() < 0.5 else flat[1:]
    elif how == 4:          # one dimension more
        value = value.reshape(1, *value.shape)
    elif how == 5:          # not real numbers
        value = np.array([str(v) for v in flat]) if rng.random() < 0.5 else \
            value.astype(np.complex128) + 1j
    elif how == 6 and isinstance(node, (nir.LIF, nir.CubaLIF)):
        param, value = "v_reset", np.full(np.shape(node.v_threshold), 0.25)
    elif how == 7 and isinstance(node, nir.CubaLIF):
        param, value = "v_leak", np.full(np.shape(node.v_threshold), 0.1)
    else:
        value = value * float(rng.choice([0.0, -1.0, 1e6, 1e-6]))
    refuse = _breaks_the_rules(node, param, value, dt, bits)
    setattr(node, param, value)

    def imported():
        back = _import_graph(graph, folder)
        return "ok" if _usable(back) else "wrong"
    return _must_refuse(imported) if refuse else _classify(imported)


def case_metadata(rng, folder):
    from spikeforge.golden import Formats
    graph, _ = _source(rng)
    meta = {"formats": Formats().to_json(), "decision": "per_step", "skip_steps": 0,
            "name": "x", "dt": 1.0}
    how = int(rng.integers(8))
    refuse = True
    if how == 0:
        raw = "{not json" + "".join(chr(int(c)) for c in rng.integers(32, 127, 5))
    elif how == 1:
        raw = json.dumps([1, 2, 3]) if rng.random() < 0.5 else json.dumps("text")
    elif how == 2:          # a field of the wrong type or value
        field = list(meta)[int(rng.integers(len(meta)))]
        value = [None, [], {}, "x", -3, 2.5, True, "NaN"][int(rng.integers(8))]
        meta[field] = value
        raw = json.dumps(meta)
        refuse = not ((field == "name" and value == "x") or (field == "dt" and value == 2.5))
    elif how == 3:
        raw = int(rng.integers(100))
    elif how == 4:
        raw = np.array([1.0, 2.0])
    elif how == 5:
        raw = json.dumps({"dt": float(rng.choice([0.0, -1.0, 1e-320]))})
    elif how == 6:
        raw = "[" * 100_000 + "]" * 100_000       # deep nesting
    else:
        raw = json.dumps({"unknown": 1})
        refuse = False
    graph.metadata = {"spikeforge": raw}

    def imported():
        back = _import_graph(graph, folder)
        return "ok" if _usable(back) else "wrong"
    return _must_refuse(imported) if refuse else _classify(imported)


def case_export(rng, folder):
    from spikeforge.nir_io import export_nir, import_nir
    net = _network(rng)
    dt = float(rng.choice([1.0, 1e-3, 10.0 ** rng.uniform(-300, 300), 0.0, -1.0, np.nan,
                           np.inf, -np.inf, 5e-324, 1e308]))
    bad = not (np.isfinite(dt) and dt >= np.finfo(np.float64).tiny)
    path = os.path.join(folder, "e.nir")
    if os.path.exists(path):
        os.unlink(path)

    def exported():
        export_nir(net, path, dt=dt)
        if bad:
            return "wrong"
        return "ok" if _same(net, import_nir(path)) else "wrong"
    outcome, detail = _classify(exported)
    if outcome == "clean" and os.path.exists(path):
        return "wrong", "a refused export left a file"
    return outcome, detail


FAMILIES = {"bytes": case_bytes, "graph": case_graph, "params": case_params,
            "metadata": case_metadata, "export": case_export}


# -- worker processes --

def _worker(conn, seed, read_timeout):
    import resource
    from spikeforge import nir_io
    nir_io.READ_TIMEOUT = read_timeout          # a file the HDF5 library loops on: clean
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = 4 << 30
    if hard == resource.RLIM_INFINITY or hard > limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    import warnings
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as folder:
        while True:
            try:
                job = conn.recv()
            except EOFError:
                return
            if job is None:
                return
            family, index = job
            rng = np.random.default_rng([seed, list(FAMILIES).index(family), index])
            try:
                result = FAMILIES[family](rng, folder)
            except Exception:   # noqa: BLE001 -- a fault in the case generator itself
                result = ("traceback", traceback.format_exc(limit=-4))
            conn.send(result)


class Pool:
    """One worker process at a time; a hung or dead one is replaced."""

    def __init__(self, seed, read_timeout):
        self.seed, self.read_timeout = seed, read_timeout
        self.ctx = multiprocessing.get_context("fork")
        self.proc = None

    def _start(self):
        self.conn, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=_worker,
                                    args=(child, self.seed, self.read_timeout), daemon=True)
        self.proc.start()
        child.close()

    def run(self, family, index, timeout):
        if self.proc is None or not self.proc.is_alive():
            self._start()
        self.conn.send((family, index))
        if self.conn.poll(timeout):
            try:
                return self.conn.recv()
            except EOFError:
                pass
            self.stop()
            return "crash", "the worker died"
        crashed = not self.proc.is_alive()
        self.stop()
        return ("crash", "the worker died") if crashed else ("hang", f"no end in {timeout} s")

    def stop(self):
        if self.proc is not None:
            if self.proc.is_alive():
                self.proc.kill()
            self.proc.join()
            self.proc = None

    def close(self):
        if self.proc is not None and self.proc.is_alive():
            self.conn.send(None)
            self.proc.join(5)
        self.stop()


def fuzz(cases: int, seed: int, *, timeout: float = 20.0, read_timeout: float = 5.0,
         families=tuple(FAMILIES), examples: int = 3) -> dict:
    """``cases`` cases of each family: {family: {outcome: count, "details": [...]}}.
    ``read_timeout``: the import's own limit on reading a file (``nir_io.READ_TIMEOUT``),
    below ``timeout``, the fuzz's limit on a case."""
    pool = Pool(seed, read_timeout)
    report = {}
    try:
        for family in families:
            counts, details = Counter(), []
            for index in range(cases):
                outcome, detail = pool.run(family, index, timeout)
                counts[outcome] += 1
                if outcome in BAD and len(details) < examples:
                    details.append(f"case {index}: {detail}")
            report[family] = {"tried": cases, **{o: counts.get(o, 0) for o in OUTCOMES},
                              "details": details}
    finally:
        pool.close()
    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=500, help="cases per family (default 500)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per case (a hang)")
    parser.add_argument("--read-timeout", type=float, default=5.0,
                        help="the import's limit on reading one file (nir_io.READ_TIMEOUT)")
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=list(FAMILIES))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    start = time.perf_counter()
    report = fuzz(args.cases, args.seed, timeout=args.timeout, read_timeout=args.read_timeout,
                  families=args.families)
    seconds = time.perf_counter() - start
    if args.json:
        print(json.dumps({"seed": args.seed, "seconds": round(seconds, 1), "families": report},
                         indent=1))
    else:
        print(f"{'family':<10}" + "".join(f"{o:>11}" for o in ("tried",) + OUTCOMES))
        for family, row in report.items():
            print(f"{family:<10}" + "".join(f"{row[o]:>11}" for o in ("tried",) + OUTCOMES))
            for detail in row["details"]:
                print("  " + detail.strip().replace("\n", "\n  "))
        print(f"seed {args.seed}, {seconds:.1f} s")
    sys.exit(1 if any(row[o] for row in report.values() for o in BAD) else 0)


if __name__ == "__main__":
    main()
