"""Board commands for the ``spikeforge`` command line: build, flash, run, fit.

``add_board_parsers(subparsers)`` registers them; each handler returns an exit
code and raises ``spikeforge.cli.CommandError`` for user errors.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

__all__ = ["add_board_parsers", "cmd_build", "cmd_flash", "cmd_run", "cmd_fit"]


def _cli():
    from spikeforge import cli
    return cli


def _progress(args):
    return _cli()._progress(args)


def _emit(args, report: dict, lines: list[str]) -> None:
    print(json.dumps(report, indent=1) if args.json else "\n".join(lines))


def _board(name):
    from .targets import BoardError, board
    try:
        return board(name)
    except BoardError as exc:
        raise _cli().CommandError(str(exc)) from None


def _user_error(exc):
    """A board-side failure as the CLI's one-line error: exit 2 for what the user asked
    (a network that does not fit, an unknown board), 3 for a tool or a board that failed."""
    from .fit import FitError
    cli = _cli()
    return cli.CommandError(str(exc), cli.EXIT_USAGE if isinstance(exc, FitError) else cli.EXIT_TOOL)


def _boards_errors():
    from ..sim.tools import ToolError
    from .targets import BoardError
    return (BoardError, ToolError)


def cmd_build(args) -> int:
    from .build import build_bitstream
    cli = _cli()
    net = cli.load_network(args.network)
    b = _board(args.board)
    config = cli.hardware_config(args.lanes)
    if not args.timeout > 0:
        raise cli.CommandError(f"--timeout {args.timeout:g}: must be a positive number of seconds")
    out = Path(args.output or f"build-{b.name}-p{args.lanes}")
    try:
        result = build_bitstream(net, b, config=config, build_dir=out, baud=args.baud,
                                 progress=_progress(args), check_timing=not args.allow_timing_fail,
                                 clock_divide=args.clock_divide, weights=args.weights,
                                 timeout=args.timeout)
    except _boards_errors() as exc:
        raise _user_error(exc) from None
    except ValueError as exc:       # e.g. a baud the clock cannot make
        raise cli.CommandError(f"--baud {args.baud}: {exc}") from None
    report = result.to_json()
    spram = report["spram_layers"]
    lines = [f"board      {b.title}: {b.device.name}, clock {b.clk_hz / 1e6:g} MHz, core "
             f"{result.clock_mhz:g} MHz",
             f"network    {net.name}: {net.summary()}, {args.lanes} lane(s)",
             "weights    " + (f"layers {spram} in SPRAM (written at run time: spikeforge run "
                               f"loads them), the rest in block RAM" if spram else "in block RAM"),
             f"bitstream  {result.bitstream} ({report['bitstream_bytes']:,} bytes, "
             f"{result.seconds:.0f} s)"]
    for key, use in result.resources.items():
        avail = use.get("available")
        pct = f" ({100 * use['used'] / avail:.1f} %)" if avail else ""
        lines.append(f"{key:<10} {use['used']:,} of {avail:,}{pct}" if avail else
                     f"{key:<10} {use['used']:,}")
    lines.append(f"timing     Fmax {result.fmax_mhz} MHz vs {result.clock_mhz:g} MHz clock: "
                 f"{'pass' if result.timing_ok else 'FAIL'}")
    lines.append(f"estimate   {result.estimate_bram} block RAMs before synthesis")
    _emit(args, report, lines)
    return 0


def cmd_flash(args) -> int:
    from .flash import flash
    b = _board(args.board)
    try:
        cmd = flash(args.bitstream, b, persist=args.persist, cable=args.cable,
                    progress=_progress(args))
    except _boards_errors() as exc:
        raise _user_error(exc) from None
    _emit(args, {"board": b.name, "bitstream": args.bitstream, "command": cmd},
          [f"loaded {args.bitstream} onto the {b.title}"])
    return 0


def cmd_run(args) -> int:
    from ..golden import accuracy, check_inputs, simulate
    from ..golden.inputs import load_inputs
    from .host import connect, connect_sim
    cli = _cli()
    net = cli.load_network(args.network)
    x, y = load_inputs(args.input)
    x = check_inputs(net, x)
    x, y = cli.first_samples(x, y, args.samples)
    say = _progress(args) or (lambda m: None)
    try:
        if args.sim:
            from .fit import spram_placement
            config = dataclasses.replace(cli.hardware_config(args.lanes),
                                         spram_layers=spram_placement(net, args.weights))
            board = connect_sim(net, config, progress=say)
        else:
            board = connect(args.port, net, baud=args.baud, timeout=args.timeout)
        with board:
            say(f"connected to {board.name}: design tag {board.info.tag:08x}, "
                f"{board.info.baud:,.0f} baud")
            if args.no_load and board.config.spram_layers:
                raise cli.CommandError("--no-load: this bitstream keeps the weights in SPRAM, "
                                       "which a bitstream cannot initialise; let run load them")
            if not args.no_load:
                say("writing the network's weights and parameters")
                board.load(net)
            board.clear_counters()
            say(f"streaming {x.shape[0]} samples x {x.shape[1]} steps")
            got = board.run(x, progress=say)
            counters = board.counters()
    except _boards_errors() as exc:
        raise _user_error(exc) from None
    expected = simulate(net, x)
    from ..sim.scoreboard import Scoreboard    # the exact record stream and the counters
    problems = Scoreboard(net, hidden_spikes=board.config.emit_spikes).check(
        expected, board.last_records, int(x.shape[0]), int(x.shape[1]), counters)
    report = {"network": net.name, "board": board.name, "samples": int(x.shape[0]),
              "steps": int(x.shape[1]), "mismatches": len(problems),
              "first_mismatches": problems[:10], "counters": counters,
              "link": board.info.to_json(), "accuracy": None}
    if y is not None:
        report["accuracy"] = accuracy(net, got.decisions, y)
    lines = [f"network    {net.name}: {net.summary()}",
             f"board      {board.name}",
             f"inputs     {args.input}: {x.shape[0]} samples x {x.shape[1]} steps",
             f"counters   {counters['CYCLES']:,} busy cycles ({counters['STALL_CYCLES']:,} of them "
             f"waiting for the link to take results), {counters['SYNOPS']:,} synaptic ops, "
             f"spikes {counters['SPIKES']}",
             f"check      {len(problems)} mismatches: "
             + ("equal to the golden model" if not problems else "MISMATCHES")]
    lines += [f"           {p}" for p in problems[:10]]
    if report["accuracy"] is not None:
        lines.append(f"accuracy   {100 * report['accuracy']:.2f} %")
    _emit(args, report, lines)
    return cli.EXIT_MISMATCH if problems else 0


def _usage(fit) -> str:
    text = f"{fit.blocks} of {fit.device.bram_blocks} block RAMs"
    if fit.spram_layers:
        text += (f", weights of layers {list(fit.spram_layers)} in {fit.spram} of "
                 f"{fit.device.spram_blocks} SPRAM blocks")
    return text


def _weight_memories(b, weights: str) -> list[str]:
    if weights == "auto":
        return ["block", "auto"] if b.device.spram_blocks else ["block"]
    return [weights]


def network_fit(net, config, b, weights: str) -> tuple[dict, str]:
    """Whether ``net`` fits board ``b`` (``fit.fitting_config``): its JSON entry and one line."""
    from .fit import FitError, fitting_config
    try:
        chosen, fit = fitting_config(net, config, b, weights)
    except FitError as exc:
        return {"fits": False, "error": str(exc)}, f"{b.name:<15} {net.name}: does NOT fit: {exc}"
    return fit.to_json(), f"{b.name:<15} {net.name}: {_usage(fit)}, fits"


def cmd_fit(args) -> int:
    from .fit import FitError, ecg_shaped, largest_hidden
    from .targets import BOARDS
    cli = _cli()
    config = cli.hardware_config(args.lanes)
    names = [args.board] if args.board else list(BOARDS)
    report = {"lanes": args.lanes, "weights": args.weights, "boards": []}
    lines = []
    net = cli.load_network(args.network) if args.network else None
    for name in names:
        b = _board(name)
        entry = {"board": name, "device": b.device.name,
                 "bram_available": b.device.bram_blocks, "spram_available": b.device.spram_blocks}
        if net is not None:
            entry["network"], line = network_fit(net, config, b, args.weights)
            lines.append(line)
        memories = _weight_memories(b, args.weights)
        entry["largest"] = []
        for where in memories:
            try:
                hidden, fit = largest_hidden(b, config, weight_bits=args.weight_bits, weights=where)
            except FitError as exc:
                entry["largest"].append({"weights": where, "hidden": 0, "error": str(exc)})
                lines.append(f"{name:<15} {exc}")
                continue
            shape = ecg_shaped(hidden, weight_bits=args.weight_bits)
            synapses = shape.synapses()
            entry["largest"].append({"weights": where, "hidden": hidden, "synapses": synapses,
                                     "weight_bits": args.weight_bits, "estimate": fit.to_json()})
            lines.append(f"{name:<15} largest 4 -> N (recurrent ALIF) -> 6, {args.weight_bits}-bit "
                         f"weights ({where}), {args.lanes} lane(s): N = {hidden}, {synapses:,} "
                         f"synapses ({_usage(fit)})")
        report["boards"].append(entry)
    _emit(args, report, lines)
    return 0


def weights_option(p, default: str, help: str | None = None) -> None:
    from .fit import WEIGHT_CHOICES
    p.add_argument("--weights", choices=WEIGHT_CHOICES, default=default,
                   help=help or "where the weights live: block RAM, the iCE40 UP5K's SPRAM "
                   "(written at run time), or auto (block RAM if it fits, else SPRAM; default)")


def add_board_parsers(subparsers) -> None:
    """Register ``build``, ``flash``, ``run`` and ``fit`` on the CLI's subparsers."""
    from .build import DEFAULT_BAUD, DEFAULT_TIMEOUT
    from .targets import BOARDS

    def add(name, func, help, examples):
        return _cli().add_command(subparsers, name, func, help, examples)

    boards = ", ".join(BOARDS)
    p = add("build", cmd_build, "build a bitstream for an FPGA board and report resource use "
            "and timing (Yosys + nextpnr)",
            ["spikeforge build builtin:ecg --board icebreaker",
             "spikeforge build net.npz --board ulx3s-85f --lanes 8 -o build-ulx3s --json"])
    p.add_argument("network", metavar="NETWORK")
    p.add_argument("--board", required=True, metavar="NAME", help=boards)
    p.add_argument("--lanes", type=int, default=1, metavar="P", help="synaptic lanes (default 1)")
    p.add_argument("--baud", type=int, default=DEFAULT_BAUD, help=f"UART baud (default {DEFAULT_BAUD})")
    p.add_argument("-o", "--output", metavar="DIR", help="build folder (default build-BOARD-pP)")
    p.add_argument("--clock-divide", type=int, choices=[1, 2, 4, 8], metavar="N",
                   help="core clock = board clock / N (default 1: the board clock)")
    p.add_argument("--allow-timing-fail", action="store_true",
                   help="exit 0 even if nextpnr's Fmax is below the board clock")
    weights_option(p, "auto")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                   help=f"stop the toolchain after this long (default {DEFAULT_TIMEOUT:.0f})")
    p = add("flash", cmd_flash, "load a bitstream onto a board with openFPGALoader",
            ["spikeforge flash build-icebreaker-p1/spikeforge.bin --board icebreaker",
             "spikeforge flash build-ulx3s/spikeforge.bit --board ulx3s-85f --persist"])
    p.add_argument("bitstream", metavar="BITSTREAM")
    p.add_argument("--board", required=True, metavar="NAME", help=boards)
    p.add_argument("--persist", action="store_true", help="write the configuration flash")
    p.add_argument("--cable", help="openFPGALoader cable name")
    p = add("run", cmd_run, "run inputs through a board (or the simulated board) over the UART "
            "link and check every output against the golden model",
            ["spikeforge run builtin:ecg --port /dev/ttyUSB1 --input ecg.test.npz",
             "spikeforge run builtin:digits --sim --input digits.test.npz --samples 20"])
    p.add_argument("network", metavar="NETWORK")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--port", help="the board's serial port, e.g. /dev/ttyUSB1")
    where.add_argument("--sim", action="store_true",
                       help="the simulated board (the board top in Verilator behind a pty)")
    p.add_argument("--input", required=True, metavar="FILE", help="input file (.npz) with x, y")
    p.add_argument("--samples", type=int, metavar="N", help="only the first N samples")
    p.add_argument("--lanes", type=int, default=1, metavar="P", help="lanes of the simulated board")
    p.add_argument("--baud", type=int, default=DEFAULT_BAUD, help=f"serial baud (default {DEFAULT_BAUD})")
    p.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for the board")
    p.add_argument("--no-load", action="store_true",
                   help="keep the weights in the bitstream (do not write the network's)")
    p.add_argument("--weights", choices=("block", "spram"), default="block",
                   help="--sim only: where the simulated board keeps the weights, block RAM "
                        "(default) or SPRAM (a real board's bitstream decides, and says so in "
                        "its design tag); run has no board to fit against, so no auto")
    p = add("fit", cmd_fit, "estimate block RAM use on each board and the largest ECG-shaped "
            "network that fits",
            ["spikeforge fit", "spikeforge fit builtin:ecg --board icebreaker --lanes 2 --json"])
    p.add_argument("network", metavar="NETWORK", nargs="?",
                   help="a network to check (default: only the largest-network search)")
    p.add_argument("--board", metavar="NAME", help=f"one of {boards} (default: all)")
    p.add_argument("--lanes", type=int, default=1, metavar="P",
                   help="synaptic lanes (default 1)")
    p.add_argument("--weight-bits", type=int, default=8, metavar="BITS",
                   help="weight width of the largest-network search (default 8)")
    weights_option(p, "auto")
