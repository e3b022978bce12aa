"""The ``spikeforge`` command line.

Every command prints a human summary, or one JSON object with ``--json``.
Bad input (a malformed network or input file, an unknown option value) gives a
one-line ``spikeforge: error: ...`` on stderr and exit code 2; a mismatch
between RTL and golden model gives exit code 1.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from . import __version__

EXIT_MISMATCH = 1
EXIT_USAGE = 2


class CommandError(Exception):
    """An error the user can act on; printed as one line, exit code 2."""


def _user_errors():
    from spikeforge.golden import FixedRangeError, InputError, NetworkFileError, QuantizeError
    return (CommandError, NetworkFileError, InputError, QuantizeError, FixedRangeError)


def load_network(spec: str):
    """A network from a path (``.npz``) or a built-in name (``builtin:NAME``)."""
    from . import builtin
    from .golden import Network
    if spec.startswith("builtin:"):
        return builtin.load(spec[len("builtin:"):])
    return Network.load(spec)


# -- output helpers --

def _emit(args, report: dict, lines: list[str]) -> None:
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print("\n".join(lines))


def _fmt_int(n) -> str:
    return f"{int(n):,}"


# -- commands --

def cmd_info(args) -> int:
    net = load_network(args.network)
    report = network_report(net)
    lines = [f"network   {net.name}: {net.summary()}",
             f"synapses  {_fmt_int(net.synapses())}",
             f"formats   weights {net.formats.weight}, state {net.formats.state}, decay "
             f"{net.formats.decay}, inputs {net.formats.input}, rounding "
             f"{net.formats.rounding.value}, overflow {net.formats.overflow.value}",
             f"decision  {net.decision.value}"
             + (f" (first {net.skip_steps} steps not scored)" if net.skip_steps else "")]
    for i, layer in enumerate(net.layers):
        lines.append(f"layer {i}   {layer.name or '-'}: {layer.size} {layer.kind.value}"
                     f"{', recurrent' if layer.recurrent else ''}, accumulator "
                     f"{net.accumulator(i)}, scale {layer.scale:.4g}")
    _emit(args, report, lines)
    return 0


def network_report(net) -> dict:
    return {"name": net.name, "inputs": net.n_inputs, "synapses": net.synapses(),
            "decision": net.decision.value, "skip_steps": net.skip_steps,
            "formats": net.formats.to_json(),
            "layers": [{"name": l.name, "kind": l.kind.value, "size": l.size,
                        "recurrent": l.recurrent, "accumulator_bits": net.accumulator(i).width,
                        "scale": l.scale} for i, l in enumerate(net.layers)]}


def cmd_simulate(args) -> int:
    from .golden import accuracy, simulate
    from .golden.inputs import load_inputs, save_outputs
    net = load_network(args.network)
    x, y = load_inputs(args.input)
    if args.simulator != "golden":
        raise CommandError(f"--simulator {args.simulator}: RTL simulation is not built yet; "
                           f"only 'golden' runs in this version")
    start = time.perf_counter()
    result = simulate(net, x)
    seconds = time.perf_counter() - start
    samples, steps, channels = x.shape
    totals = result.totals()
    report = {"network": net.name, "input": args.input, "simulator": args.simulator,
              "samples": samples, "steps": steps, "channels": channels,
              "seconds": round(seconds, 3),
              "events_per_second": round(totals["input_events"] / seconds) if seconds else None,
              **totals,
              "firing_rate": [float(result.layer_spikes[:, i].sum()) / (samples * steps * l.size)
                              for i, l in enumerate(net.layers) if l.kind.spiking],
              "accuracy": None, "mismatches": 0}
    if y is not None:
        report["accuracy"] = accuracy(net, result.decisions, y)
    if args.output:
        save_outputs(args.output, result)
        report["output"] = args.output
    lines = [f"network    {net.name}: {net.summary()}",
             f"inputs     {args.input}: {samples} samples x {steps} steps x {channels} channels, "
             f"{_fmt_int(totals['input_events'])} events",
             f"simulator  {args.simulator}: {seconds:.2f} s, "
             f"{_fmt_int(report['events_per_second'] or 0)} input events/s"]
    if report["accuracy"] is not None:
        scope = (f"per step, first {net.skip_steps} steps skipped" if result.decisions.ndim == 2
                 else "per sample")
        lines.append(f"accuracy   {100 * report['accuracy']:.2f} % ({scope})")
    rates = ", ".join(f"{r:.4f}" for r in report["firing_rate"])
    lines += [f"spikes     {totals['spikes_per_layer']} per layer; "
              f"firing rate {rates} spikes/neuron/step",
              f"operations {_fmt_int(totals['synaptic_ops'])} synaptic "
              f"({totals['synaptic_ops'] / samples:,.0f} per sample), "
              f"{_fmt_int(totals['neuron_updates'])} neuron updates"]
    if args.output:
        lines.append(f"wrote      {args.output}")
    _emit(args, report, lines)
    return 0


def cmd_demo(args) -> int:
    report = {"status": "not built",
              "missing": ["RTL generation (spikeforge compile)", "Verilator simulation",
                          "built-in trained network"]}
    lines = ["spikeforge demo: generate the accelerator for the built-in network, run it in",
             "Verilator and compare it with the golden model, exactly.",
             "Not built yet: " + "; ".join(report["missing"]) + ".",
             "What runs today: spikeforge simulate NETWORK --input FILE --simulator golden"]
    _emit(args, report, lines)
    return EXIT_MISMATCH


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spikeforge",
        description="Generate event-driven FPGA accelerators for spiking neural networks, "
                    "simulate them against a bit-exact golden model, build them for open boards.",
        epilog="NETWORK is a network file (.npz) or builtin:NAME. Exit codes: 0 ok, "
               "1 RTL/golden mismatch or demo failure, 2 bad input or usage.")
    parser.add_argument("--version", action="version", version=f"spikeforge {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name, func, help):
        p = sub.add_parser(name, help=help, description=help)
        p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
        p.set_defaults(func=func)
        return p

    p = add("demo", cmd_demo, "run the main job on the built-in default network")
    p = add("info", cmd_info, "describe a network: layers, formats, accumulator widths")
    p.add_argument("network", metavar="NETWORK")
    p = add("simulate", cmd_simulate,
            "run input events through a simulator and report accuracy, spikes and operations")
    p.add_argument("network", metavar="NETWORK")
    p.add_argument("--input", required=True, metavar="FILE",
                   help="input file (.npz): x (samples, steps, channels) events, optional labels y")
    p.add_argument("--simulator", default="golden", choices=["golden", "verilator", "icarus"],
                   help="golden: the NumPy fixed-point model (default)")
    p.add_argument("--output", metavar="OUT.npz",
                   help="write decisions, readout values, spike and operation counts per sample")
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.func(args)
    except _user_errors() as exc:
        print(f"spikeforge: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("spikeforge: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
