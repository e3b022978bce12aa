"""8N1 UART transmitter and receiver, ``divisor`` clocks per bit."""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["UartTx", "UartRx"]


def _check_divisor(divisor):
    if not isinstance(divisor, int) or divisor < 4:
        raise ValueError(f"UART divisor {divisor!r}: need an integer of at least 4 clocks per bit")


class UartTx(wiring.Component):
    """Sends each byte of ``data`` on ``tx`` (idle high, start bit, 8 data bits LSB first, stop)."""

    data: In(stream.Signature(8))
    tx: Out(1, init=1)
    busy: Out(1)

    def __init__(self, divisor: int):
        _check_divisor(divisor)
        self._divisor = divisor
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        timer = Signal(range(self._divisor))
        shift = Signal(10)     # stop, data[7:0], start: shifted out LSB first
        bits = Signal(range(11))
        m.d.comb += [self.busy.eq(bits != 0), self.data.ready.eq(bits == 0)]
        with m.If(self.data.valid & self.data.ready):
            m.d.sync += [shift.eq(Cat(0, self.data.payload, 1)), bits.eq(10),
                         timer.eq(self._divisor - 1), self.tx.eq(0)]
        with m.Elif(bits != 0):
            with m.If(timer == 0):
                m.d.sync += [timer.eq(self._divisor - 1), bits.eq(bits - 1),
                             shift.eq(shift >> 1), self.tx.eq(Cat(shift[1:], 1)[0])]
                with m.If(bits == 1):
                    m.d.sync += self.tx.eq(1)
            with m.Else():
                m.d.sync += timer.eq(timer - 1)
        return m


class UartRx(wiring.Component):
    """Receives bytes from ``rx``; ``valid`` pulses for one clock with ``data``
    (no back-pressure: the reader takes every byte). Frames with a bad stop bit are dropped."""

    rx: In(1, init=1)
    data: Out(8)
    valid: Out(1)

    def __init__(self, divisor: int):
        _check_divisor(divisor)
        self._divisor = divisor
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        d = self._divisor
        sync1, line = Signal(init=1), Signal(init=1)
        m.d.sync += [sync1.eq(self.rx), line.eq(sync1)]     # two-flop synchroniser
        timer = Signal(range(d + d // 2 + 1))
        shift = Signal(8)
        bits = Signal(range(10))
        m.d.sync += self.valid.eq(0)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(~line):
                    m.d.sync += [timer.eq(d // 2 - 1)]
                    m.next = "START"
            with m.State("START"):          # middle of the start bit: still low?
                with m.If(timer == 0):
                    with m.If(line):
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += [timer.eq(d - 1), bits.eq(0)]
                        m.next = "DATA"
                with m.Else():
                    m.d.sync += timer.eq(timer - 1)
            with m.State("DATA"):
                with m.If(timer == 0):
                    m.d.sync += [shift.eq(Cat(shift[1:], line)), bits.eq(bits + 1),
                                 timer.eq(d - 1)]
                    with m.If(bits == 7):
                        m.next = "STOP"
                with m.Else():
                    m.d.sync += timer.eq(timer - 1)
            with m.State("STOP"):
                with m.If(timer == 0):
                    with m.If(line):
                        m.d.sync += [self.data.eq(shift), self.valid.eq(1)]
                    m.next = "IDLE"
                with m.Else():
                    m.d.sync += timer.eq(timer - 1)
        return m
