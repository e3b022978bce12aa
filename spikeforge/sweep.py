"""``spikeforge sweep``: design-space exploration on Ray.

The points are the product networks x boards x lanes x weight bits x weight placement.
Each point is one Ray task (``evaluate``): the network requantised at the point's weight
width (a built-in or a file; theta networks keep their own width), its golden accuracy on
its test set when it is a built-in with a data set here, the fit check, the board build
(cached by content in ``boards.build``, so a repeated point costs its elaboration only) and
the cycle model's clocks per inference at that lane count. Ray runs embedded on this
machine by default, or on a cluster with ``address`` (its workers need spikeforge
installed). Results arrive as points finish; ``pareto`` marks the points no other point
beats on both throughput (Fmax x P) and LUTs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Point", "points", "evaluate", "run_sweep", "pareto", "SweepError"]


class SweepError(Exception):
    """The sweep cannot run (Ray missing or unreachable, no points)."""


@dataclass(frozen=True)
class Point:
    network: str                  # a network file or builtin:NAME
    board: str
    lanes: int
    weight_bits: int | None       # None: the network's own
    weights: str = "auto"         # weight placement: auto, block or spram

    def label(self) -> str:
        bits = f"{self.weight_bits}-bit" if self.weight_bits else "own bits"
        return f"{self.network} on {self.board}, P = {self.lanes}, {bits}, weights {self.weights}"


def points(networks, boards, lanes, weight_bits, weights) -> list[Point]:
    return [Point(n, b, p, w, where) for n, b, p, w, where in
            itertools.product(networks, boards, lanes, weight_bits or [None], weights)]


def _requantised(spec: str, bits: int | None):
    from .cli import load_network
    from .golden.reference import requantize, suggested_weight_clip
    net = load_network(spec)
    if bits is None or bits == net.formats.weight_bits:
        return net
    if net.theta is not None:
        raise ValueError(f"{spec}: a theta network keeps the weight width it was trained at "
                         f"({net.formats.weight_bits} bits); sweep it without --weight-bits")
    q = requantize(net, bits, suggested_weight_clip(bits))
    q.name = f"{net.name}-w{bits}"
    return q


def _test_set(spec: str, net, qtdb=None, inputs=None):
    """The samples a point is scored on: ``inputs`` (an input file with labels) if given,
    else a built-in's test set; None for a file without ``inputs`` or a data set not here."""
    if inputs is not None:
        from .golden.inputs import load_inputs
        x, y = load_inputs(inputs)
        return None if y is None else (x, y)
    if not spec.startswith("builtin:"):
        return None
    from .train.data import load_task
    name = spec[len("builtin:"):]
    try:
        if net.theta is not None:
            return load_task(name, "test", steps=net.theta.steps)
        return load_task(name, "test", qtdb)
    except (ValueError, ImportError):   # DataError: no such task or data set here (no
        return None                     # accuracy, nothing else lost); scikit-learn missing


def evaluate(point: Point, build_root: str, qtdb=None, inputs=None) -> dict:
    """One point: a row with its status ("built", "does not fit", "failed") and figures."""
    import numpy as np
    from .boards.build import BuildError, build_bitstream
    from .boards.fit import FitError
    from .boards.targets import ToolMissing, board
    from .golden import accuracy, simulate
    from .golden.network import NetworkFileError
    from .hdl import schedule
    from .hdl.config import HardwareConfig
    row = {**dataclasses.asdict(point), "point": point.label()}
    try:
        net = _requantised(point.network, point.weight_bits)
    except (ValueError, NetworkFileError, OSError) as exc:
        return {**row, "status": "failed", "reason": str(exc)}
    row.update(network_name=net.name, summary=net.summary(),
               weight_bits=net.formats.weight_bits)
    config = HardwareConfig(lanes=point.lanes)
    try:
        data = _test_set(point.network, net, qtdb, inputs)
        if data is not None:
            x, y = np.asarray(data[0]), np.asarray(data[1])
            result = simulate(net, x)        # checks x against the network
            cycles = schedule.cycles(net, config, result, x)
            row.update(accuracy=round(accuracy(net, result.decisions, y), 4),
                       test_samples=int(x.shape[0]),
                       cycles_per_inference=round(float(cycles.mean()), 1))
    except ValueError as exc:     # InputError: the file does not suit this network
        return {**row, "status": "failed", "reason": str(exc)}
    folder = Path(build_root) / hashlib.sha256(point.label().encode()).hexdigest()[:16]
    try:
        r = build_bitstream(net, board(point.board), config=config, build_dir=folder,
                            weights=point.weights, check_timing=False)
    except FitError as exc:
        return {**row, "status": "does not fit", "reason": str(exc)}
    except (BuildError, ToolMissing) as exc:
        return {**row, "status": "failed", "reason": str(exc)}
    res = r.resources
    row.update(status="built", resources=res, fmax_mhz=r.fmax_mhz, clock_mhz=r.clock_mhz,
               timing_ok=r.timing_ok, cached=r.extra.get("cached"),
               build_seconds=round(r.seconds, 1),
               lut=res.get("lut", {}).get("used"), bram=res.get("bram", {}).get("used"),
               dsp=res.get("dsp", {}).get("used"),
               fmax_x_lanes=round((r.fmax_mhz or 0) * point.lanes, 2))
    if r.fmax_mhz and "cycles_per_inference" in row:
        row["inferences_per_second_at_fmax"] = round(r.fmax_mhz * 1e6 / row["cycles_per_inference"], 1)
    return row


def pareto(rows: list[dict]) -> list[dict]:
    """The built points no other built point beats on both Fmax x P (higher) and LUTs
    (fewer); each row gains ``pareto`` True/False."""
    built = [r for r in rows if r.get("status") == "built" and r.get("lut") is not None]
    for r in rows:
        r["pareto"] = False
    for r in built:
        r["pareto"] = not any(o is not r and o["fmax_x_lanes"] >= r["fmax_x_lanes"]
                              and o["lut"] <= r["lut"]
                              and (o["fmax_x_lanes"], -o["lut"]) != (r["fmax_x_lanes"], -r["lut"])
                              for o in built)
    return [r for r in built if r["pareto"]]


def run_sweep(todo: list[Point], *, address: str | None = None, num_cpus: int | None = None,
              build_root=None, qtdb=None, inputs=None, progress=None) -> list[dict]:
    """Evaluate every point as a Ray task; the rows in the order the points finish."""
    if not todo:
        raise SweepError("no points: give at least one network, board, lane count")
    try:
        import ray
    except ImportError:
        raise SweepError("Ray is not installed: pip install 'spikeforge[sweep]'") from None
    say = progress or (lambda message: None)
    started = not ray.is_initialized()
    if started:
        try:
            if address:
                ray.init(address=address, logging_level="ERROR", log_to_driver=False)
            else:
                ray.init(num_cpus=num_cpus or os.cpu_count(), include_dashboard=False,
                         logging_level="ERROR", log_to_driver=False,
                         object_store_memory=256 * 1024 ** 2)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise SweepError(f"Ray did not start{f' at {address}' if address else ''}: "
                             f"{' '.join(str(exc).split())[:300]}") from None
    say(f"sweep: {len(todo)} points on Ray ({ray.cluster_resources().get('CPU', 0):g} CPUs)")
    root = Path(build_root) if build_root else Path(tempfile.mkdtemp(prefix="spikeforge-sweep-"))
    task = ray.remote(num_cpus=1)(evaluate)
    pending = {task.remote(p, str(root), qtdb, inputs): p for p in todo}
    rows = []
    try:
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            point = pending.pop(done[0])
            try:
                row = ray.get(done[0])
            except ray.exceptions.RayError as exc:
                row = {**dataclasses.asdict(point), "point": point.label(), "status": "failed",
                       "reason": " ".join(str(exc).split())[-300:]}
            rows.append(row)
            figures = (f"Fmax {row['fmax_mhz']} MHz, {row['lut']} LUT"
                       f"{'' if not row.get('cached') else ' (cached)'}"
                       if row["status"] == "built" else row.get("reason", "")[:100])
            say(f"sweep: [{len(rows)}/{len(todo)}] {point.label()}: {row['status']}; {figures}")
    finally:
        if started:
            ray.shutdown()
    return rows


def write(rows: list[dict], out: Path) -> dict:
    """``sweep.jsonl`` (every row) and ``sweep-pareto.png`` (with matplotlib) in ``out``,
    each written whole; the paths written."""
    from .golden.files import atomic_path, atomic_write
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    with atomic_write(out / "sweep.jsonl", "sweep rows") as fh:
        fh.write("".join(json.dumps(r) + "\n" for r in rows).encode())
    written["rows"] = str(out / "sweep.jsonl")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return written
    built = [r for r in rows if r.get("status") == "built" and r.get("lut") is not None]
    if not built:
        return written
    with_acc = [r for r in built if r.get("accuracy") is not None]
    fig, axes = plt.subplots(1, 2 if with_acc else 1, figsize=(9 if with_acc else 5, 3.8),
                             squeeze=False)
    ax = axes[0][0]
    for name in sorted({r["board"] for r in built}):
        pts = [r for r in built if r["board"] == name]
        ax.scatter([r["lut"] for r in pts], [r["fmax_x_lanes"] for r in pts], label=name)
    front = sorted((r["lut"], r["fmax_x_lanes"]) for r in built if r.get("pareto"))
    if front:
        ax.plot(*zip(*front), "k--", lw=1, label="Pareto front")
    ax.set(xlabel="LUTs", ylabel="Fmax x P (MHz x lanes)", title="throughput vs LUTs")
    ax.legend(fontsize=7)
    if with_acc:
        ax = axes[0][1]
        for name in sorted({r["network"] for r in with_acc}):
            pts = [r for r in with_acc if r["network"] == name]
            ax.scatter([r["lut"] for r in pts], [r["accuracy"] for r in pts], label=name)
        ax.set(xlabel="LUTs", ylabel="golden accuracy", title="accuracy vs LUTs")
        ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(out / "sweep-pareto.png", "plot") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    written["plot"] = str(out / "sweep-pareto.png")
    return written
