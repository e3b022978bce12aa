"""Board tops: the accelerator behind a UART host link (protocol in ``boards.link``).

``BoardLink`` is the whole design with plain ``rx``/``tx``/``leds`` ports: the
simulated board runs it in Verilator, ``BoardTop`` puts it on a platform's pins.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Elaboratable, Module, Mux, ResetInserter, Signal
from amaranth.lib import fifo, memory, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2, exact_log2

from ..golden.network import Network
from ..hdl.accelerator import Accelerator
from ..hdl.config import HardwareConfig
from . import link
from .link import REPLY, SYNC, Command, ErrorCode, LinkInfo, crc8_step
from .uart import UartRx, UartTx

__all__ = ["BoardLink", "BoardTop", "RESULT_FIFO_DEPTH"]

#: Output records buffered while the UART sends earlier ones.
RESULT_FIFO_DEPTH = 256


#: CRC-8 of one byte is linear over GF(2): column j is the CRC of the single bit j.
_CRC_COLUMNS = [crc8_step(0, 1 << j) for j in range(8)]


def _crc(crc, byte):
    """``link.crc8_step`` as XOR gates (a Mux chain would copy the tree at every step)."""
    v = crc ^ byte
    return Cat(*[_xor([v[j] for j in range(8) if _CRC_COLUMNS[j] >> i & 1]) for i in range(8)])


def _xor(bits):
    out = bits[0]
    for b in bits[1:]:
        out = out ^ b
    return out


class BoardLink(wiring.Component):
    """Accelerator + UART link. ``leds[0]``: link activity, ``leds[1]``: core busy (stretched)."""

    def __init__(self, network: Network, config: HardwareConfig = HardwareConfig(), *,
                 clk_hz: int, divisor: int, led_bits: int | None = None):
        if not isinstance(network, Network):
            raise TypeError(f"BoardLink: network must be a spikeforge Network, not {network!r}")
        self._core = Accelerator(network, config)
        self._info = LinkInfo.for_design(network, config, clk_hz, divisor)
        if self._info.in_bytes > 8 or self._info.out_bytes > 8:
            raise ValueError(f"BoardLink: stream payloads of {self._info.in_bits}/"
                             f"{self._info.out_bits} bits; the link carries at most 64")
        self._led_bits = led_bits if led_bits is not None else max(4, ceil_log2(clk_hz // 16))
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1), "leds": Out(2)})

    @property
    def info(self) -> LinkInfo:
        return self._info

    @property
    def core(self) -> Accelerator:
        return self._core

    def elaborate(self, platform):
        m = Module()
        info, core = self._info, self._core
        divisor = info.divisor
        m.submodules.uart_rx = urx = UartRx(divisor)
        m.submodules.uart_tx = utx = UartTx(divisor)
        m.d.comb += [urx.rx.eq(self.rx), self.tx.eq(utx.tx)]

        # RESET resets the core and its result FIFO a clock after the command is decoded (a
        # register, not the command decode, fans out to every flip-flop of the core)
        reset_request, reset_core = Signal(), Signal()
        m.d.sync += reset_core.eq(reset_request)
        m.submodules.core = ResetInserter(reset_core)(core)
        m.submodules.results = results = ResetInserter(reset_core)(
            fifo.SyncFIFOBuffered(width=info.out_bits, depth=RESULT_FIFO_DEPTH))
        m.d.comb += [results.w_data.eq(core.results.payload.as_value()),
                     results.w_en.eq(core.results.valid),
                     core.results.ready.eq(results.w_rdy)]

        m.submodules.frame_buf = buf = memory.Memory(shape=8, depth=256, init=[])
        buf_wr, buf_rd = buf.write_port(), buf.read_port()

        # -- frame sender: one frame at a time, from the reply path or the result path --
        reply_start, reply_cmd, reply_len, reply_start_ack = Signal(), Signal(8), Signal(8), Signal()
        # a reply byte waits in a register for the sender (the sender's handshake with the
        # UART never reaches the command path's state): ``put_reply(byte)`` hands one over
        # when the register is free and is true then
        reply_valid, reply_data, reply_ack = Signal(), Signal(8), Signal()
        with m.If(reply_ack):
            m.d.sync += reply_valid.eq(0)

        def put_reply(byte):
            with m.If(~reply_valid):
                m.d.sync += [reply_valid.eq(1), reply_data.eq(byte)]
            return ~reply_valid
        res_start, res_len, res_start_ack = Signal(), Signal(8), Signal()
        res_valid, res_data, res_ack = Signal(), Signal(8), Signal()

        tx_cmd, tx_len, tx_n, tx_crc = Signal(8), Signal(8), Signal(8), Signal(8)
        grant = Signal()      # 0: reply, 1: results
        src_valid = Mux(grant, res_valid, reply_valid)
        src_data = Mux(grant, res_data, reply_data)
        tx_fire = utx.data.valid & utx.data.ready
        with m.FSM(name="sender"):
            with m.State("IDLE"):
                with m.If(reply_start):
                    m.d.comb += reply_start_ack.eq(1)
                    m.d.sync += [grant.eq(0), tx_cmd.eq(reply_cmd), tx_len.eq(reply_len)]
                    m.next = "SYNC"
                with m.Elif(res_start):
                    m.d.comb += res_start_ack.eq(1)
                    m.d.sync += [grant.eq(1), tx_cmd.eq(Command.RESULTS), tx_len.eq(res_len)]
                    m.next = "SYNC"
            with m.State("SYNC"):
                m.d.comb += [utx.data.valid.eq(1), utx.data.payload.eq(SYNC)]
                with m.If(tx_fire):
                    m.d.sync += tx_crc.eq(_crc(Const(0, 8), tx_cmd))
                    m.next = "CMD"
            with m.State("CMD"):
                m.d.comb += [utx.data.valid.eq(1), utx.data.payload.eq(tx_cmd)]
                with m.If(tx_fire):
                    m.d.sync += [tx_crc.eq(_crc(tx_crc, tx_len)), tx_n.eq(0)]
                    m.next = "LEN"
            with m.State("LEN"):
                m.d.comb += [utx.data.valid.eq(1), utx.data.payload.eq(tx_len)]
                with m.If(tx_fire):
                    m.next = "LEN_DONE"
            with m.State("LEN_DONE"):
                m.next = "CRC"
                with m.If(tx_len != 0):
                    m.next = "DATA"
            with m.State("DATA"):
                m.d.comb += [utx.data.valid.eq(src_valid), utx.data.payload.eq(src_data)]
                with m.If(tx_fire):
                    m.d.comb += [res_ack.eq(grant), reply_ack.eq(~grant)]
                    m.d.sync += [tx_crc.eq(_crc(tx_crc, src_data)), tx_n.eq(tx_n + 1)]
                    with m.If(tx_n == tx_len - 1):
                        m.next = "CRC"
            with m.State("CRC"):
                m.d.comb += [utx.data.valid.eq(1), utx.data.payload.eq(tx_crc)]
                with m.If(tx_fire):
                    m.next = "IDLE"

        # -- result path: RESULTS frames of up to max_records records from the FIFO --
        out_bytes = info.out_bytes
        max_records = link.MAX_PAYLOAD // out_bytes
        n_records = Signal(range(max_records + 1))
        res_shift = Signal(8 * out_bytes)
        res_left = Signal(range(out_bytes + 1))
        # the records a frame takes, and its length, from the FIFO's level through two
        # registers (the cap, then the product): two clocks old, so never more than the
        # FIFO holds (only this path reads it)
        level = results.r_level
        capped = Signal(range(max_records + 1))
        take, frame_len = Signal(range(max_records + 1)), Signal(8)
        m.d.sync += [capped.eq(Mux(level > max_records, max_records, level)),
                     take.eq(capped), frame_len.eq(capped * out_bytes)]
        m.d.comb += [res_len.eq(frame_len), res_data.eq(res_shift[:8])]
        with m.FSM(name="result_path"):
            with m.State("IDLE"):
                m.d.comb += res_start.eq(take != 0)
                with m.If(res_start_ack):
                    m.d.sync += n_records.eq(take)
                    m.next = "LOAD"
            with m.State("LOAD"):
                m.d.comb += results.r_en.eq(1)
                m.d.sync += [res_shift.eq(results.r_data), res_left.eq(out_bytes),
                             n_records.eq(n_records - 1)]
                m.next = "SEND"
            with m.State("SEND"):
                m.d.comb += res_valid.eq(1)
                with m.If(res_ack):
                    m.d.sync += [res_shift.eq(res_shift >> 8), res_left.eq(res_left - 1)]
                    with m.If(res_left == 1):
                        m.next = "NEXT"
            with m.State("NEXT"):
                m.next = "LOAD"
                with m.If(n_records == 0):
                    m.next = "IDLE"

        # -- command path: receive a frame into buf, check it, execute it, reply --
        cmd, length, crc, count = Signal(8), Signal(8), Signal(8), Signal(9)
        pos = Signal(4)
        word = Signal(64)
        err_code = Signal(8)
        rdata = Signal(32)
        timeout = Signal(ceil_log2(max(16 * 10 * divisor, 2)) + 1)
        id_bytes = link.identify_payload(info)
        id_rom = Array(Const(b, 8) for b in id_bytes)
        in_bytes = info.in_bytes
        # the last byte position of a record, registered from the command (set clocks before
        # the first payload byte is shifted in)
        record_last = Signal(4)
        with m.Switch(cmd):
            with m.Case(Command.WRITE):
                m.d.sync += record_last.eq(link.WRITE_RECORD - 1)
            with m.Case(Command.READ):
                m.d.sync += record_last.eq(link.READ_RECORD - 1)
            with m.Default():
                m.d.sync += record_last.eq(in_bytes - 1)
        cfg = core.cfg
        # the core's read answer registered as it comes (the port's read-data mux of every
        # memory goes into a plain register, not through the command path's enables)
        answer, answer_valid = Signal(32), Signal()
        m.d.sync += [answer.eq(cfg.r_data), answer_valid.eq(cfg.r_valid)]
        m.d.comb += [cfg.addr.eq(Mux(cmd == Command.WRITE, word[:32], word[32:])),
                     cfg.w_data.eq(word[32:])]
        # an EVENTS record waits in a register for the core to take it: the core's ready
        # (its whole input check) feeds only this register, never the command path's state
        ev_valid, ev_payload = Signal(), Signal(info.in_bits)
        m.d.comb += [core.events.valid.eq(ev_valid), core.events.payload.eq(ev_payload)]
        with m.If(reset_core | core.events.ready):
            m.d.sync += ev_valid.eq(0)
        m.d.comb += buf_rd.addr.eq(count)
        rx_byte, rx_valid = urx.data, urx.valid

        def valid_lengths(size):
            return [n for n in range(0, 256, size)]

        with m.FSM(name="command_path"):
            with m.State("SYNC"):
                with m.If(rx_valid & (rx_byte == SYNC)):
                    m.d.sync += timeout.eq(0)
                    m.next = "CMD"
            for state, nxt in (("CMD", "LEN"), ("LEN", None), ("DATA", None), ("CHECK", None)):
                with m.State(state):
                    m.d.sync += timeout.eq(timeout + 1)
                    with m.If(timeout[-1]):
                        m.next = "SYNC"      # a byte went missing: resynchronise
                    with m.If(rx_valid):
                        m.d.sync += timeout.eq(0)
                        if state == "CMD":
                            m.d.sync += [cmd.eq(rx_byte), crc.eq(_crc(Const(0, 8), rx_byte))]
                            m.next = "LEN"
                        elif state == "LEN":
                            m.d.sync += [length.eq(rx_byte), crc.eq(_crc(crc, rx_byte)),
                                         count.eq(0)]
                            m.next = "LEN_DONE"
                        elif state == "DATA":
                            m.d.comb += [buf_wr.addr.eq(count), buf_wr.data.eq(rx_byte),
                                         buf_wr.en.eq(1)]
                            m.d.sync += [crc.eq(_crc(crc, rx_byte)), count.eq(count + 1)]
                            with m.If(count == length - 1):
                                m.next = "CHECK"
                        else:
                            m.d.sync += [count.eq(0), pos.eq(0)]
                            with m.If(rx_byte == crc):
                                m.next = "DISPATCH"
                            with m.Else():
                                m.d.sync += err_code.eq(ErrorCode.CHECKSUM)
                                m.next = "ERROR"
            with m.State("LEN_DONE"):
                m.next = "CHECK"
                with m.If(length != 0):
                    m.next = "DATA"

            with m.State("DISPATCH"):
                def length_ok(size, then):
                    if size == 1:
                        m.next = then
                        return
                    if size & (size - 1) == 0:
                        whole = length[:exact_log2(size)] == 0
                    else:
                        whole = length.matches(*valid_lengths(size))
                    with m.If(whole):
                        m.next = then
                    with m.Else():
                        m.d.sync += err_code.eq(ErrorCode.LENGTH)
                        m.next = "ERROR"
                with m.Switch(cmd):
                    with m.Case(Command.IDENTIFY):
                        m.next = "ID_START"
                    with m.Case(Command.RESET):
                        m.d.comb += reset_request.eq(1)
                        m.next = "ACK"
                    with m.Case(Command.WRITE):
                        length_ok(link.WRITE_RECORD, "FETCH")
                    with m.Case(Command.READ):
                        length_ok(link.READ_RECORD, "READ_START")
                    with m.Case(Command.EVENTS):
                        length_ok(in_bytes, "FETCH")
                    with m.Default():
                        m.d.sync += err_code.eq(ErrorCode.COMMAND)
                        m.next = "ERROR"

            with m.State("ID_START"):
                m.d.comb += [reply_start.eq(1), reply_cmd.eq(cmd | REPLY),
                             reply_len.eq(len(id_bytes))]
                with m.If(reply_start_ack):
                    m.next = "ID_SEND"
            with m.State("ID_SEND"):
                with m.If(put_reply(id_rom[count[:ceil_log2(len(id_bytes))]])):
                    m.d.sync += count.eq(count + 1)
                    with m.If(count == len(id_bytes) - 1):
                        m.next = "SYNC"

            with m.State("READ_START"):
                m.d.comb += [reply_start.eq(1), reply_cmd.eq(cmd | REPLY), reply_len.eq(length)]
                with m.If(reply_start_ack):
                    m.next = "FETCH"
                    with m.If(length == 0):
                        m.next = "SYNC"

            # payload records, one byte per two clocks (synchronous buffer read)
            with m.State("FETCH"):
                with m.If(count == length):
                    m.next = "FETCH_END"
                with m.Else():
                    m.next = "SHIFT"
            with m.State("FETCH_END"):      # acknowledged once the core has every event
                with m.If(~ev_valid):
                    m.next = "ACK"
                    with m.If(cmd == Command.READ):
                        m.next = "SYNC"
            with m.State("SHIFT"):
                m.d.sync += [word.eq(Cat(word[8:], buf_rd.data)), count.eq(count + 1),
                             pos.eq(pos + 1)]
                m.next = "FETCH"
                with m.If(pos == record_last):
                    m.d.sync += pos.eq(0)
                    m.next = "EXECUTE"
            with m.State("EXECUTE"):
                with m.Switch(cmd):
                    with m.Case(Command.WRITE):
                        m.d.comb += cfg.w_stb.eq(1)
                        m.next = "FETCH"
                    with m.Case(Command.READ):
                        m.d.comb += cfg.r_stb.eq(1)
                        m.next = "READ_WAIT"
                    with m.Default():
                        with m.If(~ev_valid):
                            m.d.sync += [ev_valid.eq(1),
                                         ev_payload.eq(word[64 - 8 * in_bytes:][:info.in_bits])]
                            m.next = "FETCH"
            with m.State("READ_WAIT"):
                with m.If(answer_valid):
                    m.d.sync += [rdata.eq(answer), pos.eq(0)]
                    m.next = "READ_SEND"
            with m.State("READ_SEND"):
                # byte pos of the answer, least significant first (rdata loads once, no shift)
                with m.If(put_reply(rdata.word_select(pos[:2], 8))):
                    m.d.sync += pos.eq(pos + 1)
                    with m.If(pos == link.READ_RECORD - 1):
                        m.d.sync += pos.eq(0)
                        m.next = "FETCH"

            with m.State("ACK"):
                m.d.comb += [reply_start.eq(1), reply_cmd.eq(cmd | REPLY), reply_len.eq(0)]
                with m.If(reply_start_ack):
                    m.next = "SYNC"

            with m.State("ERROR"):
                m.d.comb += [reply_start.eq(1), reply_cmd.eq(Command.ERROR), reply_len.eq(2)]
                with m.If(reply_start_ack):
                    m.d.sync += pos.eq(0)
                    m.next = "ERROR_SEND"
            with m.State("ERROR_SEND"):
                with m.If(put_reply(Mux(pos == 0, err_code, cmd))):
                    m.d.sync += pos.eq(pos + 1)
                    with m.If(pos == 1):
                        m.d.sync += pos.eq(0)
                        m.next = "SYNC"

        # -- LEDs: link activity and core busy, stretched so that they can be seen --
        for k, event in enumerate((urx.valid | utx.busy, core.busy)):
            stretch = Signal(self._led_bits, name=f"led{k}_stretch")
            with m.If(event):
                m.d.sync += stretch.eq(~0)
            with m.Elif(stretch != 0):
                m.d.sync += stretch.eq(stretch - 1)
            m.d.comb += self.leds[k].eq(stretch != 0)
        return m


class BoardTop(Elaboratable):
    """A ``BoardLink`` on a platform: ``uart`` 0, the first LEDs found, clocked from the
    board clock divided by ``clock_divide`` (1: the board clock itself).

    A divided clock is a fabric flip-flop that nextpnr promotes to a global net;
    the design is held in reset for 2**8 board clocks after configuration (block
    RAM needs a few microseconds before it reads reliably on iCE40).
    """

    def __init__(self, network: Network, config: HardwareConfig, *, clk_hz: int, baud: int,
                 clock_divide: int = 1):
        if clock_divide not in (1, 2, 4, 8):
            raise ValueError(f"clock_divide {clock_divide!r}: choose 1, 2, 4 or 8")
        self.clock_divide = clock_divide
        self.clk_hz = clk_hz // clock_divide
        divisor = round(self.clk_hz / baud)
        if divisor < 4:
            raise ValueError(f"baud {baud}: the {self.clk_hz / 1e6:g} MHz clock gives {divisor} "
                             f"clocks per bit; at least 4 are needed")
        if abs(self.clk_hz / divisor - baud) / baud > 0.02:
            raise ValueError(f"baud {baud}: {self.clk_hz / divisor:.0f} baud is the nearest the "
                             f"{self.clk_hz / 1e6:g} MHz clock gives (more than 2 % off)")
        self.link = BoardLink(network, config, clk_hz=self.clk_hz, divisor=divisor)

    def elaborate(self, platform):
        from amaranth.build import ResourceError
        from amaranth.hdl import ClockDomain, ClockSignal, ResetSignal
        m = Module()
        if self.clock_divide > 1:
            board_clk = platform.request(platform.default_clk, dir="i")
            m.domains.board = ClockDomain("board", reset_less=True)
            m.domains.sync = ClockDomain("sync")
            m.d.comb += ClockSignal("board").eq(board_clk.i)
            count = Signal(ceil_log2(self.clock_divide))
            m.d.board += count.eq(count + 1)
            slow = Signal()
            m.d.board += slow.eq(count[-1])
            por = Signal(8)
            with m.If(~por.all()):
                m.d.board += por.eq(por + 1)
            m.d.comb += [ClockSignal("sync").eq(slow), ResetSignal("sync").eq(~por.all())]
            platform.add_clock_constraint(slow, self.clk_hz)
        m.submodules.link = link_ = self.link
        uart = platform.request("uart", 0)
        m.d.comb += [link_.rx.eq(uart.rx.i), uart.tx.o.eq(link_.tx)]
        leds = []
        for k in range(2):
            try:
                leds.append(platform.request("led", k))
            except ResourceError:
                break
        if not leds:
            try:
                rgb = platform.request("rgb_led", 0)
                leds = [rgb.g, rgb.b]
            except ResourceError:
                pass
        for k, led in enumerate(leds):
            m.d.comb += led.o.eq(link_.leds[k])
        return m
