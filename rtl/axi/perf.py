"""Passive AXI4 performance counters (for benches)."""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import Out

from .checker import _monitor_signature

__all__ = ["AXI4PerfCounter"]


class AXI4PerfCounter(wiring.Component):
    """Counts data beats and timestamps the first/last handshakes on a watched bus.

    Members: ``bus`` (all inputs; connect with :func:`~sgdma.rtl.axi.checker.monitor`),
    ``clear`` (restart counting), and 32-bit outputs ``r_beats``, ``w_beats``, ``ar_first``,
    ``r_first``, ``r_last``, ``aw_first``, ``w_first``, ``w_last``, ``b_last`` (cycle numbers
    since ``clear``; firsts hold the first event, lasts the latest).
    """

    NAMES = ("r_beats", "w_beats", "ar_first", "r_first", "r_last", "aw_first", "w_first",
             "w_last", "b_last")

    def __init__(self, signature):
        from amaranth.lib.wiring import In
        super().__init__({"bus": In(_monitor_signature(signature)), "clear": In(1),
                          **{n: Out(32) for n in self.NAMES}})

    def elaborate(self, platform):
        m = Module()
        b = self.bus
        now = Signal(32)
        m.d.sync += now.eq(now + 1)
        seen = {k: Signal(name=f"seen_{k}") for k in ("ar", "r", "aw", "w")}

        def fire(ch):
            return getattr(b, f"{ch}valid") & getattr(b, f"{ch}ready")

        with m.If(fire("r")):
            m.d.sync += [self.r_beats.eq(self.r_beats + 1), self.r_last.eq(now)]
        with m.If(fire("w")):
            m.d.sync += [self.w_beats.eq(self.w_beats + 1), self.w_last.eq(now)]
        with m.If(fire("b")):
            m.d.sync += self.b_last.eq(now)
        for ch, out in (("ar", self.ar_first), ("r", self.r_first), ("aw", self.aw_first),
                        ("w", self.w_first)):
            with m.If(fire(ch) & ~seen[ch]):
                m.d.sync += [out.eq(now), seen[ch].eq(1)]
        with m.If(self.clear):
            m.d.sync += [now.eq(0)] + [s.eq(0) for s in seen.values()] + [
                getattr(self, n).eq(0) for n in self.NAMES]
        return m
