"""The data mover the channels share: reader, stream operator, writer, in descriptor order."""

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..axi.arbiter import AXI4Arbiter
from ..axi.slice import AXI4RegisterSlice, StreamRegisterSlice
from .addrgen import Shape
from .bytes import Chunk
from .common import SEQ_BITS, Queue, Tag, later_or_same, quiet_port
from .reader import DoneCounts, ErrorInfo, ReadCommand, Reader
from .writer import Done, StreamOp, WriteCommand, Writer

__all__ = ["Mover", "MoverCommand"]


def Side(addr_width):
    """One side of a decoded descriptor: what its address generator needs beyond the fields
    both sides share (see :class:`~.addrgen.GenCommand`)."""
    return data.StructLayout({"kind": Shape, "addr": addr_width, "count0": 32,
                              "stride0": signed(32), "stride1": signed(32)})


def MoverCommand(addr_width):
    """One descriptor, decoded, each field once: what to read (``read``: a COPY, from
    ``src``) and where to write (``dst``); ``length`` and ``count1`` are both sides'.  A
    FILL's 64-bit pattern is the descriptor's ``src`` field: ``src.addr`` and, above
    ``addr_width`` bits, ``src_hi``.  ``poison``: decode found the descriptor bad (``code``,
    at ``addr``): report it, move nothing.  The channel fills ``tag.ch`` and ``tag.lseq``;
    the mover numbers ``tag.seq``."""
    return data.StructLayout({
        "read": 1, "tag": Tag(), "length": 32, "count1": 32, "fence": 1, "irq": 1, "fill": 1,
        "src": Side(addr_width), "dst": Side(addr_width), "src_hi": max(64 - addr_width, 0),
        "poison": 1, "code": 4, "addr": addr_width,
    })


class Mover(wiring.Component):
    """Moves the bytes of the descriptors the channels hand it, one descriptor after the
    other (reads run ahead of writes, bursts of consecutive descriptors overlap).

    Every descriptor gets the mover's next sequence number (``tag.seq``).  An error stops
    the descriptors from the failing one on (their requests are held back; outstanding ones
    complete) and lets every earlier one -- of any channel -- finish; the channels then
    reset the mover together (its reset input), and each channel gives it again what had
    not finished (see :class:`~.channel.Channel`).

    Members
    -------
    cmd : In(stream.Signature(MoverCommand))
    done : Out(stream.Signature(Done)) — descriptors whose writes are all acknowledged, in order.
    error : Out(ErrorInfo) — the earliest error, a register (sticky until reset).
    acked : Out(32) — bytes acknowledged of the oldest unfinished descriptor.
    done_seq : In(DoneCounts(channels)) — each channel's completed descriptors (fences).
    stop : In(1) — hold back every request (seen a cycle later).
    idle : Out(1) — nothing outstanding on the bus and no ``done`` waiting (from registers).
    bus : Out(AXI4Signature) — reads and writes, ``AxUSER`` = the descriptor's channel.
    """

    def __init__(self, *, channels=1, addr_width=32, data_width=64, user_width=8, max_beats=256,
                 buffer_beats=512, max_reads=64, max_writes=32, register_slices=False):
        if not isinstance(max_beats, int) or not 1 <= max_beats <= 256 or max_beats & (max_beats - 1):
            raise ValueError(f"max_beats must be a power of two in 1..256, not {max_beats!r}")
        self._n, self._aw, self._dw, self._uw = channels, addr_width, data_width, user_width
        self._slices = bool(register_slices)
        self._reader = Reader(channels=channels, addr_width=addr_width, data_width=data_width,
                              user_width=user_width, max_beats=max_beats, buffer_beats=buffer_beats,
                              max_reads=max_reads, buffer_slice=register_slices)
        self._writer = Writer(channels=channels, addr_width=addr_width, data_width=data_width,
                              user_width=user_width, max_beats=max_beats, max_writes=max_writes)
        # reads: the reader and the two SG-list fetchers; writes: the writer alone (wiring)
        self._xbar = AXI4Arbiter(managers=4, reads=[0, 1, 3], writes=[2], addr_width=addr_width,
                                 data_width=data_width, id_width=1, user_width=user_width)
        super().__init__({
            "cmd": In(stream.Signature(MoverCommand(addr_width))),
            "done": Out(stream.Signature(Done())),
            "error": Out(ErrorInfo(addr_width)),
            "acked": Out(32),
            "done_seq": In(DoneCounts(channels)),
            "stop": In(1),
            "idle": Out(1),
            "bus": Out(self._xbar.sub_signature),
        })

    def elaborate(self, platform):
        m = Module()
        dw = self._dw
        m.submodules.reader = reader = self._reader
        m.submodules.writer = writer = self._writer
        m.submodules.op = op = StreamOp(data_width=dw)
        # (buffered: the reader's address generator takes a command from registers, not
        # from a LUT RAM's read port)
        m.submodules.rcmd_q = rcmd_q = Queue(ReadCommand(self._aw), 2, buffered=True)
        # the writer's commands wait for their data: a deep queue lets the reader run many
        # descriptors ahead, which keeps the read channel busy with small ones; ~300 bits
        # wide, it lives in block RAM, behind a half-rate register (the writer takes a
        # command per descriptor, two cycles apart at least)
        m.submodules.wcmd_q = wcmd_q = Queue(WriteCommand(self._aw), 16, block=True, half_rate=True)
        m.submodules.xbar = xbar = self._xbar

        # -- commands: numbered in the order they enter ----------------------------------------
        seq = Signal(SEQ_BITS)
        cmd = self.cmd
        if self._slices:
            # the descriptors arrive through a half-rate register (one per descriptor, two
            # cycles apart at least): the channels' decode and the engine's grant multiplexer
            # end there, not at the command queues.  It is the mover's, so the mover's reset
            # empties it with the queues
            m.submodules.cmd_slice = cmd_slice = StreamRegisterSlice(MoverCommand(self._aw),
                                                                     half_rate=True)
            wiring.connect(m, wiring.flipped(self.cmd), cmd_slice.i)
            cmd = cmd_slice.o
        c = cmd.payload
        rc, wc = rcmd_q.i.payload, wcmd_q.i.payload
        m.d.comb += [
            cmd.ready.eq(wcmd_q.i.ready & (rcmd_q.i.ready | ~c.read)),
            rcmd_q.i.valid.eq(cmd.valid & cmd.ready & c.read),
            wcmd_q.i.valid.eq(cmd.valid & cmd.ready),
            rc.fence.eq(c.fence), wc.fence.eq(c.fence),
            wc.irq.eq(c.irq), wc.poison.eq(c.poison), wc.code.eq(c.code), wc.addr.eq(c.addr),
            wc.op.fill.eq(c.fill), wc.op.pattern.eq(Cat(c.src.addr, c.src_hi)),
        ]
        for gen, sd in ((rc.gen, c.src), (wc.gen, c.dst)):
            m.d.comb += [gen.kind.eq(sd.kind), gen.addr.eq(sd.addr), gen.count0.eq(sd.count0),
                         gen.stride0.eq(sd.stride0), gen.stride1.eq(sd.stride1),
                         gen.length.eq(c.length), gen.count1.eq(c.count1),
                         gen.tag.eq(c.tag), gen.tag.seq.eq(seq)]
        with m.If(cmd.valid & cmd.ready):
            m.d.sync += seq.eq(seq + 1)
        if self._slices:
            # the reader's `ready` (fence and hold-back compares) would be the clock enable of
            # the queue's ~230-bit output register: a half-rate register takes the command
            # first, loading while empty, so the queue's read enable comes from flip-flops
            m.submodules.rcmd_slice = rcmd_slice = StreamRegisterSlice(ReadCommand(self._aw),
                                                                       half_rate=True)
            wiring.connect(m, rcmd_q.o, rcmd_slice.i)
            wiring.connect(m, rcmd_slice.o, reader.cmd)
        else:
            wiring.connect(m, rcmd_q.o, reader.cmd)
        wiring.connect(m, wcmd_q.o, writer.cmd)

        # -- the byte stream ---------------------------------------------------------------------
        if self._slices:
            # through registers on both sides of the operator: the ready chain from the write
            # channel through the byte queues ends at each of them.  A FILL runs until the
            # writer ends the transfer, so what it put in the second slice beyond the end is
            # dropped with the writer's queue.
            m.submodules.stream_slice = stream_slice = StreamRegisterSlice(Chunk(dw))
            wiring.connect(m, reader.o, stream_slice.i)
            wiring.connect(m, stream_slice.o, op.i)
            m.submodules.op_slice = op_slice = StreamRegisterSlice(Chunk(dw), clear=True)
            wiring.connect(m, op.o, op_slice.i)
            wiring.connect(m, op_slice.o, writer.i)
            m.d.comb += op_slice.clear.eq(writer.op_end)
        else:
            wiring.connect(m, reader.o, op.i)
            wiring.connect(m, op.o, writer.i)
        wiring.connect(m, writer.op_cmd, op.cmd)
        m.d.comb += [op.end.eq(writer.op_end), writer.arrived.eq(reader.arrived),
                     writer.xfers.eq(reader.xfers), reader.done_seq.eq(self.done_seq),
                     writer.done_seq.eq(self.done_seq), self.acked.eq(writer.acked)]
        wiring.connect(m, writer.done, wiring.flipped(self.done))

        # -- the bus: with register slices the read requests reach their arbiter from registers
        # (half-rate ones for the SG-list fetchers: a request per list burst; the data bursts
        # may go one per cycle).  The writer's requests and data pass straight through to the
        # engine, whose register slice on this port takes them
        for k, port in enumerate([reader.bus, reader.sg_bus, writer.bus, writer.sg_bus]):
            if self._slices and port is not writer.bus:
                sl = AXI4RegisterSlice(xbar.mgr_signature, channels=("ar",),
                                       half_rate=("ar",) if k in (1, 3) else ())
                m.submodules[f"slice{k}"] = sl
                wiring.connect(m, port, sl.s)
                port = sl.m
            wiring.connect(m, port, xbar.mgr[k])
        wiring.connect(m, xbar.sub, wiring.flipped(self.bus))

        # -- errors: the earliest failing descriptor -------------------------------------------
        re, we = reader.error, writer.error
        use_w = we.valid & (~re.valid | later_or_same(re.tag.seq, we.tag.seq))
        # registered: the error reports reach the channels' control (and, through `halt`,
        # every issue gate) one cycle after they are raised
        err = self.error
        nxt = Signal(ErrorInfo(self._aw))
        m.d.comb += nxt.eq(Mux(use_w, we.as_value(), re.as_value()))
        m.d.sync += err.eq(nxt)
        # the hold-back rule one cycle late (`err` and the `stop` register): a burst that was
        # already being offered may still go, which is no different from one issued a cycle
        # before the error arrived
        for u in (reader, writer):
            m.d.comb += [u.halt.eq(err.valid), u.halt_seq.eq(err.tag.seq), u.halt_seq_next.eq(nxt.tag.seq)]
            m.d.sync += u.stop.eq(self.stop)

        # -- idle: nothing outstanding or offered (with register slices these valids are
        # registers), no completion waiting to be taken
        m.d.comb += self.idle.eq(quiet_port(m, self.bus, xbar.mgr) & ~self.done.valid)
        return m
