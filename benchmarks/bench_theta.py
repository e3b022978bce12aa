"""Theta networks: the shipped builtin:digits-ttfs through every model, accuracy vs ticks,
spike-time error of the fixed-point neuron, spikes, operations, training time.

Prints figures (no timed assertions)::

    .venv/bin/python benchmarks/bench_theta.py            # full
    .venv/bin/python benchmarks/bench_theta.py --quick    # fewer tick counts, 1 timed epoch

Models compared on the digits test set (the first 449 of default_rng(0).permutation(1797)):
the continuous-time float model (``train.theta.ThetaNet.run``: decisions by argmin of the
first ordinary output spike or the pseudospike; "ordinary spikes only" counts samples
without an output spike as wrong), the discrete-time float model (``golden.simulate_float``)
and the fixed-point golden model (``golden.simulate``), those two with the no-spike rule
(no output spike: the largest final phase decides) and without it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time
from importlib import resources

import numpy as np

from spikeforge.golden import Network, quantize, simulate, simulate_float
from spikeforge.golden.reference import FloatLayer, FloatNetwork, FloatTheta
from spikeforge.golden.theta import phase_of, unpack_state

#: The reference code (chklos/spikegd, JAX) on the digits: seconds per epoch (DESIGN.md).
REFERENCE_SECONDS_PER_EPOCH = 2.6
#: The paper's hidden-layer activity on MNIST (spikes per hidden neuron per sample).
PAPER_HIDDEN_SPIKES = 0.42


def shipped_paths():
    folder = resources.files("spikeforge") / "networks"
    return str(folder / "digits-ttfs.npz"), str(folder / "float" / "digits-ttfs.npz")


def with_steps(fnet: FloatNetwork, steps: int, decay_bits: int) -> FloatNetwork:
    """The same float network with ``steps`` exactly representable ticks over T ~ 2."""
    th = fnet.theta
    theta = FloatTheta.exact(th.tau, th.i0, th.steps * th.tick, steps, decay_bits)
    return FloatNetwork(n_inputs=fnet.n_inputs, layers=fnet.layers, decision=fnet.decision,
                        name=fnet.name, theta=theta)


def truncated(fnet: FloatNetwork, layers: int) -> FloatNetwork:
    """The first ``layers`` layers as a network of their own (their phases are its readout)."""
    return FloatNetwork(n_inputs=fnet.n_inputs, layers=fnet.layers[:layers],
                        decision=fnet.decision, name=fnet.name, theta=fnet.theta)


def discrete(result, y) -> dict:
    from spikeforge.train.theta import discrete_figures
    return discrete_figures(result, y)


def first_spike_times(spikes, phases, tick):
    """First spike time per (sample, neuron) of a discrete run: the spike's tick k and the
    phase after it give ``(k + 1) tick - phase``; inf where no spike."""
    spiked = spikes.any(axis=1)
    k = np.argmax(spikes, axis=1)
    samples, neurons = np.indices(k.shape)
    after = phases[samples, k, neurons]
    return np.where(spiked, (k + 1) * tick - after, np.inf)


def fixed_phases(network: Network, result) -> np.ndarray:
    p, q = unpack_state(result.readout, network.formats.state_bits)
    return phase_of(p, q, network.theta.tau, network.theta.i0)


def error_stats(err) -> dict:
    if err.size == 0:
        return {"median": math.nan, "p95": math.nan, "max": math.nan}
    return {"median": float(np.median(err)), "p95": float(np.percentile(err, 95)),
            "max": float(err.max())}


def spike_time_errors(fnet, formats, x, first_cont, first_grid) -> list[dict]:
    """Per layer: |first spike time| error, over spikes present in both (median, p95, max),
    of the fixed point against the continuous model run with the same (quantised) weights
    ('fixed': the neuron datapath and, from layer 1 on, the discrete delivery of spikes)
    and against the float network ('fixed_vs_float_weights': plus weight quantisation),
    and of the discrete float model against the float network ('float')."""
    tick = fnet.theta.tick
    rows = []
    for l in range(len(fnet.layers)):
        part = truncated(fnet, l + 1)
        net = quantize(part, formats)
        fixed = simulate(net, x)
        t_fixed = first_spike_times(fixed.spikes[-1], fixed_phases(net, fixed), tick)
        flt = simulate_float(part, x)
        t_float = first_spike_times(flt.spikes[-1], flt.readout, tick)
        row = {"layer": l, "spikes": int(np.isfinite(first_cont[l]).sum())}
        for name, t, cont in (("fixed", t_fixed, first_grid[l]),
                              ("fixed_vs_float_weights", t_fixed, first_cont[l]),
                              ("float", t_float, first_cont[l])):
            both = np.isfinite(t) & np.isfinite(cont)
            err = np.abs(t[both] - cont[both])
            row[name] = {**error_stats(err),
                         "missing_or_extra": int((np.isfinite(t) != np.isfinite(cont)).sum())}
        rows.append(row)
    return rows


def single_neuron_errors(fnet, formats, neurons: int = 4000, seed: int = 0) -> dict:
    """Random single neurons (phi0 uniform in (0.5, Theta - 0.5), one pulse at t = 0 of
    w ~ N(0, 1.5)): first spike time of the fixed-point neuron vs the closed form
    ``Theta - H(phi0, w)``, for spikes within the trial."""
    from spikeforge.golden.theta import pulse_float
    th = fnet.theta
    rng = np.random.default_rng(seed)
    phi0 = rng.uniform(0.5, th.period - 0.5, neurons)
    w = rng.normal(0.0, 1.5, neurons)
    exact = th.period - pulse_float(phi0, w, th.tau, th.i0)
    layer = FloatLayer(kind=fnet.layers[0].kind, w_in=w[None, :], phi0=phi0, name="single")
    single = FloatNetwork(n_inputs=1, layers=[layer], decision=fnet.decision, theta=th)
    x = np.zeros((1, th.steps, 1), np.int64)
    x[0, 0, 0] = 1
    out = {}
    for name, fmt in (("weights_as_formats", formats),
                      ("weights_16_bits", dataclasses.replace(formats, weight_bits=16))):
        net = quantize(single, fmt)
        result = simulate(net, x)
        t = first_spike_times(result.spikes[-1], fixed_phases(net, result), th.tick)[0]
        inside = exact < th.steps * th.tick
        both = inside & np.isfinite(t)
        err = np.abs(t[both] - exact[both])
        out[name] = {"neurons": int(inside.sum()), **error_stats(err),
                     "missed": int((inside & ~np.isfinite(t)).sum())}
    return out


def seconds_per_epoch(epochs: int, steps: int) -> dict:
    """Wall time of ``epochs`` training epochs of the digits-ttfs recipe (one thread)."""
    import torch
    from spikeforge.train.data import load_digits_ttfs, split_validation
    from spikeforge.train.theta import THETA_RECIPES, ThetaTrainer
    torch.set_num_threads(1)
    x, y = load_digits_ttfs("train", steps)
    xf, yf, _, _ = split_validation(x, y, THETA_RECIPES["digits-ttfs"].validation)
    trainer = ThetaTrainer(THETA_RECIPES["digits-ttfs"].replace(steps=steps), seed=0,
                           progress=False)
    trainer.fit(xf, yf, epochs=epochs)
    times = [h["seconds"] for h in trainer.history]
    return {"epochs": epochs, "samples": int(len(yf)), "seconds": times,
            "note": "early epochs have fewer spikes, so fewer events, than late ones"}


def measure(network_path, float_path, *, ticks, timed_epochs, neurons) -> dict:
    import torch
    from spikeforge.train.data import load_digits_ttfs
    from spikeforge.train.theta import ThetaNet, evaluate_continuous
    torch.set_num_threads(1)
    net = Network.load(network_path)
    fnet = FloatNetwork.load(float_path)
    formats, steps = net.formats, net.theta.steps
    x, y = load_digits_ttfs("test", steps)
    th = fnet.theta
    model = ThetaNet.from_float(fnet)
    start = time.perf_counter()
    cont = evaluate_continuous(model, x, y, th.tick, th.steps * th.tick)
    cont_seconds = time.perf_counter() - start
    with torch.no_grad():
        run = model.run(x, th.tick, th.steps * th.tick)
    first_cont = [f.numpy() for f in run.first]
    model.quant = formats               # the continuous model on the fixed point's weights
    with torch.no_grad():
        run = model.run(x, th.tick, th.steps * th.tick)
    first_grid = [f.numpy() for f in run.first]
    model.quant = None
    start = time.perf_counter()
    fixed_result = simulate(net, x)
    fixed_seconds = time.perf_counter() - start
    report = {
        "network": network_path, "float_network": float_path, "summary": net.summary(),
        "formats": formats.to_json(), "steps": steps, "tick": th.tick,
        "trial": th.steps * th.tick, "test_samples": int(len(y)),
        "continuous": cont, "float": discrete(simulate_float(fnet, x), y),
        "fixed": discrete(fixed_result, y),
        "requantised_equals_shipped": all(
            np.array_equal(a.w_in, b.w_in) and np.array_equal(a.p0, b.p0)
            and np.array_equal(a.q0, b.q0) for a, b in zip(quantize(fnet, formats).layers,
                                                           net.layers)),
        "seconds": {"continuous": round(cont_seconds, 2), "fixed": round(fixed_seconds, 2)},
    }
    curve = []
    for n in ticks:
        f = with_steps(fnet, n, formats.decay_bits)
        xs, ys = load_digits_ttfs("test", n)
        q = quantize(f, formats)
        curve.append({"steps": n, "tick": f.theta.tick, "float": discrete(simulate_float(f, xs), ys),
                      "fixed": discrete(simulate(q, xs), ys)})
    report["ticks"] = curve
    sweep = []
    for weight_bits, state_bits in ((6, 16), (7, 16), (10, 16), (8, 12), (8, 14), (8, 20)):
        fmt = dataclasses.replace(formats, weight_bits=weight_bits, state_bits=state_bits)
        sweep.append({"weight_bits": weight_bits, "state_bits": state_bits,
                      "fixed": discrete(simulate(quantize(fnet, fmt), x), y)})
    report["formats_sweep"] = sweep
    report["spike_time_error"] = spike_time_errors(fnet, formats, x, first_cont, first_grid)
    report["single_neuron_error"] = single_neuron_errors(fnet, formats, neurons)
    synapses = net.synapses()
    report["operations"] = {
        "synaptic_ops_per_sample": float(fixed_result.synops.mean()),
        "input_events_per_sample": float(fixed_result.input_events.mean()),
        "dense_macs_per_sample": synapses,
        "dense_macs_per_tick_model": synapses * steps,
        "neuron_updates_per_sample": float(fixed_result.neuron_updates.mean())}
    if timed_epochs:
        report["training"] = seconds_per_epoch(timed_epochs, steps)
    return report


def pct(v):
    return f"{100 * v:6.2f} %"


def show(r) -> None:
    print(f"{r['summary']}: {r['steps']} ticks of {r['tick']:.5f} (T = {r['trial']:.4f}), "
          f"weights s{r['formats']['weight_bits']}, state s{r['formats']['state_bits']}, "
          f"{r['test_samples']} test samples")
    c, f, q = r["continuous"], r["float"], r["fixed"]
    print("accuracy                        no-spike rule / pseudospikes   ordinary spikes only"
          "   samples with an output spike")
    print(f"  continuous float (pseudospikes)  {pct(c['accuracy'])}          {pct(c['ordinary_accuracy'])}"
          f"             {pct(c['output_spiked'])}")
    print(f"  discrete float (simulate_float)  {pct(f['accuracy'])}          {pct(f['ordinary_accuracy'])}"
          f"             {pct(f['output_spiked'])}")
    print(f"  fixed point (golden simulate)    {pct(q['accuracy'])}          {pct(q['ordinary_accuracy'])}"
          f"             {pct(q['output_spiked'])}")
    print(f"  float twin re-quantises to the shipped network: {r['requantised_equals_shipped']}")
    print("accuracy vs ticks per trial (same weights; no-spike rule / ordinary spikes only)")
    for row in r["ticks"]:
        print(f"  {row['steps']:4d} ticks (tick {row['tick']:.4f}): float {pct(row['float']['accuracy'])}"
              f" / {pct(row['float']['ordinary_accuracy'])}   fixed {pct(row['fixed']['accuracy'])}"
              f" / {pct(row['fixed']['ordinary_accuracy'])}")
    print("fixed point with other formats (the float twin re-quantised; QAT was for "
          f"s{r['formats']['weight_bits']} weights)")
    for row in r["formats_sweep"]:
        print(f"  weights s{row['weight_bits']:<2d} state s{row['state_bits']:<2d}: "
              f"{pct(row['fixed']['accuracy'])} / {pct(row['fixed']['ordinary_accuracy'])}")
    print("first-spike-time error vs the continuous model (model time units; Theta = 6, T = 2): "
          "fixed = fixed point vs continuous on the same quantised weights")
    for row in r["spike_time_error"]:
        for name in ("fixed", "fixed_vs_float_weights", "float"):
            e = row[name]
            print(f"  layer {row['layer']} {name:22s}: median {e['median']:.2e}  p95 {e['p95']:.2e}  "
                  f"max {e['max']:.2e}  ({row['spikes']} spikes, {e['missing_or_extra']} missing "
                  f"or extra)")
    for name, e in r["single_neuron_error"].items():
        print(f"  random single neurons, {name}: median {e['median']:.2e}  p95 {e['p95']:.2e}  "
              f"max {e['max']:.2e}  ({e['neurons']} neurons, {e['missed']} missed)")
    print("spikes per neuron per sample, by layer: continuous "
          + ", ".join(f"{v:.3f}" for v in c["spikes_per_neuron"]) + "; fixed point "
          + ", ".join(f"{v:.3f}" for v in q["spikes_per_neuron"])
          + f" (the paper: {PAPER_HIDDEN_SPIKES} per hidden neuron on MNIST)")
    o = r["operations"]
    print(f"operations per inference: {o['synaptic_ops_per_sample']:,.0f} synaptic (events x fan-out; "
          f"{o['input_events_per_sample']:.1f} input events) vs {o['dense_macs_per_sample']:,} dense "
          f"MACs of one ANN pass ({o['dense_macs_per_tick_model']:,} if every synapse worked every "
          f"tick)")
    if "training" in r:
        t = r["training"]
        print(f"training: {', '.join(f'{s:.2f}' for s in t['seconds'])} s per epoch "
              f"({t['samples']} samples, one thread, PyTorch CPU); the reference code (JAX): "
              f"{REFERENCE_SECONDS_PER_EPOCH} s per epoch")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="16 and 64 ticks only, 1 timed epoch, fewer random neurons")
    parser.add_argument("--network", help="fixed-point network (default builtin:digits-ttfs)")
    parser.add_argument("--float", dest="float_net", help="its float twin (default: shipped)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    network, float_net = shipped_paths()
    network = args.network or network
    float_net = args.float_net or (float_net if args.network is None else
                                   network[:-4] + ".float.npz")
    ticks = (16, 64) if args.quick else (16, 24, 32, 48, 64, 128)
    report = measure(network, float_net, ticks=ticks, timed_epochs=1 if args.quick else 5,
                     neurons=1000 if args.quick else 4000)
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        show(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
