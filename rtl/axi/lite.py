"""AXI4-Lite plumbing for the host side: an address decoder and a bridge onto AXI4."""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..bus import AXI4LiteSignature, AXI4Signature, Burst, Resp

__all__ = ["AXI4LiteDecoder", "AXI4LiteToAXI4"]


class AXI4LiteDecoder(wiring.Component):
    """One AXI4-Lite manager to ``len(windows)`` subordinates by address; addresses outside
    every window are answered with DECERR here.

    One transaction per direction is in flight at a time (the next address handshake waits
    for the previous response), which is all a host bridge issues and keeps routing trivial.

    Parameters: ``windows`` — list of ``(base, size)``, non-overlapping; ``addr_width``.
    Members: ``bus`` In(AXI4LiteSignature), ``sub`` Out(AXI4LiteSignature).array(n) (each
    subordinate sees the full address).
    """

    def __init__(self, *, windows, addr_width=32):
        windows = [tuple(w) for w in windows]
        if not windows:
            raise ValueError("windows must list at least one subordinate window")
        spans = sorted(windows)
        for base, size in spans:
            if size < 1 or base < 0 or base + size > 1 << addr_width:
                raise ValueError(f"window ({base:#x}, {size:#x}) is empty or outside {addr_width} bits")
        for (b0, s0), (b1, _) in zip(spans, spans[1:]):
            if b0 + s0 > b1:
                raise ValueError(f"windows at {b0:#x} and {b1:#x} overlap")
        self._windows = windows
        sig = AXI4LiteSignature(addr_width=addr_width, data_width=32)
        super().__init__({"bus": In(sig), "sub": Out(sig).array(len(windows))})

    def _select(self, m, addr, name):
        hit = Signal(len(self._windows), name=f"{name}_hit")
        for k, (base, size) in enumerate(self._windows):
            m.d.comb += hit[k].eq((addr >= base) & (addr < base + size))
        return hit

    def elaborate(self, platform):
        m = Module()
        bus = self.bus
        # write: latch the target at the AW handshake; W follows to the same target
        w_sel = Signal(len(self._windows))
        w_busy, aw_done, w_done = Signal(), Signal(), Signal()
        hit = self._select(m, bus.awaddr, "aw")
        with m.If(~w_busy & bus.awvalid):
            m.d.sync += [w_busy.eq(1), w_sel.eq(hit), aw_done.eq(0), w_done.eq(0)]
        for k, sub in enumerate(self.sub):
            m.d.comb += [sub.awaddr.eq(bus.awaddr), sub.awprot.eq(bus.awprot),
                         sub.wdata.eq(bus.wdata), sub.wstrb.eq(bus.wstrb),
                         sub.awvalid.eq(w_busy & w_sel[k] & bus.awvalid & ~aw_done),
                         sub.wvalid.eq(w_busy & w_sel[k] & bus.wvalid & ~w_done),
                         sub.bready.eq(w_busy & w_sel[k] & aw_done & w_done & bus.bready)]
            with m.If(w_busy & w_sel[k]):
                m.d.comb += [bus.awready.eq(sub.awready & ~aw_done), bus.wready.eq(sub.wready & ~w_done),
                             bus.bvalid.eq(sub.bvalid & aw_done & w_done), bus.bresp.eq(sub.bresp)]
        with m.If(w_busy & (w_sel == 0)):           # nobody decodes it: DECERR
            m.d.comb += [bus.awready.eq(~aw_done), bus.wready.eq(~w_done),
                         bus.bvalid.eq(aw_done & w_done), bus.bresp.eq(Resp.DECERR)]
        with m.If(bus.awvalid & bus.awready):
            m.d.sync += aw_done.eq(1)
        with m.If(bus.wvalid & bus.wready):
            m.d.sync += w_done.eq(1)
        with m.If(bus.bvalid & bus.bready):
            m.d.sync += w_busy.eq(0)

        r_sel = Signal(len(self._windows))
        r_busy, ar_done = Signal(), Signal()
        hit = self._select(m, bus.araddr, "ar")
        with m.If(~r_busy & bus.arvalid):
            m.d.sync += [r_busy.eq(1), r_sel.eq(hit), ar_done.eq(0)]
        for k, sub in enumerate(self.sub):
            m.d.comb += [sub.araddr.eq(bus.araddr), sub.arprot.eq(bus.arprot),
                         sub.arvalid.eq(r_busy & r_sel[k] & bus.arvalid & ~ar_done),
                         sub.rready.eq(r_busy & r_sel[k] & ar_done & bus.rready)]
            with m.If(r_busy & r_sel[k]):
                m.d.comb += [bus.arready.eq(sub.arready & ~ar_done), bus.rvalid.eq(sub.rvalid & ar_done),
                             bus.rdata.eq(sub.rdata), bus.rresp.eq(sub.rresp)]
        with m.If(r_busy & (r_sel == 0)):
            m.d.comb += [bus.arready.eq(~ar_done), bus.rvalid.eq(ar_done), bus.rresp.eq(Resp.DECERR)]
        with m.If(bus.arvalid & bus.arready):
            m.d.sync += ar_done.eq(1)
        with m.If(bus.rvalid & bus.rready):
            m.d.sync += r_busy.eq(0)
        return m


class AXI4LiteToAXI4(wiring.Component):
    """A 32-bit AXI4-Lite subordinate as a manager on a wider AXI4 bus: every access becomes a
    one-beat burst with the word in its byte lanes.  One transaction per direction at a time.

    Members: ``lite`` In(AXI4LiteSignature(32)), ``bus`` Out(AXI4Signature) with the given
    ``id``/``user`` constants on every request.
    """

    def __init__(self, signature, *, id=0, user=0):
        if not isinstance(signature, AXI4Signature):
            raise TypeError(f"signature must be an AXI4Signature, not {signature!r}")
        self._sig, self._id, self._user = signature, id, user
        super().__init__({
            "lite": In(AXI4LiteSignature(addr_width=signature.addr_width, data_width=32)),
            "bus": Out(signature),
        })

    def elaborate(self, platform):
        m = Module()
        lite, bus, sig = self.lite, self.bus, self._sig
        lanes = sig.data_width // 32
        size = 2  # 4 bytes
        user = {"awuser": self._user, "aruser": self._user} if sig.user_width else {}
        for name, value in user.items():
            m.d.comb += getattr(bus, name).eq(value)
        # write: AW and W leave together once both are offered (addresses stay with the data)
        aw_done, w_done = Signal(), Signal()
        both = lite.awvalid & lite.wvalid
        lane = lite.awaddr[2:2 + max(1, (lanes - 1).bit_length())] if lanes > 1 else 0
        m.d.comb += [
            bus.awvalid.eq(both & ~aw_done), bus.awid.eq(self._id), bus.awaddr.eq(lite.awaddr),
            bus.awlen.eq(0), bus.awsize.eq(size), bus.awburst.eq(Burst.INCR),
            bus.wvalid.eq(both & ~w_done), bus.wdata.eq(lite.wdata.replicate(lanes)),
            bus.wstrb.eq(lite.wstrb << (lane * 4) if lanes > 1 else lite.wstrb), bus.wlast.eq(1),
            bus.bready.eq(lite.bready), lite.bvalid.eq(bus.bvalid), lite.bresp.eq(bus.bresp),
        ]
        with m.If(bus.awvalid & bus.awready):
            m.d.sync += aw_done.eq(1)
        with m.If(bus.wvalid & bus.wready):
            m.d.sync += w_done.eq(1)
        # the lite side's AW and W complete together, once both went out on AXI4
        done = (aw_done | (bus.awvalid & bus.awready)) & (w_done | (bus.wvalid & bus.wready))
        m.d.comb += [lite.awready.eq(done), lite.wready.eq(done)]
        with m.If(done):
            m.d.sync += [aw_done.eq(0), w_done.eq(0)]

        r_lane = Signal(max(1, (lanes - 1).bit_length()))
        m.d.comb += [
            bus.arvalid.eq(lite.arvalid), bus.arid.eq(self._id), bus.araddr.eq(lite.araddr),
            bus.arlen.eq(0), bus.arsize.eq(size), bus.arburst.eq(Burst.INCR),
            lite.arready.eq(bus.arready), lite.rvalid.eq(bus.rvalid), lite.rresp.eq(bus.rresp),
            bus.rready.eq(lite.rready),
            lite.rdata.eq(bus.rdata.word_select(r_lane, 32) if lanes > 1 else bus.rdata),
        ]
        if lanes > 1:
            with m.If(bus.arvalid & bus.arready):
                m.d.sync += r_lane.eq(lite.araddr[2:2 + len(r_lane)])
        return m
