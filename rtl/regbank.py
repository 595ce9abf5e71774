"""AXI4-Lite register bank generated from a declared :class:`~sgdma.sw.regdef.RegisterMap`."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..sw.regdef import Access, RegisterMap
from .bus import AXI4LiteSignature, Resp

__all__ = ["RegisterBank", "register_signature"]


def register_signature(register):
    """Hardware side of one register.

    Per field ``f``: ``f`` is the value (``Out`` from the bank for W / RW / RW1C / RW1S, ``In``
    for R: hardware drives it); RW1C fields add ``f_set`` (``In``: hardware sets bits),
    RW1S fields add ``f_clear`` (``In``: hardware clears bits).  ``w_stb`` pulses for one
    cycle as a software write takes effect (the new value is visible in that same cycle);
    ``r_stb`` pulses when software reads the register (its low half, for 64-bit ones).
    """
    members = {"w_stb": Out(1), "r_stb": Out(1)}
    for f in register.fields:
        if f.name in ("w_stb", "r_stb") or f.name.endswith(("_set", "_clear")):
            raise ValueError(f"register {register.name}: field name {f.name!r} is reserved")
        if f.access is Access.R:
            members[f.name] = In(f.width)
        else:
            members[f.name] = Out(f.width, init=f.reset)
        if f.access is Access.RW1C:
            members[f"{f.name}_set"] = In(f.width)
        if f.access is Access.RW1S:
            members[f"{f.name}_clear"] = In(f.width)
    return wiring.Signature(members)


def block_signature(block):
    return wiring.Signature({r.name: Out(register_signature(r)) for r in block.registers})


class RegisterBank(wiring.Component):
    """The register bank of a whole :class:`RegisterMap` behind one AXI4-Lite port.

    Members
    -------
    bus : In(AXI4LiteSignature(addr_width=addr_width, data_width=32))
        Software access: 32-bit words, byte strobes honoured.  Unmapped addresses answer
        DECERR; writes to read-only registers are ignored and answer OKAY.
    <block> : Out(block signature) or an array of them
        One member per placed block (see :func:`register_signature` for the fields).

    Registers of 64 bits are two words: a write takes effect when the upper word is written
    (the lower word waits in a shadow until then); reading the lower word latches the upper
    word, so a 64-bit value read low-then-high is consistent.

    Latency: one cycle from AW+W to B, one cycle from AR to R.  One access at a time.
    """

    def __init__(self, regmap, *, addr_width=None):
        if not isinstance(regmap, RegisterMap):
            raise TypeError(f"regmap must be a RegisterMap, not {regmap!r}")
        need = (regmap.size - 1).bit_length()
        if addr_width is None:
            addr_width = need
        if not isinstance(addr_width, int) or addr_width < need:
            raise ValueError(f"addr_width must be >= {need} for {regmap.name}, not {addr_width!r}")
        self._regmap = regmap
        self._addr_width = addr_width
        members = {"bus": In(AXI4LiteSignature(addr_width=addr_width, data_width=32))}
        for p in regmap.placements:
            sig = Out(block_signature(p.block))
            members[p.block.name] = sig if p.count is None else sig.array(p.count)
        super().__init__(members)

    @property
    def regmap(self):
        return self._regmap

    def _ports_of(self, placement, index):
        port = getattr(self, placement.block.name)
        return port if index is None else port[index]

    def elaborate(self, platform):
        m = Module()
        bus = self.bus

        # --- write channel: take AW and W together, answer on B ---------------------------
        wr = Signal()
        m.d.comb += wr.eq(bus.awvalid & bus.wvalid & ~bus.bvalid)
        m.d.comb += [bus.awready.eq(wr), bus.wready.eq(wr)]
        with m.If(bus.bvalid & bus.bready):
            m.d.sync += bus.bvalid.eq(0)
        wmask = Cat(b.replicate(8) for b in bus.wstrb)
        wword = bus.awaddr[2:]

        # --- read channel -----------------------------------------------------------------
        rd = Signal()
        m.d.comb += rd.eq(bus.arvalid & ~bus.rvalid)
        m.d.comb += bus.arready.eq(rd)
        with m.If(bus.rvalid & bus.rready):
            m.d.sync += bus.rvalid.eq(0)
        rword = bus.araddr[2:]

        with m.If(wr):
            m.d.sync += [bus.bvalid.eq(1), bus.bresp.eq(Resp.DECERR)]
        with m.If(rd):
            m.d.sync += [bus.rvalid.eq(1), bus.rresp.eq(Resp.DECERR), bus.rdata.eq(0)]

        for address, placement, index, reg in self._regmap.walk():
            ports = getattr(self._ports_of(placement, index), reg.name)
            word = address >> 2
            tag = f"{placement.block.name}{'' if index is None else index}_{reg.name}"

            # Effective write: data W under mask M over the whole register, this cycle.
            eff_w = Signal(reg.width, name=f"{tag}_w")
            eff_m = Signal(reg.width, name=f"{tag}_m")
            eff = Signal(name=f"{tag}_we")
            if reg.width == 32:
                with m.If(wr & (wword == word)):
                    m.d.comb += [eff.eq(1), eff_w.eq(bus.wdata), eff_m.eq(wmask)]
            else:
                sh_w = Signal(32, name=f"{tag}_shw")
                sh_m = Signal(32, name=f"{tag}_shm")
                with m.If(wr & (wword == word)):
                    m.d.sync += [sh_w.eq(bus.wdata), sh_m.eq(wmask)]
                with m.If(wr & (wword == word + 1)):
                    m.d.comb += [eff.eq(1), eff_w.eq(Cat(sh_w, bus.wdata)),
                                 eff_m.eq(Cat(sh_m, wmask))]
                    m.d.sync += sh_m.eq(0)
            words = (word,) if reg.width == 32 else (word, word + 1)
            with m.If(wr & ((wword == words[0]) | (wword == words[-1]))):
                m.d.sync += bus.bresp.eq(Resp.OKAY)
            m.d.sync += ports.w_stb.eq(eff)

            # Per-field storage.
            live = []
            for f in reg.fields:
                sl = slice(f.offset, f.offset + f.width)
                w = eff_w[sl]
                msk = Signal(f.width, name=f"{tag}_{f.name}_m")
                m.d.comb += msk.eq(Mux(eff, eff_m[sl], 0))
                data = getattr(ports, f.name)
                if f.access in (Access.RW, Access.W):
                    m.d.sync += data.eq((data & ~msk) | (w & msk))
                elif f.access is Access.RW1C:
                    m.d.sync += data.eq((data & ~(w & msk)) | getattr(ports, f"{f.name}_set"))
                elif f.access is Access.RW1S:
                    m.d.sync += data.eq((data & ~getattr(ports, f"{f.name}_clear")) | (w & msk))
                live.append((f, Const(0, f.width) if f.access is Access.W else data))

            value = Signal(reg.width, name=f"{tag}_rv")
            for f, v in live:
                m.d.comb += value[f.offset:f.offset + f.width].eq(v)
            with m.If(rd & (rword == word)):
                m.d.sync += [bus.rresp.eq(Resp.OKAY), bus.rdata.eq(value[:32])]
            r_stb = Signal(name=f"{tag}_rstb")
            m.d.comb += r_stb.eq(rd & (rword == word))
            m.d.sync += ports.r_stb.eq(r_stb)
            if reg.width == 64:
                latch = Signal(32, name=f"{tag}_rlatch")
                with m.If(r_stb):
                    m.d.sync += latch.eq(value[32:])
                with m.If(rd & (rword == word + 1)):
                    m.d.sync += [bus.rresp.eq(Resp.OKAY), bus.rdata.eq(latch)]
        return m
