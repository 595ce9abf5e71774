"""AXI4 register slice: a skid buffer (or, where half the throughput will do, a single register) on
each chosen channel, so no combinational path crosses it -- or, where the consumer's ``ready``
is a register anyway, a forward register (payload and valid registered, ``ready`` passed
through)."""

from amaranth.hdl import Cat, Module, Mux, Signal, Value
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..bus import (CHANNELS, AXI4LiteSignature, AXI4Signature, channel_payload, channel_ready,
                   channel_valid)

__all__ = ["AXI4RegisterSlice", "StreamRegisterSlice", "skid", "half_skid", "forward_register"]


def skid(m, name, i_valid, i_ready, i_payload, o_valid, o_ready, o_payload, clear=None):
    """A two-entry skid buffer from (i_valid, i_ready, i_payload) to (o_valid, o_ready,
    o_payload): full throughput, every output and ``i_ready`` driven by a register.
    ``clear`` (optional) empties it, dropping a word taken in the same cycle.  Returns the
    word ``o_payload`` shows in the next cycle if it moves (a handshake, or empty now)."""
    width = len(i_payload)
    # the words are reset-less: only the valid flags are reset, so a reset reaches a few
    # flip-flops, not every bit of every slice
    out = Signal(width, name=f"{name}_out", reset_less=True)
    out_valid = Signal(name=f"{name}_out_valid")
    spare = Signal(width, name=f"{name}_spare", reset_less=True)
    spare_valid = Signal(name=f"{name}_spare_valid")
    m.d.comb += [i_ready.eq(~spare_valid), o_valid.eq(out_valid), o_payload.eq(out)]
    take = i_valid & ~spare_valid
    # the spare word follows the input while it is empty: its clock enable is its own flag (a
    # register), not the consumer's `o_ready` fanned out to every bit
    with m.If(~spare_valid):
        m.d.sync += spare.eq(i_payload)
    with m.If(o_ready | ~out_valid):
        with m.If(spare_valid):
            m.d.sync += [out.eq(spare), out_valid.eq(1), spare_valid.eq(0)]
        with m.Else():
            m.d.sync += [out.eq(i_payload), out_valid.eq(take)]
    with m.Elif(take):
        m.d.sync += spare_valid.eq(1)
    if clear is not None:
        with m.If(clear):
            m.d.sync += [out_valid.eq(0), spare_valid.eq(0)]
    return Mux(spare_valid, spare, i_payload)


def half_skid(m, name, i_valid, i_ready, i_payload, o_valid, o_ready, o_payload):
    """A one-entry register from (i_valid, i_ready, i_payload) to (o_valid, o_ready,
    o_payload): every output and ``i_ready`` driven by a register like :func:`skid`, at half
    its throughput (a word every other cycle) and without its word-wide multiplexer: the
    word follows the input while empty (its clock enable is its own flag) and holds while
    full.  For a channel that carries a word every few cycles at most."""
    out = Signal(len(i_payload), name=f"{name}_out", reset_less=True)
    full = Signal(name=f"{name}_full")
    m.d.comb += [i_ready.eq(~full), o_valid.eq(full), o_payload.eq(out)]
    with m.If(~full):
        m.d.sync += [out.eq(i_payload), full.eq(i_valid)]
    with m.Elif(o_ready):
        m.d.sync += full.eq(0)


def forward_register(m, name, i_valid, i_ready, i_payload, o_valid, o_ready, o_payload):
    """A one-entry register from (i_valid, i_ready, i_payload) to (o_valid, o_ready,
    o_payload) at full throughput: the output and its valid are registers, but ``i_ready``
    is ``o_ready`` (or empty) -- the backward path passes through, one gate.  No word-wide
    multiplexer and no spare word (a :func:`skid` has both: a LUT and a flip-flop per bit
    more): for a consumer whose ``ready`` comes from its own flip-flops (a queue's room)."""
    out = Signal(len(i_payload), name=f"{name}_out", reset_less=True)
    out_valid = Signal(name=f"{name}_out_valid")
    free = ~out_valid | o_ready
    m.d.comb += [i_ready.eq(free), o_valid.eq(out_valid), o_payload.eq(out)]
    with m.If(free):
        m.d.sync += [out.eq(i_payload), out_valid.eq(i_valid)]


class StreamRegisterSlice(wiring.Component):
    """A skid buffer on a ``lib.stream`` of ``shape``: ``i`` -> ``o`` in one cycle at full
    throughput, every output (``i.ready`` included) from a register.  With ``clear=True`` a
    ``clear`` input empties it (a word offered in the same cycle is taken and dropped).
    With ``half_rate=True`` it is a :func:`half_skid` register instead (a word every other
    cycle; no ``clear``); with ``forward=True`` a :func:`forward_register` (no ``clear``)."""

    def __init__(self, shape, *, clear=False, half_rate=False, forward=False):
        if clear and (half_rate or forward):
            raise ValueError("a half-rate or forward slice has no clear")
        if half_rate and forward:
            raise ValueError("a slice is half_rate or forward, not both")
        self._half, self._forward = bool(half_rate), bool(forward)
        members = {"i": In(stream.Signature(shape)), "o": Out(stream.Signature(shape))}
        if clear:
            members["clear"] = In(1)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        ports = (self.i.valid, self.i.ready, Value.cast(self.i.payload), self.o.valid, self.o.ready,
                 Value.cast(self.o.payload))
        if self._half:
            half_skid(m, "s", *ports)
        elif self._forward:
            forward_register(m, "s", *ports)
        else:
            skid(m, "s", *ports, clear=getattr(self, "clear", None))
        return m


class AXI4RegisterSlice(wiring.Component):
    """Registers ``channels`` (any of ``"aw", "w", "b", "ar", "r"``) between ``s`` (from the
    manager) and ``m`` (to the subordinate).  One cycle of latency per sliced channel;
    responses keep their order (a slice is a FIFO per channel).  Full throughput (a
    :func:`skid` buffer), except on the channels in ``half_rate`` (a subset of
    ``channels``): a :func:`half_skid` register, a word every other cycle, for channels that
    carry little (the address channels of a descriptor fetcher, say) -- about one LUT per
    bit less -- and the channels in ``forward``: a :func:`forward_register`, full
    throughput, a LUT and a flip-flop per bit less, but the channel's ``ready`` passes
    through (for a subordinate whose ``ready`` is a register).  ``signature`` is an AXI4 or
    an AXI4-Lite one."""

    def __init__(self, signature, *, channels=("aw", "w", "b", "ar", "r"), half_rate=(), forward=()):
        if not isinstance(signature, (AXI4Signature, AXI4LiteSignature)):
            raise TypeError(f"signature must be an AXI4Signature or AXI4LiteSignature, not {signature!r}")
        unknown = (set(channels) | set(half_rate) | set(forward)) - set(CHANNELS)
        if unknown:
            raise ValueError(f"unknown AXI channels {sorted(unknown)}")
        for what, chosen in (("half_rate", half_rate), ("forward", forward)):
            if not set(chosen) <= set(channels):
                raise ValueError(f"{what} channels {sorted(set(chosen) - set(channels))} are not "
                                 f"sliced (channels={tuple(channels)})")
        if set(half_rate) & set(forward):
            raise ValueError(f"channels {sorted(set(half_rate) & set(forward))} are both half_rate "
                             f"and forward")
        self._channels, self._half, self._forward = tuple(channels), tuple(half_rate), tuple(forward)
        super().__init__({"s": In(signature), "m": Out(signature)})

    def elaborate(self, platform):
        m = Module()
        for ch, from_manager in CHANNELS.items():
            src, dst = (self.s, self.m) if from_manager else (self.m, self.s)
            sp, dp = channel_payload(src, ch), channel_payload(dst, ch)
            if ch in self._channels:
                buffer = (half_skid if ch in self._half else
                          forward_register if ch in self._forward else skid)
                buffer(m, ch, channel_valid(src, ch), channel_ready(src, ch), Cat(*sp.values()),
                       channel_valid(dst, ch), channel_ready(dst, ch), Cat(*dp.values()))
            else:
                m.d.comb += [channel_valid(dst, ch).eq(channel_valid(src, ch)),
                             channel_ready(src, ch).eq(channel_ready(dst, ch))]
                m.d.comb += [d.eq(s) for s, d in zip(sp.values(), dp.values())]
        return m
