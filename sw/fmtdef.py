"""Memory format declarations: the single source of truth for in-memory structures.

A :class:`Struct` is an ordered list of bit fields packed least significant first (like an
Amaranth ``data.Struct``) and stored little-endian in memory.  A field is an unsigned or
signed integer, an enum, or another :class:`Struct` / :class:`Union`.  The RTL derives its
``data.StructLayout`` from the same object (``sgdma.rtl.formats.layout``); the driver packs
and unpacks with :meth:`Struct.pack` / :meth:`Struct.unpack`.  Pure Python: no Amaranth.
"""

from __future__ import annotations

import enum

__all__ = ["Int", "Struct", "Union", "Reserved"]


class Int:
    """An integer field: ``width`` bits, optionally ``signed`` or decoded as ``enum``."""

    def __init__(self, name, width, doc, *, signed=False, enum=None):
        if not name.isidentifier():
            raise ValueError(f"field name must be an identifier, not {name!r}")
        if not isinstance(width, int) or width < 1:
            raise ValueError(f"field {name}: width must be a positive integer, not {width!r}")
        self.name, self.width, self.doc, self.signed, self.enum = name, width, doc, signed, enum

    @property
    def reserved(self):
        return False

    def encode(self, value):
        if isinstance(value, enum.Enum):
            value = value.value
        value = int(value)
        lo, hi = (-(1 << (self.width - 1)), 1 << (self.width - 1)) if self.signed else (0, 1 << self.width)
        if not lo <= value < hi:
            raise ValueError(f"field {self.name}: {value!r} does not fit in {self.width} "
                             f"{'signed' if self.signed else 'unsigned'} bits")
        return value & ((1 << self.width) - 1)

    def decode(self, raw):
        if self.signed and raw >> (self.width - 1):
            raw -= 1 << self.width
        if self.enum is not None:
            try:
                return self.enum(raw)
            except ValueError:
                return raw
        return raw


class Reserved(Int):
    """Reserved bits: written as zero; a non-zero value read back is reported by ``check``."""

    def __init__(self, name, width):
        super().__init__(name, width, "reserved, must be zero")

    @property
    def reserved(self):
        return True


class _Aggregate:
    reserved = False

    def __init__(self, name, doc, members):
        self.name, self.doc, self.members = name, doc, tuple(members)
        if len({m.name for m in self.members}) != len(self.members):
            raise ValueError(f"{name}: duplicate member names")

    # A nested aggregate acts as a field of its parent.
    def encode(self, value):
        if isinstance(value, int):
            if not 0 <= value < (1 << self.width):
                raise ValueError(f"{self.name}: {value!r} does not fit in {self.width} bits")
            return value
        return self._encode_dict(value)

    def member(self, name):
        for m in self.members:
            if m.name == name:
                return m
        raise KeyError(f"{self.name} has no field {name!r}")

    @property
    def size(self):
        """Size in bytes (the width must be a whole number of bytes)."""
        if self.width % 8:
            raise ValueError(f"{self.name} is {self.width} bits, not a whole number of bytes")
        return self.width // 8

    def pack(self, values=None, **kw):
        """Bytes (little-endian) from a dict of field values; absent fields are zero."""
        values = dict(values or {}, **kw)
        return self.encode(values).to_bytes(self.size, "little")

    def unpack(self, data):
        """Dict of field values from ``size`` bytes."""
        data = bytes(data)
        if len(data) != self.size:
            raise ValueError(f"{self.name} is {self.size} bytes, not {len(data)}")
        return self.decode(int.from_bytes(data, "little"))


class Struct(_Aggregate):
    """Fields packed from bit 0 upwards in declaration order."""

    def __init__(self, name, doc, members):
        super().__init__(name, doc, members)
        self.offsets = {}
        bit = 0
        for m in self.members:
            self.offsets[m.name] = bit
            bit += m.width
        self.width = bit

    def _encode_dict(self, values):
        unknown = set(values) - {m.name for m in self.members}
        if unknown:
            raise KeyError(f"{self.name} has no field(s) {sorted(unknown)}")
        raw = 0
        for m in self.members:
            if m.name in values:
                if m.reserved and values[m.name]:
                    raise ValueError(f"{self.name}.{m.name} is reserved and must be zero")
                raw |= m.encode(values[m.name]) << self.offsets[m.name]
        return raw

    def decode(self, raw):
        out = {}
        for m in self.members:
            out[m.name] = m.decode((raw >> self.offsets[m.name]) & ((1 << m.width) - 1))
        return out

    def byte_offset(self, name):
        """Byte offset of a byte-aligned field (for docs and for partial writes)."""
        bit = self.offsets[name]
        if bit % 8:
            raise ValueError(f"{self.name}.{name} is not byte aligned")
        return bit // 8

    def reserved_bits(self, raw):
        """Mask of reserved bits that are set in ``raw`` (0 when the value is well formed)."""
        mask = 0
        for m in self.members:
            if m.reserved:
                mask |= ((1 << m.width) - 1) << self.offsets[m.name]
        return raw & mask


class Union(_Aggregate):
    """Members overlaid from bit 0; the width is that of the widest member."""

    def __init__(self, name, doc, members):
        super().__init__(name, doc, members)
        self.width = max(m.width for m in self.members)

    def _encode_dict(self, values):
        if len(values) != 1:
            raise ValueError(f"{self.name}: give exactly one of {[m.name for m in self.members]}")
        (name, value), = values.items()
        return self.member(name).encode(value)

    def decode(self, raw):
        return {m.name: m.decode(raw & ((1 << m.width) - 1)) for m in self.members}
