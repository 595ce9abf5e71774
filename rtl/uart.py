"""UART PHY, 8N1: byte streams to and from a serial line."""

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

__all__ = ["UartRx", "UartTx", "divisor"]


def divisor(clk_hz, baud):
    """Clock cycles per bit; raises ``ValueError`` when the baud rate is off by more than 2 %."""
    if not clk_hz > 0 or not baud > 0:
        raise ValueError(f"clock and baud rate must be positive, not {clk_hz!r}, {baud!r}")
    div = round(clk_hz / baud)
    if div < 4:
        raise ValueError(f"{clk_hz} Hz is too slow for {baud} baud (needs >= 4 cycles per bit)")
    if abs(clk_hz / div - baud) / baud > 0.02:
        raise ValueError(f"{clk_hz} Hz cannot make {baud} baud within 2 % (divisor {div})")
    return div


class UartRx(wiring.Component):
    """8N1 receiver.  ``rx`` is the line (idle high); received bytes leave on ``o`` (no
    backpressure on a UART: put a FIFO behind it).  A missing stop bit drops the byte and
    pulses ``frame_error``.

    Members: ``rx`` In(1), ``o`` Out(stream.Signature(8)), ``frame_error`` Out(1).
    """

    def __init__(self, *, divisor):
        if not isinstance(divisor, int) or divisor < 4:
            raise ValueError(f"divisor must be an integer >= 4, not {divisor!r}")
        self._div = divisor
        super().__init__({"rx": In(1, init=1), "o": Out(stream.Signature(8)), "frame_error": Out(1)})

    def elaborate(self, platform):
        m = Module()
        line = Signal(init=1)
        m.submodules.sync = FFSynchronizer(self.rx, line, init=1)
        timer = Signal(range(self._div * 3 // 2 + 1))
        bit = Signal(range(10))
        shreg = Signal(8)
        m.d.sync += self.o.valid.eq(0)
        m.d.comb += self.o.payload.eq(shreg)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(~line):
                    # sample in the middle of the start bit
                    m.d.sync += [timer.eq(self._div // 2), bit.eq(0)]
                    m.next = "BITS"
            with m.State("BITS"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Else():
                    m.d.sync += [timer.eq(self._div - 1), bit.eq(bit + 1)]
                    with m.If(bit == 0):
                        with m.If(line):          # a glitch, not a start bit
                            m.next = "IDLE"
                    with m.Elif(bit <= 8):
                        m.d.sync += shreg.eq((shreg >> 1) | (line << 7))
                    with m.Else():
                        with m.If(line):
                            m.d.sync += self.o.valid.eq(1)
                        with m.Else():
                            m.d.comb += self.frame_error.eq(1)
                        m.next = "WAIT_IDLE"
            with m.State("WAIT_IDLE"):
                with m.If(line):
                    m.next = "IDLE"
        return m


class UartTx(wiring.Component):
    """8N1 transmitter.  Members: ``i`` In(stream.Signature(8)), ``tx`` Out(1) (idle high)."""

    def __init__(self, *, divisor):
        if not isinstance(divisor, int) or divisor < 4:
            raise ValueError(f"divisor must be an integer >= 4, not {divisor!r}")
        self._div = divisor
        super().__init__({"i": In(stream.Signature(8)), "tx": Out(1, init=1)})

    def elaborate(self, platform):
        m = Module()
        timer = Signal(range(self._div))
        shreg = Signal(10, init=0x3FF)
        bits = Signal(range(11))
        m.d.comb += [self.tx.eq(shreg[0]), self.i.ready.eq(bits == 0)]
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [shreg.eq((self.i.payload << 1) | (1 << 9)), bits.eq(10),
                         timer.eq(self._div - 1)]
        with m.Elif(bits != 0):
            with m.If(timer != 0):
                m.d.sync += timer.eq(timer - 1)
            with m.Else():
                m.d.sync += [timer.eq(self._div - 1), bits.eq(bits - 1),
                             shreg.eq((shreg >> 1) | (1 << 9))]
        return m
