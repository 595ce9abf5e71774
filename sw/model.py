"""Reference model of the DMA engine: what every descriptor does to memory.

Pure Python, no simulator: the benches compare the RTL against it, and the driver's tests
use it to predict results.  Memory is anything with ``read(addr, n) -> bytes`` and
``write(addr, data)``; :class:`SparseMemory` is a simple one.
"""

from dataclasses import dataclass

from .formats import SG_ENTRY_SIZE, Descriptor, ErrorCode, Opcode, SgEntry, Status

__all__ = ["SparseMemory", "FlatMemory", "Outcome", "validate", "fragments", "execute"]


class SparseMemory:
    """Byte-addressed memory that reads zero where nothing was written."""

    def __init__(self):
        self.bytes = {}

    def read(self, addr, n):
        return bytes(self.bytes.get(addr + i, 0) for i in range(n))

    def write(self, addr, data):
        for i, b in enumerate(data):
            self.bytes[addr + i] = b


@dataclass
class Outcome:
    """A descriptor's completion as the engine reports it."""
    status: Status
    code: ErrorCode = ErrorCode.NONE
    bytes: int = 0


class Invalid(Exception):
    pass


def _sg_list(mem, addr, count):
    return [SgEntry.unpack(mem.read(addr + k * SG_ENTRY_SIZE, SG_ENTRY_SIZE)) for k in range(count)]


def validate(desc, mem, addr_width=32):
    """The :class:`ErrorCode` a descriptor (an unpacked :data:`Descriptor` dict) is rejected with,
    or ``None`` when it is well formed.  SG lists are read from ``mem``."""
    c = desc["control"]
    nd, sg = desc["params"]["nd_params"], desc["params"]["sg_params"]
    op = c["opcode"]
    wide = lambda a: a >> addr_width != 0  # noqa: E731
    ndim = c["ndim"]
    if op not in (Opcode.COPY, Opcode.FILL) or c["rsvd"] or desc["length"] == 0:
        return ErrorCode.INVALID
    if op == Opcode.FILL and c["src_sgl"]:
        return ErrorCode.INVALID
    if ndim >= 2 and (c["src_sgl"] or c["dst_sgl"] or nd["count0"] == 0 or (ndim == 3 and nd["count1"] == 0)):
        return ErrorCode.INVALID
    if (c["src_sgl"] or c["dst_sgl"]) and sg["rsvd"]:
        return ErrorCode.INVALID
    sides = []
    if op == Opcode.COPY:
        sides.append((c["src_sgl"], desc["src"], sg["src_count"]))
    sides.append((c["dst_sgl"], desc["dst"], sg["dst_count"]))
    for sgl, addr, count in sides:
        if wide(addr):
            return ErrorCode.INVALID
        if sgl:
            if count == 0 or addr % 16:
                return ErrorCode.INVALID
    for sgl, addr, count in sides:
        if sgl:
            entries = _sg_list(mem, addr, count)
            if any(e["len"] == 0 or e["flags"] or wide(e["addr"]) for e in entries):
                return ErrorCode.INVALID
            if sum(e["len"] for e in entries) != desc["length"]:
                return ErrorCode.INVALID
    return None


def fragments(desc, side, mem):
    """``[(addr, length)]`` of the ``"src"`` or ``"dst"`` side of a valid descriptor."""
    c = desc["control"]
    nd, sg = desc["params"]["nd_params"], desc["params"]["sg_params"]
    base, length = desc[side], desc["length"]
    if c[f"{side}_sgl"]:
        return [(e["addr"], e["len"]) for e in _sg_list(mem, base, sg[f"{side}_count"])]
    if c["ndim"] < 2:
        return [(base, length)]
    planes = nd["count1"] if c["ndim"] == 3 else 1
    out = []
    for p in range(planes):
        for r in range(nd["count0"]):
            out.append((base + p * nd[f"{side}_stride1"] + r * nd[f"{side}_stride0"], length))
    return out


def execute(desc, mem, addr_width=32):
    """Apply one descriptor to ``mem`` as the engine does; return its :class:`Outcome`.
    Addresses wrap at ``addr_width`` bits (N-D strides may step below zero)."""
    if isinstance(desc, (bytes, bytearray)):
        desc = Descriptor.unpack(desc)
    code = validate(desc, mem, addr_width)
    if code is not None:
        return Outcome(Status.ERROR, code, 0)
    mask = (1 << addr_width) - 1
    dst = fragments(desc, "dst", mem)
    total = sum(n for _, n in dst)
    if desc["control"]["opcode"] == Opcode.FILL:
        pattern = desc["src"].to_bytes(8, "little")
        data = (pattern * (total // 8 + 1))[:total]
    else:
        data = b"".join(mem.read(a & mask, n) for a, n in fragments(desc, "src", mem))
    pos = 0
    for a, n in dst:
        mem.write(a & mask, data[pos:pos + n])
        pos += n
    return Outcome(Status.DONE, ErrorCode.NONE, total & 0xFFFFFFFF)


class FlatMemory:
    """Byte-addressed memory backed by one bytearray (fast for megabytes): a shadow of a
    device memory of ``size`` bytes at ``base``."""

    def __init__(self, size, base=0):
        self.base, self.data = base, bytearray(size)

    def read(self, addr, n):
        a = addr - self.base
        if a < 0 or a + n > len(self.data):
            raise IndexError(f"[{addr:#x}, {addr + n:#x}) is outside the shadow memory")
        return bytes(self.data[a:a + n])

    def write(self, addr, data):
        a = addr - self.base
        if a < 0 or a + len(data) > len(self.data):
            raise IndexError(f"[{addr:#x}, {addr + len(data):#x}) is outside the shadow memory")
        self.data[a:a + len(data)] = data
