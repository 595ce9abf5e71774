"""The read half of a channel: source fragments -> AXI4 read bursts -> a dense byte stream."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ...sw.formats import ErrorCode
from ..axi.slice import StreamRegisterSlice
from ..bus import Resp
from .addrgen import GenCommand, shaped_bursts
from .bytes import ByteQueue, Chunk
from .common import (SEQ_BITS, Queue, Tag, idle_manager, issue_gate, later_or_same, manager_signature,
                     reserve_count, staged_error)

__all__ = ["Reader", "ReadCommand", "ErrorInfo", "DoneCounts"]


def ReadCommand(addr_width):
    return data.StructLayout({"gen": GenCommand(addr_width), "fence": 1})


def ErrorInfo(addr_width):
    """A sticky error report: ``code`` is an :class:`~sgdma.sw.formats.ErrorCode` value,
    ``tag`` the failing descriptor's :func:`~.common.Tag`."""
    return data.StructLayout({"valid": 1, "code": 4, "addr": addr_width, "tag": Tag()})


def DoneCounts(channels):
    """Descriptors completed, per channel (what a FENCE waits for)."""
    return data.ArrayLayout(SEQ_BITS, channels)


class Reader(wiring.Component):
    """Reads each command's source and delivers its bytes, densely packed, on ``o``.

    A read burst is issued only when the data buffer has room for all of its beats (counted
    from the burst's issue until the beat leaves the buffer), so read data is always accepted
    and no backpressure pattern downstream can deadlock the bus.

    Members
    -------
    cmd : In(stream.Signature(ReadCommand))
    o : Out(stream.Signature(Chunk)) — full words, a transfer's remainder with ``last``.
    bus : Out(AXI4Signature) — data reads; ``sg_bus`` — SG-list reads; ``AxUSER`` = the
        descriptor's channel.
    arrived : Out(32) — bytes received without error, cumulative (modular): the bytes of
        descriptors before the reported error, if any; counted a cycle after their beat.
    xfers : Out(SEQ_BITS) — transfers whose every byte has been received without error.
    done_seq : In(DoneCounts(channels)) — descriptors completed per channel (a FENCE command
        waits until its channel's count is its own ``lseq``).
    halt_seq, halt : In — with ``halt``, requests of descriptors at or after ``halt_seq`` (the
        mover's order) are held back (outstanding ones complete); ``stop`` holds back every
        request.  ``halt_seq_next``: ``halt_seq`` a cycle ahead (the D of the register that
        drives it), so that the issue gate compares from registers.
    error : Out(ErrorInfo) — the earliest read error (READ_SLVERR / READ_DECERR / SGL_ERR /
        INVALID).

    Throughput: one burst per cycle (single-beat bursts included), one beat per cycle.
    ``buffer_slice``: a register slice between the data buffer's block RAM and the packing
    byte queue (a cycle of latency; for clock speed).
    """

    def __init__(self, *, channels=1, addr_width=32, data_width=64, user_width=0, max_beats=256,
                 buffer_beats=512, max_reads=64, buffer_slice=False):
        if buffer_beats < max_beats:
            raise ValueError(f"buffer_beats ({buffer_beats}) must hold one whole burst ({max_beats})")
        self._aw, self._dw, self._uw = addr_width, data_width, user_width
        self._max_beats, self._buf, self._max_reads = max_beats, buffer_beats, max_reads
        self._buffer_slice = bool(buffer_slice)
        super().__init__({
            "cmd": In(stream.Signature(ReadCommand(addr_width))),
            "o": Out(stream.Signature(Chunk(data_width))),
            "bus": Out(manager_signature(addr_width, data_width, user_width)),
            "sg_bus": Out(manager_signature(addr_width, data_width, user_width)),
            "arrived": Out(32),
            "xfers": Out(SEQ_BITS),
            "done_seq": In(DoneCounts(channels)),
            "halt": In(1), "halt_seq": In(SEQ_BITS), "stop": In(1),
            "halt_seq_next": In(SEQ_BITS),
            "error": Out(ErrorInfo(addr_width)),
        })

    def elaborate(self, platform):
        m = Module()
        aw, dw, nb = self._aw, self._dw, self._dw // 8
        lane_bits = (nb - 1).bit_length()
        bus = self.bus
        idle_manager(m, bus)

        gen, split, held, tag_of, o_held = shaped_bursts(m, self, addr_width=aw, data_width=dw,
                                                 user_width=self._uw, max_beats=self._max_beats)

        # commands: a FENCE waits until every earlier descriptor of its channel has completed
        ctag = self.cmd.payload.gen.tag
        fence_ok = ~self.cmd.payload.fence | (self.done_seq[ctag.ch] == ctag.lseq)
        m.d.comb += [
            gen.cmd.payload.eq(self.cmd.payload.gen),
            gen.cmd.valid.eq(self.cmd.valid & fence_ok & ~held(ctag)),
            self.cmd.ready.eq(gen.cmd.ready & fence_ok & ~held(ctag)),
        ]

        # -- issue, with the buffer reserved for every beat ---------------------------------
        burst = split.o.payload
        tag = tag_of(burst)          # the descriptor of the burst being issued
        info_layout = data.StructLayout({"addr": aw, "bytes": 13, "last": 1, "tag": Tag()})
        m.submodules.info_q = info_q = Queue(info_layout, self._max_reads)
        used = Signal(range(self._buf + 1))
        pop = Signal()
        room = Signal()
        take = bus.arvalid & bus.arready
        with_burst = reserve_count(m, used, burst.len + 1, take, pop)
        # the room test is made a cycle ahead into a register, off the issue path: for the
        # count after this cycle's issue and pop and the burst the splitter shows next cycle
        # (each case from registers; the handshakes only select)
        nxt_len = split.o_next.len
        stay_len = Mux(split.o.valid, burst.len, nxt_len)       # if none is issued now
        m.d.sync += room.eq(Mux(take, Mux(pop, with_burst + nxt_len <= self._buf,
                                          with_burst + nxt_len + 1 <= self._buf),
                                Mux(pop, used + stay_len <= self._buf,
                                    used + stay_len + 1 <= self._buf)))
        valid = issue_gate(m, split.o.valid & room & info_q.i.ready, bus.arready, o_held, "ar")
        m.d.comb += [
            bus.arvalid.eq(valid),
            bus.arid.eq(0),
            bus.araddr.eq(burst.addr & ~(nb - 1)),
            bus.arlen.eq(burst.len),
            bus.arsize.eq(lane_bits),
            split.o.ready.eq(take),
            info_q.i.valid.eq(take),
            info_q.i.payload.addr.eq(burst.addr),
            info_q.i.payload.bytes.eq(burst.bytes),
            info_q.i.payload.last.eq(burst.last),
            info_q.i.payload.tag.eq(tag),
        ]
        if self._uw:
            m.d.comb += bus.aruser.eq(tag.ch)

        # -- receive: shape each beat (first-byte lane, byte count) ------------------------
        beat_layout = data.StructLayout({"data": dw, "offset": lane_bits or 1, "count": range(nb + 1),
                                         "last": 1})
        m.submodules.buf = buf = Queue(beat_layout, self._buf, buffered=True)
        info = info_q.o.payload
        first = Signal(init=1)
        rem = Signal(13)
        beat_addr = Signal(aw)
        cur_rem = Mux(first, info.bytes, rem)
        cur_addr = Mux(first, info.addr, beat_addr)
        offset = Signal(lane_bits or 1)
        m.d.comb += offset.eq(Mux(first, info.addr[:lane_bits], 0) if lane_bits else 0)
        count = Signal(range(nb + 1))
        m.d.comb += count.eq(Mux(cur_rem < nb - offset, cur_rem, nb - offset))
        beat = bus.rvalid    # rready is always 1
        m.d.comb += [
            bus.rready.eq(1),
            buf.i.valid.eq(beat),
            buf.i.payload.data.eq(bus.rdata),
            buf.i.payload.offset.eq(offset),
            buf.i.payload.count.eq(count),
            buf.i.payload.last.eq(info.last & bus.rlast),
            info_q.o.ready.eq(beat & bus.rlast),
        ]
        with m.If(beat):
            # (a burst never crosses 4 KiB: the next beat's address steps in the page offset)
            m.d.sync += [first.eq(bus.rlast), rem.eq(cur_rem - count), beat_addr.eq(cur_addr),
                         beat_addr[:12].eq((cur_addr[:12] & ~(nb - 1)) + nb)]
        # the first error of the earliest failing descriptor wins; bytes of descriptors
        # before it still count (they may arrive after an SG-list error of a later
        # descriptor was reported).  A failed beat is staged in registers and weighed against
        # the error on record in the next cycle, so the response and the info queue's output
        # do not reach the error's ~70 flip-flops
        err = self.error
        staged_error(
            m, err, beat & (bus.rresp != Resp.OKAY),
            Mux(bus.rresp == Resp.DECERR, ErrorCode.READ_DECERR, ErrorCode.READ_SLVERR), cur_addr,
            info.tag, lambda seq: ~later_or_same(seq, err.tag.seq))
        # whether a good beat's bytes count is decided a cycle later, from registers: the beat
        # (its byte count, descriptor, whether it ends the transfer) is staged, and counts
        # unless an error at or before its descriptor is on record or staged by then.  The
        # sequence-number compares start from flip-flops, not from the info queue's LUT RAM
        # and the R channel.  The counts keep their latency (the staging takes the cycle the
        # old registered increment took); a beat of a descriptor an error is reported for in
        # that cycle does not count (its descriptor fails: its bytes are never written)
        s_ok = Signal()
        s_count = Signal(range(nb + 1), reset_less=True)
        s_seq = Signal(SEQ_BITS, reset_less=True)
        s_end = Signal(reset_less=True)
        m.d.sync += [s_ok.eq(beat & (bus.rresp == Resp.OKAY)), s_count.eq(count), s_seq.eq(info.tag.seq),
                     s_end.eq(info.last & bus.rlast)]
        # (a failed beat before the staged one is on record by now: `staged_error` records it
        # two cycles after it arrived)
        good = Signal()      # the staged beat's bytes count
        m.d.comb += good.eq(s_ok & (~err.valid | ~later_or_same(s_seq, err.tag.seq)))
        m.d.sync += [self.arrived.eq(self.arrived + Mux(good, s_count, 0)),
                     self.xfers.eq(self.xfers + (good & s_end))]

        # -- pack ------------------------------------------------------------------------------
        m.submodules.pack = pack = ByteQueue(data_width=dw, pack=True)
        # a word leaving the buffer frees its reservation a cycle later (a register): the
        # room test and the reservation count select on flip-flops only, never on the
        # byte packer's handshake behind the buffer
        m.d.sync += pop.eq(buf.o.valid & buf.o.ready)
        words = buf.o
        if self._buffer_slice:
            m.submodules.buf_slice = words = StreamRegisterSlice(beat_layout)
            wiring.connect(m, buf.o, words.i)
            words = words.o
        m.d.comb += [
            pack.i.valid.eq(words.valid),
            pack.i.payload.data.eq(words.payload.data),
            pack.offset.eq(words.payload.offset),
            pack.i.payload.count.eq(words.payload.count),
            pack.i.payload.last.eq(words.payload.last),
            words.ready.eq(pack.i.ready),
        ]
        wiring.connect(m, pack.o, wiring.flipped(self.o))
        return m
