"""The byte stream between reader and writer, and the queue that (re)aligns it."""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Chunk", "ByteQueue"]


def Chunk(data_width):
    """One word of the byte stream: ``count`` valid bytes from lane 0 of ``data``; ``last``
    marks the final word of a transfer."""
    return data.StructLayout({"data": data_width, "count": range(data_width // 8 + 1), "last": 1})


class ByteQueue(wiring.Component):
    """A queue of up to two words of bytes that turns chunks of any byte count into words of
    another shape.

    ``pack=True`` (read side): input chunks carry ``count`` bytes from byte lane ``offset``
    (``offset + count <= W``, which saves the producer a barrel shifter); the output carries
    full words from lane 0, except the final word of each transfer (``last``), which carries
    what is left.  Chunks of the next transfer wait until it has left, so an output word never
    mixes two transfers.

    ``pack=False`` (write side): the input is dense words from lane 0 (every word full but a
    transfer's last).  The consumer asks for ``want`` bytes (0..W) at byte lane ``offset``
    (``offset + want <= W``): the output is valid when that many bytes are queued and carries
    them at lanes ``offset .. offset + want - 1``, zero elsewhere (so the data is stable while
    valid).  After a chunk with ``last`` the input waits for ``clear``, which empties the queue
    at the end of a transfer (a stream operator may have produced more bytes than the
    destination takes).

    Members
    -------
    i : In(stream.Signature(Chunk(data_width)))
    o : Out(stream.Signature(Chunk(data_width)))
    want : In(range(W + 1))  (``pack=False`` only)
    offset : In(range(W)) — the input's first lane (pack) or the output's (unpack).
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
            "offset": In(range(data_width // 8)),
        }
        if not pack:
            members["want"] = In(range(data_width // 8 + 1))
        super().__init__(members)

    def elaborate(self, platform):
        # Two words of byte lanes; stream byte p always sits in lane p mod W of one of them,
        # so bytes never move once written and one rotator per queue does all the aligning:
        # pack rotates its input into place and reads whole words, unpack writes whole words
        # and rotates its output to the asked-for lanes.  Each transfer starts at a word
        # boundary (pack: the next word after the previous transfer; unpack: `clear`).
        m = Module()
        nb = self._dw // 8
        lb = (nb - 1).bit_length()               # bits of a lane number
        # (lanes hold data only: reset-less, `level` says which are live)
        words = [[Signal(8, name=f"w{h}_lane{j}", reset_less=True) for j in range(nb)] for h in range(2)]
        rd = Signal(lb + 1)                      # stream position of the oldest byte, mod 2W
        level = Signal(range(2 * nb + 1))
        hold_end = Signal()                      # the queued bytes end a transfer
        rd_lane, rd_word = rd[:lb], rd[lb]

        def rotate(lanes, amount):
            """``out[k] = lanes[(k + amount) mod W]``"""
            arr = Array(lanes)
            return [arr[(k + amount)[:lb]] for k in range(nb)]

        count = Signal(range(nb + 1))
        taken = self.o.valid & self.o.ready
        wr = Signal(lb + 1)                      # stream position of the next incoming byte
        accept = self.i.valid & self.i.ready
        # the level after this cycle: what is left after a take is formed from registers, so
        # the consumer's handshake (the last thing known in a cycle) selects it and only the
        # input's count, a few bits wide, is added behind it.  (Selecting among all four sums
        # instead doubled the unpacker on ECP5, 573 -> 1,120 LUTs: ABC restructured its
        # lanes' enables around them)
        gone = Signal(range(2 * nb + 1))
        m.d.comb += gone.eq(level - count)
        level_next = Mux(taken, gone, level) + Mux(accept, self.i.payload.count, 0)

        if self._pack:
            # rd is always at a word boundary: whole words leave, and after a transfer's
            # last word the next transfer begins in the other word.  As for unpack, the
            # consumer's ready only chooses between room tests made from registers
            fits_now = Signal()
            fits_taken = Signal()
            m.d.comb += [
                self.o.valid.eq((level >= nb) | (hold_end & (level != 0))),
                count.eq(Mux(level >= nb, nb, level)),
                self.o.payload.last.eq(hold_end & (level <= nb)),
                self.o.payload.data.eq(Mux(rd_word, Cat(*words[1]), Cat(*words[0]))),
                self.o.payload.count.eq(count),
                wr.eq(Mux(hold_end, Cat(Const(0, lb), ~rd_word), rd + level)),
                fits_now.eq((level <= nb) & ~hold_end),
                fits_taken.eq((level - count <= nb) & (~hold_end | self.o.payload.last)),
                self.i.ready.eq(Mux(taken, fits_taken, fits_now)),
            ]
            incoming = rotate([self.i.payload.data.word_select(k, 8) for k in range(nb)],
                              self.offset - wr[:lb])
            for h in range(2):
                for j, lane in enumerate(words[h]):
                    # the lane's distance from the first incoming byte, in stream order
                    dist = Signal(lb + 1, name=f"w{h}_lane{j}_dist")
                    m.d.comb += dist.eq(h * nb + j - wr)
                    with m.If(accept & ~self.clear & (dist < self.i.payload.count)):
                        m.d.sync += lane.eq(incoming[j])
            with m.If(taken & self.o.payload.last):
                m.d.sync += rd.eq(Cat(Const(0, lb), ~rd_word))
            with m.Elif(taken):
                m.d.sync += rd.eq(rd + nb)
        else:
            # the input only ever writes whole words (wr is at a word boundary).  The consumer's
            # ready is the last thing known in a cycle: the input's ready and the word writes'
            # enables are decided by it from values ready beforehand (whether a word fits with
            # or without this cycle's take; `wr` a register of its own, = rd + level)
            fits_now = Signal()
            fits_taken = Signal()
            m.d.comb += [
                self.o.valid.eq((self.want != 0) & (level >= self.want)),
                count.eq(self.want),
                self.o.payload.count.eq(count),
                fits_now.eq(level <= nb),
                fits_taken.eq(level - self.want <= nb),
                self.i.ready.eq((fits_now | (taken & fits_taken)) & ~hold_end),
            ]
            with m.If(self.clear):
                m.d.sync += wr.eq(0)
            with m.Elif(accept):
                m.d.sync += wr.eq(wr + self.i.payload.count)
            for h in range(2):
                with m.If(accept & ~self.clear & (wr[lb] == h)):
                    m.d.sync += Cat(*words[h]).eq(self.i.payload.data)
            # the next W bytes at their own lanes (lanes below rd's are in the other word),
            # rotated so that byte rd lands at lane `offset`
            ahead = [Mux(j >= rd_lane, Mux(rd_word, words[1][j], words[0][j]),
                         Mux(rd_word, words[0][j], words[1][j])) for j in range(nb)]
            placed = rotate(ahead, rd_lane - self.offset)
            m.d.comb += self.o.payload.data.eq(Cat(*placed) & Cat(
                Mux((k >= self.offset) & (k < self.offset + self.want), 0xFF, 0) for k in range(nb)))
            with m.If(taken):
                m.d.sync += rd.eq(rd + count)

        with m.If(self.clear):
            m.d.sync += [rd.eq(0), level.eq(0), hold_end.eq(0)]
        with m.Else():
            m.d.sync += level.eq(level_next)
            with m.If(accept & self.i.payload.last):
                m.d.sync += hold_end.eq(1)
            if self._pack:
                with m.Elif(taken & self.o.payload.last):
                    m.d.sync += hold_end.eq(0)
        return m
