"""Amaranth layouts of the declared memory formats (see :mod:`sgdma.sw.fmtdef`)."""

from amaranth.hdl import signed, unsigned
from amaranth.lib import data

from ..sw.fmtdef import Int, Struct, Union

__all__ = ["layout"]

_cache = {}


def layout(fmt):
    """The ``data.StructLayout`` / ``data.UnionLayout`` of a declared format: same fields, same
    bit positions as the driver's :meth:`~sgdma.sw.fmtdef.Struct.pack`."""
    if id(fmt) in _cache:
        return _cache[id(fmt)]
    if isinstance(fmt, Int):
        result = signed(fmt.width) if fmt.signed else unsigned(fmt.width)
    elif isinstance(fmt, Struct):
        result = data.StructLayout({m.name: layout(m) for m in fmt.members})
    elif isinstance(fmt, Union):
        result = data.UnionLayout({m.name: layout(m) for m in fmt.members})
    else:
        raise TypeError(f"not a declared format: {fmt!r}")
    _cache[id(fmt)] = result
    return result
