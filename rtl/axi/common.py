"""Small pieces shared by the AXI blocks."""

from amaranth.hdl import Cat, Signal

from ..bus import Burst

__all__ = ["next_beat_address", "size_bytes"]


def size_bytes(size):
    """Bytes per beat for an ``AxSIZE`` value (as an expression)."""
    return Cat(size == i for i in range(8)).as_unsigned()


def next_beat_address(m, addr, size, length, burst, width=12):
    """Address of the next beat of a burst (low ``width`` bits; bursts never cross 4 KiB,
    so the upper address bits of a burst are constant).  Handles INCR, FIXED and WRAP.

    Returns a Signal(width)."""
    nxt = Signal(width)
    step = Signal(width)
    aligned = Signal(width)
    m.d.comb += step.eq(size_bytes(size))
    # INCR advances from the size-aligned address (the first beat may be unaligned)
    m.d.comb += aligned.eq(addr[:width] & ~(step - 1))
    wrap_mask = Signal(width)
    m.d.comb += wrap_mask.eq(((length[:4] + 1) << size) - 1)  # WRAP len is 1, 3, 7 or 15
    with m.Switch(burst):
        with m.Case(Burst.FIXED):
            m.d.comb += nxt.eq(addr[:width])
        with m.Case(Burst.WRAP):
            m.d.comb += nxt.eq((addr[:width] & ~wrap_mask) | ((aligned + step) & wrap_mask))
        with m.Default():
            m.d.comb += nxt.eq(aligned + step)
    return nxt
