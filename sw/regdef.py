"""Register declarations: the single source of truth for every MMIO register.

A :class:`RegisterBlock` lists :class:`Register`\\ s, each with :class:`Field`\\ s.  A
:class:`RegisterMap` places blocks at base addresses (optionally as an array of identical
instances, e.g. one block per DMA channel).  From one map come:

* the AXI4-Lite register bank RTL (``sgdma.rtl.regbank``),
* the driver's named field access (:class:`sgdma.sw.device.Registers`),
* the Markdown register reference and the C header (:mod:`sgdma.sw.gen`).

This module is pure Python: the driver imports it without Amaranth.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Access", "Field", "Register", "RegisterBlock", "RegisterMap", "Placement"]


class Access(enum.Enum):
    """How software and hardware may touch a field.

    * ``R``: read-only to software; hardware drives the value.
    * ``W``: write-only to software (reads as zero); hardware sees the value and the write strobe.
    * ``RW``: storage written by software, read back by software, seen by hardware.
    * ``RW1C``: status set by hardware, cleared by software writing a 1.
    * ``RW1S``: set by software writing a 1 (e.g. a start bit), cleared by hardware.
    """
    R = "R"
    W = "W"
    RW = "RW"
    RW1C = "RW1C"
    RW1S = "RW1S"

    @property
    def sw_readable(self):
        return self is not Access.W

    @property
    def sw_writable(self):
        return self is not Access.R


def _check_name(kind, name):
    if not isinstance(name, str) or not name.isidentifier() or name != name.lower():
        raise ValueError(f"{kind} name must be a lower-case identifier, not {name!r}")


@dataclass(frozen=True)
class Field:
    """One field of a register: ``width`` bits at bit ``offset`` (assigned by the register
    when ``offset`` is None: fields pack from bit 0 upwards in declaration order)."""
    name: str
    width: int
    access: Access
    doc: str
    reset: int = 0
    offset: int | None = None
    enum: type[enum.IntEnum] | None = None

    def __post_init__(self):
        _check_name("field", self.name)
        if not isinstance(self.width, int) or self.width < 1:
            raise ValueError(f"field {self.name}: width must be a positive integer, not {self.width!r}")
        if not isinstance(self.access, Access):
            raise TypeError(f"field {self.name}: access must be an Access, not {self.access!r}")
        if not isinstance(self.reset, int) or not 0 <= self.reset < (1 << self.width):
            raise ValueError(f"field {self.name}: reset {self.reset!r} does not fit in {self.width} bits")
        if self.access is Access.R and self.reset:
            raise ValueError(f"field {self.name}: a read-only field is driven by hardware "
                             f"and has no reset value")

    @property
    def mask(self):
        return ((1 << self.width) - 1) << self.offset


@dataclass(frozen=True)
class Register:
    """A 32- or 64-bit register at a byte ``offset`` within its block.

    64-bit registers are accessed as two 32-bit halves; a write takes effect when the upper
    half is written (the lower half is held until then), and reading the lower half latches
    the upper half so that a 64-bit value is read consistently low-then-high.
    """
    name: str
    offset: int
    doc: str
    fields: tuple[Field, ...]
    width: int = 32

    def __init__(self, name, offset, doc, fields, *, width=32):
        _check_name("register", name)
        if width not in (32, 64):
            raise ValueError(f"register {name}: width must be 32 or 64, not {width!r}")
        if not isinstance(offset, int) or offset < 0 or offset % (width // 8):
            raise ValueError(f"register {name}: offset must be a non-negative multiple of "
                             f"{width // 8}, not {offset!r}")
        placed, bit = [], 0
        for f in fields:
            if not isinstance(f, Field):
                raise TypeError(f"register {name}: fields must be Field, not {f!r}")
            offs = bit if f.offset is None else f.offset
            if offs < bit:
                raise ValueError(f"register {name}: field {f.name} overlaps the field before it")
            f = Field(f.name, f.width, f.access, f.doc, f.reset, offs, f.enum)
            bit = offs + f.width
            placed.append(f)
        if bit > width:
            raise ValueError(f"register {name}: fields use {bit} bits, more than its {width}")
        if len({f.name for f in placed}) != len(placed):
            raise ValueError(f"register {name}: duplicate field names")
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "offset", offset)
        object.__setattr__(self, "doc", doc)
        object.__setattr__(self, "fields", tuple(placed))
        object.__setattr__(self, "width", width)

    @property
    def reset(self):
        return sum(f.reset << f.offset for f in self.fields)

    @property
    def size(self):
        return self.width // 8

    def field(self, name):
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"register {self.name} has no field {name!r}")

    def pack(self, **values):
        """Register value from field values (unnamed fields take their reset value)."""
        value = self.reset
        for name, v in values.items():
            f = self.field(name)
            v = int(v)
            if not 0 <= v < (1 << f.width):
                raise ValueError(f"{self.name}.{name}: {v!r} does not fit in {f.width} bits")
            value = (value & ~f.mask) | (v << f.offset)
        return value

    def unpack(self, value):
        """Field values of a register value, enums decoded where declared."""
        out = {}
        for f in self.fields:
            v = (value >> f.offset) & ((1 << f.width) - 1)
            if f.enum is not None:
                try:
                    v = f.enum(v)
                except ValueError:
                    pass
            out[f.name] = v
        return out


@dataclass(frozen=True)
class RegisterBlock:
    """A named group of registers, laid out within ``size`` bytes."""
    name: str
    doc: str
    registers: tuple[Register, ...]
    size: int

    def __init__(self, name, doc, registers, *, size=None):
        _check_name("block", name)
        registers = tuple(registers)
        end = 0
        seen = set()
        for r in sorted(registers, key=lambda r: r.offset):
            if r.offset < end:
                raise ValueError(f"block {name}: register {r.name} overlaps the register before it")
            if r.name in seen:
                raise ValueError(f"block {name}: duplicate register {r.name}")
            seen.add(r.name)
            end = r.offset + r.size
        if size is None:
            size = 1 << max(end - 1, 1).bit_length()
        if size < end or size & (size - 1):
            raise ValueError(f"block {name}: size must be a power of two >= {end}, not {size!r}")
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "doc", doc)
        object.__setattr__(self, "registers", registers)
        object.__setattr__(self, "size", size)

    def register(self, name):
        for r in self.registers:
            if r.name == name:
                return r
        raise KeyError(f"block {self.name} has no register {name!r}")


@dataclass(frozen=True)
class Placement:
    """A block placed at ``base``; ``count`` instances ``stride`` bytes apart (count=None: one)."""
    block: RegisterBlock
    base: int
    count: int | None = None
    stride: int | None = None

    def __post_init__(self):
        if self.count is not None:
            stride = self.block.size if self.stride is None else self.stride
            if stride < self.block.size:
                raise ValueError(f"block {self.block.name}: stride {stride:#x} is smaller than the block")
            object.__setattr__(self, "stride", stride)
            if self.count < 1:
                raise ValueError(f"block {self.block.name}: count must be >= 1, not {self.count!r}")

    @property
    def instances(self):
        return 1 if self.count is None else self.count

    @property
    def end(self):
        if self.count is None:
            return self.base + self.block.size
        return self.base + self.stride * (self.count - 1) + self.block.size

    def base_of(self, index=None):
        if self.count is None:
            if index not in (None, 0):
                raise IndexError(f"block {self.block.name} is not an array")
            return self.base
        if not 0 <= index < self.count:
            raise IndexError(f"block {self.block.name} has {self.count} instances, no #{index}")
        return self.base + index * self.stride


class RegisterMap:
    """Register blocks at base addresses; the whole MMIO space of one device."""

    def __init__(self, name, doc, placements):
        self.name = name
        self.doc = doc
        self.placements = tuple(placements)
        spans = sorted(self.placements, key=lambda p: p.base)
        for a, b in zip(spans, spans[1:]):
            if a.end > b.base:
                raise ValueError(f"{name}: blocks {a.block.name} and {b.block.name} overlap")
        if len({p.block.name for p in self.placements}) != len(self.placements):
            raise ValueError(f"{name}: duplicate block names")

    @property
    def size(self):
        end = max(p.end for p in self.placements)
        return 1 << (end - 1).bit_length()

    def placement(self, name):
        for p in self.placements:
            if p.block.name == name:
                return p
        raise KeyError(f"{self.name} has no block {name!r}")

    def address(self, block, register, index=None):
        p = self.placement(block)
        return p.base_of(index) + p.block.register(register).offset

    def walk(self):
        """Yield ``(address, placement, index, register)`` for every register instance."""
        for p in self.placements:
            for i in range(p.instances):
                for r in p.block.registers:
                    yield p.base_of(i if p.count is not None else None) + r.offset, p, (
                        i if p.count is not None else None), r
