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

    With ``registered_status`` (the default) the fields that hardware drives (``R``) are read
    through a register, so a read sees them as they were a cycle before it is served; without
    it they are read directly (fewer flip-flops, for small FPGAs).

    With ``byte_lanes`` (the default) a written field's bits load per byte lane, each lane's
    flip-flops enabled by the write and its strobe (no logic per bit: the cheaper form where
    every flip-flop has its own clock enable, as on ECP5); without it every bit merges the
    write under its mask (no clock enables: the form that packs better on iCE40, whose logic
    blocks share one clock enable among eight cells).

    Latency: two cycles from AW+W to B, three from AR to R (every request is registered
    before it is decoded, each block's word is registered beside it).  One read and one write
    at a time.
    """

    def __init__(self, regmap, *, addr_width=None, registered_status=True, byte_lanes=True):
        if not isinstance(regmap, RegisterMap):
            raise TypeError(f"regmap must be a RegisterMap, not {regmap!r}")
        need = (regmap.size - 1).bit_length()
        if addr_width is None:
            addr_width = need
        if not isinstance(addr_width, int) or addr_width < need:
            raise ValueError(f"addr_width must be >= {need} for {regmap.name}, not {addr_width!r}")
        self._regmap = regmap
        self._addr_width = addr_width
        self._registered_status = bool(registered_status)
        self._byte_lanes = bool(byte_lanes)
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
        # Every access is taken into registers first and served from them: nothing the
        # manager drives reaches a register's enable or the read multiplexer in the same
        # cycle, so the bank's timing does not depend on where its manager sits.
        m = Module()
        bus = self.bus

        # --- write channel: take AW and W together into registers, apply, answer on B ------
        w_pend = Signal()
        w_word = Signal(len(bus.awaddr) - 2, reset_less=True)
        w_data = Signal(32, reset_less=True)
        w_mask = Signal(32, reset_less=True)
        take_w = Signal()
        m.d.comb += take_w.eq(bus.awvalid & bus.wvalid & ~bus.bvalid & ~w_pend)
        m.d.comb += [bus.awready.eq(take_w), bus.wready.eq(take_w)]
        with m.If(take_w):
            m.d.sync += [w_pend.eq(1), w_word.eq(bus.awaddr[2:]), w_data.eq(bus.wdata),
                         w_mask.eq(Cat(b.replicate(8) for b in bus.wstrb))]
        with m.If(w_pend):
            m.d.sync += [w_pend.eq(0), bus.bvalid.eq(1), bus.bresp.eq(Resp.DECERR)]
        with m.If(bus.bvalid & bus.bready):
            m.d.sync += bus.bvalid.eq(0)

        # --- read channel: the address into a register, then each block's word into a
        # register beside it, then the one of the block that holds the address --------------
        r_pend = Signal()
        r_word = Signal(len(bus.araddr) - 2, reset_less=True)
        m.d.comb += bus.arready.eq(~bus.rvalid & ~r_pend)
        with m.If(bus.arvalid & bus.arready):
            m.d.sync += [r_pend.eq(1), r_word.eq(bus.araddr[2:])]
        r_pick = Signal()              # the blocks' words are in their registers
        r_hit = Signal()               # ... and one of them holds the address
        m.d.sync += r_pick.eq(0)
        with m.If(r_pend):
            m.d.sync += [r_pend.eq(0), r_pick.eq(1), r_hit.eq(0)]
        with m.If(r_pick):
            m.d.sync += [bus.rvalid.eq(1), bus.rresp.eq(Mux(r_hit, Resp.OKAY, Resp.DECERR))]
        with m.If(bus.rvalid & bus.rready):
            m.d.sync += bus.rvalid.eq(0)
        block_words = {}

        for address, placement, index, reg in self._regmap.walk():
            ports = getattr(self._ports_of(placement, index), reg.name)
            word = address >> 2
            tag = f"{placement.block.name}{'' if index is None else index}_{reg.name}"
            words = (word,) if reg.width == 32 else (word, word + 1)
            hit = [Signal(name=f"{tag}_w{k}") for k in range(len(words))]
            for h, wd in zip(hit, words):
                m.d.comb += h.eq(w_pend & (w_word == wd))

            # Effective write: data W under mask M over the whole register, this cycle.
            eff_w = Signal(reg.width, name=f"{tag}_w")
            eff_m = Signal(reg.width, name=f"{tag}_m")
            eff = Signal(name=f"{tag}_we")
            if reg.width == 32:
                raw_w = w_data
                with m.If(hit[0]):
                    m.d.comb += [eff.eq(1), eff_w.eq(w_data), eff_m.eq(w_mask)]
            else:
                sh_w = Signal(32, name=f"{tag}_shw")
                sh_m = Signal(32, name=f"{tag}_shm")
                raw_w = Cat(sh_w, w_data)
                with m.If(hit[0]):
                    m.d.sync += [sh_w.eq(w_data), sh_m.eq(w_mask)]
                with m.If(hit[1]):
                    m.d.comb += [eff.eq(1), eff_w.eq(raw_w), eff_m.eq(Cat(sh_m, w_mask))]
                    m.d.sync += sh_m.eq(0)
            with m.If(Cat(hit).any()):
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
                if f.access in (Access.RW, Access.W) and self._byte_lanes:
                    # a byte lane's bits load together (one clock enable: the write and the
                    # lane's strobe) straight from the write-data register: no merge per bit
                    end = f.offset + f.width
                    for lo in (f.offset, *range((f.offset // 8 + 1) * 8, end, 8)):
                        hi = min(end, (lo // 8 + 1) * 8)
                        with m.If(eff & eff_m[lo]):
                            m.d.sync += data[lo - f.offset:hi - f.offset].eq(raw_w[lo:hi])
                elif f.access in (Access.RW, Access.W):
                    m.d.sync += data.eq((data & ~msk) | (w & msk))
                elif f.access is Access.RW1C:
                    m.d.sync += data.eq((data & ~(w & msk)) | getattr(ports, f"{f.name}_set"))
                elif f.access is Access.RW1S:
                    m.d.sync += data.eq((data & ~getattr(ports, f"{f.name}_clear")) | (w & msk))
                if f.access is Access.R and self._registered_status:
                    # what hardware drives is read from a register (a cycle late): the status
                    # logic behind it stays out of the read path
                    seen = Signal(f.width, name=f"{tag}_{f.name}_seen", reset_less=True)
                    m.d.sync += seen.eq(data)
                    data = seen
                live.append((f, Const(0, f.width) if f.access is Access.W else data))

            value = Signal(reg.width, name=f"{tag}_rv")
            for f, v in live:
                m.d.comb += value[f.offset:f.offset + f.width].eq(v)
            r_stb = Signal(name=f"{tag}_rstb")
            m.d.comb += r_stb.eq(r_pend & (r_word == word))
            m.d.sync += ports.r_stb.eq(r_stb)
            block = block_words.setdefault((placement.block.name, index, address - reg.offset,
                                             placement.block.size), [])
            block.append((word, value[:32]))
            if reg.width == 64:
                latch = Signal(32, name=f"{tag}_rlatch")
                with m.If(r_stb):
                    m.d.sync += latch.eq(value[32:])
                block.append((word + 1, latch))

        # each block's word (zero when it holds no register there), then their OR.  A block
        # whose base is aligned to its size picks by the word's offset within it (a
        # multiplexer on the low address bits) and qualifies with one compare of the high bits,
        # made as the address is taken (`r_block`, a register per block: the compare is not
        # a path from `r_word` into every block's 32 resets)
        picks = []
        for (name, index, base, size), entries in block_words.items():
            block_name = f"{name}{'' if index is None else index}"
            pick = Signal(32, name=f"{block_name}_rpick", reset_less=True)
            lo = (size.bit_length() - 1) - 2 if base % size == 0 else len(r_word)
            r_block = Signal(name=f"{block_name}_rblock", reset_less=True)
            with m.If(bus.arvalid & bus.arready):
                m.d.sync += r_block.eq((bus.araddr[2:] >> lo) == (base >> 2 >> lo))
            with m.If(r_pend):
                m.d.sync += pick.eq(0)
                with m.If(r_block):
                    with m.Switch(r_word[:lo]):
                        for wd, v in entries:
                            with m.Case(wd % (1 << lo)):
                                m.d.sync += [pick.eq(v), r_hit.eq(1)]
            picks.append(pick)
        rdata = Const(0, 32)
        for pick in picks:
            rdata = rdata | pick
        with m.If(r_pick):
            m.d.sync += bus.rdata.eq(Mux(r_hit, rdata, 0))
        return m
