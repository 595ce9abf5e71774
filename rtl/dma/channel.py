"""One DMA channel: descriptor ring, decode and validation, completions, interrupts, errors.
Its descriptors' bytes are moved by the :class:`~.mover.Mover` all channels share."""

from amaranth.lib import enum

from amaranth.hdl import Const, Module, Mux, ResetInserter, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ...sw.formats import DESCRIPTOR_SIZE, Completion, Descriptor, ErrorCode, Opcode, Status
from ...sw.registers import CHANNEL, ChannelState
from ..axi.arbiter import AXI4Arbiter
from ..bus import Resp
from ..formats import layout
from ..regbank import block_signature
from .addrgen import Shape
from .common import SEQ_BITS, Queue, issue_gate, quiet_port
from .fetch import RecordFetcher
from .mover import MoverCommand
from .reader import ErrorInfo
from .scan import ScanRequest, ScanResult
from .writer import Done

__all__ = ["Channel", "descriptor_faults", "descriptor_rules", "doorbell_stamp", "interrupts"]

COMPLETION_OFFSET = Descriptor.byte_offset("completion")
CB_DEPTH = 8    # completion records written and awaiting their responses, at most


def descriptor_faults(d, addr_width):
    """A descriptor (a ``data.View`` of :data:`Descriptor`) is malformed: the rules of
    :func:`sgdma.sw.model.validate` that need no SG list.  Addresses above ``addr_width``
    bits are malformed too."""
    def too_wide(v):
        return (v >> addr_width) != 0 if addr_width < 64 else Const(0)
    nd_, sg_ = d.params.nd_params, d.params.sg_params
    return descriptor_rules(
        d.control, rsvd=d.control.rsvd != 0, length_zero=d.length == 0,
        count0_zero=nd_.count0 == 0, count1_zero=nd_.count1 == 0, sg_rsvd=sg_.rsvd != 0,
        src_count_zero=sg_.src_count == 0, dst_count_zero=sg_.dst_count == 0,
        src_misaligned=d.src[:4] != 0, dst_misaligned=d.dst[:4] != 0,
        src_wide=too_wide(d.src), dst_wide=too_wide(d.dst))


def descriptor_rules(c, *, rsvd, length_zero, count0_zero, count1_zero, sg_rsvd, src_count_zero,
                     dst_count_zero, src_misaligned, dst_misaligned, src_wide, dst_wide):
    """The validation rules over predicates of the fields (so that an engine that sees the
    descriptor a word at a time keeps one bit per predicate): ``c`` has the control word's
    ``opcode``, ``src_sgl``, ``dst_sgl`` and ``ndim``; ``rsvd`` its reserved bits are set;
    ``count0_zero``/``count1_zero`` (the N-D counts) share their words with the SG
    parameters' reserved field (``sg_rsvd``: not zero)."""
    copy, fill, many = c.opcode == Opcode.COPY, c.opcode == Opcode.FILL, c.ndim >= 2
    return (~(copy | fill) | rsvd | length_zero |
            (fill & c.src_sgl) |
            (many & (c.src_sgl | c.dst_sgl)) |
            (many & count0_zero) | ((c.ndim == 3) & count1_zero) |
            ((c.src_sgl | c.dst_sgl) & sg_rsvd) |
            (copy & c.src_sgl & (src_count_zero | src_misaligned)) |
            (c.dst_sgl & (dst_count_zero | dst_misaligned)) |
            (copy & src_wide) | dst_wide)


def doorbell_stamp(m, regs, cycles):
    """``doorbell_cycle`` takes the cycle counter whenever ``tail`` changes."""
    last_tail = Signal.like(regs.tail.index)
    m.d.sync += last_tail.eq(regs.tail.index)
    with m.If(last_tail != regs.tail.index):
        m.d.sync += regs.doorbell_cycle.cycle.eq(cycles)


def interrupts(m, regs, event_done, raise_error, irq, *, registered_thresholds=False):
    """A channel's interrupt: ``event_done`` (an IRQ-flagged completion) is coalesced --
    ``irq_status.done`` after ``coalesce.count`` of them or ``coalesce.timeout`` cycles after
    the first; ``raise_error`` (the channel halts) sets ``irq_status.error`` and flushes the
    pending completions (and one arriving in the same cycle).  Drives ``irq`` and returns the
    count of pending completions.
    ``registered_thresholds``: compare against the thresholds less one, kept in registers
    (faster, a few dozen flip-flops more; a register write takes effect a cycle later)."""
    pending = Signal(8)
    timer = Signal(24)
    fire = Signal()
    if registered_thresholds:
        # the thresholds less one, in registers (a cycle behind a register write): the tests
        # are then compares of registers, no adder in front of them
        count_m1 = Signal(8)
        count_le1 = Signal()
        timeout_m1 = Signal(24)
        timeout_on = Signal()
        m.d.sync += [count_m1.eq(regs.coalesce.count - 1), count_le1.eq(regs.coalesce.count <= 1),
                     timeout_m1.eq(regs.coalesce.timeout - 1),
                     timeout_on.eq(regs.coalesce.timeout != 0)]
        m.d.comb += fire.eq((event_done & (count_le1 | (pending >= count_m1))) |
                            ((pending != 0) & timeout_on & (timer >= timeout_m1)))
    else:
        m.d.comb += fire.eq((event_done & (pending + 1 >= regs.coalesce.count)) |
                            ((pending != 0) & (regs.coalesce.timeout != 0) &
                             (timer + 1 >= regs.coalesce.timeout)))
    with m.If(fire):
        m.d.sync += [pending.eq(0), timer.eq(0)]
    with m.Else():
        with m.If(event_done):
            m.d.sync += pending.eq(pending + 1)
        with m.If(pending != 0):
            m.d.sync += timer.eq(timer + 1)
    m.d.comb += [regs.irq_status.done_set.eq(fire | (raise_error & ((pending != 0) | event_done))),
                 regs.irq_status.error_set.eq(raise_error)]
    m.d.comb += irq.eq(((regs.irq_status.done & regs.irq_enable.done) |
                        (regs.irq_status.error & regs.irq_enable.error)) != 0)
    return pending


class _Mode(enum.Enum, shape=3):
    RUN = 0
    DRAIN_ERR = 1     # an error: let every earlier descriptor complete, then the mover's reset
    RECORD = 2        # write the failed descriptor's completion record
    HALTED = 3
    DRAIN_RESET = 4   # soft reset: hold back every request, drain, then the mover's reset
    FAILED = 5        # a completion record could not be written: drain, then halt


class Channel(wiring.Component):
    """A DMA channel (see ``docs/registers.md`` for its registers and the descriptor format).

    The channel fetches its ring, validates each descriptor (and has the engine's scanner sum
    its SG lists), hands
    it to the shared :class:`~.mover.Mover` on ``cmd`` and writes its completion record
    when the mover reports it ``done``, in ring order.

    When the mover has to be reset (some channel's descriptor failed, or a channel is being
    reset) every channel stops handing it work (``closing``), and each one says when it is
    ``ready`` for the reset: its own fetches finished and, if its descriptor failed, every
    earlier one of its descriptors completed.  At ``mover_reset`` a running channel rewinds:
    it fetches again, from the first descriptor the mover had not finished, so descriptors
    another channel's error cut short are moved again from the start.

    Members
    -------
    bus : Out(AXI4Signature(id_width=1)) — the channel's own manager port (ring, completion
        records), every request with ``AxUSER`` = ``device_id``.
    cmd : Out(stream.Signature(MoverCommand)) — decoded descriptors for the mover.
    done : In(stream.Signature(Done)) — the mover's completions of this channel's descriptors.
    error : In(ErrorInfo) — the mover's error, when it is this channel's descriptor.
    acked : In(32) — the mover's bytes acknowledged of its oldest unfinished descriptor.
    done_count : Out(SEQ_BITS) — descriptors completed (the mover's fences wait on it).
    closing : In(1) — the mover is about to be reset: hand it nothing, fetch nothing.
    stop_req : Out(1) — this channel wants every mover request held back (soft reset, failed
        completion record).
    ready : Out(1) — this channel may see the mover reset now.
    mover_reset : In(1) — the mover is being reset (a one-cycle pulse).
    mover_idle : In(1) — the mover has nothing outstanding.
    regs : In(block signature of :data:`~sgdma.sw.registers.CHANNEL`) — from the register bank.
    irq : Out(1) — ``irq_status & irq_enable``.
    cycles : In(32) — the system cycle counter, for the doorbell/done timestamps.
    busy : Out(1) — work in flight, descriptors waiting, or an interrupt timeout running (a
        register: a cycle late, like ``status.state``).
    scan_req : Out(stream.Signature(ScanRequest)), scan_res : In(ScanResult) — an SG list
        to check, and its verdict, from the engine's :class:`~.scan.ListScanner`.
    scan_quiet : In(1) — nothing of this channel's is outstanding in the scanner.
    scan_stop : Out(1) — hold back the scanner's reads for this channel.
    restart : Out(1) — the channel's fetches restart (a mover reset, or the channel alone):
        the scanner drops its list.
    """

    def __init__(self, *, device_id=0, addr_width=32, data_width=64, user_width=8, ring_buffer=16,
                 ring_burst=4):
        if data_width not in (32, 64, 128):
            raise ValueError(f"data_width must be 32, 64 or 128, not {data_width!r}")
        if not isinstance(device_id, int) or not 0 <= device_id < min(16, 1 << max(user_width, 1)):
            raise ValueError(f"device_id must be a channel number (0..15) that fits in user_width "
                             f"bits, not {device_id!r}")
        self._id, self._aw, self._dw, self._uw = device_id, addr_width, data_width, user_width
        self._ring_buffer, self._ring_burst = ring_buffer, ring_burst
        # the ring fetcher only reads and the completion writer only writes: their port is
        # plain wiring (the engine's arbiter and register slices sit behind it)
        self._xbar = AXI4Arbiter(managers=2, reads=[0], writes=[1], addr_width=addr_width,
                                 data_width=data_width, id_width=1, user_width=user_width)
        super().__init__({
            "bus": Out(self._xbar.sub_signature),
            "cmd": Out(stream.Signature(MoverCommand(addr_width))),
            "done": In(stream.Signature(Done())),
            "error": In(ErrorInfo(addr_width)),
            "acked": In(32),
            "done_count": Out(SEQ_BITS),
            "closing": In(1),
            "stop_req": Out(1),
            "ready": Out(1),
            "mover_reset": In(1),
            "mover_idle": In(1),
            "regs": In(block_signature(CHANNEL)),
            "irq": Out(1),
            "busy": Out(1),
            "cycles": In(32),
            "scan_req": Out(stream.Signature(ScanRequest(addr_width))),
            "scan_res": In(ScanResult(addr_width)),
            "scan_quiet": In(1),
            "scan_stop": Out(1),
            "restart": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        aw, dw, nb = self._aw, self._dw, self._dw // 8
        regs = self.regs
        mode = Signal(_Mode)
        seq = Signal(SEQ_BITS)          # sequence number of the next descriptor to decode
        done_count = self.done_count    # descriptors completed (their records acknowledged)
        wdone = Signal(SEQ_BITS)        # descriptors the mover finished (records may be pending)
        # the ring fetch and SG-list validation restart at every mover reset, and when the
        # channel restarts alone (`local_reset`)
        local_reset = Signal()
        restarting = Signal()
        fe_reset = Signal()
        m.d.comb += [fe_reset.eq(self.mover_reset | local_reset), self.restart.eq(fe_reset)]

        ring = RecordFetcher(record_bytes=DESCRIPTOR_SIZE, addr_width=aw, data_width=dw,
                             user_width=self._uw, buffer_records=self._ring_buffer,
                             burst_records=self._ring_burst,
                             count_width=17)      # a fetch is a whole ring (2**16 records) at most
        m.submodules.ring = ResetInserter(fe_reset)(ring)
        m.submodules.xbar = xbar = self._xbar
        comp_bus = xbar.mgr[1]
        wiring.connect(m, ring.bus, xbar.mgr[0])
        wiring.connect(m, xbar.sub, wiring.flipped(self.bus))
        user = Const(self._id, max(self._uw, 1))
        m.d.comb += ring.user.eq(user)
        m.d.comb += regs.device_id.id.eq(self._id)

        size_log2 = regs.ring_size.log2
        # the ring's index mask, a register (a cycle behind a `ring_size` write, which is
        # only allowed while the channel is idle and disabled): every pointer step, the
        # tail and the fetch distances start from flip-flops, not from a shifter
        mask = Signal(16, init=(1 << CHANNEL.register("ring_size").field("log2").reset) - 1)
        m.d.sync += mask.eq((Const(1, 17) << size_log2) - 1)
        ring_base = Signal(aw)
        m.d.comb += ring_base.eq(regs.ring_base.addr[:aw] & ~(DESCRIPTOR_SIZE - 1))
        tail = Signal(16)
        m.d.comb += tail.eq(regs.tail.index & mask)
        doorbell_stamp(m, regs, self.cycles)
        head = regs.head.index

        reset_req = regs.control.w_stb & regs.control.reset

        # -- bus accounting: nothing outstanding on the channel's port, nothing offered (with
        # register slices these valids are registers).  "Idle" is itself a register (a cycle
        # late), so the drain decisions -- and the resets behind them -- start from registers.
        # A drain may act on it only once its mode has held for two cycles: by then every
        # issue gate has seen `stop`/`halt`/`closing`, and anything issued before is visible
        # here (and in the mover's `idle`) -- also the SG-list scanner's, whose fetcher takes
        # `scan_stop` through a register: a burst it loads in the cycle the stop rises is
        # offered in the next and counted here the cycle after, inside the window.
        # (reads: a burst per ring-buffer record at most; writes: the record queue `cb_q`)
        port_idle = quiet_port(m, self.bus, xbar.mgr, most=max(self._ring_buffer, CB_DEPTH)) & \
            self.scan_quiet
        last_mode = Signal(_Mode)
        last_closing = Signal()
        settled = Signal()
        m.d.sync += [last_mode.eq(mode), last_closing.eq(self.closing),
                     settled.eq((mode == last_mode) & (self.closing == last_closing))]
        settled_idle = port_idle & settled & (mode == last_mode) & (self.closing == last_closing)
        drained = settled_idle & self.mover_idle

        # -- errors: the mover reports the earliest failing descriptor --------------------------
        err = self.error
        halt = err.valid
        stop_all = Signal()
        m.d.comb += stop_all.eq((mode == _Mode.DRAIN_RESET) | (mode == _Mode.FAILED))
        m.d.comb += self.stop_req.eq(stop_all)
        fetch_stop = halt | stop_all | (mode != _Mode.RUN) | self.closing
        m.d.comb += [ring.stop.eq(fetch_stop), self.scan_stop.eq(fetch_stop)]

        # -- ring fetch: never past the tail ----------------------------------------------------
        fetch_ptr = Signal(16)
        avail = Signal(16)
        to_end = Signal(17)
        m.d.comb += [avail.eq((tail - fetch_ptr) & mask), to_end.eq(mask + 1 - fetch_ptr)]
        # the fetch size and address are registers, computed in the two cycles after
        # fetch_ptr moves (the distances, then the smaller one), and only while running:
        # never from a pointer a reset is about to change
        fetch_count = Signal(17)
        fetch_addr = Signal(aw)
        fetch_ok = Signal()
        fetch_ok_early = Signal()
        avail_r = Signal(16)
        to_end_r = Signal(17)
        running = (mode == _Mode.RUN) & ~self.mover_reset
        m.d.sync += [avail_r.eq(avail), to_end_r.eq(to_end),
                     fetch_count.eq(Mux(avail_r < to_end_r, avail_r, to_end_r)),
                     fetch_addr.eq(ring_base + (fetch_ptr << 6)),
                     fetch_ok_early.eq(running), fetch_ok.eq(fetch_ok_early & running)]
        m.d.comb += [
            ring.cmd.valid.eq(regs.control.enable & (mode == _Mode.RUN) & ~halt & ~self.closing &
                              fetch_ok & (fetch_count != 0)),
            ring.cmd.payload.addr.eq(fetch_addr),
            ring.cmd.payload.count.eq(fetch_count),
        ]
        with m.If(ring.cmd.valid & ring.cmd.ready):
            m.d.sync += [fetch_ptr.eq((fetch_ptr + fetch_count) & mask), fetch_ok.eq(0),
                         fetch_ok_early.eq(0)]

        # -- decode and validate ----------------------------------------------------------------
        def check(record):
            """The descriptor's own faults (its fetch failed, or it is malformed)."""
            return record.error | descriptor_faults(data.View(layout(Descriptor), record.data), aw)

        # the descriptor being decoded sits in a register, and its validation verdict in
        # another one made from it in the next cycle (`checked`: the verdict is the one of
        # the descriptor in `rec`), so emitting it is a few gates from registers and the
        # rules' ~8 levels of logic run from the channel's own flip-flops, not from the ring
        # fetcher's (session 21: 13.9 ns, the full SoC's worst path).  It loads only when
        # empty: its ~600 clock enables follow its own flag, not the mover's handshake (a
        # descriptor takes three cycles at least; the mover needs more per descriptor anyway)
        rec = Signal.like(ring.o.payload, reset_less=True)   # live while `rec_valid`
        rec_valid = Signal()
        checked = Signal()
        bad = Signal(reset_less=True)      # valid while `checked`
        emit = Signal()
        m.d.comb += ring.o.ready.eq(~rec_valid)
        m.d.sync += bad.eq(check(rec))
        with m.If(ring.o.ready):
            m.d.sync += [rec_valid.eq(ring.o.valid), rec.eq(ring.o.payload), checked.eq(0)]
        with m.Elif(emit):
            m.d.sync += rec_valid.eq(0)
        with m.Else():
            m.d.sync += checked.eq(1)
        live = rec_valid & checked
        desc = data.View(layout(Descriptor), rec.data)
        ctl = desc.control
        nd_p, sg_p = desc.params.nd_params, desc.params.sg_params
        is_copy = ctl.opcode == Opcode.COPY
        is_fill = ctl.opcode == Opcode.FILL
        nd = ctl.ndim >= 2
        src_sgl = ctl.src_sgl & is_copy
        dst_sgl = ctl.dst_sgl

        # the command: the descriptor's fields, selected by what its control word decodes to
        # (shapes, the SG flags, the operation): those in registers made from `rec` like
        # `bad` (valid while `checked`), so the engine's command multiplexer is a 2:1 mux
        # from flip-flops away (session 22: the decode ran through it into the mover's
        # register, 14.4 ns).  The counts stay behind their multiplexers: registered, they
        # cost ~60 LUTs a channel (the multiplexers no longer merge into the engine's)
        c = self.cmd.payload
        decoded = Signal(data.StructLayout({"src": Shape, "dst": Shape, "src_sgl": 1,
                                            "dst_sgl": 1, "nd3": 1, "copy": 1, "fill": 1,
                                            "scan": 1}), reset_less=True)
        for sd, kind, sgl, sgl_r, addr, count, stride0, stride1 in (
                (c.src, decoded.src, src_sgl, decoded.src_sgl, desc.src, sg_p.src_count,
                 nd_p.src_stride0, nd_p.src_stride1),
                (c.dst, decoded.dst, dst_sgl, decoded.dst_sgl, desc.dst, sg_p.dst_count,
                 nd_p.dst_stride0, nd_p.dst_stride1)):
            m.d.sync += [kind.eq(Mux(sgl, Shape.SGL, Mux(nd, Shape.ND, Shape.CONTIG))),
                         sgl_r.eq(sgl)]
            m.d.comb += [sd.kind.eq(kind), sd.addr.eq(addr),
                         sd.count0.eq(Mux(sgl_r, count, nd_p.count0)),
                         sd.stride0.eq(stride0), sd.stride1.eq(stride1)]
        m.d.sync += [decoded.nd3.eq(ctl.ndim == 3), decoded.copy.eq(is_copy),
                     decoded.fill.eq(is_fill), decoded.scan.eq(src_sgl | dst_sgl)]
        m.d.comb += [
            c.length.eq(desc.length), c.count1.eq(Mux(decoded.nd3, nd_p.count1, 1)),
            c.tag.ch.eq(self._id), c.tag.lseq.eq(seq), c.fence.eq(ctl.fence), c.irq.eq(ctl.irq),
            c.fill.eq(decoded.fill), c.src_hi.eq(desc.src[aw:]),
        ]

        # SG lists are summed before anything moves: lengths that disagree never write a byte.
        # The engine's ListScanner checks them, one list at a time for all channels.
        scanning = Signal()
        scan_dst = Signal()      # scanning the destination list (else the source list)
        scan_issued = Signal()
        scan_bad = Signal()
        scan_err = Signal()      # a bus error while reading the list
        scan_addr = Signal(aw)
        scan_done = Signal()     # both lists checked
        res = self.scan_res
        m.d.comb += [self.scan_req.payload.addr.eq(Mux(scan_dst, desc.dst, desc.src)),
                     self.scan_req.payload.count.eq(Mux(scan_dst, sg_p.dst_count, sg_p.src_count)),
                     self.scan_req.payload.length.eq(desc.length),
                     self.scan_req.valid.eq(scanning & ~scan_issued)]
        with m.If(self.scan_req.valid & self.scan_req.ready):
            m.d.sync += scan_issued.eq(1)
        with m.If(scanning & scan_issued & res.valid):
            m.d.sync += scan_issued.eq(0)
            with m.If(res.bad & ~scan_bad):
                m.d.sync += [scan_bad.eq(1), scan_err.eq(res.err),
                             scan_addr.eq(Mux(res.err, res.addr, rec.addr))]
            with m.If(~scan_dst & dst_sgl):
                m.d.sync += scan_dst.eq(1)
            with m.Else():
                m.d.sync += [scanning.eq(0), scan_done.eq(1)]

        dead = Signal()          # a poisoned descriptor went out: decode nothing more
        need_scan = decoded.scan
        poison = Signal()
        code = Signal(4)
        paddr = Signal(aw)
        with m.If(bad):
            m.d.comb += [poison.eq(1), code.eq(Mux(rec.error, ErrorCode.DESC_ERR, ErrorCode.INVALID)),
                         paddr.eq(rec.addr)]
        with m.Elif(scan_done & scan_bad):
            m.d.comb += [poison.eq(1), code.eq(Mux(scan_err, ErrorCode.SGL_ERR, ErrorCode.INVALID)),
                         paddr.eq(scan_addr)]
        m.d.comb += [c.poison.eq(poison), c.code.eq(code), c.addr.eq(paddr)]
        ready_to_emit = live & ~dead & ~regs.control.pause & (mode == _Mode.RUN) & ~halt & \
            ~self.closing & (poison | ~need_scan | scan_done)
        with m.If(live & ~dead & ~poison & need_scan & ~scanning & ~scan_done & ~halt):
            m.d.sync += [scanning.eq(1), scan_dst.eq(~src_sgl), scan_bad.eq(0), scan_err.eq(0)]
        m.d.comb += [self.cmd.valid.eq(ready_to_emit), self.cmd.payload.read.eq(decoded.copy & ~poison),
                     emit.eq(self.cmd.valid & self.cmd.ready)]
        with m.If(emit):
            m.d.sync += [seq.eq(seq + 1), scan_done.eq(0)]
            with m.If(poison):
                m.d.sync += dead.eq(1)

        # -- completion records, in ring order, after their data is acknowledged ---------------
        # an entry is what varies between records: the byte count and whether it is the
        # ERROR record (whose code and address are the channel's error registers, latched
        # when the entry is made and unchanged until the channel restarts)
        comp_layout = data.StructLayout({"bytes": 32, "irq": 1, "error": 1})
        # the completion writer's queue survives a mover reset (it carries the failed
        # descriptor's record); a soft reset empties it
        comp_q = Queue(comp_layout, 2)
        m.submodules.comp_q = ResetInserter((mode == _Mode.DRAIN_RESET) & restarting)(comp_q)
        # the ERROR record is built in a register and pushed the cycle after the mover's reset
        # (the queue is empty then: the reset waited for it), so the queue's write port is
        # selected by a register, not by the channel's control
        ctrl_rec = Signal(comp_layout, reset_less=True)
        ctrl_push = Signal()
        m.d.sync += ctrl_push.eq(0)
        with m.If(ctrl_push):
            m.d.comb += [comp_q.i.valid.eq(1), comp_q.i.payload.eq(ctrl_rec)]
        with m.Else():
            d = self.done.payload
            m.d.comb += [comp_q.i.valid.eq(self.done.valid), self.done.ready.eq(comp_q.i.ready),
                         comp_q.i.payload.bytes.eq(d.bytes), comp_q.i.payload.irq.eq(d.irq)]
        comp_ptr = Signal(16)
        # the mover's progress: the first descriptor it has not finished (where a rewind
        # fetches again from)
        wdone_ptr = Signal(16)
        with m.If(self.done.valid & self.done.ready):
            m.d.sync += [wdone.eq(wdone + 1), wdone_ptr.eq((wdone_ptr + 1) & mask)]
        cb_q = Queue(data.StructLayout({"irq": 1, "error": 1, "addr": aw}), CB_DEPTH)
        m.submodules.cb_q = cb_q
        w_busy = Signal()
        w_beat = Signal(range(16 // nb + 1))
        w_rec = Signal(layout(Completion), reset_less=True)     # live while `w_busy`
        rec_addr = Signal(aw)
        m.d.comb += rec_addr.eq(ring_base + (comp_ptr << 6) + COMPLETION_OFFSET)
        cvalid = issue_gate(m, comp_q.o.valid & ~w_busy & cb_q.i.ready, comp_bus.awready,
                            stop_all, "comp")
        c_aw = comp_bus.awvalid & comp_bus.awready
        m.d.comb += [
            comp_bus.arvalid.eq(0), comp_bus.rready.eq(1), comp_bus.bready.eq(1),
            comp_bus.awvalid.eq(cvalid), comp_bus.awid.eq(0), comp_bus.awaddr.eq(rec_addr),
            comp_bus.awlen.eq(16 // nb - 1), comp_bus.awsize.eq((nb - 1).bit_length()),
            comp_q.o.ready.eq(c_aw),
            cb_q.i.valid.eq(c_aw), cb_q.i.payload.irq.eq(comp_q.o.payload.irq),
            cb_q.i.payload.error.eq(comp_q.o.payload.error), cb_q.i.payload.addr.eq(rec_addr),
            comp_bus.wvalid.eq(w_busy), comp_bus.wdata.eq(w_rec.as_value().word_select(w_beat, dw)),
            comp_bus.wstrb.eq(-1), comp_bus.wlast.eq(w_beat == 16 // nb - 1),
        ]
        if self._uw:
            m.d.comb += [comp_bus.awuser.eq(user), comp_bus.aruser.eq(user)]
        with m.If(c_aw):
            entry = comp_q.o.payload
            m.d.sync += [w_busy.eq(1), w_beat.eq(0), comp_ptr.eq((comp_ptr + 1) & mask),
                         w_rec.eq(0), w_rec.bytes.eq(entry.bytes),
                         w_rec.status.eq(Mux(entry.error, Status.ERROR, Status.DONE))]
            with m.If(entry.error):
                m.d.sync += [w_rec.code.eq(regs.err_code.code), w_rec.addr.eq(regs.err_addr.addr)]
        with m.If(comp_bus.wvalid & comp_bus.wready):
            m.d.sync += w_beat.eq(w_beat + 1)
            with m.If(comp_bus.wlast):
                m.d.sync += w_busy.eq(0)
        comp_idle = ~ctrl_push & ~comp_q.o.valid & ~cb_q.o.valid & ~w_busy

        # responses: advance head, count, interrupt
        cb = cb_q.o.payload
        c_b = comp_bus.bvalid
        m.d.comb += cb_q.o.ready.eq(c_b)
        event_done = Signal()
        comp_fail = Signal()
        with m.If(c_b):
            m.d.sync += regs.done_cycle.cycle.eq(self.cycles)
            with m.If(comp_bus.bresp == Resp.OKAY):
                m.d.sync += head.eq((head + 1) & mask)
                with m.If(~cb.error):
                    m.d.sync += [done_count.eq(done_count + 1),
                                 regs.completed.count.eq(regs.completed.count + 1)]
                    m.d.comb += event_done.eq(cb.irq)
            with m.Else():
                m.d.comb += comp_fail.eq(1)

        raise_error = Signal()
        # (the coalescing counters see a completion a cycle later, from a register: the
        # response and the record queue's storage are not a path into their ~30 resets)
        event_seen = Signal()
        m.d.sync += event_seen.eq(event_done)
        pending = interrupts(m, regs, event_seen, raise_error, self.irq, registered_thresholds=True)

        # -- control ----------------------------------------------------------------------------
        def restart():
            m.d.sync += [head.eq(tail), fetch_ptr.eq(tail), comp_ptr.eq(tail), wdone_ptr.eq(tail),
                         seq.eq(0), done_count.eq(0), wdone.eq(0)]

        def latch(code, addr):
            m.d.sync += [regs.err_code.code.eq(code), regs.err_addr.addr.eq(addr),
                         regs.err_index.index.eq(head)]

        # every descriptor before the failed one has completed (a register: the failed one
        # never completes, so once true this stays true until the reset)
        reached = Signal()
        m.d.sync += reached.eq(done_count == err.tag.lseq)
        # a soft reset or a failed record of a channel with nothing in the mover restarts the
        # channel alone (unless the mover is being reset anyway)
        in_mover = seq != wdone
        m.d.comb += self.stop_req.eq(stop_all & in_mover)
        # (`in_mover` a cycle late, from a register: outside RUN nothing is emitted, so it can
        # only fall, and a mode change clears `settled_idle` for that cycle anyway)
        was_in_mover = Signal()
        m.d.sync += was_in_mover.eq(in_mover)
        # (a register too, checked against the mode and `closing` of this cycle: it resets
        # the ring fetcher, so it comes from flip-flops.  A cycle later is safe: in the modes
        # that use it nothing new is fetched, sent to the mover or issued)
        alone_seen = Signal()
        m.d.sync += alone_seen.eq(~was_in_mover & ~self.closing & settled_idle)
        alone = alone_seen & ~self.closing & (mode == last_mode)
        with m.Switch(mode):
            with m.Case(_Mode.RUN):
                m.d.comb += self.ready.eq(settled_idle)
            with m.Case(_Mode.DRAIN_ERR):
                m.d.comb += self.ready.eq(reached & drained & comp_idle)
            with m.Case(_Mode.DRAIN_RESET, _Mode.FAILED):
                m.d.comb += self.ready.eq(settled_idle)
            with m.Default():
                m.d.comb += self.ready.eq(1)
        with m.Switch(mode):
            with m.Case(_Mode.RUN, _Mode.DRAIN_ERR):
                with m.If(reset_req):
                    m.d.sync += mode.eq(_Mode.DRAIN_RESET)
                with m.Elif(comp_fail):      # a completion record could not be written
                    m.d.sync += mode.eq(_Mode.FAILED)
                    latch(ErrorCode.COMPLETION_ERR, cb.addr)
                with m.Elif((mode == _Mode.RUN) & self.mover_reset):
                    # another channel's error or reset: fetch again what the mover dropped
                    m.d.sync += [fetch_ptr.eq(wdone_ptr), seq.eq(wdone)]
                with m.Elif((mode == _Mode.RUN) & halt):
                    m.d.sync += mode.eq(_Mode.DRAIN_ERR)
                with m.Elif((mode == _Mode.DRAIN_ERR) & self.mover_reset):
                    latch(err.code, err.addr)
                    m.d.sync += [ctrl_push.eq(1), ctrl_rec.bytes.eq(self.acked),
                                 ctrl_rec.irq.eq(0), ctrl_rec.error.eq(1)]
                    m.d.sync += [mode.eq(_Mode.RECORD), seq.eq(0), done_count.eq(0), wdone.eq(0)]
            with m.Case(_Mode.RECORD):
                with m.If(comp_fail):    # the registers keep the original error
                    m.d.sync += mode.eq(_Mode.FAILED)
                with m.Elif(comp_idle & settled_idle):
                    m.d.comb += raise_error.eq(1)
                    m.d.sync += mode.eq(_Mode.HALTED)
            with m.Case(_Mode.FAILED):
                with m.If(self.mover_reset | alone):
                    m.d.comb += [local_reset.eq(alone), raise_error.eq(1)]
                    m.d.sync += [mode.eq(_Mode.HALTED), comp_ptr.eq(head), seq.eq(0),
                                 done_count.eq(0), wdone.eq(0)]
            with m.Case(_Mode.HALTED):
                with m.If(reset_req):
                    m.d.sync += mode.eq(_Mode.DRAIN_RESET)
            with m.Case(_Mode.DRAIN_RESET):
                with m.If(self.mover_reset | alone):
                    m.d.comb += [local_reset.eq(alone), restarting.eq(1)]
                    restart()
                    m.d.sync += mode.eq(_Mode.RUN)
        with m.If(fe_reset):
            m.d.sync += [dead.eq(0), scanning.eq(0), scan_done.eq(0), scan_issued.eq(0),
                         rec_valid.eq(0), fetch_ok.eq(0), fetch_ok_early.eq(0)]

        # the state and `busy` are registers (a cycle late): what they summarize -- the
        # channel's counters, its port and its queues -- stays out of the register bank's
        # read path and the engine's `busy`
        quiet = (done_count == seq) & port_idle & comp_idle & ~ring.o.valid & ~rec_valid
        busy = ~quiet | (regs.control.enable & (head != tail))
        m.d.sync += self.busy.eq(busy | (pending != 0))
        state = Signal.like(regs.status.state)
        m.d.comb += regs.status.state.eq(state)
        with m.If(mode == _Mode.HALTED):
            m.d.sync += state.eq(ChannelState.HALTED)
        with m.Elif((mode == _Mode.RUN) & regs.control.pause & (done_count == seq) & port_idle & comp_idle):
            m.d.sync += state.eq(ChannelState.PAUSED)
        with m.Elif((mode != _Mode.RUN) | busy):
            m.d.sync += state.eq(ChannelState.RUNNING)
        with m.Else():
            m.d.sync += state.eq(ChannelState.IDLE)
        return m
