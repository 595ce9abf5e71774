"""Split address fragments into legal AXI4 INCR bursts."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..axi.slice import skid

__all__ = ["Fragment", "Burst", "BurstSplitter", "split_bursts"]


def Fragment(addr_width, tag_width=0):
    """``(addr, length)`` of a run of bytes; ``last`` marks the end of a transfer; ``tag``
    (``tag_width`` bits, e.g. the descriptor's sequence number) travels with it."""
    fields = {"addr": addr_width, "length": 32, "last": 1}
    if tag_width:
        fields["tag"] = tag_width
    return data.StructLayout(fields)


def Burst(addr_width, tag_width=0):
    """One AXI burst: ``addr`` (byte address, may be unaligned), ``beats - 1`` as ``len``,
    ``bytes`` it carries, ``last`` on the final burst of a transfer, its fragment's ``tag``."""
    fields = {"addr": addr_width, "len": 8, "bytes": 13, "last": 1}
    if tag_width:
        fields["tag"] = tag_width
    return data.StructLayout(fields)


def split_bursts(addr, length, data_bytes, max_beats):
    """Reference model: ``[(addr, len, bytes)]`` bursts for one fragment (none for length 0)."""
    out = []
    while length:
        offset = addr % data_bytes
        chunk = min(length, 4096 - addr % 4096, max_beats * data_bytes - offset)
        beats = -(-(offset + chunk) // data_bytes)
        out.append((addr, beats - 1, chunk))
        addr += chunk
        length -= chunk
    return out


class BurstSplitter(wiring.Component):
    """Turns fragments into bursts that never cross 4 KiB and never exceed ``max_beats``.

    A burst starts at the fragment's (any byte) address; its beats cover whole bus words, the
    first and last partially.  A fragment of length 0 produces no burst (a lone zero-length
    fragment with ``last`` still produces nothing: the consumer sees ``last`` on the previous
    burst only; upstream rejects zero-length transfers).

    Registers all the way: a skid buffer on ``i``, the fragment being cut, a skid buffer on ``o``.
    No combinational path crosses the splitter, so neither the burst arithmetic nor the
    consumer's handshake lengthens the path from a generator to the bus.

    Members
    -------
    i : In(stream.Signature(Fragment(addr_width, tag_width)))
    o : Out(stream.Signature(Burst(addr_width, tag_width)))
    o_next : Out(Burst(addr_width, tag_width)) — the burst ``o`` shows next if it moves (after
        its handshake, or when empty): a consumer can evaluate it a cycle ahead.

    Throughput: one burst per cycle for fragments of one burst; a fragment cut into several
    bursts gives one every other cycle (each but its last carries a 4 KiB boundary's worth or
    ``max_beats``).  Three cycles from a fragment on ``i`` to its first burst on ``o``.
    """

    def __init__(self, *, addr_width=32, data_width=64, max_beats=256, tag_width=0):
        if data_width not in (32, 64, 128, 256):
            raise ValueError(f"data_width must be 32, 64, 128 or 256, not {data_width!r}")
        if not isinstance(max_beats, int) or not 1 <= max_beats <= 256 or max_beats & (max_beats - 1):
            raise ValueError(f"max_beats must be a power of two in 1..256, not {max_beats!r}")
        if not isinstance(tag_width, int) or tag_width < 0:
            raise ValueError(f"tag_width must be a non-negative integer, not {tag_width!r}")
        self._aw, self._wb, self._max, self._tw = addr_width, data_width // 8, max_beats, tag_width
        super().__init__({
            "i": In(stream.Signature(Fragment(addr_width, tag_width))),
            "o": Out(stream.Signature(Burst(addr_width, tag_width))),
            "o_next": Out(Burst(addr_width, tag_width)),
        })

    def elaborate(self, platform):
        m = Module()
        wb, lane_bits = self._wb, (self._wb - 1).bit_length()
        max_bytes = self._max * wb
        # stage A: the fragment being cut, with the distance to the next 4 KiB boundary, the
        # room in a maximal burst and the smaller of the two (`cap`, the size of a burst that
        # does not end the fragment) kept in registers (set on entry, stepped per burst), so
        # a burst's size is one compare away from registers
        # (data registers are reset-less: `a_valid` says when they hold a fragment)
        a = Signal(Fragment(self._aw, self._tw), reset_less=True)
        a_valid = Signal()
        to_4k = Signal(range(4097), reset_less=True)
        cap = Signal(13, reset_less=True)
        offset = Signal(lane_bits)
        # `final`: the fragment's rest fits in one burst, a register too (set with A's
        # fields), so that the take of the next fragment waits for no compare.  After a cut
        # it is worked out in the next cycle, from A's new registers (`recheck`: A offers no
        # burst that cycle) -- a cut ends a burst of at least a 4 KiB boundary's worth or of
        # `max_beats`, so the idle cycle costs no bus time
        final = Signal()
        recheck = Signal()
        m.d.comb += offset.eq(a.addr[:lane_bits])

        def fits(length, room):
            return (length >> 13 == 0) & (length[:13] <= room)
        # beats - 1 = (offset + bytes - 1) / wb, for both candidate sizes at once
        len_cap = Signal(8)
        len_end = Signal(8)
        m.d.comb += [len_cap.eq((offset + cap - 1) >> lane_bits),
                     len_end.eq((offset + a.length[:13] - 1) >> lane_bits)]
        # stage B: the burst on `o`, a skid buffer: its input `ready` is a register, so the
        # consumer's handshake never reaches stage A's arithmetic in the same cycle
        burst = Signal(Burst(self._aw, self._tw))
        fields = [burst.addr.eq(a.addr), burst.bytes.eq(Mux(final, a.length[:13], cap)),
                  burst.len.eq(Mux(final, len_end, len_cap)), burst.last.eq(final & a.last)]
        if self._tw:
            fields.append(burst.tag.eq(a.tag))
        m.d.comb += fields
        b_ready = Signal()
        offer = a_valid & ~recheck
        m.d.comb += self.o_next.eq(skid(m, "burst", offer, b_ready, burst.as_value(), self.o.valid,
                                        self.o.ready, self.o.payload.as_value()))
        step = offer & b_ready
        with m.If(recheck):
            m.d.sync += [recheck.eq(0), final.eq(fits(a.length, cap))]
        with m.If(step):
            # (after a final burst A is reloaded or emptied -- the load below wins -- so
            # only a cut at `cap` steps it; the next burst starts at a word boundary, so its
            # room is a whole maximal burst)
            nxt_4k = Signal(range(4097))
            nxt_len = Signal(32)
            nxt_cap = Signal(13)
            m.d.comb += [nxt_4k.eq(Mux(to_4k == cap, 4096, to_4k - cap)), nxt_len.eq(a.length - cap),
                         nxt_cap.eq(Mux(nxt_4k < max_bytes, nxt_4k, max_bytes))]
            m.d.sync += [a.addr.eq(a.addr + cap), a.length.eq(nxt_len), to_4k.eq(nxt_4k),
                         cap.eq(nxt_cap), recheck.eq(1)]
        # fragments enter through a skid buffer (``i.ready`` is a register), then A takes one
        # when it is empty or cuts its final burst; an empty one is dropped
        nxt_valid, nxt_ready = Signal(), Signal()
        nxt = Signal(Fragment(self._aw, self._tw))
        skid(m, "frag", self.i.valid, self.i.ready, self.i.payload.as_value(), nxt_valid, nxt_ready,
             nxt.as_value())
        m.d.comb += nxt_ready.eq(~a_valid | (step & final))
        with m.If(nxt_ready):
            m.d.sync += [a_valid.eq(nxt_valid & (nxt.length != 0)), recheck.eq(0)]
            with m.If(nxt_valid):
                first_4k = 4096 - nxt.addr[:12]
                first_room = max_bytes - nxt.addr[:lane_bits]
                first_cap = Signal(13)
                m.d.comb += first_cap.eq(Mux(first_4k < first_room, first_4k, first_room))
                m.d.sync += [a.eq(nxt), to_4k.eq(first_4k), cap.eq(first_cap),
                             final.eq(fits(nxt.length, first_cap))]
        return m
