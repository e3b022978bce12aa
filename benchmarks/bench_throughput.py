"""Synaptic operations per clock of the accelerator on a dense fan-out workload (Amaranth pysim).

Workload: one layer of ``--outputs`` leaky integrators fed by ``--inputs``
channels that all fire every step, so every event has the full fan-out.
``synops/clk`` divides the SYNOPS counter by the CYCLES counter (every busy
clock of the step: synapse work, neuron updates, streaming the readout);
``synapse phase`` divides by SYNAPSE_CYCLES, the clocks a synapse engine was
busy, i.e. the engine's own rate.

Run: .venv/bin/python benchmarks/bench_throughput.py [--inputs 64] [--outputs 64] [--steps 2]
"""

import argparse
import time

import numpy as np

from spikeforge.golden.randnet import random_network
from spikeforge.golden.simulate import simulate
from spikeforge.hdl.config import HardwareConfig
from spikeforge.hdl.protocol import compare, decode_outputs
from spikeforge.hdl.pysim import run_accelerator


def measure(network, x, lanes):
    config = HardwareConfig(lanes=lanes, emit_spikes=False)
    start = time.perf_counter()
    run = run_accelerator(network, config, x)
    seconds = time.perf_counter() - start
    golden = simulate(network, x)
    problems = compare(network, golden, decode_outputs(network, run.records, *x.shape[:2]))
    assert not problems, problems
    assert run.counters["SYNOPS"] == golden.totals()["synaptic_ops"]
    return run.counters, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=64)
    parser.add_argument("--outputs", type=int, default=64)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--lanes", type=int, nargs="+", default=[1, 2, 4, 8])
    args = parser.parse_args()
    network = random_network(0, args.inputs, (), args.outputs, recurrent=False)
    x = np.ones((1, args.steps, args.inputs), np.int64)
    print(f"dense fan-out: {args.inputs} inputs all firing -> {args.outputs} LI neurons, "
          f"{args.steps} steps")
    print(f"{'P':>3} {'synops':>8} {'cycles':>8} {'synops/clk':>10} {'/P':>6} "
          f"{'synapse phase':>13} {'/P':>6} {'sim s':>6}")
    for lanes in args.lanes:
        counters, seconds = measure(network, x, lanes)
        synops, cycles = counters["SYNOPS"], counters["CYCLES"]
        engine = synops / counters["SYNAPSE_CYCLES"]
        print(f"{lanes:>3} {synops:>8} {cycles:>8} {synops / cycles:>10.2f} "
              f"{synops / cycles / lanes:>6.3f} {engine:>13.2f} {engine / lanes:>6.3f} {seconds:>6.1f}")


if __name__ == "__main__":
    main()
