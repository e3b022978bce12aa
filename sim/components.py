"""cocotb components for the accelerator: drivers, monitor, reference, scoreboard.

Every component samples after ``RisingEdge`` then ``ReadOnly``, so Verilator
and Icarus see the same values: inputs written just after edge t are settled
at ReadOnly of the same time step, which is what edge t+1 will sample.
Imported only inside a cocotb simulation.
"""

from __future__ import annotations

import random

import numpy as np
from cocotb.triggers import ReadOnly, RisingEdge

from ..golden.network import Network
from ..hdl.protocol import OutputKind, input_layout, output_layout, pack, unpack
from .scoreboard import GoldenReference, Scoreboard  # noqa: F401  (re-exported for testbenches)

__all__ = ["EventDriver", "ResultMonitor", "ConfigDriver", "GoldenReference", "Scoreboard",
           "decode_words"]


class EventDriver:
    """Drives input records into the ``events`` stream, with optional idle gaps."""

    def __init__(self, dut, network: Network, *, gaps: float = 0.0, rng: random.Random):
        self.clk, self.network = dut.clk, network
        self.valid, self.ready = dut.events__valid, dut.events__ready
        self.payload = dut.events__payload
        self.layout = input_layout(network)
        self.gaps, self.rng = gaps, rng
        self.valid.value = 0

    async def send(self, records) -> None:
        for record in records:
            while self.gaps and self.rng.random() < self.gaps:
                self.valid.value = 0
                await RisingEdge(self.clk)
            self.valid.value = 1
            self.payload.value = pack(self.layout, record)
            while True:
                await ReadOnly()
                fire = bool(self.ready.value)
                await RisingEdge(self.clk)
                if fire:
                    break
        self.valid.value = 0


class ResultMonitor:
    """Collects ``results`` records, holding ready low at random (back-pressure)."""

    def __init__(self, dut, network: Network, *, stall: float = 0.0, rng: random.Random):
        self.clk = dut.clk
        self.valid, self.ready = dut.results__valid, dut.results__ready
        self.payload = dut.results__payload
        self.layout = output_layout(network)
        self.stall, self.rng = stall, rng
        self.records: list[dict] = []
        self.words: list[int] = []
        self.ready.value = 0

    async def collect(self, samples: int, *, watchdog: int | None = None) -> None:
        """Collect ``samples`` samples' records; fail if ``watchdog`` clocks pass without one."""
        done = idle = 0
        while done < samples:
            if watchdog and idle > watchdog:
                raise AssertionError(f"no result record for {watchdog:,} clocks after record "
                                     f"{len(self.records)}: the core hangs")
            self.ready.value = 0 if self.stall and self.rng.random() < self.stall else 1
            await ReadOnly()
            if not self.valid.value.is_resolvable:
                raise AssertionError(f"results__valid is {self.valid.value} (undriven or "
                                     f"uninitialised) after {len(self.records)} records")
            if self.valid.value and self.ready.value:
                if not self.payload.value.is_resolvable:
                    raise AssertionError(f"result record {len(self.records)} carries undefined "
                                         f"bits (X/Z): {self.payload.value}")
                word = int(self.payload.value)
                record = unpack(self.layout, word)
                self.words.append(word)
                self.records.append(record)
                done += record["kind"] == OutputKind.SAMPLE_DONE.value
                idle = 0
            idle += 1
            await RisingEdge(self.clk)
        self.ready.value = 0


class ConfigDriver:
    """The configuration port: word writes and reads (weights, parameters, counters)."""

    def __init__(self, dut):
        self.clk = dut.clk
        self.addr, self.w_data, self.w_stb = dut.cfg__addr, dut.cfg__w_data, dut.cfg__w_stb
        self.r_stb, self.r_data, self.r_valid = dut.cfg__r_stb, dut.cfg__r_data, dut.cfg__r_valid
        self.w_stb.value = 0
        self.r_stb.value = 0

    async def write(self, addr: int, value: int) -> None:
        self.addr.value = addr
        self.w_data.value = value & 0xFFFF_FFFF
        self.w_stb.value = 1
        await RisingEdge(self.clk)
        self.w_stb.value = 0
        await RisingEdge(self.clk)      # the core registers the request: it lands now

    async def read(self, addr: int, *, timeout: int = 10_000) -> int:
        self.addr.value = addr
        self.r_stb.value = 1
        await RisingEdge(self.clk)
        self.r_stb.value = 0
        for _ in range(timeout):
            await ReadOnly()
            if self.r_valid.value.is_resolvable and int(self.r_valid.value):
                if not self.r_data.value.is_resolvable:
                    raise AssertionError(f"configuration read at address {addr} answered "
                                         f"{self.r_data.value} (undefined bits)")
                value = int(self.r_data.value)
                await RisingEdge(self.clk)
                return value
            await RisingEdge(self.clk)
        raise TimeoutError(f"configuration read at address {addr} never answered")


def decode_words(network: Network, words) -> list[dict]:
    layout = output_layout(network)
    return [unpack(layout, int(w)) for w in np.asarray(words, dtype=np.uint64)]
