"""The write half of a channel: a dense byte stream -> AXI4 write bursts at destination fragments."""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ...sw.formats import ErrorCode
from ..bus import Resp
from .addrgen import GenCommand, shaped_bursts
from .bytes import ByteQueue, Chunk
from .common import SEQ_BITS, Queue, Tag, issue_gate, later_or_same, manager_signature, staged_error
from .reader import DoneCounts, ErrorInfo

__all__ = ["Writer", "WriteCommand", "StreamOp", "OpCommand"]


def OpCommand():
    return data.StructLayout({"fill": 1, "pattern": 64})


def WriteCommand(addr_width):
    return data.StructLayout({
        "gen": GenCommand(addr_width),
        "op": OpCommand(),
        "fence": 1,
        "irq": 1,
        "poison": 1,             # decode found this descriptor bad: report it, write nothing
        "code": 4,
        "addr": addr_width,
    })


def Done():
    return data.StructLayout({"tag": Tag(), "bytes": 32, "irq": 1})


class StreamOp(wiring.Component):
    """The stream operator slot between reader and writer.

    COPY passes the reader's words through (one transfer: up to and including ``last``).
    FILL produces the 64-bit pattern repeated (byte ``k`` of the transfer is byte ``k mod 8``
    of the pattern) until the writer signals ``end``.  Checksum and segmentation operators
    will sit here too; they see bytes, never addresses.

    Members: ``cmd`` (In stream of OpCommand, one per transfer), ``i`` (In Chunk stream),
    ``o`` (Out Chunk stream), ``end`` (In: the writer finished the transfer).
    """

    def __init__(self, *, data_width=64):
        self._dw = data_width
        super().__init__({
            "cmd": In(stream.Signature(OpCommand())),
            "i": In(stream.Signature(Chunk(data_width))),
            "o": Out(stream.Signature(Chunk(data_width))),
            "end": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        nb = self._dw // 8
        busy = Signal()
        op = Signal(OpCommand())
        m.d.comb += self.cmd.ready.eq(~busy)
        with m.If(self.cmd.valid & ~busy):
            m.d.sync += [op.eq(self.cmd.payload), busy.eq(1)]
        if nb >= 8:
            word = op.pattern.replicate(nb // 8)
            stride = 0
        else:
            phase = Signal()
            word = Mux(phase, op.pattern[32:], op.pattern[:32])
            stride = 1
        with m.If(busy & op.fill):
            m.d.comb += [self.o.valid.eq(1), self.o.payload.data.eq(word),
                         self.o.payload.count.eq(nb), self.o.payload.last.eq(0)]
            if stride:
                with m.If(self.o.ready):
                    m.d.sync += phase.eq(~phase)
            with m.If(self.end):
                m.d.sync += busy.eq(0)
                if stride:
                    m.d.sync += phase.eq(0)
        with m.Elif(busy):
            # pass the transfer's words; after its last one, wait for the writer's `end` so
            # that an `end` always belongs to the operator's own transfer
            passed = Signal()
            m.d.comb += [self.o.valid.eq(self.i.valid & ~passed), self.o.payload.eq(self.i.payload),
                         self.i.ready.eq(self.o.ready & ~passed)]
            with m.If(self.i.valid & self.i.ready & self.i.payload.last):
                m.d.sync += passed.eq(1)
            with m.If(self.end):
                m.d.sync += [busy.eq(0), passed.eq(0)]
        return m


class Writer(wiring.Component):
    """Writes each command's bytes (from ``i``) to its destination fragments.

    A write burst is issued only when all of its bytes have been received by the reader (for
    FILL, at once), so once its address is out its data follows at one beat per cycle and
    the shared write-data channel is never held waiting.  When every burst of a descriptor has
    its B response, ``done`` reports it with the bytes written.

    Members
    -------
    cmd : In(stream.Signature(WriteCommand))
    i : In(stream.Signature(Chunk)); op_cmd : Out(stream OpCommand); op_end : Out(1)
    bus : Out(AXI4Signature) — data writes; ``sg_bus`` — SG-list reads; ``AxUSER`` = the
        descriptor's channel.
    arrived, xfers : In — the reader's progress (bytes / whole transfers received).
    done : Out(stream.Signature(Done)) — descriptors whose data writes are all acknowledged.
    acked : Out(32) — bytes acknowledged so far of the oldest unfinished descriptor.
    done_seq, halt, halt_seq, halt_seq_next, stop : In — as for :class:`Reader`.
    error : Out(ErrorInfo) — first error: poisoned command (its own code), SG-list error,
        write response error.
    """

    def __init__(self, *, channels=1, addr_width=32, data_width=64, user_width=0, max_beats=256,
                 max_writes=32):
        self._aw, self._dw, self._uw = addr_width, data_width, user_width
        self._max_beats, self._max_writes = max_beats, max_writes
        super().__init__({
            "cmd": In(stream.Signature(WriteCommand(addr_width))),
            "i": In(stream.Signature(Chunk(data_width))),
            "op_cmd": Out(stream.Signature(OpCommand())),
            "op_end": Out(1),
            "bus": Out(manager_signature(addr_width, data_width, user_width)),
            "sg_bus": Out(manager_signature(addr_width, data_width, user_width)),
            "arrived": In(32), "xfers": In(SEQ_BITS),
            "done": Out(stream.Signature(Done())),
            "acked": Out(32),
            "done_seq": In(DoneCounts(channels)),
            "halt": In(1), "halt_seq": In(SEQ_BITS), "stop": In(1), "halt_seq_next": In(SEQ_BITS),
            "error": Out(ErrorInfo(addr_width)),
        })

    def elaborate(self, platform):
        m = Module()
        aw, dw, nb = self._aw, self._dw, self._dw // 8
        lane_bits = (nb - 1).bit_length()
        bus = self.bus
        err = self.error
        m.d.comb += [bus.arvalid.eq(0), bus.rready.eq(1)]

        gen, split, held, tag_of, o_held = shaped_bursts(m, self, addr_width=aw, data_width=dw,
                                                 user_width=self._uw, max_beats=self._max_beats)

        # -- commands --------------------------------------------------------------------------
        # per transfer: is it a FILL (its bytes need no reader), in issue order.  Buffered:
        # the flag the issue test looks at is a register (a transfer's first burst reaches
        # the splitter's output cycles after its command, so the queue's two cycles cost
        # nothing)
        m.submodules.kind_q = kind_q = Queue(1, 4, buffered=True)
        c = self.cmd.payload
        fence_ok = ~c.fence | (self.done_seq[c.gen.tag.ch] == c.gen.tag.lseq)
        go = self.cmd.valid & ~c.poison & fence_ok & ~held(c.gen.tag) & ~err.valid
        m.submodules.op_q = op_q = Queue(OpCommand(), 4)
        wiring.connect(m, op_q.o, wiring.flipped(self.op_cmd))
        m.d.comb += [
            gen.cmd.payload.eq(c.gen),
            op_q.i.payload.eq(c.op),
            kind_q.i.payload.eq(c.op.fill),
            gen.cmd.valid.eq(go & op_q.i.ready & kind_q.i.ready),
            op_q.i.valid.eq(go & gen.cmd.ready & kind_q.i.ready),
            kind_q.i.valid.eq(go & gen.cmd.ready & op_q.i.ready),
            self.cmd.ready.eq(go & gen.cmd.ready & op_q.i.ready & kind_q.i.ready),
        ]
        # the per-descriptor irq flag travels with the B bookkeeping of its last burst
        m.submodules.irq_q = irq_q = Queue(1, 4)
        m.d.comb += [irq_q.i.payload.eq(c.irq), irq_q.i.valid.eq(self.cmd.ready & self.cmd.valid)]
        # a poisoned descriptor is reported when it reaches the writer, i.e. after every
        # earlier descriptor has been handed to the data path
        with m.If(self.cmd.valid & c.poison & ~err.valid):
            m.d.sync += [err.valid.eq(1), err.code.eq(c.code), err.addr.eq(c.addr), err.tag.eq(c.gen.tag)]

        # -- issue: only when the burst's bytes are all here ----------------------------------
        burst = split.o.payload
        tag = tag_of(burst)          # the descriptor of the burst being issued
        fill = kind_q.o.payload
        committed = Signal(32)
        wxfers = Signal(SEQ_BITS)
        # a COPY burst may go when its transfer has arrived whole, or when the bytes received
        # but not yet committed to a burst, less one word, cover it.  That last test is made
        # a cycle ahead into a register (`covers`), so that no adder or compare sits on the
        # issue path: for the burst the splitter shows next cycle (the one after it if this
        # one goes now, or the one arriving if it shows none), with this cycle's commit
        # subtracted.  An underestimate, as `arrived` only grows.
        base = Signal(32)
        m.d.comb += base.eq(self.arrived - committed)
        covers = Signal()
        # (and whether a whole transfer has arrived that no burst has finished yet: also a
        # register, for the count after this cycle's issue; `xfers` only grows)
        whole = Signal()
        avail = fill | whole | covers
        w_layout = data.StructLayout({"offset": lane_bits or 1, "bytes": 13, "len": 8, "xlast": 1})
        b_layout = data.StructLayout({"addr": aw, "bytes": 13, "last": 1, "tag": Tag(), "irq": 1})
        m.submodules.w_q = w_q = Queue(w_layout, self._max_writes)
        m.submodules.b_q = b_q = Queue(b_layout, self._max_writes)
        m.submodules.done_q = done_q = Queue(Done(), self._max_writes)
        can = split.o.valid & kind_q.o.valid & avail & w_q.i.ready & b_q.i.ready & irq_q.o.valid
        valid = issue_gate(m, can, bus.awready, o_held, "aw")
        aw_hs = Signal()
        m.d.comb += [
            bus.awvalid.eq(valid),
            bus.awid.eq(0),
            bus.awaddr.eq(burst.addr & ~(nb - 1)),
            bus.awlen.eq(burst.len),
            bus.awsize.eq(lane_bits),
            aw_hs.eq(bus.awvalid & bus.awready),
            split.o.ready.eq(aw_hs),
            w_q.i.valid.eq(aw_hs),
            w_q.i.payload.offset.eq(burst.addr[:lane_bits] if lane_bits else 0),
            w_q.i.payload.bytes.eq(burst.bytes),
            w_q.i.payload.len.eq(burst.len),
            w_q.i.payload.xlast.eq(burst.last),
            b_q.i.valid.eq(aw_hs),
            b_q.i.payload.addr.eq(burst.addr),
            b_q.i.payload.bytes.eq(burst.bytes),
            b_q.i.payload.last.eq(burst.last),
            b_q.i.payload.tag.eq(tag),
            b_q.i.payload.irq.eq(irq_q.o.payload),
            kind_q.o.ready.eq(aw_hs & burst.last),
            irq_q.o.ready.eq(aw_hs & burst.last),
        ]
        if self._uw:
            m.d.comb += bus.awuser.eq(tag.ch)
        nxt = split.o_next
        m.d.sync += covers.eq(Mux(aw_hs, Mux(fill, base, base - burst.bytes) >= nxt.bytes + nb,
                                  base >= Mux(split.o.valid, burst.bytes, nxt.bytes) + nb))
        m.d.sync += whole.eq(Mux(aw_hs & ~fill & burst.last, self.xfers != (wxfers + 1)[:SEQ_BITS],
                                 self.xfers != wxfers))
        with m.If(aw_hs & ~fill):
            m.d.sync += committed.eq(committed + burst.bytes)
            with m.If(burst.last):
                m.d.sync += wxfers.eq(wxfers + 1)

        # -- write data: take each beat's bytes from the queue, place them at their lanes ----
        m.submodules.unpack = unpack = ByteQueue(data_width=dw, pack=False)
        wiring.connect(m, wiring.flipped(self.i), unpack.i)
        # the burst being written sits in registers with its next beat's byte count and lane
        # offset precomputed: the write channel's handshake is a few gates from registers
        wb = w_q.o.payload
        cur = Signal(w_layout)
        cur_valid = Signal()
        rem = Signal(13)               # bytes of the burst after the current beat
        beat = Signal(8)
        count = Signal(range(nb + 1))  # bytes of the current beat
        offset = Signal(lane_bits or 1)
        final = Signal()
        m.d.comb += [
            unpack.want.eq(Mux(cur_valid, count, 0)),
            unpack.offset.eq(offset),
            bus.wvalid.eq(cur_valid & unpack.o.valid),
            unpack.o.ready.eq(cur_valid & bus.wready),
            # lanes without strobe carry zero: W stays stable while the queue fills behind it
            bus.wdata.eq(unpack.o.payload.data),
            bus.wstrb.eq(Cat(count > k for k in range(nb)) << offset),
            bus.wlast.eq(final),
        ]
        w_hs = bus.wvalid & bus.wready
        load = ~cur_valid | (w_hs & final)
        m.d.comb += w_q.o.ready.eq(load)
        with m.If(load):
            first_room = nb - wb.offset
            m.d.sync += [cur_valid.eq(w_q.o.valid), cur.eq(wb), beat.eq(0), final.eq(wb.len == 0),
                         offset.eq(wb.offset),
                         count.eq(Mux(wb.bytes < first_room, wb.bytes, first_room)),
                         rem.eq(wb.bytes - Mux(wb.bytes < first_room, wb.bytes, first_room))]
        with m.Elif(w_hs):
            m.d.sync += [beat.eq(beat + 1), final.eq(beat + 1 == cur.len), offset.eq(0),
                         count.eq(Mux(rem < nb, rem, nb)), rem.eq(rem - Mux(rem < nb, rem, nb))]
        # the transfer's last beat: drop what an operator produced beyond it
        m.d.comb += [unpack.clear.eq(w_hs & final & cur.xlast), self.op_end.eq(unpack.clear)]

        # -- write responses (always accepted) -------------------------------------------------
        be = b_q.o.payload
        m.d.comb += [bus.bready.eq(1), b_q.o.ready.eq(bus.bvalid)]
        ok = bus.bresp == Resp.OKAY
        m.d.comb += [done_q.i.payload.tag.eq(be.tag), done_q.i.payload.bytes.eq(self.acked + be.bytes),
                     done_q.i.payload.irq.eq(be.irq)]
        b_failed = Signal()     # after a failed write nothing later completes
        # a failed response is taken into registers and weighed against the error on record
        # in the next cycle (the response and the B queue's output do not reach the error's
        # flip-flops); `b_failed` is set at once
        staged_error(m, err, bus.bvalid & ~b_failed & ~ok,
                     Mux(bus.bresp == Resp.DECERR, ErrorCode.WRITE_DECERR, ErrorCode.WRITE_SLVERR),
                     be.addr, be.tag, lambda seq: later_or_same(err.tag.seq, seq))
        with m.If(bus.bvalid & ~b_failed):
            with m.If(ok):
                m.d.sync += self.acked.eq(Mux(be.last, 0, self.acked + be.bytes))
                m.d.comb += done_q.i.valid.eq(be.last)
            with m.Else():
                m.d.sync += b_failed.eq(1)
        wiring.connect(m, done_q.o, wiring.flipped(self.done))
        return m
