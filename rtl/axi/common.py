"""Small pieces shared by the AXI blocks."""

from amaranth.hdl import Cat, Mux, Signal

from ..bus import Burst

__all__ = ["next_beat_address", "round_robin", "size_bytes"]


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


def round_robin(m, offers, hold, name, *, index=False):
    """A one-hot round-robin grant over ``offers``, as a register (never empty): unless
    ``hold``, it moves to the lowest offering requester above the granted one, else to the
    lowest offering one; with no offer it stays.  A multiplexer selected by it is selected
    by flip-flops, and a lone requester keeps it (no cycle lost between its requests).
    With ``index`` also returns the grant's number, a register beside it, to index a wide
    multiplexer (measured on ECP5: a little smaller than a one-hot AND-OR for the engine's
    six-manager arbiter, the same for the four-channel command multiplexer)."""
    n = len(offers)
    grant = Signal(n, init=1, name=f"{name}_grant")
    above = Signal(n, name=f"{name}_above")
    nxt = Signal(n, name=f"{name}_next")
    m.d.comb += [above.eq(offers & Cat(grant[:k].any() for k in range(n))),
                 nxt.eq(Mux(above.any(), above & (~above + 1), offers & (~offers + 1)))]
    number = Signal(range(max(n, 2)), name=f"{name}_index")
    with m.If(offers.any() & ~hold):
        m.d.sync += grant.eq(nxt)
        m.d.sync += number.eq(Cat(Cat(nxt[k] for k in range(n) if k >> b & 1).any()
                                  for b in range(len(number))))
    return (grant, number) if index else grant
