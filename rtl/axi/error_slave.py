"""AXI4 subordinate that answers every access with DECERR (the interconnect's default)."""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from ..bus import Resp

__all__ = ["AXI4ErrorSlave"]


class AXI4ErrorSlave(wiring.Component):
    """Answers reads with ``len + 1`` DECERR beats and writes, after consuming their data,
    with a DECERR response.  One burst per direction at a time."""

    def __init__(self, signature, *, resp=Resp.DECERR):
        self._resp = resp
        super().__init__({"bus": In(signature)})

    def elaborate(self, platform):
        m = Module()
        bus = self.bus
        # reads
        busy = Signal()
        left = Signal(8)
        m.d.comb += [bus.arready.eq(~busy), bus.rvalid.eq(busy), bus.rresp.eq(self._resp),
                     bus.rlast.eq(left == 0), bus.rdata.eq(0)]
        with m.If(bus.arvalid & ~busy):
            m.d.sync += [busy.eq(1), left.eq(bus.arlen), bus.rid.eq(bus.arid)]
        with m.If(bus.rvalid & bus.rready):
            m.d.sync += left.eq(left - 1)
            with m.If(left == 0):
                m.d.sync += busy.eq(0)
        # writes: AW, then W until WLAST, then B
        have_aw = Signal()
        data_done = Signal()
        m.d.comb += [bus.awready.eq(~have_aw), bus.wready.eq(have_aw & ~data_done),
                     bus.bvalid.eq(data_done), bus.bresp.eq(self._resp)]
        with m.If(bus.awvalid & ~have_aw):
            m.d.sync += [have_aw.eq(1), bus.bid.eq(bus.awid)]
        with m.If(bus.wvalid & bus.wready & bus.wlast):
            m.d.sync += data_done.eq(1)
        with m.If(bus.bvalid & bus.bready):
            m.d.sync += [have_aw.eq(0), data_done.eq(0)]
        return m
