"""The ``spikeforge`` command line.

Every command prints a human summary, or one JSON object with ``--json``.
Bad input (a malformed network or input file, an unknown option value) gives a
one-line ``spikeforge: error: ...`` on stderr and exit code 2; a mismatch
between RTL and golden model gives exit code 1.
"""

from __future__ import annotations

import argparse
import json
import os
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
    from spikeforge.importers import ImportFileError
    return (CommandError, NetworkFileError, InputError, QuantizeError, FixedRangeError,
            ImportFileError)


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


def formats_from_args(args):
    from .golden import Formats, Overflow, Rounding
    return Formats(weight_bits=args.weight_bits, state_bits=args.state_bits,
                   decay_bits=args.decay_bits, input_bits=args.input_bits,
                   rounding=Rounding(args.rounding), overflow=Overflow(args.overflow))


def add_format_options(p) -> None:
    from .golden import Formats, Overflow, Rounding
    d = Formats()
    g = p.add_argument_group("fixed-point formats")
    g.add_argument("--weight-bits", type=int, default=d.weight_bits, help="signed weight width")
    g.add_argument("--state-bits", type=int, default=d.state_bits,
                   help="signed membrane/threshold/readout width")
    g.add_argument("--decay-bits", type=int, default=d.decay_bits,
                   help="fraction bits of the decay factors alpha, rho")
    g.add_argument("--input-bits", type=int, default=d.input_bits, help="signed input event width")
    g.add_argument("--rounding", default=d.rounding.value, choices=[r.value for r in Rounding],
                   help="rounding of the decay products")
    g.add_argument("--overflow", default=d.overflow.value, choices=[o.value for o in Overflow],
                   help="overflow mode of state updates")


def cmd_import(args) -> int:
    from .golden import Decision, quantize
    from .importers import SrnnOptions, import_torch_srnn
    options = SrnnOptions(b0=args.b0, beta=args.beta, tau_m=args.tau_m,
                          adapt_hidden=not args.no_adapt, readout=args.readout,
                          decision=Decision(args.decision), skip_steps=args.skip_steps,
                          name=args.name or os.path.splitext(os.path.basename(args.model))[0])
    fnet = import_torch_srnn(args.model, options)
    net = quantize(fnet, formats_from_args(args))
    net.save(args.output)
    report = {"model": args.model, "from": args.source, "output": args.output,
              **network_report(net)}
    _emit(args, report, [f"imported  {args.model} ({args.source}): {net.summary()}",
                         f"wrote     {args.output}"])
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
    p = add("import", cmd_import, "import a trained network from another tool and quantise it")
    p.add_argument("model", metavar="MODEL", help="file to import")
    p.add_argument("--from", dest="source", required=True, choices=["torch-srnn"],
                   help="torch-srnn: state dict of the SRNN reference code (Yin et al.)")
    p.add_argument("-o", "--output", required=True, metavar="NET.npz")
    p.add_argument("--name", help="network name (default: the file's stem)")
    p.add_argument("--b0", type=float, default=0.01, help="baseline threshold (default 0.01)")
    p.add_argument("--beta", type=float, default=1.8, help="adaptation strength (default 1.8)")
    p.add_argument("--tau-m", type=float, help="membrane tau for files that store none")
    p.add_argument("--no-adapt", action="store_true", help="hidden layers are LIF, not ALIF")
    p.add_argument("--readout", default="li", choices=["li", "alif"],
                   help="li: leaky integrator; alif: spiking outputs whose membrane is read")
    p.add_argument("--decision", default="per_step", choices=["per_step", "last", "spike_count",
                                                             "first_spike"])
    p.add_argument("--skip-steps", type=int, default=0, help="steps not scored per step")
    add_format_options(p)
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
