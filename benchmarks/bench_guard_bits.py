"""Guard bits and leak rounding: dead-band, decay to zero, float-vs-fixed gap, per built-in.

    python benchmarks/bench_guard_bits.py [--json]

For each built-in SRNN network (digits, ECG) the float network it quantises
(``golden.reference.dequantize``, the exact float equivalent) is quantised
again with 0..6 guard bits and half-up or toward-zero leak rounding, keeping
the weights, and measured on its test set: fixed-point accuracy beside the
float accuracy, the membrane dead-band of the first layer (the largest |u|
the rounded leak cannot shrink, in weight LSBs, beside b0), and the fraction
of a full-scale kick a leaky integrator with the layer's median time constant
keeps after 21 time constants (float: 0).
"""

import argparse
import dataclasses
import json
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from spikeforge import builtin  # noqa: E402
from spikeforge.golden import (FloatLayer, FloatNetwork, Formats, NeuronKind, Rounding,  # noqa: E402
                               accuracy, quantize, simulate, simulate_float)
from spikeforge.golden.reference import dequantize  # noqa: E402

GUARDS = (0, 2, 4, 6)
ROUNDINGS = (Rounding.HALF_UP, Rounding.TOWARD_ZERO)


def test_data(name):
    if name == "digits":
        from spikeforge.train.data import load_digits_split
        return load_digits_split("test")
    from spikeforge.datasets import load_qtdb
    return load_qtdb("test")


def dead_band(layer, formats) -> np.ndarray:
    """Per neuron, the largest |u| (weight LSBs) the leak leaves where it is: with half-up
    rounding shr(alpha u) = u for u <= 0.5 / (1 - alpha) state LSBs; toward zero none."""
    if formats.rounding is not Rounding.HALF_UP:
        return np.zeros(layer.size)
    one = float(1 << formats.decay_bits)
    return np.floor(0.5 / (1.0 - layer.alpha / one)) / (1 << formats.guard_bits)


def kick_left(tau: float, formats: Formats, steps_per_tau: float = 21.0) -> float:
    fnet = FloatNetwork(n_inputs=1, layers=[FloatLayer(kind=NeuronKind.LI, w_in=np.array([[1.0]]),
                                                       tau_m=tau)])
    net = quantize(fnet, formats)
    x = np.zeros((1, int(round(steps_per_tau * tau)) + 1, 1), np.int64)
    x[0, 0, 0] = 1
    u = simulate(net, x).readout[0, :, 0]
    return float(u[-1] / u[0])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    for name in ("digits", "ecg"):
        shipped = builtin.load(name)
        x, y = test_data(name)
        fnet = dequantize(shipped)
        float_acc = accuracy(shipped, simulate_float(fnet, x).decisions, y)
        tau = float(np.median(fnet.layers[0].vectors()["tau_m"]))
        for rounding in ROUNDINGS:
            for guard in GUARDS:
                f = dataclasses.replace(shipped.formats, guard_bits=guard, rounding=rounding)
                net = quantize(fnet, f)
                result = simulate(net, x)
                layer = net.layers[0]
                rows.append({
                    "network": f"builtin:{name}", "rounding": rounding.value, "guard_bits": guard,
                    "float_accuracy": float_acc,
                    "fixed_accuracy": accuracy(net, result.decisions, y),
                    "dead_band_median_weight_lsb": float(np.median(dead_band(layer, f))),
                    "b0_median_weight_lsb": float(np.median(layer.b0)) / (1 << guard),
                    "kick_left_after_21_tau": kick_left(tau, f),
                    "tau_median": tau,
                    "shipped": f == shipped.formats})
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    print(f"{'network':16s} {'rounding':12s} guard  float %  fixed %   gap  dead-band  b0   kick left"
          f" after 21 tau")
    for r in rows:
        print(f"{r['network']:16s} {r['rounding']:12s} {r['guard_bits']:5d} "
              f"{100 * r['float_accuracy']:7.2f} {100 * r['fixed_accuracy']:8.2f} "
              f"{100 * (r['float_accuracy'] - r['fixed_accuracy']):5.2f} "
              f"{r['dead_band_median_weight_lsb']:9.2f} {r['b0_median_weight_lsb']:5.1f} "
              f"{100 * r['kick_left_after_21_tau']:8.3f} %" + ("   (shipped)" if r["shipped"] else ""))


if __name__ == "__main__":
    main()
