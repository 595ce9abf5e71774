"""AXI4 register slice: a skid buffer on each chosen channel, so no combinational path crosses it."""

from amaranth.hdl import Cat, Module, Mux, Signal, Value
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..bus import CHANNELS, AXI4Signature, channel_payload, channel_ready, channel_valid

__all__ = ["AXI4RegisterSlice", "StreamRegisterSlice", "skid"]


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


class StreamRegisterSlice(wiring.Component):
    """A skid buffer on a ``lib.stream`` of ``shape``: ``i`` -> ``o`` in one cycle at full
    throughput, every output (``i.ready`` included) from a register.  With ``clear=True`` a
    ``clear`` input empties it (a word offered in the same cycle is taken and dropped)."""

    def __init__(self, shape, *, clear=False):
        members = {"i": In(stream.Signature(shape)), "o": Out(stream.Signature(shape))}
        if clear:
            members["clear"] = In(1)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        skid(m, "s", self.i.valid, self.i.ready, Value.cast(self.i.payload), self.o.valid, self.o.ready,
             Value.cast(self.o.payload), clear=getattr(self, "clear", None))
        return m


class AXI4RegisterSlice(wiring.Component):
    """Registers ``channels`` (any of ``"aw", "w", "b", "ar", "r"``) between ``s`` (from the
    manager) and ``m`` (to the subordinate).  One cycle of latency per sliced channel, full
    throughput; responses keep their order (a slice is a FIFO per channel)."""

    def __init__(self, signature, *, channels=("aw", "w", "b", "ar", "r")):
        if not isinstance(signature, AXI4Signature):
            raise TypeError(f"signature must be an AXI4Signature, not {signature!r}")
        unknown = set(channels) - set(CHANNELS)
        if unknown:
            raise ValueError(f"unknown AXI channels {sorted(unknown)}")
        self._channels = tuple(channels)
        super().__init__({"s": In(signature), "m": Out(signature)})

    def elaborate(self, platform):
        m = Module()
        for ch, from_manager in CHANNELS.items():
            src, dst = (self.s, self.m) if from_manager else (self.m, self.s)
            sp, dp = channel_payload(src, ch), channel_payload(dst, ch)
            if ch in self._channels:
                skid(m, ch, channel_valid(src, ch), channel_ready(src, ch), Cat(*sp.values()),
                     channel_valid(dst, ch), channel_ready(dst, ch), Cat(*dp.values()))
            else:
                m.d.comb += [channel_valid(dst, ch).eq(channel_valid(src, ch)),
                             channel_ready(src, ch).eq(channel_ready(dst, ch))]
                m.d.comb += [d.eq(s) for s, d in zip(sp.values(), dp.values())]
        return m
