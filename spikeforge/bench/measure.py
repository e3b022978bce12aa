"""The measurements of ``spikeforge bench``, one function per section.

Each section returns rows (dicts with ``section`` and ``measure`` and the figures), measured
in this run: RTL figures come from cycle-exact Verilator simulations checked against the
golden model (a mismatch, or a cycle model that differs from the CYCLES counter, stops the
benchmark: a wrong figure is never reported); board figures from nextpnr's reports; speeds
from wall time here, one thread. Figures published elsewhere are in ``peers``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from importlib import resources

import numpy as np

from .. import builtin
from ..golden import FloatNetwork, accuracy, simulate, simulate_float
from ..golden.network import Network
from ..golden.randnet import random_events, random_network
from ..golden.reference import dequantize
from ..hdl import schedule
from ..hdl.config import HardwareConfig
from . import peers

#: QTDB is sampled at 250 Hz: one step is 4 ms of signal.
QTDB_HZ = 250.0


class BenchError(Exception):
    """A measurement that cannot be trusted (RTL differs from golden, the cycle model from
    the counter): the benchmark stops rather than report it."""


@dataclass(frozen=True)
class Plan:
    """How much each section runs: ``quick`` (under 10 minutes on 2 cores) or the full set."""
    quick: bool
    lanes: tuple            # the workloads' lane counts (RTL runs)
    dense_lanes: tuple      # dense fan-out lane counts
    ecg_records: int | None  # None: the whole QTDB test set
    digits_samples: int | None
    software_records: int | None
    software_repeat: int
    cocotb_steps: int
    boards: tuple           # (board, lanes) builds
    networks: tuple = ("digits", "digits-ttfs", "ecg")   # the built-ins measured

    @classmethod
    def make(cls, quick: bool) -> "Plan":
        if quick:
            return cls(True, (1,), (1, 2, 4, 8), 10, 100, 20, 1, 40, (("icebreaker", 1),))
        return cls(False, (1, 2), (1, 2, 4, 8), None, None, None, 3, 150,
                   (("icebreaker", 1), ("icebreaker", 2), ("ulx3s-85f", 1), ("ulx3s-85f", 2),
                    ("ulx3s-85f", 4), ("ulx3s-85f", 8), ("orangecrab", 1), ("orangecrab", 2),
                    ("tangnano9k", 1)))


# -- data --

def load_workloads(plan: Plan, qtdb=None, say=print) -> dict:
    """The built-in networks with their whole test sets: name -> (network, x, y, float
    network or None), or name -> the reason it is left out (a data set that is not here).
    Sections take their subsets with ``subset``."""
    from ..golden import InputError
    from ..train.data import DataError, load_digits_split, load_digits_ttfs, load_ecg
    out = {}
    for name in plan.networks:
        net = builtin.load(name)
        try:
            if name == "ecg":
                x, y = load_ecg("test", qtdb)
            elif name == "digits":
                x, y = load_digits_split("test")
            else:
                x, y = load_digits_ttfs("test", net.theta.steps)
        except (InputError, DataError, ImportError) as exc:
            out[name] = f"left out: {exc}"
            say(f"bench: builtin:{name} left out ({exc})")
            continue
        if net.theta is not None:
            path = resources.files("spikeforge") / "networks" / "float" / f"{name}.npz"
            with resources.as_file(path) as p:
                fnet = FloatNetwork.load(p) if p.exists() else None
        else:
            fnet = dequantize(net)
        out[name] = (net, np.asarray(x), np.asarray(y), fnet)
    return out


def subset(plan: Plan, name: str, x, y):
    """The test samples a section runs of ``name`` (the plan's count; all by default)."""
    n = plan.ecg_records if name == "ecg" else plan.digits_samples
    return x[:n], y[:n]


# -- RTL runs --

def checked_rtl(net: Network, x, lanes: int, *, emit_spikes: bool = True, say=print):
    """A native Verilator run, checked against the golden model and the cycle model:
    (outcome, CYCLES - STALL_CYCLES, the model's cycles)."""
    from ..sim.rtl import run_rtl
    config = HardwareConfig(lanes=lanes, emit_spikes=emit_spikes)
    outcome = run_rtl(net, x, simulator="verilator", engine="native", config=config,
                      progress=lambda m: say(f"  {m}"))
    if outcome.mismatches:
        raise BenchError(f"{net.name}, P = {lanes}: RTL differs from golden: "
                         f"{outcome.mismatches[:3]}")
    cycles = outcome.counters["CYCLES"] - outcome.counters["STALL_CYCLES"]
    model = int(schedule.cycles(net, config, outcome.golden, x).sum())
    if model != cycles:
        raise BenchError(f"{net.name}, P = {lanes}: the cycle model says {model} cycles, the "
                         f"CYCLES counter {cycles}")
    return outcome, cycles, model


def throughput(plan: Plan, say=print) -> list[dict]:
    """Whole-step synaptic ops per clock on dense fan-out (64 channels all firing into 64
    leaky integrators), per lane count, beside the limit P and ODIN's published rate."""
    rows = []
    dense = random_network(0, 64, (), 64, recurrent=False)
    dense.name = "dense-64x64"
    x = np.ones((1, 4, 64), np.int64)
    for lanes in plan.dense_lanes:
        say(f"bench: dense fan-out 64 -> 64, P = {lanes}")
        outcome, cycles, model = checked_rtl(dense, x, lanes, emit_spikes=False, say=say)
        synops = int(outcome.counters["SYNOPS"])
        rows.append({"section": "throughput", "measure": f"dense fan-out 64 -> 64, P = {lanes}",
                     "workload": "dense", "lanes": lanes, "synops": synops, "cycles": cycles,
                     "model_cycles": model, "synops_per_clock": round(synops / cycles, 3),
                     "limit_synops_per_clock": lanes, "of_limit": round(synops / cycles / lanes, 3),
                     "odin_synops_per_clock": peers.ODIN_SYNOPS_PER_CLOCK})
    return rows


def workloads(plan: Plan, data: dict, say=print) -> list[dict]:
    """Each built-in network on its test set: float, fixed-point golden and RTL accuracy;
    cycles per step and per inference (RTL, the cycle model beside it); synaptic ops and
    neuron updates per inference against a dense network's MACs, and the energy proxy."""
    rows = []
    costs = peers.energy_per_operation()
    for name, entry in data.items():
        if isinstance(entry, str):
            rows.append({"section": "workloads", "measure": f"builtin:{name}", "skipped": entry})
            continue
        net, x, y, fnet = entry
        x, y = subset(plan, name, x, y)
        samples, steps, _ = x.shape
        say(f"bench: builtin:{name}, golden and float on {samples} test samples")
        start = time.perf_counter()
        golden = simulate(net, x)
        golden_seconds = time.perf_counter() - start
        float_acc = accuracy(net, simulate_float(fnet, x).decisions, y) if fnet else None
        dense_macs = steps * net.synapses()
        synops = float(golden.synops.mean())
        updates = float(golden.neuron_updates.mean())
        spiking = [(i, l) for i, l in enumerate(net.layers) if l.kind.spiking]
        base = {"section": "workloads", "network": f"builtin:{name}", "summary": net.summary(),
                "samples": samples, "steps": steps, "weight_bits": net.formats.weight_bits,
                "float_accuracy": None if float_acc is None else round(float_acc, 4),
                "golden_accuracy": round(accuracy(net, golden.decisions, y), 4),
                "firing_rate": [round(float(golden.layer_spikes[:, i].sum())
                                      / (samples * steps * l.size), 4) for i, l in spiking],
                "synops_per_inference": round(synops, 1),
                "neuron_updates_per_inference": round(updates, 1),
                "dense_macs_per_inference": dense_macs,
                "dense_to_event_ratio": round(dense_macs / max(synops, 1), 2),
                "energy_pj_per_inference": round(synops * costs["synop"]
                                                 + updates * costs["neuron_update"], 1),
                "dense_energy_pj_per_inference": round(dense_macs * costs["dense_mac"]
                                                       + updates * costs["neuron_update"], 1),
                "golden_seconds": round(golden_seconds, 3)}
        for lanes in plan.lanes:
            say(f"bench: builtin:{name}, P = {lanes}, RTL (native Verilator)")
            from ..sim.rtl import rtl_result
            outcome, cycles, model = checked_rtl(net, x, lanes, say=say)
            rtl = rtl_result(outcome)
            row = {**base, "measure": f"builtin:{name}, P = {lanes}", "lanes": lanes,
                   "rtl_accuracy": round(accuracy(net, rtl.decisions, y), 4),
                   "cycles": cycles, "model_cycles": model,
                   "cycles_per_step": round(cycles / (samples * steps), 1),
                   "cycles_per_inference": round(cycles / samples, 1),
                   "synops_per_clock": round(int(outcome.counters["SYNOPS"]) / cycles, 3),
                   "native_cycles_per_second": round(outcome.cycles / max(outcome.sim_seconds, 1e-9))}
            if name == "ecg":
                for board, mhz in (("icebreaker", 12.0), ("ulx3s", 25.0)):
                    row[f"realtime_factor_{board}_{mhz:g}MHz"] = round(
                        (1.0 / QTDB_HZ) / (row["cycles_per_step"] / (mhz * 1e6)), 1)
            rows.append(row)
    return rows


def model_cycles_per_step(net: Network, x, lanes: int) -> float:
    """The cycle model's clocks per step (no RTL run), for lane counts not simulated."""
    config = HardwareConfig(lanes=lanes)
    result = simulate(net, x)
    return float(schedule.cycles(net, config, result, x).sum()) / (x.shape[0] * x.shape[1])


def accuracy_vs_bits(plan: Plan, data: dict, say=print) -> list[dict]:
    """Each float network quantised at 8, 6 and 4 weight bits, with the largest weight setting
    the scale and with a clipped scale (a quantile of |weight|), through the golden model."""
    from ..golden.reference import requantize, suggested_weight_clip
    rows = []
    for name, entry in data.items():
        if isinstance(entry, str) or builtin.load(name).theta is not None:
            continue        # theta networks are quantised by their trainer, not requantised
        net, x, y, _ = entry
        x, y = subset(plan, name, x, y)
        for bits in (8, 6, 4):
            for clip in (None, suggested_weight_clip(bits)):
                say(f"bench: builtin:{name} at {bits}-bit weights, clip {clip or 'none'}")
                q = requantize(net, bits, clip)
                rows.append({"section": "accuracy", "measure": f"builtin:{name}, {bits}-bit, "
                             f"clip {clip or 'none'}", "network": f"builtin:{name}",
                             "weight_bits": bits, "weight_clip": clip,
                             "golden_accuracy": round(accuracy(q, simulate(q, x).decisions, y), 4)})
    return rows


# -- software speed --

def _ecg_shape_float(net: Network):
    """The float weights and decays of a 4 -> 36 rec -> 6 network (the ECG shape)."""
    f = dequantize(net)
    hidden, out = f.layers
    decay = lambda layer: float(np.exp(-1.0 / np.mean(layer.tau_m)))   # noqa: E731 (dt = 1)
    return {"w_in": hidden.w_in, "w_rec": hidden.w_rec, "w_out": out.w_in,
            "alpha": decay(hidden), "kappa": decay(out)}


def _time_best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _snntorch_runner(shape, x):
    import snntorch as snn
    import torch
    w_in, w_rec, w_out = (torch.tensor(shape[k], dtype=torch.float32).T
                          for k in ("w_in", "w_rec", "w_out"))
    fc_in = torch.nn.Linear(*w_in.shape[::-1], bias=False)
    fc_out = torch.nn.Linear(*w_out.shape[::-1], bias=False)
    hidden = snn.RLeaky(beta=shape["alpha"], linear_features=w_rec.shape[0], all_to_all=True)
    readout = snn.Leaky(beta=shape["kappa"], reset_mechanism="none")
    with torch.no_grad():
        fc_in.weight.copy_(w_in)
        fc_out.weight.copy_(w_out)
        hidden.recurrent.weight.copy_(w_rec)
    xs = torch.tensor(x, dtype=torch.float32)

    def run():
        with torch.no_grad():
            spk, mem = hidden.init_rleaky()
            mem_out = readout.init_leaky()
            for t in range(xs.shape[1]):
                spk, mem = hidden(fc_in(xs[:, t]), spk, mem)
                _, mem_out = readout(fc_out(spk), mem_out)
    return run


def _norse_runner(shape, x):
    import norse.torch as norse
    import torch
    w_in, w_rec, w_out = (torch.tensor(shape[k], dtype=torch.float32).T
                          for k in ("w_in", "w_rec", "w_out"))
    cell = norse.LIFRecurrentCell(w_in.shape[1], w_in.shape[0], autapses=True)
    readout = norse.LICell()
    fc_out = torch.nn.Linear(*w_out.shape[::-1], bias=False)
    with torch.no_grad():
        cell.input_weights.copy_(w_in)
        cell.recurrent_weights.copy_(w_rec)
        fc_out.weight.copy_(w_out)
    xs = torch.tensor(x, dtype=torch.float32)

    def run():
        with torch.no_grad():
            state = out_state = None
            for t in range(xs.shape[1]):
                z, state = cell(xs[:, t], state)
                _, out_state = readout(fc_out(z), out_state)
    return run


def software(plan: Plan, data: dict, say=print) -> list[dict]:
    """The golden model (bit-exact integers) against snnTorch and Norse (float) running the
    ECG shape on the same QTDB records, one thread, in this run; and the RTL engines'
    simulated clocks per second."""
    rows = []
    entry = data.get("ecg")
    if isinstance(entry, tuple):
        net, x, _, _ = entry
        x = x[:plan.software_records]
    else:                       # no QTDB here: the ECG shape on random events
        net = random_network(0, 4, (36,), 6)
        x = random_events(1, 20, 1301, 4, rate=0.2)
    records, steps, _ = x.shape
    workload = f"{net.summary()}, {records} records x {steps} steps"
    say(f"bench: software speed on {workload} (one thread)")
    golden_s = _time_best(lambda: simulate(net, x), plan.software_repeat)
    rows.append({"section": "software", "measure": "golden model (NumPy, bit-exact integers)",
                 "engine": "golden", "workload": workload, "seconds": round(golden_s, 3),
                 "relative_to_golden": 1.0})
    try:
        import torch
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
    except ImportError:
        torch = None
    shape = _ecg_shape_float(net) if torch is not None else None
    for engine, make in (("snntorch", _snntorch_runner), ("norse", _norse_runner)):
        if torch is None:
            rows.append({"section": "software", "measure": engine, "engine": engine,
                         "skipped": "left out: PyTorch is not installed (the train extra)"})
            continue
        try:
            run = make(shape, x)
        except ImportError as exc:
            rows.append({"section": "software", "measure": engine, "engine": engine,
                         "skipped": f"left out: {exc} (install the bench extra; see the README)"})
            continue
        seconds = _time_best(run, plan.software_repeat)
        rows.append({"section": "software", "measure": f"{engine} (PyTorch, float)",
                     "engine": engine, "workload": workload, "seconds": round(seconds, 3),
                     "relative_to_golden": round(seconds / golden_s, 2)})
    if torch is not None:
        torch.set_num_threads(threads)
    rows.extend(rtl_engines(plan, say))
    return rows


def rtl_engines(plan: Plan, say=print) -> list[dict]:
    """Simulated clocks per second of the native Verilator harness and of cocotb with
    Verilator and with Icarus, on the same design and events (cocotb: start-up included)."""
    from ..sim.rtl import run_rtl
    net = random_network(0, 4, (36,), 6)
    config = HardwareConfig(lanes=2)
    rows = []
    for simulator, engine, samples, steps in (("verilator", "native", 20, 1301),
                                              ("verilator", "cocotb", 2, plan.cocotb_steps),
                                              ("icarus", "cocotb", 2, 40)):
        say(f"bench: RTL speed, {engine} {simulator}, {samples} x {steps} steps")
        x = random_events(1, samples, steps, 4, rate=0.2)
        outcome = run_rtl(net, x, simulator=simulator, engine=engine, config=config,
                          progress=lambda m: say(f"  {m}"))
        if outcome.mismatches:
            raise BenchError(f"{engine} {simulator}: RTL differs from golden: "
                             f"{outcome.mismatches[:3]}")
        rows.append({"section": "software", "measure": f"RTL, {engine} {simulator}",
                     "engine": f"{engine}-{simulator}", "workload": f"{net.summary()}, P = 2, "
                     f"{samples} x {steps} steps", "cycles": outcome.cycles,
                     "seconds": round(outcome.sim_seconds, 3),
                     "cycles_per_second": round(outcome.cycles / max(outcome.sim_seconds, 1e-9))})
    return rows


# -- boards --

def boards(plan: Plan, dense_rows: list[dict], data: dict, build_root, say=print) -> list[dict]:
    """Each (board, lanes) build of ``builtin:ecg``: resources, Fmax, the critical path;
    synaptic ops per second at Fmax (dense fan-out's rate for that P), and the ECG real-time
    factor at Fmax (the cycle model's clocks per step on the QTDB records)."""
    from ..boards.build import BuildError, build_bitstream
    from ..boards.fit import FitError
    from ..boards.targets import ToolMissing, board
    rate = {r["lanes"]: r["synops_per_clock"] for r in dense_rows if "synops_per_clock" in r}
    entry = data.get("ecg")
    net = builtin.load("ecg")
    x = subset(plan, "ecg", entry[1], entry[2])[0] if isinstance(entry, tuple) \
        else random_events(1, 10, 1301, 4, rate=0.2)
    per_step = {}
    rows = []
    for name, lanes in plan.boards:
        b = board(name)
        row = {"section": "boards", "measure": f"{name}, P = {lanes}", "board": name,
               "lanes": lanes, "network": "builtin:ecg", "device": b.device.name}
        say(f"bench: board build {name}, P = {lanes} (cached builds are copied)")
        try:
            r = build_bitstream(net, b, config=HardwareConfig(lanes=lanes),
                                build_dir=build_root / f"{name}-p{lanes}", check_timing=False,
                                progress=lambda m: say(f"  {m}"))
        except FitError as exc:
            rows.append({**row, "status": "does not fit", "reason": str(exc)})
            continue
        except (BuildError, ToolMissing) as exc:
            rows.append({**row, "status": "failed", "reason": str(exc)})
            continue
        if lanes not in per_step:
            per_step[lanes] = model_cycles_per_step(net, x, lanes)
        fmax = r.fmax_mhz
        row.update(status="built", resources=r.resources, fmax_mhz=fmax,
                   clock_mhz=r.clock_mhz, timing_ok=r.timing_ok,
                   critical_path_ns=(r.extra.get("critical_path") or {}).get("delay_ns"),
                   build_seconds=r.seconds, cached=r.extra.get("cached"),
                   ecg_cycles_per_step=round(per_step[lanes], 1))
        if fmax:
            if lanes in rate:
                row["synops_per_second_at_fmax"] = round(rate[lanes] * fmax * 1e6)
            row["ecg_realtime_factor_at_fmax"] = round(
                (1.0 / QTDB_HZ) / (per_step[lanes] / (fmax * 1e6)), 1)
        rows.append(row)
    return rows


def peer_rows() -> list[dict]:
    return [{"section": "peers", "measure": f"{p['design']}: {p['figure']}", **p,
             "published_not_measured_here": True} for p in peers.PEERS]
