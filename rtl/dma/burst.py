"""Split address fragments into legal AXI4 INCR bursts."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Fragment", "Burst", "BurstSplitter", "split_bursts"]


def Fragment(addr_width):
    """``(addr, length)`` of a run of bytes; ``last`` marks the end of a transfer."""
    return data.StructLayout({"addr": addr_width, "length": 32, "last": 1})


def Burst(addr_width):
    """One AXI burst: ``addr`` (byte address, may be unaligned), ``beats - 1`` as ``len``,
    ``bytes`` it carries, ``last`` on the final burst of a transfer."""
    return data.StructLayout({"addr": addr_width, "len": 8, "bytes": 13, "last": 1})


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

    Members
    -------
    i : In(stream.Signature(Fragment(addr_width)))
    o : Out(stream.Signature(Burst(addr_width)))

    Throughput: one burst per cycle; a fragment of n bursts occupies ``i`` for n cycles.
    """

    def __init__(self, *, addr_width=32, data_width=64, max_beats=256):
        if data_width not in (32, 64, 128, 256):
            raise ValueError(f"data_width must be 32, 64, 128 or 256, not {data_width!r}")
        if not isinstance(max_beats, int) or not 1 <= max_beats <= 256 or max_beats & (max_beats - 1):
            raise ValueError(f"max_beats must be a power of two in 1..256, not {max_beats!r}")
        self._aw, self._wb, self._max = addr_width, data_width // 8, max_beats
        super().__init__({
            "i": In(stream.Signature(Fragment(addr_width))),
            "o": Out(stream.Signature(Burst(addr_width))),
        })

    def elaborate(self, platform):
        m = Module()
        wb, lane_bits = self._wb, (self._wb - 1).bit_length()
        busy = Signal()
        addr = Signal(self._aw)
        left = Signal(32)
        cur_addr = Mux(busy, addr, self.i.payload.addr)
        cur_left = Mux(busy, left, self.i.payload.length)

        offset = Signal(lane_bits)
        to_4k = Signal(13)
        room = Signal(13)
        chunk = Signal(13)
        m.d.comb += [
            offset.eq(cur_addr[:lane_bits]),
            to_4k.eq(4096 - cur_addr[:12]),
            room.eq(self._max * wb - offset),
        ]
        cap = Mux(to_4k < room, to_4k, room)
        m.d.comb += chunk.eq(Mux(cur_left < cap, cur_left, cap))
        final = Signal()
        m.d.comb += final.eq(chunk == cur_left)

        m.d.comb += [
            self.o.valid.eq(self.i.valid & (cur_left != 0)),
            self.o.payload.addr.eq(cur_addr),
            self.o.payload.bytes.eq(chunk),
            self.o.payload.len.eq(((offset + chunk + wb - 1) >> lane_bits) - 1),
            self.o.payload.last.eq(final & self.i.payload.last),
        ]
        advance = self.o.valid & self.o.ready
        # the fragment is consumed with its final burst (or at once when it is empty)
        m.d.comb += self.i.ready.eq((advance & final) | (self.i.valid & (cur_left == 0)))
        with m.If(advance):
            m.d.sync += [busy.eq(~final), addr.eq(cur_addr + chunk), left.eq(cur_left - chunk)]
        return m
