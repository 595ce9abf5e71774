"""The host driver: a :class:`Device` with an allocator and dmaengine-style channels.

    with Device("sim") as dev:                       # or "tcp://host:port", "serial:///dev/ttyUSB0?baud=3000000"
        src, dst = dev.alloc(4096), dev.alloc(4096)
        src.write(bytes(range(256)) * 16)
        chan = dev.channel(0)
        cookie = chan.prep_memcpy(dst, src, 4096, flags=INTERRUPT).submit()
        chan.issue_pending()
        chan.wait(cookie)                            # raises a DmaError subclass on failure
        assert dst.read() == src.read()

Everything is checked before it touches the hardware: lengths, buffer ownership (every byte
a descriptor touches lies in a live allocation), template shapes.  A bad argument raises
``ValueError``/``TypeError`` and submits nothing.
"""

import enum
import time
from dataclasses import dataclass

from .formats import (DESCRIPTOR_SIZE, SG_ENTRY_SIZE, Completion, Descriptor, ErrorCode, Opcode,
                      SgEntry, Status)
from .link import Link
from .memmap import MEMORY_BASE, REGISTERS_BASE
from .regmap import RegisterFile
from .registers import ID_MAGIC, ChannelState, register_map
from .transport import Transport, open_transport

__all__ = ["Device", "DmaChannel", "Buffer", "Allocator", "AllocationError", "Tx", "TxState", "Result",
           "TxResult", "InterleavedTemplate", "Chunk", "DmaError", "ReadError", "WriteError",
           "DescriptorError", "InvalidDescriptor", "AbortedError", "DmaTimeout", "INTERRUPT", "FENCE",
           "template_descriptors", "pack_descriptor", "model_execute", "Region"]

INTERRUPT = 1  #: DMA_PREP_INTERRUPT: raise the channel interrupt when this transaction completes
FENCE = 2      #: DMA_PREP_FENCE: later transactions of the channel start after this one's writes land

_COMPLETION_AT = Descriptor.byte_offset("completion")
_MAX_FIELD = (1 << 32) - 1


# ---------------------------------------------------------------- memory ----

class AllocationError(MemoryError):
    """Device memory exhausted (or a request that can never be met)."""


class Allocator:
    """First-fit allocator over ``[base, base + size)`` with power-of-two alignment."""

    def __init__(self, base, size):
        if size <= 0:
            raise ValueError(f"size must be positive, not {size!r}")
        self.base, self.size = base, size
        self._free = [(base, size)]       # sorted, coalesced
        self._used = {}                   # addr -> size

    def alloc(self, size, align=64):
        if not isinstance(size, int) or size <= 0:
            raise ValueError(f"allocation size must be a positive integer, not {size!r}")
        if not isinstance(align, int) or align <= 0 or align & (align - 1):
            raise ValueError(f"align must be a power of two, not {align!r}")
        for k, (start, length) in enumerate(self._free):
            addr = (start + align - 1) & ~(align - 1)
            if addr + size <= start + length:
                pieces = [(start, addr - start), (addr + size, start + length - addr - size)]
                self._free[k:k + 1] = [p for p in pieces if p[1] > 0]
                self._used[addr] = size
                return addr
        raise AllocationError(f"no {size} bytes (aligned to {align}) free in device memory "
                              f"({self.available()} bytes free in {len(self._free)} pieces)")

    def free(self, addr):
        try:
            size = self._used.pop(addr)
        except KeyError:
            raise ValueError(f"{addr:#x} is not an allocated block (double free?)") from None
        self._free.append((addr, size))
        self._free.sort()
        merged = []
        for start, length in self._free:
            if merged and merged[-1][0] + merged[-1][1] == start:
                merged[-1] = (merged[-1][0], merged[-1][1] + length)
            else:
                merged.append((start, length))
        self._free = merged

    def owner(self, addr, n):
        """The allocation containing ``[addr, addr + n)``, or None."""
        for start, size in self._used.items():
            if start <= addr and addr + n <= start + size:
                return start
        return None

    def available(self):
        return sum(length for _, length in self._free)


class Buffer:
    """A block of device memory (``dev.alloc``): ``addr``, ``size``, ``read``, ``write``, ``free``.

    ``buf[off:off + n]`` is a :class:`Region` (address + length) for the prep calls.
    """

    def __init__(self, dev, addr, size, owned=True):
        self.dev, self.addr, self.size, self._owned, self.freed = dev, addr, size, owned, False

    def _check(self, offset, n):
        if self.freed:
            raise ValueError(f"buffer at {self.addr:#x} was freed")
        if offset < 0 or n < 0 or offset + n > self.size:
            raise ValueError(f"[{offset}, {offset + n}) is outside the {self.size}-byte buffer")

    def read(self, offset=0, n=None):
        n = self.size - offset if n is None else n
        self._check(offset, n)
        return self.dev.link.read_bytes(self.addr + offset, n)

    def write(self, data, offset=0):
        self._check(offset, len(data))
        self.dev.link.write_bytes(self.addr + offset, data)

    def free(self):
        if self.freed:
            raise ValueError(f"buffer at {self.addr:#x} was already freed")
        if self._owned:
            self.dev.allocator.free(self.addr)
        self.freed = True

    def __len__(self):
        return self.size

    def __getitem__(self, key):
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError("index a buffer with a slice: buf[start:stop]")
        start, stop, _ = key.indices(self.size)
        return Region(self.addr + start, max(0, stop - start))

    def region(self):
        return Region(self.addr, self.size)

    def __repr__(self):
        return f"<Buffer {self.size} B at {self.addr:#x}{' (freed)' if self.freed else ''}>"


@dataclass(frozen=True)
class Region:
    """``length`` bytes at device address ``addr``."""
    addr: int
    length: int


# ---------------------------------------------------------------- results ----

class TxState(enum.Enum):
    """``tx_status`` states (dma_status)."""
    COMPLETE = "complete"
    IN_PROGRESS = "in_progress"
    PAUSED = "paused"
    ERROR = "error"


class Result(enum.Enum):
    """Callback results (dmaengine_tx_result)."""
    NOERROR = "noerror"
    READ_FAILED = "read_failed"
    WRITE_FAILED = "write_failed"
    ABORTED = "aborted"


@dataclass
class TxResult:
    result: Result
    residue: int
    record: dict = None          #: the failing descriptor's completion record
    descriptor: dict = None      #: the failing descriptor
    index: int = None            #: its ring index


class DmaError(IOError):
    """A transaction failed; ``.result`` (:class:`TxResult`), ``.code``, ``.addr`` say how."""

    def __init__(self, msg, result):
        super().__init__(msg)
        self.result = result
        rec = result.record or {}
        self.code = ErrorCode(rec["code"]) if rec else None
        self.addr = rec.get("addr")
        self.record, self.descriptor = result.record, result.descriptor


class ReadError(DmaError):
    """A data read got SLVERR/DECERR."""


class WriteError(DmaError):
    """A data write got SLVERR/DECERR."""


class DescriptorError(DmaError):
    """Fetching the descriptor or its SG list failed, or writing its completion record."""


class InvalidDescriptor(DmaError):
    """The engine rejected the descriptor (a driver bug, or memory changed under it)."""


class AbortedError(DmaError):
    """The transaction never ran: ``terminate_all``, or an earlier one in the channel failed."""


class DmaTimeout(TimeoutError):
    pass


_ERROR_CLASS = {
    ErrorCode.READ_SLVERR: (ReadError, Result.READ_FAILED),
    ErrorCode.READ_DECERR: (ReadError, Result.READ_FAILED),
    ErrorCode.WRITE_SLVERR: (WriteError, Result.WRITE_FAILED),
    ErrorCode.WRITE_DECERR: (WriteError, Result.WRITE_FAILED),
    ErrorCode.DESC_ERR: (DescriptorError, Result.READ_FAILED),
    ErrorCode.SGL_ERR: (DescriptorError, Result.READ_FAILED),
    ErrorCode.INVALID: (InvalidDescriptor, Result.ABORTED),
    ErrorCode.COMPLETION_ERR: (DescriptorError, Result.WRITE_FAILED),
}


# ---------------------------------------------------------------- templates ----

@dataclass(frozen=True)
class Chunk:
    """``data_chunk``: ``size`` bytes, then a gap (``icg``, or per side ``src_icg``/``dst_icg``)."""
    size: int
    icg: int = 0
    src_icg: int = 0
    dst_icg: int = 0


@dataclass(frozen=True)
class InterleavedTemplate:
    """``dma_interleaved_template``: ``numf`` frames of ``chunks``; addresses advance by each
    chunk's size and its gap on each side (gaps apply where ``*_sgl`` is set, or where a
    per-side gap is given; a side with ``*_inc`` false never advances)."""
    src_start: int
    dst_start: int
    numf: int
    chunks: tuple
    src_inc: bool = True
    dst_inc: bool = True
    src_sgl: bool = True
    dst_sgl: bool = True

    @property
    def frame_size(self):
        return len(self.chunks)


def _icg(inc, sgl, icg, side_icg):
    # dmaengine_get_icg()
    if inc:
        if side_icg:
            return side_icg
        if sgl:
            return icg
    return 0


def _s32(v):
    return -(1 << 31) <= v < (1 << 31)


def template_descriptors(t):
    """Descriptor field dicts (COPY, N-D where needed) that do what template ``t`` does.

    One descriptor when every chunk has the same size and gaps (or no gaps at all); one
    2-D descriptor per chunk position otherwise.  Raises ``ValueError`` for templates the
    engine cannot express (non-incrementing sides, strides beyond 32 bits signed).
    """
    if not isinstance(t, InterleavedTemplate):
        raise TypeError(f"expected an InterleavedTemplate, not {t!r}")
    if not t.src_inc or not t.dst_inc:
        raise ValueError("non-incrementing (device FIFO) sides cannot be expressed: every sgdma "
                         "transfer is memory to memory")
    if not isinstance(t.numf, int) or t.numf < 1 or not t.chunks:
        raise ValueError("a template needs numf >= 1 and at least one chunk")
    chunks = []
    for c in t.chunks:
        if not isinstance(c, Chunk):
            raise TypeError(f"chunks must be Chunk objects, not {c!r}")
        if c.size < 1 or min(c.icg, c.src_icg, c.dst_icg) < 0:
            raise ValueError(f"chunk {c}: size must be >= 1 and gaps >= 0")
        chunks.append((c.size, _icg(t.src_inc, t.src_sgl, c.icg, c.src_icg),
                       _icg(t.dst_inc, t.dst_sgl, c.icg, c.dst_icg)))
    if all(gs == 0 and gd == 0 for _, gs, gd in chunks):
        total = t.numf * sum(s for s, _, _ in chunks)
        return [_contig(t.src_start, t.dst_start, total)]
    if len(set(chunks)) == 1:
        size, gs, gd = chunks[0]
        rows = t.numf * len(chunks)
        return [_nd(t.src_start, t.dst_start, size, rows, size + gs, size + gd)]
    f_src = sum(s + gs for s, gs, _ in chunks)
    f_dst = sum(s + gd for s, _, gd in chunks)
    out, o_src, o_dst = [], 0, 0
    for size, gs, gd in chunks:
        out.append(_nd(t.src_start + o_src, t.dst_start + o_dst, size, t.numf, f_src, f_dst))
        o_src += size + gs
        o_dst += size + gd
    return out


def _contig(src, dst, length):
    if length > _MAX_FIELD:
        raise ValueError(f"{length} bytes exceed one descriptor's 32-bit length")
    return {"opcode": Opcode.COPY, "src": src, "dst": dst, "length": length}


def _nd(src, dst, length, rows, src_stride, dst_stride):
    if rows == 1:
        return _contig(src, dst, length)
    if not (_s32(src_stride) and _s32(dst_stride)) or rows > _MAX_FIELD or length > _MAX_FIELD:
        raise ValueError(f"strides {src_stride}/{dst_stride} or {rows} rows do not fit the N-D fields")
    return {"opcode": Opcode.COPY, "src": src, "dst": dst, "length": length, "ndim": 2,
            "nd": {"src_stride0": src_stride, "dst_stride0": dst_stride, "count0": rows, "count1": 1}}


def descriptor_regions(d):
    """``(reads, writes)``: the ``(addr, length)`` spans a descriptor dict touches."""
    if d.get("ndim", 0) >= 2:
        nd = d["nd"]
        planes = nd.get("count1", 1) if d["ndim"] == 3 else 1
        spans = {"src": [], "dst": []}
        for side in spans:
            for p in range(planes):
                for r in range(nd["count0"]):
                    spans[side].append((d[side] + p * nd.get(f"{side}_stride1", 0) +
                                        r * nd[f"{side}_stride0"], d["length"]))
        reads = spans["src"] if d["opcode"] == Opcode.COPY else []
        return reads, spans["dst"]
    reads = d.get("src_list") or ([(d["src"], d["length"])] if d["opcode"] == Opcode.COPY else [])
    writes = d.get("dst_list") or [(d["dst"], d["length"])]
    return reads, writes


def pack_descriptor(d, irq=0, fence=0):
    """The 64 ring bytes of descriptor dict ``d`` (as the prep calls build them)."""
    ctl = {"opcode": d["opcode"], "irq": irq, "fence": fence, "src_sgl": d.get("src_sgl", 0),
           "dst_sgl": d.get("dst_sgl", 0), "ndim": d.get("ndim", 0)}
    if d.get("ndim", 0) >= 2:
        params = {"nd_params": d["nd"]}
    else:
        params = {"sg_params": {"src_count": d.get("src_count", 0), "dst_count": d.get("dst_count", 0)}}
    return Descriptor.pack(src=d["src"] & ((1 << 64) - 1), dst=d["dst"], length=d["length"],
                           control=ctl, params=params)


def model_execute(tx, mem):
    """Apply transaction ``tx`` to a reference-model memory (:mod:`sgdma.sw.model`): SG lists
    are placed where the driver put them, then every descriptor runs through the model."""
    from .model import execute
    outcomes = []
    for d in tx.descs:
        for side in ("src", "dst"):
            if f"{side}_list" in d:
                mem.write(d[side], b"".join(SgEntry.pack(addr=a, len=n) for a, n in d[f"{side}_list"]))
        outcomes.append(execute(pack_descriptor(d), mem))
    return outcomes


# ---------------------------------------------------------------- transactions ----

class Tx:
    """A prepared transaction (``dma_async_tx_descriptor``): ``submit()`` returns its cookie;
    set ``callback`` to be called with a :class:`TxResult` when it finishes."""

    def __init__(self, chan, descs, flags, length, sg_blocks=()):
        self.chan, self.descs, self.flags, self.length = chan, descs, flags, length
        self.sg_blocks = list(sg_blocks)
        self.cookie = None
        self.callback = None
        self.result = None
        self.slots = []            # ring indices, once issued
        self.done_descs = 0
        self.bytes_done = 0

    def submit(self):
        if self.cookie is not None:
            raise RuntimeError(f"transaction already submitted as cookie {self.cookie}")
        return self.chan._submit(self)

    @property
    def residue(self):
        return self.length - self.bytes_done


class DmaChannel:
    """One DMA channel of a :class:`Device` (see the module example)."""

    def __init__(self, dev, index, ring_log2):
        self.dev, self.index = dev, index
        self.regs = dev.regs.channel[index]
        self.ring_size = 1 << ring_log2
        self.ring = dev.alloc(self.ring_size * DESCRIPTOR_SIZE, align=DESCRIPTOR_SIZE)
        self._next_cookie = 1
        self._submitted = []        # waiting for issue_pending
        self._queued = []           # issued, not yet in the ring (ring full)
        self._ring_txs = []         # in the ring, oldest first: (tx, first slot, count)
        self._by_cookie = {}
        self._tail = 0
        self._head = 0
        self._fence_next = False
        self.reset()

    # ---- hardware control ----
    def reset(self):
        """Soft-reset the channel and (re)program its ring; clears errors and interrupts."""
        r = self.regs
        r.control.write(enable=0, pause=0, reset=1)
        deadline = time.monotonic() + 10
        while r.status.state != ChannelState.IDLE:
            if time.monotonic() > deadline:
                raise DmaTimeout(f"channel {self.index} did not return to IDLE after reset")
        r.ring_base.write(addr=self.ring.addr)
        r.ring_size.write(log2=self.ring_size.bit_length() - 1)
        r.irq_status.write(done=1, error=1)
        head = r.head.index
        self._head = self._tail = head
        r.tail.write(index=head)
        r.irq_enable.write(done=1, error=1)
        r.coalesce.write(count=1, timeout=0)
        r.control.write(enable=1)
        self._fence_next = False       # nothing earlier is left to wait for

    def pause(self):
        """Start no new descriptor (in-flight ones finish); ``tx_status`` reports PAUSED."""
        self.regs.control.write(enable=1, pause=1)

    def resume(self):
        self.regs.control.write(enable=1, pause=0)

    def terminate_all(self):
        """Abort everything submitted, queued or running: they finish as ABORTED."""
        self.poll()
        pending = [tx for tx, _, _ in self._ring_txs] + self._queued + self._submitted
        self._ring_txs, self._queued, self._submitted = [], [], []
        self.reset()
        for tx in pending:
            self._finish(tx, TxResult(Result.ABORTED, tx.residue))

    # ---- preparing ----
    def _owned(self, spans, what):
        for addr, n in spans:
            if self.dev.allocator.owner(addr, n) is None and not self.dev._raw_owner(addr, n):
                raise ValueError(f"{what} [{addr:#x}, {addr + n:#x}) is not inside a buffer of this device")

    @staticmethod
    def _region(x, length=None, what="buffer"):
        if isinstance(x, Buffer):
            if x.freed:
                raise ValueError(f"{what} {x} was freed")
            x = x.region()
        if not isinstance(x, Region):
            raise TypeError(f"{what} must be a Buffer or a buffer slice, not {x!r}")
        if length is not None:
            if not isinstance(length, int) or length < 1:
                raise ValueError(f"length must be a positive integer, not {length!r}")
            if length > x.length:
                raise ValueError(f"{length} bytes do not fit the {x.length}-byte {what}")
            x = Region(x.addr, length)
        return x

    def _check(self, descs, flags):
        """What every transaction is checked for before anything is written: known flags, room
        in the ring, and every byte it reads or writes (SG fragments too) inside a buffer."""
        if flags & ~(INTERRUPT | FENCE):
            raise ValueError(f"unknown flags {flags:#x}: use INTERRUPT and FENCE")
        if len(descs) > self.ring_size - 1:
            raise ValueError(f"{len(descs)} descriptors do not fit a ring of {self.ring_size} "
                             f"(at most {self.ring_size - 1} in flight)")
        for d in descs:
            reads, writes = descriptor_regions(d)
            self._owned(reads, "source")
            self._owned(writes, "destination")

    def _tx(self, descs, flags, length):
        self._check(descs, flags)
        return Tx(self, descs, flags, length)

    def prep_memcpy(self, dst, src, length, flags=0):
        """Copy ``length`` bytes from ``src`` to ``dst`` (Buffers or slices, any alignment)."""
        src, dst = self._region(src, length, "source"), self._region(dst, length, "destination")
        return self._tx([_contig(src.addr, dst.addr, length)], flags, length)

    def prep_fill(self, dst, pattern, length, flags=0):
        """Fill ``length`` bytes of ``dst`` with ``pattern`` (an int byte, or 1/2/4/8 bytes)."""
        dst = self._region(dst, length, "destination")
        if isinstance(pattern, int):
            if not 0 <= pattern <= 255:
                raise ValueError(f"an int pattern is one byte, not {pattern!r}")
            pattern = bytes([pattern])
        pattern = bytes(pattern)
        if len(pattern) not in (1, 2, 4, 8):
            raise ValueError(f"pattern must be 1, 2, 4 or 8 bytes, not {len(pattern)}")
        value = int.from_bytes(pattern * (8 // len(pattern)), "little")
        return self._tx([{"opcode": Opcode.FILL, "src": value, "dst": dst.addr, "length": length}],
                        flags, length)

    def prep_sg(self, dst_sgl, src_sgl, flags=0):
        """Gather ``src_sgl`` into ``dst_sgl`` (lists of Buffers/slices, equal total length).
        Fragment boundaries on the two sides are independent."""
        lists = []
        for what, sgl in (("source", src_sgl), ("destination", dst_sgl)):
            if not sgl:
                raise ValueError(f"the {what} SG list is empty")
            lists.append([self._region(x, what=what) for x in sgl])
        src, dst = lists
        total = sum(r.length for r in src)
        if total != sum(r.length for r in dst):
            raise ValueError(f"SG lists disagree: {total} source bytes, {sum(r.length for r in dst)} "
                             f"destination bytes")
        if total > _MAX_FIELD or any(r.length < 1 for r in src + dst):
            raise ValueError("SG fragments must be >= 1 byte and total < 4 GiB")
        d = {"opcode": Opcode.COPY, "length": total}
        blocks = []
        for side, regions in (("src", src), ("dst", dst)):
            if len(regions) == 1:
                d[side] = regions[0].addr
            else:
                d[f"{side}_list"] = [(r.addr, r.length) for r in regions]
        self._check([d], flags)
        for side in ("src", "dst"):
            if f"{side}_list" in d:
                block = self.dev.alloc(len(d[f"{side}_list"]) * SG_ENTRY_SIZE, align=SG_ENTRY_SIZE)
                block.write(b"".join(SgEntry.pack(addr=a, len=n) for a, n in d[f"{side}_list"]))
                blocks.append(block)
                d[side] = block.addr
                d[f"{side}_sgl"] = 1
                d[f"{side}_count"] = len(d[f"{side}_list"])
        return Tx(self, [d], flags, total, blocks)

    def prep_interleaved(self, template, flags=0):
        """``dma_interleaved_template`` semantics (see :class:`InterleavedTemplate`)."""
        descs = template_descriptors(template)
        total = template.numf * sum(c.size for c in template.chunks)
        return self._tx(descs, flags, total)

    # ---- submitting ----
    def _submit(self, tx):
        tx.cookie = self._next_cookie
        self._next_cookie += 1
        self._submitted.append(tx)
        self._by_cookie[tx.cookie] = tx
        return tx.cookie

    def issue_pending(self):
        """Hand every submitted transaction to the engine (as many as the ring holds now;
        the rest follow as slots free up)."""
        self._queued += self._submitted
        self._submitted = []
        self._push()

    def _push(self):
        used = sum(n for _, _, n in self._ring_txs)
        wrote = False
        while self._queued and used + len(self._queued[0].descs) < self.ring_size:
            tx = self._queued.pop(0)
            first = self._tail
            raw = b""
            for k, d in enumerate(tx.descs):
                fence = int(k == 0 and self._fence_next)
                irq = int(k == len(tx.descs) - 1 and bool(tx.flags & INTERRUPT))
                raw += pack_descriptor(d, irq, fence)
            self._fence_next = bool(tx.flags & FENCE)
            # write slot by slot, wrapping at the end of the ring
            slot = first
            for k in range(len(tx.descs)):
                self.ring.write(raw[k * DESCRIPTOR_SIZE:(k + 1) * DESCRIPTOR_SIZE],
                                offset=(slot % self.ring_size) * DESCRIPTOR_SIZE)
                slot += 1
            tx.slots = [(first + k) % self.ring_size for k in range(len(tx.descs))]
            self._tail = (first + len(tx.descs)) % self.ring_size
            self._ring_txs.append((tx, first, len(tx.descs)))
            used += len(tx.descs)
            wrote = True
        if wrote:
            self.regs.tail.write(index=self._tail)

    # ---- completion ----
    def poll(self):
        """Collect finished descriptors (runs callbacks); returns the channel state."""
        if self.dev.link.irq >> self.index & 1:
            # acknowledge first, then look: a completion after this raises the line again
            self.dev.link.irq &= ~(1 << self.index)
            self.regs.irq_status.write(done=1, error=1)
        state = ChannelState(self.regs.status.state)
        head = self.regs.head.index
        while self._ring_txs and self._head != head:
            tx, first, count = self._ring_txs[0]
            slot = (first + tx.done_descs) % self.ring_size
            raw = self.ring.read(slot * DESCRIPTOR_SIZE + _COMPLETION_AT, Completion.size)
            rec = Completion.unpack(raw)
            self._head = (self._head + 1) % self.ring_size
            if rec["status"] == Status.DONE:
                tx.done_descs += 1
                tx.bytes_done += rec["bytes"]
                if tx.done_descs == count:
                    self._ring_txs.pop(0)
                    tx.bytes_done = tx.length
                    self._finish(tx, TxResult(Result.NOERROR, 0))
            else:
                self._fail(tx, slot, rec)
                return ChannelState(self.regs.status.state)
        if state == ChannelState.HALTED and self._ring_txs and self._head == head:
            # halted with the failed record still to read: read err registers
            tx, first, count = self._ring_txs[0]
            slot = (first + tx.done_descs) % self.ring_size
            rec = Completion.unpack(self.ring.read(slot * DESCRIPTOR_SIZE + _COMPLETION_AT, Completion.size))
            if rec["status"] != Status.ERROR:
                rec = {"status": Status.ERROR, "code": self.regs.err_code.code, "csum": 0, "bytes": 0,
                       "addr": self.regs.err_addr.addr}
            self._fail(tx, slot, rec)
            state = ChannelState(self.regs.status.state)
        self._push()
        return state

    def _fail(self, tx, slot, rec):
        code = ErrorCode(rec["code"])
        _, result = _ERROR_CLASS.get(code, (DmaError, Result.ABORTED))
        desc = Descriptor.unpack(self.ring.read(slot * DESCRIPTOR_SIZE, DESCRIPTOR_SIZE))
        tx.bytes_done += rec["bytes"]
        later = [t for t, _, _ in self._ring_txs[1:]] + self._queued
        self._ring_txs, self._queued = [], []
        # the engine halted: reset it, and abort everything after the failure (later work may
        # depend on it -- FENCE -- so it is never run behind the failed transaction's back)
        self.reset()
        self._finish(tx, TxResult(result, tx.residue, rec, desc, slot))
        for t in later:
            self._finish(t, TxResult(Result.ABORTED, t.residue))

    def _finish(self, tx, result):
        tx.result = result
        for block in tx.sg_blocks:
            if not block.freed:
                block.free()
        if tx.callback is not None:
            tx.callback(result)

    def _lookup(self, cookie):
        try:
            return self._by_cookie[cookie]
        except KeyError:
            raise ValueError(f"channel {self.index} never issued cookie {cookie!r}") from None

    def tx_status(self, cookie):
        """``(TxState, residue)`` of a submitted transaction."""
        tx = self._lookup(cookie)
        if tx.result is None:
            state = self.poll()
        if tx.result is not None:
            ok = tx.result.result == Result.NOERROR
            return (TxState.COMPLETE if ok else TxState.ERROR), tx.result.residue
        return (TxState.PAUSED if state == ChannelState.PAUSED else TxState.IN_PROGRESS), tx.residue

    def wait(self, cookie, timeout=30.0):
        """Wait for ``cookie`` to finish; return its :class:`TxResult` or raise its :class:`DmaError`."""
        tx = self._lookup(cookie)
        if tx in self._submitted:
            raise RuntimeError(f"cookie {cookie} was submitted but not issued: call issue_pending()")
        deadline = time.monotonic() + timeout
        interval = 0.001
        while tx.result is None:
            self.poll()
            if tx.result is not None:
                break
            left = deadline - time.monotonic()
            if left <= 0:
                raise DmaTimeout(f"channel {self.index}: cookie {cookie} not finished after {timeout} s")
            # sleep until an interrupt frame arrives, or poll again (backing off to 50 ms)
            self.dev.link.wait_irq(min(left, interval))
            interval = min(2 * interval, 0.05)
        r = tx.result
        if r.result == Result.NOERROR:
            return r
        if r.record is None:
            raise AbortedError(f"channel {self.index}: cookie {cookie} aborted before it ran", r)
        code = ErrorCode(r.record["code"])
        cls, _ = _ERROR_CLASS.get(code, (DmaError, None))
        raise cls(f"channel {self.index}: cookie {cookie} failed: {code.name} at {r.record['addr']:#x} "
                  f"(ring slot {r.index}, {r.record['bytes']} bytes written)", r)

    def cycles(self):
        """Cycles from the last doorbell to the last completion (the engine's timestamps)."""
        return (self.regs.done_cycle.cycle - self.regs.doorbell_cycle.cycle) & 0xFFFFFFFF


# ---------------------------------------------------------------- device ----

class _RegisterWindow:
    def __init__(self, link, base):
        self.link, self.base = link, base

    def read32(self, addr):
        return self.link.read32(self.base + addr)

    def write32(self, addr, value):
        self.link.write32(self.base + addr, value)


class Device:
    """An sgdma SoC behind a target URL (``sim``, ``tcp://host:port``, ``serial://...``), a
    :class:`~.transport.Transport` or a :class:`~.link.Link`.

    ``mem_size`` defaults to what the memory answers (probed: the first power of two whose
    last word answers DECERR).
    """

    def __init__(self, target="sim", *, mem_size=None, ring_log2=6, quiet=True, link_options=None):
        if isinstance(target, Link):
            self.link = target
        else:
            transport = target if isinstance(target, Transport) else open_transport(target, quiet=quiet)
            self.link = Link(transport, **(link_options or {}))
        self.regs_window = _RegisterWindow(self.link, REGISTERS_BASE)
        magic = self.regs_window.read32(0)
        if magic != ID_MAGIC:
            raise IOError(f"no sgdma engine at {REGISTERS_BASE:#x} (read {magic:#x})")
        cfg = register_map(1)
        config = RegisterFile(cfg, self.regs_window).system.config.fields()
        self.n_channels, self.data_bytes = config["channels"], config["data_bytes"]
        self.lite = bool(config["lite"])     # the sequential lite engine (rtl/dma/lite.py)
        # the engine's bus addresses: descriptors pointing at or above 2**addr_bits are
        # malformed (InvalidDescriptor); below it, an address nothing answers is a bus error
        self.addr_bits = config["addr_bits"]
        self.regmap = register_map(self.n_channels)
        self.regs = RegisterFile(self.regmap, self.regs_window)
        self.mem_size = mem_size or self._probe_memory()
        self.allocator = Allocator(MEMORY_BASE, self.mem_size)
        self._raw = []
        self._ring_log2 = ring_log2
        self._channels = {}
        self.link.irq_mask((1 << self.n_channels) - 1)

    def _probe_memory(self):
        from .link import BusError
        size = 4096
        while size < REGISTERS_BASE - MEMORY_BASE:
            try:
                self.link.read32(MEMORY_BASE + 2 * size - 4)
            except BusError:
                return size
            size *= 2
        return size

    def channel(self, index):
        if not isinstance(index, int) or not 0 <= index < self.n_channels:
            raise ValueError(f"channel must be 0..{self.n_channels - 1}, not {index!r}")
        if index not in self._channels:
            self._channels[index] = DmaChannel(self, index, self._ring_log2)
        return self._channels[index]

    def alloc(self, size, align=64):
        """A :class:`Buffer` of ``size`` bytes of device memory (``dma_alloc_coherent``)."""
        return Buffer(self, self.allocator.alloc(size, align), size)

    def unmapped(self, size=4096):
        """The address of ``size`` bytes the engine's bus reaches but nothing answers (its reads
        and writes are DECERR bus errors): 0x3000_0000 on a 32-bit bus, the top of a narrower
        one; None when the memory fills the bus."""
        addr = min(0x3000_0000, (1 << self.addr_bits) - size)
        return addr if addr >= MEMORY_BASE + self.mem_size else None

    def raw(self, addr, size):
        """A region the driver does not own -- for fault injection (e.g. :meth:`unmapped`).
        The driver trusts it: descriptors may point there."""
        buf = Buffer(self, addr, size, owned=False)
        self._raw.append(buf)
        return buf

    def _raw_owner(self, addr, n):
        return any(b.addr <= addr and addr + n <= b.addr + b.size and not b.freed for b in self._raw)

    @property
    def cycles(self):
        return self.regs.system.cycles.read()

    def close(self):
        self.link.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
