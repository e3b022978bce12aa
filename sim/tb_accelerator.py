"""cocotb testbench: the accelerator's RTL against the golden model.

Run by ``spikeforge.sim.runner`` (never collected by pytest): the job file
named by ``$SPIKEFORGE_JOB`` says which network and inputs to use, which
configuration writes to make first, how much back-pressure and how many idle
gaps to apply, and where to write the results (records, counters, cycles,
mismatches). The test fails on any mismatch.
"""

from __future__ import annotations

import json
import os
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge

from spikeforge.golden.inputs import load_inputs
from spikeforge.golden.network import Network
from spikeforge.hdl import schedule
from spikeforge.hdl.config import REGISTERS, HardwareConfig, counter_addresses, counters_from
from spikeforge.hdl.protocol import encode_inputs
from spikeforge.sim.components import (ConfigDriver, EventDriver, GoldenReference, ResultMonitor,
                                       Scoreboard)

class AcceleratorTB:
    def __init__(self, dut, job: dict):
        self.dut = dut
        self.network = Network.load(job["network"])
        self.rng = random.Random(job.get("seed", 0))
        self.driver = EventDriver(dut, self.network, gaps=job.get("gaps", 0.0), rng=self.rng)
        self.monitor = ResultMonitor(dut, self.network, stall=job.get("stall", 0.0), rng=self.rng)
        self.cfg = ConfigDriver(dut)
        self.reference = GoldenReference(self.network)
        self.config = HardwareConfig(lanes=job.get("lanes", 1),
                                     emit_spikes=job.get("emit_spikes", True))
        # every sample's CYCLES - STALL_CYCLES must be the cycle model's (hdl.schedule)
        self.scoreboard = Scoreboard(self.network, hidden_spikes=job.get("emit_spikes", True),
                                     config=self.config)
        self.slowdown = max(job.get("stall", 0.0), job.get("gaps", 0.0))

    def watchdog(self, x, expected) -> int:
        """Clocks without a result record after which the core counts as hung: four times
        the longest sample's cycle bound, stretched for stalls and gaps."""
        longest = schedule.cycles(self.network, self.config, expected, x).max()
        return int(4 * longest / (1.0 - min(self.slowdown, 0.9))) + 10_000

    async def reset(self) -> None:
        cocotb.start_soon(Clock(self.dut.clk, 10, unit="ns").start())
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, 3)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)

    async def read_counters(self) -> dict:
        return counters_from([await self.cfg.read(addr)
                              for addr in counter_addresses(len(self.network.layers))])


@cocotb.test()
async def run_job(dut):
    with open(os.environ["SPIKEFORGE_JOB"]) as fh:
        job = json.load(fh)
    tb = AcceleratorTB(dut, job)
    x, _ = load_inputs(job["inputs"])
    samples, steps, _ = x.shape
    await tb.reset()
    for addr, value in job.get("writes", []):
        await tb.cfg.write(addr, value)
    await tb.cfg.write(REGISTERS["CONTROL"], 1)  # clear the counters
    expected = tb.reference.predict(x)
    watchdog = tb.watchdog(x, expected)
    # one sample at a time: its records in, its outputs out, then every counter read
    sample_counters = []
    for n in range(samples):
        collector = cocotb.start_soon(tb.monitor.collect(1, watchdog=watchdog))
        sender = cocotb.start_soon(tb.driver.send(encode_inputs(tb.network, x[n:n + 1])))
        try:
            await collector
        except AssertionError as exc:   # undefined outputs or a hang: report them as the mismatch
            _write_results(job, tb, {}, sample_counters, [f"sample {n}: {exc}"])
            raise
        await sender
        try:
            while True:  # the core may still be finishing its bookkeeping
                await ReadOnly()
                if not dut.busy.value.is_resolvable:
                    raise AssertionError(f"busy is {dut.busy.value} (undefined) after the sample")
                if not int(dut.busy.value):
                    break
                await RisingEdge(dut.clk)
            await RisingEdge(dut.clk)
            sample_counters.append(await tb.read_counters())
        except AssertionError as exc:
            _write_results(job, tb, {}, sample_counters, [f"sample {n}: {exc}"])
            raise
    counters = sample_counters[-1]
    mismatches = tb.scoreboard.check(expected, tb.monitor.records, samples, steps, counters,
                                     sample_counters, x,
                                     back_to_back=not job.get("stall") and not job.get("gaps"))
    _write_results(job, tb, counters, sample_counters, mismatches)
    for line in mismatches[:20]:
        dut._log.error("mismatch: %s", line)
    assert not mismatches, f"{len(mismatches)} mismatches between RTL and golden model; first: " \
                           f"{mismatches[0]}"


def _write_results(job, tb, counters, sample_counters, mismatches):
    with open(job["results"], "w") as fh:
        json.dump({"words": [str(w) for w in tb.monitor.words], "counters": counters,
                   "sample_counters": sample_counters, "mismatches": mismatches}, fh)
