"""Run the accelerator in Amaranth's simulator: stream helpers and a whole-core runner.

One producer testbench (configuration writes, then input records) and one
consumer testbench (output records, with optional back-pressure, then the
counters) per run, as the tests and the throughput benchmark use them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from amaranth.sim import Simulator

from .accelerator import Accelerator
from .config import REGISTERS, HardwareConfig, counter_addresses, counters_from
from .protocol import InputKind, OutputKind, encode_inputs

__all__ = ["stream_put", "stream_get", "cfg_write", "cfg_read", "RunResult", "run_accelerator"]


async def stream_put(ctx, stream, payload):
    ctx.set(stream.valid, 1)
    ctx.set(stream.payload, payload)
    await ctx.tick().until(stream.ready)
    ctx.set(stream.valid, 0)


async def stream_get(ctx, stream):
    ctx.set(stream.ready, 1)
    payload, = await ctx.tick().sample(stream.payload).until(stream.valid)
    ctx.set(stream.ready, 0)
    return payload


async def cfg_write(ctx, bus, addr, value):
    """One configuration write; it takes effect on the next clock (the core registers the
    request), which this waits for."""
    ctx.set(bus.addr, addr)
    ctx.set(bus.w_data, int(value) & 0xFFFF_FFFF)
    ctx.set(bus.w_stb, 1)
    await ctx.tick()
    ctx.set(bus.w_stb, 0)
    await ctx.tick()


async def cfg_read(ctx, bus, addr, *, signed=False):
    ctx.set(bus.addr, addr)
    ctx.set(bus.r_stb, 1)
    await ctx.tick()
    ctx.set(bus.r_stb, 0)
    value, = await ctx.tick().sample(bus.r_data).until(bus.r_valid)
    value = int(value)
    if signed and value >> 31:
        value -= 1 << 32
    return value


def _record(payload) -> dict:
    kind = payload.kind
    return {"kind": kind.value if isinstance(kind, OutputKind) else int(kind),
            "layer": int(payload.layer), "index": int(payload.index), "value": int(payload.value)}


@dataclass
class RunResult:
    records: list            # output records (dicts), in stream order
    counters: dict           # register name -> value after the run (SPIKES as a list per layer)
    reads: list = field(default_factory=list)   # values of the requested configuration reads
    sample_counters: list = field(default_factory=list)   # the counters after each sample


def run_accelerator(network, config: HardwareConfig, x, *, writes=(), reads=(), stall=None,
                    seed=0, vcd=None, dut=None, records=None) -> RunResult:
    """Stream ``x`` (samples, steps, channels) through the core and collect everything.

    Samples go in one at a time: after each SAMPLE_DONE the consumer waits for the core
    to go idle and reads every counter (``RunResult.sample_counters``, cumulative), then
    the producer sends the next sample.

    ``records``: input records to send instead of ``encode_inputs(network, x)`` (``x``
    then only gives the number of samples), e.g. to test how the core treats a stream
    the encoder would never produce.
    ``writes``: (address, value) configuration writes before the first event;
    ``reads``: addresses read after them. ``stall``: probability that the
    consumer holds ready low for a while before each record (back-pressure).
    """
    dut = dut or Accelerator(network, config)
    records_in = encode_inputs(network, x) if records is None else list(records)
    samples = np.asarray(x).shape[0]
    rng = np.random.default_rng(seed)
    result = RunResult(records=[], counters={})

    started = []      # set once the configuration is done and the counters are cleared

    async def producer(ctx):
        for addr, value in writes:
            await cfg_write(ctx, dut.cfg, addr, value)
        for addr in reads:
            result.reads.append(await cfg_read(ctx, dut.cfg, addr, signed=True))
        await cfg_write(ctx, dut.cfg, REGISTERS["CONTROL"], 1)   # clear the counters
        started.append(True)
        sent = 0
        for rec in records_in:
            while len(result.sample_counters) < sent:          # the previous sample's counters
                await ctx.tick()
            await stream_put(ctx, dut.events, rec)
            sent += rec["kind"] == InputKind.END_SAMPLE.value

    async def consumer(ctx):
        while not started:
            await ctx.tick()
        done = 0
        while done < samples:
            if stall and rng.random() < stall:
                await ctx.tick().repeat(int(rng.integers(1, 6)))
            rec = _record(await stream_get(ctx, dut.results))
            result.records.append(rec)
            if rec["kind"] == OutputKind.SAMPLE_DONE.value:
                done += 1
                await ctx.tick().until(~dut.busy)
                result.sample_counters.append(counters_from(
                    [await cfg_read(ctx, dut.cfg, addr)
                     for addr in counter_addresses(len(network.layers))]))
        result.counters = result.sample_counters[-1]

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()
    return result
