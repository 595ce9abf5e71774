"""The byte stream between reader and writer, and the queue that (re)aligns it."""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
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
        }
        if not pack:
            members["want"] = In(range(data_width // 8 + 1))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        dw, nb = self._dw, self._dw // 8
        hold = Signal(2 * dw)                    # queued bytes, oldest in lane 0; zero above level
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
        m.d.comb += [self.o.payload.data.eq(hold[:dw]), self.o.payload.count.eq(count)]

        taken = self.o.valid & self.o.ready
        take = Signal(range(nb + 1))
        m.d.comb += take.eq(Mux(taken, count, 0))
        after = Signal(range(2 * nb + 1))
        m.d.comb += after.eq(level - take)
        shifted = Signal(2 * dw)
        m.d.comb += shifted.eq(Array(hold >> (8 * k) for k in range(nb + 1))[take])

        if self._pack:
            open_ = ~hold_end | (taken & self.o.payload.last)
        else:
            open_ = ~hold_end
        m.d.comb += self.i.ready.eq((after <= nb) & open_)
        accept = self.i.valid & self.i.ready
        incoming = Signal(dw)
        m.d.comb += incoming.eq(self.i.payload.data & byte_mask(self.i.payload.count, nb))
        placed = Signal(2 * dw)
        m.d.comb += placed.eq(Array(Cat(Const(0, 8 * k), incoming) for k in range(nb + 1))[after])

        with m.If(self.clear):
            m.d.sync += [hold.eq(0), level.eq(0), hold_end.eq(0)]
        with m.Else():
            m.d.sync += [
                hold.eq(shifted | Mux(accept, placed, 0)),
                level.eq(after + Mux(accept, self.i.payload.count, 0)),
            ]
            with m.If(accept & self.i.payload.last):
                m.d.sync += hold_end.eq(1)
            if self._pack:
                with m.Elif(taken & self.o.payload.last):
                    m.d.sync += hold_end.eq(0)
        return m
