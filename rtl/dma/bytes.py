"""The byte stream between reader and writer, and the queue that (re)aligns it."""

from amaranth.hdl import Array, Cat, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Chunk", "ByteQueue", "byte_mask"]


def Chunk(data_width):
    """One word of the byte stream: ``count`` valid bytes from lane 0 of ``data``; ``last``
    marks the final word of a transfer."""
    return data.StructLayout({"data": data_width, "count": range(data_width // 8 + 1), "last": 1})


def byte_mask(count, nbytes):
    """Bit mask with the low ``count`` bytes set (``count`` in 0..nbytes)."""
    return Cat(*(Mux(count > k, 0xFF, 0x00) for k in range(nbytes)))


class ByteQueue(wiring.Component):
    """A queue of up to two words of bytes that turns chunks of any byte count into words of
    another shape.

    ``pack=True`` (read side): the output carries full words, except the final word of each
    transfer (``last``), which carries what is left; chunks of the next transfer wait until
    it has left, so an output word never mixes two transfers.

    ``pack=False`` (write side): the consumer asks for ``want`` bytes (1..W) per output word;
    the output is valid when that many bytes are queued.  After a chunk with ``last`` the
    input waits for ``clear``, which empties the queue at the end of a transfer (a stream
    operator may have produced more bytes than the destination takes).

    Members
    -------
    i : In(stream.Signature(Chunk(data_width)))
    o : Out(stream.Signature(Chunk(data_width)))
    want : In(range(W + 1))  (``pack=False`` only)
    clear : In(1)
        Empty the queue (wins over a simultaneous input).
    offset : In(range(W))
        The input chunk's bytes start at this byte lane of ``data`` (``offset + count <= W``),
        which saves the producer a barrel shifter.

    Throughput: one word in and one word out per cycle.  Latency: one cycle.
    """

    def __init__(self, *, data_width=64, pack):
        if data_width not in (32, 64, 128, 256):
            raise ValueError(f"data_width must be 32, 64, 128 or 256, not {data_width!r}")
        self._dw, self._pack = data_width, bool(pack)
        members = {
            "i": In(stream.Signature(Chunk(data_width))),
            "o": Out(stream.Signature(Chunk(data_width))),
            "clear": In(1),
            "offset": In(range(data_width // 8)),
        }
        if not pack:
            members["want"] = In(range(data_width // 8 + 1))
        super().__init__(members)

    def elaborate(self, platform):
        # A ring of 2W byte lanes with a read pointer: bytes never move once written.  Each
        # output byte is one 2W:1 lane mux and each lane picks its input byte with one W:1 mux,
        # instead of shifting the whole 2W-byte hold every cycle (a third of the logic).
        m = Module()
        nb = self._dw // 8
        lanes = [Signal(8, name=f"lane{j}") for j in range(2 * nb)]
        pbits = (2 * nb - 1).bit_length()
        rd = Signal(pbits)                       # lane of the oldest queued byte
        level = Signal(range(2 * nb + 1))
        hold_end = Signal()                      # the queued bytes end a transfer

        count = Signal(range(nb + 1))
        if self._pack:
            m.d.comb += [
                self.o.valid.eq((level >= nb) | (hold_end & (level != 0))),
                count.eq(Mux(level >= nb, nb, level)),
                self.o.payload.last.eq(hold_end & (level <= nb)),
            ]
        else:
            m.d.comb += [
                self.o.valid.eq((self.want != 0) & (level >= self.want)),
                count.eq(self.want),
            ]
        ring = Array(lanes)
        out_bytes = [Mux(level > k, ring[(rd + k)[:pbits]], 0) for k in range(nb)]   # zero above level
        m.d.comb += [self.o.payload.data.eq(Cat(*out_bytes)), self.o.payload.count.eq(count)]

        taken = self.o.valid & self.o.ready
        take = Signal(range(nb + 1))
        m.d.comb += take.eq(Mux(taken, count, 0))
        after = Signal(range(2 * nb + 1))
        m.d.comb += after.eq(level - take)

        if self._pack:
            open_ = ~hold_end | (taken & self.o.payload.last)
        else:
            open_ = ~hold_end
        m.d.comb += self.i.ready.eq((after <= nb) & open_)
        accept = self.i.valid & self.i.ready
        wr = Signal(pbits)                       # lane the first incoming byte lands in
        m.d.comb += wr.eq((rd + level)[:pbits])
        src_base = Signal(pbits)                 # the lane input byte 0 would land in
        m.d.comb += src_base.eq((wr - self.offset)[:pbits])
        incoming = Array(self.i.payload.data.word_select(k, 8) for k in range(nb))
        for j, lane in enumerate(lanes):
            index = Signal(pbits, name=f"lane{j}_index")
            m.d.comb += index.eq((j - wr)[:pbits])
            with m.If(accept & ~self.clear & (index < self.i.payload.count)):
                m.d.sync += lane.eq(incoming[(j - src_base)[:pbits - 1]])

        with m.If(self.clear):
            m.d.sync += [rd.eq(0), level.eq(0), hold_end.eq(0)]
        with m.Else():
            m.d.sync += [
                rd.eq((rd + take)[:pbits]),
                level.eq(after + Mux(accept, self.i.payload.count, 0)),
            ]
            with m.If(accept & self.i.payload.last):
                m.d.sync += hold_end.eq(1)
            if self._pack:
                with m.Elif(taken & self.o.payload.last):
                    m.d.sync += hold_end.eq(0)
        return m
