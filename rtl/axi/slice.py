"""AXI4 register slice: a skid buffer on each chosen channel, so no combinational path crosses it."""

from amaranth.hdl import Cat, Module, Mux, Signal, Value
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..bus import CHANNELS, AXI4Signature, channel_payload, channel_ready, channel_valid

__all__ = ["AXI4RegisterSlice", "StreamRegisterSlice", "skid"]


def skid(m, name, i_valid, i_ready, i_payload, o_valid, o_ready, o_payload, clear=None):
    """A two-entry skid buffer from (i_valid, i_ready, i_payload) to (o_valid, o_ready,
    o_payload): full throughput, one cycle from input to output, ``i_ready`` and ``o_valid``
    from registers.  ``clear`` (optional) empties it, dropping a word taken in the same cycle.

    It is a two-slot FIFO whose free slots load the input every cycle: the wide registers'
    enables are their own slots' valid flags, so neither ``o_ready`` nor ``i_valid`` (often
    the ends of long paths) fans out to every bit; the output is a 2:1 mux of registers."""
    width = len(i_payload)
    slot = [Signal(width, name=f"{name}_slot{k}", reset_less=True) for k in range(2)]
    full = [Signal(name=f"{name}_full{k}") for k in range(2)]
    wr = Signal(name=f"{name}_wr")
    rd = Signal(name=f"{name}_rd")
    for k in range(2):
        with m.If(~full[k]):
            m.d.sync += slot[k].eq(i_payload)
    m.d.comb += [
        i_ready.eq(~Mux(wr, full[1], full[0])),
        o_valid.eq(Mux(rd, full[1], full[0])),
        o_payload.eq(Mux(rd, slot[1], slot[0])),
    ]
    take = i_valid & i_ready
    give = o_valid & o_ready
    for k in range(2):
        with m.If(take & (wr == k)):
            m.d.sync += full[k].eq(1)
        with m.Elif(give & (rd == k)):
            m.d.sync += full[k].eq(0)
    with m.If(take):
        m.d.sync += wr.eq(~wr)
    with m.If(give):
        m.d.sync += rd.eq(~rd)
    if clear is not None:
        with m.If(clear):
            m.d.sync += [full[0].eq(0), full[1].eq(0), wr.eq(0), rd.eq(0)]


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
