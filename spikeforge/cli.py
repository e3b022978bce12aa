"""The ``spikeforge`` command line.

Every command prints a human summary, or one JSON object with ``--json``.
Errors are one line, ``spikeforge: error: FILE: FIELD: what is wrong``, on
stderr (under ``--json``: a JSON object ``{"error": ..., "exit_code": ...}`` on
stdout instead). Exit codes (``EXIT_CODES``): 0 ok; 1 the RTL differs from the
golden model; 2 bad input or usage; 3 an external tool failed (Verilator,
Icarus, Yosys, nextpnr, a board); 130 interrupted; 70 an internal error (a bug
in spikeforge: the only case that prints a traceback).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path


from . import __version__

EXIT_MISMATCH = 1
EXIT_USAGE = 2
EXIT_TOOL = 3
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130
EXIT_CODES = {0: "ok", EXIT_MISMATCH: "the RTL differs from the golden model",
              EXIT_USAGE: "bad input or usage", EXIT_TOOL: "an external tool or a board failed",
              EXIT_INTERNAL: "internal error (a bug in spikeforge)",
              EXIT_INTERRUPTED: "interrupted"}
EXIT_EPILOG = "exit codes: " + "; ".join(f"{k} {v}" for k, v in EXIT_CODES.items())


class _Parser(argparse.ArgumentParser):
    """Usage errors as every other error: one line, ``spikeforge: error: COMMAND: ...``."""

    def error(self, message):
        command = self.prog.split(" ", 1)[1] if " " in self.prog else ""
        where = f"{command}: " if command else ""
        self.exit(EXIT_USAGE, f"spikeforge: error: {where}{message} (see {self.prog} --help)\n")


def add_command(subparsers, name: str, func, help: str, examples: list[str], *,
                description: str | None = None) -> argparse.ArgumentParser:
    """A sub-command with what every command has: ``--json``, ``--quiet`` and examples in
    its ``--help``."""
    p = subparsers.add_parser(
        name, help=help, description=description or help,
        epilog="examples:\n" + "\n".join(f"  {e}" for e in examples),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.add_argument("--quiet", action="store_true", help="nothing on stderr but errors")
    p.set_defaults(func=func)
    return p


class CommandError(Exception):
    """An error the user can act on; printed as one line, exit code ``code`` (2: bad input,
    3: a tool failed)."""

    def __init__(self, message, code: int = EXIT_USAGE):
        super().__init__(message)
        self.code = code


def _user_errors():
    from spikeforge.golden import FixedRangeError, InputError, NetworkFileError, QuantizeError
    from spikeforge.golden.files import OutputError
    from spikeforge.importers import ImportFileError
    from spikeforge.nir_io import NirError
    return (CommandError, NetworkFileError, InputError, QuantizeError, FixedRangeError,
            ImportFileError, NirError, OutputError)


def _tool_errors():
    from spikeforge.sim.tools import ToolError
    return (ToolError,)


def load_network(spec: str):
    """A network from a path (``.npz``) or a built-in name (``builtin:NAME``)."""
    from . import builtin
    from .golden import Network
    if spec.startswith("builtin:"):
        return builtin.load(spec[len("builtin:"):])
    return Network.load(spec)


# -- output helpers --

def _finite(obj):
    """``obj`` with every non-finite float as None: strict JSON has no NaN or Infinity."""
    if isinstance(obj, float):
        return obj if obj == obj and abs(obj) != float("inf") else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def _emit(args, report: dict, lines: list[str]) -> None:
    if args.json:
        print(json.dumps(_finite(report), indent=1, allow_nan=False))
    else:
        print("\n".join(lines))


def load_inputs_for(net, path):
    """An input file's events and labels, checked against ``net``; every problem names the
    file (``FILE: x: ...``)."""
    from .golden import InputError, check_inputs
    from .golden.inputs import load_inputs
    from .golden.simulate import check_labels
    x, y = load_inputs(path)
    try:
        x = check_inputs(net, x)
        if y is not None:
            check_labels(net, y, x.shape[1])
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None
    return x, y


def first_samples(x, y, n):
    """The first ``n`` samples of ``x`` and ``y`` (``--samples``; None: all)."""
    if n is None:
        return x, y
    if n < 1:
        raise CommandError(f"--samples {n}: must be at least 1")
    return x[:n], (None if y is None else y[:n])


def _fmt_int(n) -> str:
    return f"{int(n):,}"


# -- commands --

def cmd_info(args) -> int:
    net = load_network(args.network)
    config = hardware_config(args.lanes)
    report = network_report(net)
    lines = [f"network   {net.name}: {net.summary()}",
             f"synapses  {_fmt_int(net.synapses())}",
             f"formats   weights {net.formats.weight}, state {net.formats.state}, decay "
             f"{net.formats.decay}, inputs {net.formats.input}, rounding "
             f"{net.formats.rounding.value}, overflow {net.formats.overflow.value}",
             f"decision  {net.decision.value}"
             + (f" (first {net.skip_steps} steps not scored)" if net.skip_steps else "")]
    if net.theta is not None:
        th, K = net.theta, net.formats.decay_bits
        lines.append(f"theta     tau {th.tau:.6g}, I0 {th.i0:.6g}, period {th.period:.6g}; tick "
                     f"{th.tick(K):.6g} (rotation {th.rotation}/2^{K}), trial {th.steps} ticks = "
                     f"{th.trial(K):.6g}")
    from .boards.cli import network_fit
    from .boards.fit import design_memories
    from .boards.targets import BOARDS, board
    memories = design_memories(net, config)
    for i, layer in enumerate(net.layers):
        mine = {name.split(".")[2]: depth * width for name, depth, width, _ in memories
                if name.startswith(f"layers.{i}.")}
        report["layers"][i]["memory_bits"] = mine
        lines.append(f"layer {i}   {layer.name or '-'}: {layer.size} {layer.kind.value}"
                     f"{', recurrent' if layer.recurrent else ''}, accumulator "
                     f"{net.accumulator(i)}, scale {layer.scale:.4g}"
                     + (f", weight LSB 2^-{layer.weight_shift} of X" if net.theta else ""))
        lines.append(f"          memory {sum(mine.values()):,} bits at P = {args.lanes}: "
                     + ", ".join(f"{name} {bits:,}" for name, bits in mine.items()))
    report["lanes"] = args.lanes
    report["boards"] = {}
    lines.append(f"boards    memory estimate at P = {args.lanes}, weights in block RAM, else SPRAM "
                 f"(logic is not estimated: spikeforge build measures it):")
    for name in BOARDS:
        report["boards"][name], line = network_fit(net, config, board(name), "auto")
        lines.append("          " + line)
    _emit(args, report, lines)
    return 0


def network_report(net) -> dict:
    theta = None
    if net.theta is not None:
        K = net.formats.decay_bits
        theta = {**net.theta.to_json(), "period": net.theta.period, "tick": net.theta.tick(K),
                 "trial": net.theta.trial(K)}
    return {"name": net.name, "inputs": net.n_inputs, "synapses": net.synapses(),
            "decision": net.decision.value, "skip_steps": net.skip_steps,
            "formats": net.formats.to_json(), "theta": theta,
            "layers": [{"name": l.name, "kind": l.kind.value, "size": l.size,
                        "recurrent": l.recurrent, "accumulator_bits": net.accumulator(i).width,
                        "scale": l.scale, **({"weight_shift": l.weight_shift} if theta else {})}
                       for i, l in enumerate(net.layers)]}


def _progress(args):
    """Progress lines on stderr (kept off stdout so --json stays one object)."""
    if getattr(args, "quiet", False):
        return None
    return lambda message: print(f"spikeforge: {message}", file=sys.stderr, flush=True)


def hardware_config(lanes: int):
    from .hdl.config import HardwareConfig
    try:
        return HardwareConfig(lanes=lanes)
    except ValueError:
        raise CommandError(f"--lanes {lanes}: must be a power of two in 1..16") from None


def check_output(path, what: str = "output"):
    """An output file's path, checked before the work that produces it starts."""
    from .golden.files import check_output as check
    return check(path, what)


def run_simulation(net, x, y, *, simulator="golden", lanes=1, engine="auto", waves=None,
                   progress=None) -> tuple[dict, object]:
    """Run ``x`` through a simulator; returns the report and the Result to save."""
    import numpy as np
    from .golden import Decision, accuracy, simulate
    samples, steps, channels = x.shape
    report = {"network": net.name, "simulator": simulator, "samples": samples, "steps": steps,
              "channels": channels, "events_given": int(np.count_nonzero(x)), "accuracy": None,
              "mismatches": 0}
    start = time.perf_counter()
    if simulator == "golden":
        result = simulate(net, x)
        seconds = time.perf_counter() - start
        report.update(engine="numpy", seconds=round(seconds, 3))
    else:
        from .sim.rtl import rtl_result, run_rtl
        from .sim.runner import waves_file
        from .sim.tools import ToolError
        try:
            outcome = run_rtl(net, x, simulator=simulator, config=hardware_config(lanes),
                              engine=engine, waves=waves, progress=progress)
        except ToolError as exc:
            raise CommandError(str(exc), EXIT_TOOL) from None
        seconds = time.perf_counter() - start
        result = rtl_result(outcome)      # only what the RTL produced; None if undecodable
        cycles = outcome.cycles
        report.update(engine=outcome.engine, lanes=lanes, seconds=round(seconds, 3),
                      sim_seconds=round(outcome.sim_seconds, 3), cycles=cycles,
                      cycles_per_second=round(cycles / outcome.sim_seconds) if outcome.sim_seconds else None,
                      synaptic_ops_per_cycle=(round(outcome.counters["SYNOPS"] / cycles, 4)
                                              if cycles else None),
                      counters=outcome.counters, mismatches=len(outcome.mismatches),
                      first_mismatches=outcome.mismatches[:10],
                      waves=str(outcome.waves / waves_file(simulator)) if outcome.waves else None)
    if result is None:   # the RTL's records did not decode: report the mismatches, nothing else
        report.update(accuracy=None, rtl_output="undecodable")
        return report, None
    totals = result.totals()
    report.update(totals)
    report["events_per_second"] = round(totals["input_events"] / seconds) if seconds else None
    report["firing_rate"] = [float(result.layer_spikes[:, i].sum()) / (samples * steps * l.size)
                             for i, l in enumerate(net.layers) if l.kind.spiking]
    if y is not None:
        report["accuracy"] = accuracy(net, result.decisions, y)
    if net.decision is Decision.TTFS:
        spiked = result.spikes[-1].any(axis=(1, 2))
        report["no_spike_samples"] = int((~spiked).sum())
        if y is not None:   # without the no-spike rule, a sample with no output spike is wrong
            report["accuracy_spikes_only"] = float(np.mean((result.decisions == y) & spiked))
    return report, result


def simulation_lines(net, report: dict, input_name: str) -> list[str]:
    lines = [f"network    {net.name}: {net.summary()}",
             f"inputs     {input_name}: {report['samples']} samples x {report['steps']} steps x "
             f"{report['channels']} channels, {_fmt_int(report['events_given'])} events"]
    if report["simulator"] == "golden":
        lines.append(f"simulator  golden: {report['seconds']:.2f} s, "
                     f"{_fmt_int(report['events_per_second'] or 0)} input events/s")
    else:
        lines.append(f"simulator  {report['simulator']} ({report['engine']}), {report['lanes']} "
                     f"lane(s): {_fmt_int(report['cycles'])} cycles in {report['sim_seconds']:.2f} s "
                     f"({_fmt_int(report['cycles_per_second'] or 0)} cycles/s), "
                     f"{report['synaptic_ops_per_cycle']} synaptic ops/cycle")
        verdict = "equal to the golden model" if not report["mismatches"] else "MISMATCHES"
        lines.append(f"check      {report['mismatches']} mismatches: {verdict}")
        lines += [f"           {m}" for m in report["first_mismatches"]]
    if report.get("rtl_output") == "undecodable":
        lines.append("outputs    the RTL's output records do not decode: no accuracy or counts")
        return lines
    if report["accuracy"] is not None:
        scope = (f"per step, first {net.skip_steps} steps skipped"
                 if net.decision.value == "per_step" else "per sample")
        lines.append(f"accuracy   {100 * report['accuracy']:.2f} % ({scope})")
    if "no_spike_samples" in report:
        lines.append(f"ttfs       {report['no_spike_samples']} of {report['samples']} samples "
                     f"without an output spike (decided by the no-spike rule)"
                     + (f"; {100 * report['accuracy_spikes_only']:.2f} % counting them wrong"
                        if "accuracy_spikes_only" in report else ""))
    rates = ", ".join(f"{r:.4f}" for r in report["firing_rate"])
    samples = report["samples"]
    lines += [f"spikes     {report['spikes_per_layer']} per layer; "
              f"firing rate {rates} spikes/neuron/step",
              f"operations {_fmt_int(report['synaptic_ops'])} synaptic "
              f"({report['synaptic_ops'] / samples:,.0f} per sample), "
              f"{_fmt_int(report['neuron_updates'])} neuron updates"]
    if report.get("waves"):
        lines.append(f"waves      {report['waves']} (open it with: gtkwave {report['waves']}, "
                     f"or surfer)")
    return lines


def cmd_simulate(args) -> int:
    from .golden.inputs import save_outputs
    net = load_network(args.network)
    x, y = first_samples(*load_inputs_for(net, args.input), args.samples)
    hardware_config(args.lanes)
    if args.output:
        check_output(args.output, "output file")
    if args.plot_samples < 1:
        raise CommandError(f"--plot-samples {args.plot_samples}: must be at least 1")
    if args.plot and os.path.exists(args.plot) and not os.path.isdir(args.plot):
        raise CommandError(f"--plot {args.plot}: exists and is not a folder")
    if args.waves and args.simulator == "golden":
        raise CommandError("--waves needs an RTL simulator (--simulator verilator or icarus)")
    if args.engine == "native" and args.simulator != "verilator":
        raise CommandError("--engine native runs only with --simulator verilator")
    report, result = run_simulation(net, x, y, simulator=args.simulator, lanes=args.lanes,
                                    engine=args.engine, waves=Path(args.waves) if args.waves else None,
                                    progress=_progress(args))
    report["input"] = args.input
    if args.output and result is not None:
        save_outputs(args.output, result)
        report["output"] = args.output
    if args.plot and result is not None:
        from .plots import PlotError, plot_samples
        try:
            report["plots"] = plot_samples(net, x, result, range(min(args.plot_samples, len(x))),
                                           args.plot)
        except PlotError as exc:
            raise CommandError(str(exc)) from None
    lines = simulation_lines(net, report, args.input)
    if report.get("plots"):
        lines.append(f"plots      {len(report['plots'])} PNG files in {args.plot} (inputs, a spike "
                     f"raster per spiking layer, the readout)")
    if args.output:
        lines.append(f"wrote      {args.output}" if result is not None else
                     f"not written {args.output}: the RTL's outputs did not decode")
    _emit(args, report, lines)
    return EXIT_MISMATCH if report["mismatches"] else 0


def cmd_compile(args) -> int:
    from .hdl.compile import compile_network
    net = load_network(args.network)
    config = dataclasses.replace(hardware_config(args.lanes),
                                 spram_layers=spram_layers(args.weights, net))
    manifest = compile_network(net, config, args.output)
    report = {"network": net.name, "output": args.output, "lanes": args.lanes,
              "files": sorted(p.name for p in Path(args.output).iterdir()), "manifest": manifest}
    mems = manifest.get("memories", [])
    bits = sum(m.get("depth", 0) * m.get("width", 0) for m in mems)
    _emit(args, report, [f"network   {net.name}: {net.summary()}",
                         f"wrote     {args.output}/accelerator.v (memory contents inline) and "
                         f"manifest.json",
                         f"memories  {len(mems)}, {bits:,} bits",
                         f"lanes     {args.lanes}"]
          + ([f"spram     weights of layers {list(config.spram_layers)} in SB_SPRAM256KA "
              f"(no initial contents: write them through the configuration port)"]
             if config.spram_layers else []))
    return 0


def spram_layers(text: str, net) -> tuple:
    """``compile --weights`` as ``HardwareConfig.spram_layers``: "block" (none), "spram"
    (every layer) or "spram:0,1" (those layers)."""
    usage = "give block, spram (every layer's weights in SPRAM) or spram:LAYERS like spram:0,1"
    if text == "block":
        return ()
    if text == "spram":
        return tuple(range(len(net.layers)))
    if not text.startswith("spram:"):
        raise CommandError(f"--weights {text!r}: {usage}")
    try:
        layers = sorted({int(part) for part in text[len("spram:"):].split(",")})
    except ValueError:
        raise CommandError(f"--weights {text!r}: {usage}") from None
    bad = [i for i in layers if not 0 <= i < len(net.layers)]
    if bad:
        raise CommandError(f"--weights {text!r}: {net.name} has layers 0..{len(net.layers) - 1}, "
                           f"not {bad[0]}")
    return tuple(layers)


def formats_from_args(args):
    """``Formats`` from the format options given, or None when none was (use the defaults,
    or what the imported file says)."""
    from .golden import Formats, Overflow, Rounding
    given = {name: getattr(args, name) for name in ("weight_bits", "state_bits", "decay_bits",
                                                    "input_bits", "guard_bits", "rounding",
                                                    "overflow")
             if getattr(args, name) is not None}
    if not given:
        return None
    if "rounding" in given:
        given["rounding"] = Rounding(given["rounding"])
    if "overflow" in given:
        given["overflow"] = Overflow(given["overflow"])
    return Formats(**given)


def add_format_options(p) -> None:
    from .golden import Formats, Overflow, Rounding
    d = Formats()
    g = p.add_argument_group("fixed-point formats (any given replaces the file's or the defaults)")
    g.add_argument("--weight-bits", type=int, help=f"signed weight width (default {d.weight_bits})")
    g.add_argument("--state-bits", type=int,
                   help=f"signed membrane/threshold/readout width (default {d.state_bits})")
    g.add_argument("--decay-bits", type=int,
                   help=f"fraction bits of the decay factors (default {d.decay_bits})")
    g.add_argument("--input-bits", type=int, help=f"signed input event width (default {d.input_bits})")
    g.add_argument("--guard-bits", type=int,
                   help=f"state fraction bits below the weight LSB (default {d.guard_bits})")
    g.add_argument("--rounding", choices=[r.value for r in Rounding],
                   help=f"rounding of the decay products (default {d.rounding.value}: every "
                        f"leak reaches zero)")
    g.add_argument("--overflow", choices=[o.value for o in Overflow],
                   help=f"overflow mode of state updates (default {d.overflow.value})")


def cmd_import(args) -> int:
    from .golden import Decision, quantize
    check_output(args.output, "network file")
    if args.source == "nir":
        from .nir_io import import_nir
        explicit = {"decision": Decision(args.decision)} if args.decision else {}
        net = import_nir(args.model, dt=args.dt, formats=formats_from_args(args),
                         weight_clip=args.weight_clip, **explicit)
        if args.skip_steps:
            net.skip_steps = args.skip_steps
        if args.name:
            net.name = args.name
    else:
        from .importers import SrnnOptions, import_torch_srnn
        options = SrnnOptions(b0=args.b0, beta=args.beta, tau_m=args.tau_m,
                              adapt_hidden=not args.no_adapt, readout=args.readout,
                              decision=Decision(args.decision or "per_step"),
                              skip_steps=args.skip_steps,
                              name=args.name or os.path.splitext(os.path.basename(args.model))[0])
        net = quantize(import_torch_srnn(args.model, options), formats_from_args(args),
                       weight_clip=args.weight_clip)
    net.save(args.output)
    report = {"model": args.model, "from": args.source, "output": args.output,
              **network_report(net)}
    _emit(args, report, [f"imported  {args.model} ({args.source}): {net.summary()}",
                         f"wrote     {args.output}"])
    return 0


def cmd_export(args) -> int:
    import tempfile
    from .golden.files import OutputError
    from .nir_io import export_nir
    net = load_network(args.network)
    check_output(args.output, "NIR file")
    # NIR writes the file itself: into a temporary name beside it, then renamed into place
    folder = os.path.dirname(os.path.abspath(args.output))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(args.output) + ".", dir=folder)
    os.close(fd)
    try:
        export_nir(net, tmp, dt=args.dt)
        os.replace(tmp, args.output)
    except OSError as exc:
        raise OutputError(f"{args.output}: cannot be written: {exc}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    _emit(args, {"network": net.name, "to": args.target, "output": args.output, "dt": args.dt},
          [f"exported  {net.name}: {net.summary()}", f"wrote     {args.output} (NIR, dt {args.dt:g})"])
    return 0


def cmd_demo(args) -> int:
    """The main job: built-in network -> Verilog -> Verilator, checked against the golden model."""
    from .train.data import load_digits_split
    progress = _progress(args)
    net = load_network(f"builtin:{args.network}")
    if args.network != "digits":
        raise CommandError("the demo runs builtin:digits (its data ships with scikit-learn)")
    x, y = load_digits_split("test")
    x, y = first_samples(x, y, args.samples)
    out = Path(args.output)
    if progress:
        progress(f"writing the accelerator for builtin:{args.network} to {out}/ ...")
    from .hdl.compile import compile_network
    compile_network(net, hardware_config(args.lanes), out)
    golden, _ = run_simulation(net, x, y, simulator="golden")
    rtl, _ = run_simulation(net, x, y, simulator="verilator", lanes=args.lanes, engine="native",
                            progress=progress)
    hidden = [l for l in net.layers if l.kind.spiking]
    dense_macs = net.synapses() * x.shape[1]
    report = {"network": f"builtin:{args.network}", "output": str(out), "samples": len(y),
              "golden_accuracy": golden["accuracy"], "rtl_accuracy": rtl["accuracy"],
              "mismatches": rtl["mismatches"], "first_mismatches": rtl["first_mismatches"],
              "lanes": args.lanes, "cycles": rtl["cycles"],
              "cycles_per_sample": rtl["cycles"] / len(y),
              "cycles_per_second": rtl["cycles_per_second"],
              "synaptic_ops_per_cycle": rtl["synaptic_ops_per_cycle"],
              "synaptic_ops_per_sample": rtl["synaptic_ops"] / len(y),
              "dense_macs_per_sample": dense_macs, "firing_rate": rtl["firing_rate"],
              "counters": rtl["counters"]}
    ok = rtl["mismatches"] == 0
    lines = [f"network    builtin:{args.network}: {net.summary()} ({_fmt_int(net.synapses())} synapses)",
             f"verilog    {out}/accelerator.v (+ manifest.json), {args.lanes} lane(s)",
             f"test set   {len(y)} scikit-learn digits, {x.shape[1]} steps each",
             f"golden     accuracy {100 * golden['accuracy']:.2f} %",
             f"verilator  accuracy {100 * rtl['accuracy']:.2f} %, {_fmt_int(rtl['cycles'])} cycles "
             f"({report['cycles_per_sample']:,.0f} per sample, "
             f"{_fmt_int(rtl['cycles_per_second'] or 0)} cycles/s simulated)",
             f"check      {rtl['mismatches']} mismatches in outputs and counters: "
             + ("RTL equals the golden model, bit for bit" if ok else "RTL DIFFERS from the golden model"),
             *[f"           {m}" for m in rtl["first_mismatches"]],
             f"activity   firing rate {', '.join(f'{r:.3f}' for r in rtl['firing_rate'])} "
             f"spikes/neuron/step ({len(hidden)} spiking layer(s))",
             f"work       {report['synaptic_ops_per_sample']:,.0f} synaptic ops per sample vs "
             f"{dense_macs:,} multiply-accumulates for the same network run densely "
             f"({dense_macs / max(report['synaptic_ops_per_sample'], 1):.1f}x fewer); "
             f"{rtl['synaptic_ops_per_cycle']} synaptic ops/cycle"]
    _emit(args, report, lines)
    return 0 if ok else EXIT_MISMATCH


def _output_folder(path: str) -> Path:
    """``-o DIR`` checked before any work: a folder, or a path where one can be made."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise CommandError(f"-o {path}: is a file; give a folder (it is made if missing)")
    parent = next((p for p in [out, *out.parents] if p.exists()), Path("."))
    if not os.access(parent, os.W_OK):
        raise CommandError(f"-o {path}: {parent} is not writable")
    return out


def _check_qtdb(folder) -> None:
    """``--qtdb DIR`` read before any work: a folder given explicitly must hold the QTDB
    test records (without the option, a missing data set only leaves ECG out)."""
    if folder:
        from .datasets import load_qtdb
        load_qtdb("test", folder)        # InputError: one line naming the file


def cmd_bench(args) -> int:
    from .bench import SECTIONS, BenchError, Plan, run
    from .bench.report import write
    say = (lambda m: None) if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    out = _output_folder(args.output)
    _check_qtdb(args.qtdb)
    try:
        rows = run(Plan.make(args.quick), out, sections=args.sections, qtdb=args.qtdb,
                   builds=args.builds, say=say)
    except BenchError as exc:
        raise CommandError(f"bench: {exc}", EXIT_MISMATCH) from None
    command = "spikeforge bench" + (" --quick" if args.quick else "") + \
        ("" if list(args.sections) == list(SECTIONS) else " --sections " + " ".join(args.sections))
    report = write(rows, out, command)
    if args.json:
        print(json.dumps(_finite({"report": str(report), "rows": str(out / "bench.jsonl"),
                                  "measurements": rows})))
        return 0
    meta = rows[0]
    print(f"report     {report}")
    print(f"rows       {out / 'bench.jsonl'} ({len(rows) - 1} measurements, "
          f"{meta['seconds'] / 60:.1f} minutes)")
    for r in rows[1:]:
        if r["section"] == "throughput":
            print(f"throughput P = {r['lanes']}: {r['synops_per_clock']} synaptic ops/clock "
                  f"({r['of_limit']} of the limit)")
        elif r["section"] == "workloads" and "lanes" in r:
            print(f"{r['network']:<20} P = {r['lanes']}: golden {100 * r['golden_accuracy']:.2f} %, "
                  f"RTL {100 * r['rtl_accuracy']:.2f} %, {r['cycles_per_inference']:,.0f} "
                  f"cycles/inference (cycle model equal)")
        elif r["section"] == "boards" and r.get("status") == "built":
            print(f"{r['board']:<20} P = {r['lanes']}: Fmax {r['fmax_mhz']} MHz")
    return 0


def cmd_sweep(args) -> int:
    from . import sweep
    for option, values, allowed in (("--lanes", args.lanes, (1, 2, 4, 8, 16)),
                                    ("--weight-bits", args.weight_bits or [], range(2, 17))):
        bad = [v for v in values if v not in allowed]
        if bad:
            raise CommandError(f"{option} {bad[0]}: expected one of "
                               f"{', '.join(map(str, allowed)) if len(allowed) < 8 else '2 to 16'}")
    for spec in args.networks:
        load_network(spec)          # a bad file is one error now, not one per point
    if args.input:
        from .golden.inputs import load_inputs
        if load_inputs(args.input)[1] is None:
            raise CommandError(f"--input {args.input}: no labels y to score the points with")
    _output_folder(args.output)
    _check_qtdb(args.qtdb)
    say = (lambda m: None) if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    todo = sweep.points(args.networks, args.boards, args.lanes, args.weight_bits, args.weights)
    try:
        rows = sweep.run_sweep(todo, address=args.address, num_cpus=args.cpus, qtdb=args.qtdb,
                               inputs=args.input, progress=say)
    except sweep.SweepError as exc:
        raise CommandError(str(exc), EXIT_TOOL) from None
    front = sweep.pareto(rows)
    written = sweep.write(rows, Path(args.output))
    if args.json:
        print(json.dumps(_finite({"points": rows, "pareto": [r["point"] for r in front],
                                  **written})))
        return 0
    header = f"{'point':<62} {'status':<13} {'LUT':>7} {'BRAM':>5} {'DSP':>4} {'Fmax':>7} " \
             f"{'Fmax*P':>7} {'accuracy':>8}"
    print(header)
    for r in sorted(rows, key=lambda r: r["point"]):
        acc = f"{100 * r['accuracy']:.2f}%" if r.get("accuracy") is not None else "-"
        if r["status"] == "built":
            print(f"{r['point'][:62]:<62} {'built' + (' *' if r['pareto'] else ''):<13} "
                  f"{r['lut'] or 0:>7,} {r['bram'] or 0:>5} {r['dsp'] or 0:>4} "
                  f"{r['fmax_mhz'] or 0:>7.2f} {r['fmax_x_lanes']:>7.1f} {acc:>8}")
        else:
            print(f"{r['point'][:62]:<62} {r['status']:<13} {r.get('reason', '')[:80]}")
    print(f"* on the Pareto front (Fmax x P against LUTs); rows in {written['rows']}"
          + (f", plot {written['plot']}" if "plot" in written else ""))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="spikeforge",
        description="Generate event-driven FPGA accelerators for spiking neural networks, "
                    "simulate them against a bit-exact golden model, build them for open boards.",
        epilog="NETWORK is a network file (.npz) or builtin:NAME. " + EXIT_EPILOG + ".")
    parser.add_argument("--version", action="version", version=f"spikeforge {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    lanes_help = "synaptic lanes (weights per clock): 1, 2, 4, 8, 16 (default 1)"

    p = add_command(sub, "demo", cmd_demo, "the main job on the built-in digits network: "
                    "generate the accelerator, run the test set in Verilator, check it against "
                    "the golden model",
                    ["spikeforge demo", "spikeforge demo --lanes 4 --samples 100 --json"])
    p.add_argument("--network", default="digits", choices=["digits"], help="built-in network")
    p.add_argument("--lanes", type=int, default=1, metavar="P", help=lanes_help)
    p.add_argument("-o", "--output", default="spikeforge-demo", metavar="DIR",
                   help="where the Verilog goes (default ./spikeforge-demo)")
    p.add_argument("--samples", type=int, metavar="N", help="only the first N test samples")
    from .boards.cli import add_board_parsers
    from .train.cli import add_train_parser
    add_train_parser(sub)
    add_board_parsers(sub)
    p = add_command(sub, "info", cmd_info, "describe a network: layers, formats, accumulator "
                    "widths, memory per layer and whether it fits each board",
                    ["spikeforge info builtin:ecg", "spikeforge info net.npz --lanes 4 --json"])
    p.add_argument("network", metavar="NETWORK")
    p.add_argument("--lanes", type=int, default=1, metavar="P", help=lanes_help)
    p = add_command(sub, "import", cmd_import, "import a trained network from another tool and "
                    "quantise it",
                    ["spikeforge import model.pth --from torch-srnn -o net.npz --weight-bits 8",
                     "spikeforge import graph.nir --from nir -o net.npz --dt 1e-3"])
    p.add_argument("model", metavar="MODEL", help="file to import")
    p.add_argument("--from", dest="source", required=True, choices=["torch-srnn", "nir"],
                   help="torch-srnn: state dict of the SRNN reference code (Yin et al.); "
                        "nir: a NIR graph (Affine/Linear, LIF, CubaLIF, LI, IF, recurrence)")
    p.add_argument("--dt", type=float, default=1.0,
                   help="nir: the time step, in the graph's time unit (default 1.0; a graph "
                        "exported by spikeforge carries its own)")
    p.add_argument("-o", "--output", required=True, metavar="NET.npz",
                   help="the quantised network file to write")
    p.add_argument("--name", help="network name (default: the file's stem)")
    p.add_argument("--b0", type=float, default=0.01, help="baseline threshold (default 0.01)")
    p.add_argument("--beta", type=float, default=1.8, help="adaptation strength (default 1.8)")
    p.add_argument("--tau-m", type=float, help="membrane tau for files that store none")
    p.add_argument("--no-adapt", action="store_true", help="hidden layers are LIF, not ALIF")
    p.add_argument("--readout", default="li", choices=["li", "alif"],
                   help="li: leaky integrator; alif: spiking outputs whose membrane is read")
    p.add_argument("--decision", choices=["per_step", "last", "spike_count", "first_spike"],
                   help="decision rule (default per_step, or what an exported NIR graph says)")
    p.add_argument("--skip-steps", type=int, default=0, help="steps not scored per step")
    p.add_argument("--weight-clip", type=float, metavar="QUANTILE",
                   help="set each layer's weight scale by this quantile of its |weights| (e.g. "
                        "0.999: the few larger ones saturate) instead of the largest")
    add_format_options(p)
    p = add_command(sub, "export", cmd_export, "export a network to NIR (LIF, CubaLIF and LI "
                    "layers)", ["spikeforge export builtin:ecg --to nir -o ecg.nir"])
    p.add_argument("network", metavar="NETWORK")
    p.add_argument("--to", dest="target", required=True, choices=["nir"],
                   help="the format to write (nir: a NIR graph file)")
    p.add_argument("-o", "--output", required=True, metavar="GRAPH.nir", help="the file to write")
    p.add_argument("--dt", type=float, default=1.0, help="time step of the exported graph")
    p = add_command(sub, "simulate", cmd_simulate,
                    "run input events through a simulator and report accuracy, spikes and "
                    "operations",
                    ["spikeforge simulate builtin:digits --input test.npz",
                     "spikeforge simulate net.npz --input test.npz --simulator verilator "
                     "--lanes 2 -o out.npz",
                     "spikeforge simulate builtin:ecg --input ecg.test.npz --plot plots/ "
                     "--plot-samples 2",
                     "spikeforge simulate net.npz --input test.npz --simulator icarus "
                     "--samples 4 --waves waves/"])
    p.add_argument("network", metavar="NETWORK")
    p.add_argument("--input", required=True, metavar="FILE",
                   help="input file (.npz): x (samples, steps, channels) events, optional labels y")
    p.add_argument("--samples", type=int, metavar="N", help="only the first N samples")
    p.add_argument("--simulator", default="golden", choices=["golden", "verilator", "icarus"],
                   help="golden: the NumPy fixed-point model (default); verilator, icarus: the "
                        "generated RTL, every output checked against the golden model")
    p.add_argument("--lanes", type=int, default=1, metavar="P", help=lanes_help)
    p.add_argument("--engine", default="auto", choices=["auto", "cocotb", "native"],
                   help="RTL engine: the cocotb testbench, or the native C++ Verilator harness "
                        "(auto: native for Verilator unless --waves, cocotb for Icarus)")
    p.add_argument("--waves", metavar="DIR", help="record waveforms (cocotb engine) into DIR")
    p.add_argument("-o", "--output", metavar="OUT.npz",
                   help="write decisions, readout values, spike and operation counts per sample")
    p.add_argument("--plot", metavar="DIR",
                   help="draw the first samples into DIR/sample-N.png: input events, a spike "
                        "raster per spiking layer, the readout traces (needs matplotlib: the "
                        "bench extra)")
    p.add_argument("--plot-samples", type=int, default=4, metavar="N",
                   help="how many samples --plot draws (default 4)")
    p = add_command(sub, "bench", cmd_bench,
                    "measure every figure spikeforge claims in one run (RTL throughput, "
                    "accuracy, software speed, board builds) and write a report with plots",
                    ["spikeforge bench --quick -o bench/",
                     "spikeforge bench -o docs/ --sections throughput workloads",
                     "spikeforge bench --quick --json > bench.json"])
    p.add_argument("--quick", action="store_true",
                   help="subsets (10 ECG records, 100 digits, P = 1, one board build): under 10 "
                        "minutes on 2 cores; the full run takes about an hour")
    p.add_argument("-o", "--output", default="spikeforge-bench", metavar="DIR",
                   help="where bench.jsonl, benchmarks.md and the plots go "
                        "(default ./spikeforge-bench)")
    p.add_argument("--builds", metavar="DIR", help="keep the board builds in DIR (default: a "
                   "temporary folder; builds are cached by content either way)")
    from .bench import SECTIONS
    p.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS),
                   metavar="SECTION", help=f"what to measure (default all: {', '.join(SECTIONS)})")
    p.add_argument("--qtdb", metavar="DIR", help="QTDB folder (default $SPIKEFORGE_QTDB or "
                   "../shared/data/qtdb)")
    p = add_command(sub, "sweep", cmd_sweep,
                    "explore the design space on Ray: networks x boards x lanes x weight bits x "
                    "weight placement, each point a build (cached by content) and its figures",
                    ["spikeforge sweep builtin:ecg --boards icebreaker ulx3s-85f --lanes 1 2 4",
                     "spikeforge sweep builtin:digits --boards ulx3s-85f --lanes 1 2 "
                     "--weight-bits 8 6 4 -o sweep/",
                     "spikeforge sweep net.npz --boards orangecrab --input test.npz "
                     "--address ray://head:10001 --json"])
    p.add_argument("networks", nargs="+", metavar="NETWORK")
    from .boards.targets import BOARDS
    p.add_argument("--boards", nargs="+", required=True, choices=sorted(BOARDS), metavar="BOARD",
                   help=f"boards to build for: {', '.join(sorted(BOARDS))}")
    p.add_argument("--lanes", nargs="+", type=int, default=[1], metavar="P",
                   help="lane counts (default 1)")
    p.add_argument("--weight-bits", nargs="+", type=int, metavar="B",
                   help="requantise each network at these weight widths (default: its own)")
    p.add_argument("--weights", nargs="+", default=["auto"], choices=["auto", "block", "spram"],
                   help="weight placement (default auto: block RAM, else SPRAM on the UP5K)")
    p.add_argument("--address", metavar="ADDR",
                   help="a running Ray cluster (e.g. ray://head:10001 or auto); default: Ray "
                        "embedded on this machine")
    p.add_argument("--cpus", type=int, metavar="N",
                   help="CPUs of the embedded Ray (default: all of this machine's)")
    p.add_argument("-o", "--output", default="spikeforge-sweep", metavar="DIR",
                   help="where sweep.jsonl and sweep-pareto.png go (default ./spikeforge-sweep)")
    p.add_argument("--input", metavar="FILE",
                   help="score every point's network on this input file (x and labels y); "
                        "default: a built-in's own test set, no accuracy for files")
    p.add_argument("--qtdb", metavar="DIR", help="QTDB folder for builtin:ecg's accuracy")
    p = add_command(sub, "compile", cmd_compile,
                    "generate the accelerator: Verilog (memory contents inline) and a JSON "
                    "manifest",
                    ["spikeforge compile builtin:ecg -o ecg-rtl",
                     "spikeforge compile net.npz -o rtl --lanes 4 --weights spram --json",
                     "spikeforge compile net.npz -o rtl --weights spram:0"])
    p.add_argument("network", metavar="NETWORK")
    p.add_argument("-o", "--output", required=True, metavar="DIR",
                   help="folder for accelerator.v and manifest.json")
    p.add_argument("--lanes", type=int, default=1, metavar="P", help=lanes_help)
    p.add_argument("--weights", default="block", metavar="block|spram|spram:LAYERS",
                   help="where the weights live, as build/fit --weights says: block RAM "
                        "(default), or the iCE40 UP5K's SPRAM (SB_SPRAM256KA instances, written "
                        "at run time) for every layer or for LAYERS (e.g. spram:0,1); compile "
                        "has no board, so no auto")
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    return run_command(args)


def run_command(args) -> int:
    """Run a parsed command: its exit code, and every failure reported as one line (or one
    JSON object under ``--json``); a traceback only for an internal error."""
    try:
        return args.func(args)
    except _user_errors() as exc:
        return report_error(args, str(exc), getattr(exc, "code", EXIT_USAGE))
    except _tool_errors() as exc:
        return report_error(args, str(exc), EXIT_TOOL)
    except KeyboardInterrupt:
        return report_error(args, "interrupted", EXIT_INTERRUPTED)
    except BrokenPipeError:     # e.g. piped into head: stop quietly, as other tools do
        sys.stderr.close()
        return 0
    except Exception:
        import traceback
        traceback.print_exc()
        return report_error(args, "internal error: this is a bug in spikeforge; please report "
                            "it with the traceback above", EXIT_INTERNAL)


def report_error(args, message: str, code: int) -> int:
    message = " ".join(str(message).split("\n")).strip()   # one line, whatever the cause
    if getattr(args, "json", False):
        print(json.dumps({"error": message, "exit_code": code, "meaning": EXIT_CODES.get(code)}))
    else:
        print(f"spikeforge: error: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
