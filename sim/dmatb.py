"""cocotb side of the DMA benches: registers, rings, descriptors and the reference model.

A :class:`DmaTB` owns a :class:`~sgdma.sim.tops.DmaSystem` under test: the AXI4-Lite master
on the engine's registers, backdoor access to the memory, per-channel rings, and a
:class:`~sgdma.sw.model.SparseMemory`-like shadow that the reference model updates so every
byte of memory can be compared with what the engine did.
"""

import cocotb
from cocotb.triggers import ClockCycles, RisingEdge
from cocotbext.axi import AxiLiteBus, AxiLiteMaster

from ..sw.formats import DESCRIPTOR_SIZE, Completion, Descriptor, SgEntry
from ..sw.registers import ChannelState, register_map
from .tb import MemoryBackdoor, ProtocolWatch, params, quiet_controls, start

__all__ = ["DmaTB", "Ring", "desc_bytes", "sg_bytes"]

COMPLETION_AT = Descriptor.byte_offset("completion")


def desc_bytes(*, src=0, dst=0, length=0, opcode=1, irq=0, fence=0, src_sgl=0, dst_sgl=0, ndim=0,
               rsvd=0, nd=None, sg=None):
    """A raw descriptor.  ``rsvd`` (control bits 31:10) and ``sg["rsvd"]`` set reserved bits,
    which the driver's pack refuses: they are patched into the bytes (for negative tests)."""
    sg = dict(sg or {})
    sg_rsvd = sg.pop("rsvd", 0)
    params_ = {"nd_params": nd} if nd else {"sg_params": sg}
    raw = bytearray(Descriptor.pack(src=src, dst=dst, length=length,
                                    control=dict(opcode=opcode, irq=irq, fence=fence, src_sgl=src_sgl,
                                                 dst_sgl=dst_sgl, ndim=ndim),
                                    params=params_))
    ctl_at = Descriptor.byte_offset("control")
    ctl = int.from_bytes(raw[ctl_at:ctl_at + 4], "little") | (rsvd << 10)
    raw[ctl_at:ctl_at + 4] = ctl.to_bytes(4, "little")
    if sg_rsvd:
        raw[0x28:0x30] = sg_rsvd.to_bytes(8, "little")
    return bytes(raw)


def sg_bytes(entries):
    """SG list bytes of ``[(addr, len[, flags])]`` (non-zero reserved flags are patched in, for
    negative tests)."""
    out = b""
    for a, n, *rest in entries:
        raw = bytearray(SgEntry.pack(addr=a, len=n))
        raw[12:16] = (rest[0] if rest else 0).to_bytes(4, "little")
        out += raw
    return out


class Ring:
    """A channel's descriptor ring in the bench's memory."""

    def __init__(self, tb, channel, base, log2):
        self.tb, self.ch, self.base, self.log2 = tb, channel, base, log2
        self.size = 1 << log2
        self.tail = 0
        self.head = 0

    def slot(self, index):
        return self.base + (index % self.size) * DESCRIPTOR_SIZE

    def free(self):
        return self.size - 1 - ((self.tail - self.head) % self.size)

    def put(self, raw):
        """Write a descriptor at the tail (not yet visible to the engine); its slot index."""
        assert self.free() > 0, "ring full"
        index = self.tail
        self.tb.mem_write(self.slot(index), raw)
        self.tail = (self.tail + 1) % self.size
        return index

    async def doorbell(self):
        await self.tb.reg_write("channel", "tail", self.tail, index=self.ch)

    def completion(self, index):
        return Completion.unpack(self.tb.mem_read(self.slot(index) + COMPLETION_AT, 16))


class DmaTB:
    def __init__(self, dut, *, watch=True):
        self.dut = dut
        self.p = params()
        self.lite = self.p.get("lite", False)     # the lite engine: one channel, 32 bits
        self.channels = 1 if self.lite else self.p.get("channels", 4)
        self.wb = 4 if self.lite else self.p.get("data_width", 64) // 8
        self.mem_size = self.p.get("mem_size", 1 << 20)
        self.addr_bits = self.p.get("addr_width", 32)   # the engine's bus addresses
        self.regmap = register_map(self.channels)
        self.axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "csr", bus_separator="__"), dut.clk, dut.rst)
        self.mem = MemoryBackdoor(dut.mem.mem0.storage, self.wb, self.mem_size)
        self.watch = ProtocolWatch(dut, ["engine", "memory"]) if watch else None

    async def start(self):
        await start(self.dut)
        quiet_controls(self.dut)
        config = await self.reg_read("system", "config")
        fields = self.regmap.placement("system").block.register("config").unpack(config)
        assert (fields["channels"], fields["data_bytes"], fields["addr_bits"], fields["lite"]) == \
            (self.channels, self.wb, self.addr_bits, self.lite), f"config register: {fields}"

    # -- memory --------------------------------------------------------------------------------
    def mem_write(self, addr, data):
        self.mem.write(addr, data)

    def mem_read(self, addr, n):
        return self.mem.read(addr, n)

    # -- registers -----------------------------------------------------------------------------
    def _reg(self, block, name, index):
        p = self.regmap.placement(block)
        return p.block.register(name), p.base_of(index) + p.block.register(name).offset

    async def reg_read(self, block, name, index=None):
        reg, addr = self._reg(block, name, index)
        value = 0
        for k in range(reg.size // 4):
            r = await self.axil.read(addr + 4 * k, 4)
            value |= int.from_bytes(r.data, "little") << (32 * k)
        return value

    async def reg_write(self, block, name, value, index=None):
        reg, addr = self._reg(block, name, index)
        for k in range(reg.size // 4):
            await self.axil.write(addr + 4 * k, ((value >> (32 * k)) & 0xFFFFFFFF).to_bytes(4, "little"))

    async def field(self, block, name, field, index=None):
        reg, _ = self._reg(block, name, index)
        return reg.unpack(await self.reg_read(block, name, index))[field]

    async def set_fields(self, block, name, index=None, **fields):
        reg, _ = self._reg(block, name, index)
        await self.reg_write(block, name, reg.pack(**fields), index)

    # -- channels ------------------------------------------------------------------------------
    async def setup_ring(self, ch, base, log2=4, enable=True):
        ring = Ring(self, ch, base, log2)
        self.mem_write(base, bytes(DESCRIPTOR_SIZE * ring.size))
        await self.reg_write("channel", "ring_base", base, index=ch)
        await self.set_fields("channel", "ring_size", index=ch, log2=log2)
        await self.set_fields("channel", "control", index=ch, enable=int(enable))
        return ring

    async def state(self, ch):
        return ChannelState(await self.field("channel", "status", "state", index=ch))

    async def wait_head(self, ring, index, timeout=200000, poll=64):
        """Wait until the engine's head reaches ``index`` (all earlier descriptors complete)."""
        for _ in range(timeout // poll):
            head = await self.field("channel", "head", "index", index=ring.ch)
            if head == index % ring.size:
                ring.head = head
                return
            await ClockCycles(self.dut.clk, poll)
        self.dump(ring.ch)
        raise AssertionError(f"channel {ring.ch}: head stuck at {head}, expected {index % ring.size}; "
                             f"state {(await self.state(ring.ch)).name}")

    def dump(self, ch):
        """Log the channel's internal state (for a stuck bench; set SGDMA_DUMP=1)."""
        import os
        if not os.environ.get("SGDMA_DUMP"):
            return
        lines = []

        def walk(h, path, depth):
            for sub in h:
                name = sub._name
                try:
                    v = sub.value
                    lines.append(f"{path}{name} = {v}")
                except Exception:
                    if depth < 3:
                        walk(sub, f"{path}{name}.", depth + 1)
        for k in range(self.channels):
            walk(getattr(self.dut.engine, f"ch{k}"), f"ch{k}.", 0)
        walk(self.dut.engine.xbar, "xbar.", 0)
        self.dut._log.warning("\n".join(l for l in lines if len(l) < 200))

    async def wait_done(self, ring, index, timeout=1_000_000, poll=16):
        """Wait until the completion record of ring slot ``index`` is written."""
        addr = ring.slot(index) + COMPLETION_AT
        for _ in range(timeout // poll):
            if self.mem_read(addr, 1)[0]:
                return ring.completion(index)
            await ClockCycles(self.dut.clk, poll)
        self.dump(ring.ch)
        raise AssertionError(f"channel {ring.ch}: no completion record in slot {index}")

    async def wait_state(self, ch, state, timeout=100000, poll=32):
        for _ in range(timeout // poll):
            s = await self.state(ch)
            if s == state:
                return
            await ClockCycles(self.dut.clk, poll)
        raise AssertionError(f"channel {ch}: state {s.name}, expected {state.name}")

    async def cycles_until_record(self, ring, index, timeout=10_000_000):
        """Clock cycles until the completion record of ``index`` is no longer PENDING
        (polled through the backdoor every cycle: exact)."""
        addr = ring.slot(index) + COMPLETION_AT
        n = 0
        while self.mem_read(addr, 1)[0] == 0:
            await RisingEdge(self.dut.clk)
            n += 1
            if n > timeout:
                raise AssertionError(f"no completion for slot {index} after {timeout} cycles")
        return n



class Shadow:
    """The bench's copy of the whole memory: the reference model runs on it."""

    def __init__(self, size):
        self.data = bytearray(size)

    def read(self, addr, n):
        return bytes(self.data[addr:addr + n])

    def write(self, addr, data):
        self.data[addr:addr + len(data)] = data


class Allocator:
    """Bump allocator over ``[base, limit)`` with a random gap before each block, so blocks
    never touch (the gaps are guard bytes: the final full-memory compare checks them)."""

    def __init__(self, r, base, limit):
        self.r, self.base, self.limit = r, base, limit
        self.next = base

    def alloc(self, n, align=1, gap=64):
        a = self.next + self.r.randrange(1, gap + 1)
        a = -(-a // align) * align
        if a + n > self.limit:
            raise MemoryError("bench memory exhausted")
        self.next = a + n
        return a


def nd_span(length, counts, strides):
    """(lowest offset, highest offset + 1) touched by rows of ``length`` bytes."""
    lo = hi = 0
    for c, s in zip(counts, strides):
        lo += min(0, (c - 1) * s)
        hi += max(0, (c - 1) * s)
    return lo, hi + length


def random_descriptor(r, alloc, write, *, max_len=4096):
    """A random valid descriptor: ``(raw descriptor, kind)``.  Source data and SG lists are
    placed in memory through ``write(addr, data)``; destinations are fresh blocks."""

    def length():
        k = r.random()
        return (r.randrange(1, 17) if k < 0.2 else r.randrange(1, 300) if k < 0.6
                else r.randrange(1, max_len) if k < 0.93 else r.randrange(max_len, 5 * max_len))

    def data(n):
        return r.randbytes(n)

    def sg_side(total):
        k = r.randrange(1, min(total, 8) + 1)
        cuts = sorted(r.sample(range(1, total), k - 1)) if k > 1 else []
        lens = [b - a for a, b in zip([0] + cuts, cuts + [total])]
        entries = [(alloc.alloc(n), n) for n in lens]
        lst = alloc.alloc(16 * k, align=16)
        write(lst, sg_bytes(entries))
        return lst, entries

    flags = dict(irq=int(r.random() < 0.5), fence=int(r.random() < 0.1))
    kind = r.choices(["copy", "sg", "nd", "fill"], [35, 25, 25, 15])[0]
    if kind == "copy":
        n = length()
        src, dst = alloc.alloc(n), alloc.alloc(n)
        write(src, data(n))
        return desc_bytes(src=src, dst=dst, length=n, **flags), kind
    if kind == "fill":
        n = length()
        if r.random() < 0.3:
            ln, c0 = r.randrange(1, 40), r.randrange(1, 9)
            s0 = r.choice([1, -1]) * (ln + r.randrange(0, 20))
            lo, hi = nd_span(ln, [c0], [s0])
            base = alloc.alloc(hi - lo) - lo
            return desc_bytes(src=r.getrandbits(64), dst=base, length=ln, opcode=2, ndim=2,
                              nd=dict(dst_stride0=s0, count0=c0, count1=1), **flags), kind
        return desc_bytes(src=r.getrandbits(64), dst=alloc.alloc(n), length=n, opcode=2, **flags), kind
    if kind == "sg":
        n = max(length(), 2)
        mode = r.choice(["src", "dst", "both"])
        d = dict(length=n, **flags)
        sg = {}
        if mode in ("src", "both"):
            lst, entries = sg_side(n)
            for a, ln in entries:
                write(a, data(ln))
            d.update(src=lst, src_sgl=1)
            sg["src_count"] = len(entries)
        else:
            d["src"] = alloc.alloc(n)
            write(d["src"], data(n))
        if mode in ("dst", "both"):
            lst, entries = sg_side(n)
            d.update(dst=lst, dst_sgl=1)
            sg["dst_count"] = len(entries)
        else:
            d["dst"] = alloc.alloc(n)
        return desc_bytes(sg=sg, **d), kind
    # N-D: two or three dimensions, signed strides, rows of any alignment
    ndim = r.choice([2, 3])
    ln = r.randrange(1, 80) if r.random() < 0.8 else r.randrange(80, 600)
    c0 = r.randrange(1, 17)
    c1 = r.randrange(1, 5) if ndim == 3 else 1
    s_src0 = r.choice([1, -1]) * r.randrange(1, ln + 40)            # source rows may overlap
    s_src1 = r.choice([1, -1]) * r.randrange(1, c0 * (ln + 40) + 1)
    s_dst0 = r.choice([1, -1]) * (ln + r.randrange(0, 24))           # destination rows never do
    s_dst1 = r.choice([1, -1]) * (c0 * abs(s_dst0) + r.randrange(0, 64))
    lo, hi = nd_span(ln, [c0, c1], [s_src0, s_src1])
    src = alloc.alloc(hi - lo) - lo
    write(src + lo, data(hi - lo))
    lo, hi = nd_span(ln, [c0, c1], [s_dst0, s_dst1])
    dst = alloc.alloc(hi - lo) - lo
    nd = dict(src_stride0=s_src0, src_stride1=s_src1, dst_stride0=s_dst0, dst_stride1=s_dst1,
              count0=c0, count1=c1)
    return desc_bytes(src=src, dst=dst, length=ln, ndim=ndim, nd=nd, **flags), kind


class BusLog:
    """Records the engine's AW / W-last / B / AR handshakes, cycle-stamped (the bench's view of
    ordering: FENCE, completion order, zero-length transfers)."""

    def __init__(self, dut):
        self.dut = dut
        self.events = []          # (cycle, kind, addr, len, id, user)
        self._task = cocotb.start_soon(self._run())

    async def _run(self):
        b = self.dut.mem          # the engine's manager port, as the memory system sees it
        cycle = 0
        while True:
            await RisingEdge(self.dut.clk)
            cycle += 1
            if int(b.mgr__0__awvalid.value) and int(b.mgr__0__awready.value):
                self.events.append((cycle, "aw", int(b.mgr__0__awaddr.value), int(b.mgr__0__awlen.value),
                                    int(b.mgr__0__awid.value), int(b.mgr__0__awuser.value)))
            if int(b.mgr__0__arvalid.value) and int(b.mgr__0__arready.value):
                self.events.append((cycle, "ar", int(b.mgr__0__araddr.value), int(b.mgr__0__arlen.value),
                                    int(b.mgr__0__arid.value), int(b.mgr__0__aruser.value)))
            if int(b.mgr__0__bvalid.value) and int(b.mgr__0__bready.value):
                self.events.append((cycle, "b", 0, 0, int(b.mgr__0__bid.value), int(b.mgr__0__bresp.value)))

    def stop(self):
        self._task.cancel()

    def writes(self):
        """[(aw cycle, b cycle, addr, len, user)] matching B responses to AWs in order per ID."""
        pending = {}
        out = []
        for cyc, kind, addr, ln, id_, user in self.events:
            if kind == "aw":
                pending.setdefault(id_, []).append((cyc, addr, ln, user))
            elif kind == "b" and pending.get(id_):   # (a B for an AW from before the log: skip)
                aw_cyc, addr, ln, user = pending[id_].pop(0)
                out.append((aw_cyc, cyc, addr, ln, user))
        return out

    def reads(self):
        return [(cyc, addr, ln, user) for cyc, kind, addr, ln, _, user in self.events if kind == "ar"]
