"""The lite DMA engine: one channel, one descriptor at a time, for small FPGAs (iCE40 UP5K).

It keeps the whole programming model of :class:`~.engine.Engine` with one channel: the same
register map (``config.lite`` tells them apart), descriptor ring, descriptor and completion
formats, operations (COPY, FILL; contiguous, SG lists on either side, N-D up to 3 dimensions;
any byte alignment), SG lists summed before a byte moves, error codes, halting, soft reset,
pause and interrupt coalescing.  The driver and the reference model do not change.

What it gives up is speed and concurrency.  One state machine does everything in turn:
fetch a descriptor (one 16-beat burst), validate it, read each SG list entry by entry, then
move the data in chunks of at most 64 bytes -- one read burst into a 16-word buffer, one write
burst out of it through a byte funnel, wait for its response -- and write the completion
record.  Nothing overlaps, so every transfer waits for each write response (fences hold
trivially) and a chunk never crosses a 64-byte block on either side (so no burst crosses
4 KiB).  The data path is 32 bits.

To be small it keeps almost nothing in flip-flops.  One 64-word block RAM (:data:`BUF`,
:data:`DESC`, :data:`SIDE`, ...) holds the chunk buffer, the descriptor and every address and
count of the transfer; they are updated by short fixed sequences of *operations* (read a
word, add an operand, write a word), one per cycle, through one adder.  The decisions need
only a few bits, which are kept beside the RAM as each word is written (a fragment's bytes
left below 128, its address's offset in a 64-byte block, whether a count is zero or one).
The descriptor is validated a word at a time as it arrives, keeping a bit per rule
(:func:`~.channel.descriptor_rules`, shared with the channel).
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ...sw.formats import DESCRIPTOR_SIZE, Control, ErrorCode, Opcode, Status
from ...sw.registers import ChannelState, register_map
from ..bus import AXI4LiteSignature, AXI4Signature, Resp
from ..formats import layout
from ..regbank import RegisterBank
from .channel import COMPLETION_OFFSET, descriptor_rules, doorbell_stamp, interrupts
from .engine import system_registers

__all__ = ["LiteEngine"]

BLOCK = 64          #: a chunk stays inside one 64-byte block at either end

# the register file's words
BUF = 0             #: 16 words: the chunk buffer (for FILL: the pattern, repeated)
DESC = 16           #: 12 words: the descriptor's addresses, length, control and parameters
SRC_LO, SRC_HI, DST_LO, LENGTH = DESC + 0, DESC + 1, DESC + 2, DESC + 4
PARAM = DESC + 6    #: N-D: src_stride0, src_stride1, dst_stride0, dst_stride1, count0, count1;
                    #: SG: src_count, dst_count
SIDE = 32           #: + 8 x side (0 source, 1 destination) + one of:
CUR, LEFT, ROW, PLANE, ENTS = range(5)   # fragment address, its bytes left, N-D row / plane
                                         # start (SG: ROW is the next entry's address), SG
                                         # entries not yet read
ROWS, PLANES, DONE = 48, 49, 50          # rows left in the plane, planes left, bytes written
_DEPTH = 64
_WORDS = 12         # descriptor words kept


def _side(side, field):
    """The register file address of ``field`` of ``side`` (an int or a 1-bit Value)."""
    if isinstance(side, int):
        return SIDE + 8 * side + field
    return Cat(Const(field, 3), side, Const(SIDE >> 4, 2))


class _Op:
    """One operation: ``dst = (src if a else 0) + b`` (``dst`` a register file word, or the
    ``"tmp"`` / ``"baddr"`` register), written only ``when``."""

    def __init__(self, src, dst, b=0, a=1, when=1):
        self.src, self.dst, self.b, self.a, self.when = src, dst, b, a, when


class LiteEngine(wiring.Component):
    """A one-channel, sequential DMA engine with :class:`~.engine.Engine`'s programming model.

    Parameters
    ----------
    addr_width : int
        Memory bus address width, 16..32 (descriptor addresses above it are invalid).
    data_width : int
        32 (the only width).
    user_width : int
        ``AxUSER`` width (the channel's device ID, 0).
    csr_addr_width : int or None
        The register port's address width (default: what the register map needs).

    Members
    -------
    csr : In(AXI4LiteSignature(data_width=32)) — registers (``docs/registers.md``).
    bus : Out(AXI4Signature(data_width=32, id_width=1)) — memory: INCR bursts of at most 16
        beats, one transaction at a time.
    irq : Out(1) — the channel's interrupt.
    busy : Out(1) — work in flight, descriptors waiting, or an interrupt timeout running.
    """

    def __init__(self, *, addr_width=32, data_width=32, user_width=8, csr_addr_width=None):
        if not isinstance(addr_width, int) or not 16 <= addr_width <= 32:
            raise ValueError(f"addr_width must be an integer in 16..32, not {addr_width!r}")
        if data_width != 32:
            raise ValueError(f"the lite engine's data path is 32 bits, not {data_width!r}")
        if not isinstance(user_width, int) or not 0 <= user_width <= 64:
            raise ValueError(f"user_width must be an integer in 0..64, not {user_width!r}")
        self._aw, self._uw = addr_width, user_width
        self.regmap = register_map(1)
        # fields merge per bit: the iCE40's logic blocks share one clock enable among eight
        # cells, and the bank's byte-lane enables left the UP5K unplaceable (session 15)
        self._bank = RegisterBank(self.regmap, addr_width=csr_addr_width, registered_status=False,
                                  byte_lanes=False)
        super().__init__({
            "csr": In(AXI4LiteSignature(addr_width=self._bank.bus.signature.addr_width, data_width=32)),
            "bus": Out(AXI4Signature(addr_width=addr_width, data_width=32, id_width=1,
                                     user_width=user_width)),
            "irq": Out(1),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        aw, bus = self._aw, self.bus
        m.submodules.bank = bank = self._bank
        wiring.connect(m, wiring.flipped(self.csr), bank.bus)
        regs = bank.channel[0]
        cycles = Signal(64)
        system_registers(m, bank.system, cycles, channels=1, data_bytes=4, addr_bits=self._aw,
                         lite=True)
        doorbell_stamp(m, regs, cycles[:32])
        m.d.comb += regs.device_id.id.eq(0)
        m.d.comb += [bus.arsize.eq(2), bus.awsize.eq(2), bus.arid.eq(0), bus.awid.eq(0),
                     bus.arburst.eq(1), bus.awburst.eq(1)]
        if self._uw:
            m.d.comb += [bus.aruser.eq(0), bus.awuser.eq(0)]

        # the ring's size and tail from registers; `has_work` (head != tail) is a register too,
        # cleared for a cycle whenever head moves (it is never stale when the FSM reads it)
        mask = Signal(16)
        m.d.sync += mask.eq((Const(1, 17) << regs.ring_size.log2) - 1)
        head = regs.head.index
        tail = Signal(16)
        m.d.sync += tail.eq(regs.tail.index & mask)
        head_we = Signal()
        has_work = Signal()
        m.d.sync += has_work.eq((head != tail) & ~head_we)
        reset_pend = Signal()       # a soft reset waits for the next point with nothing in flight
        with m.If(regs.control.w_stb & regs.control.reset):
            m.d.sync += reset_pend.eq(1)

        # -- the register file and its one adder -----------------------------------------------
        m.submodules.rf = rf = Memory(shape=32, depth=_DEPTH, init=[])
        wp = rf.write_port()
        rp = rf.read_port(transparent_for=())
        raddr = Signal(range(_DEPTH))
        m.d.comb += rp.addr.eq(raddr)
        rq = rp.data                # the word at last cycle's `raddr`
        tmp = Signal(32)            # an operand from the register file (a stride)
        baddr = Signal(32)          # the address of the next burst
        # the operation writing this cycle, chosen (in registers) when it read: the adder
        # starts from flip-flops and the RAM's data pins, never from the step decoder
        w_on, w_a, w_tmpb, w_when = Signal(), Signal(), Signal(), Signal()
        w_b = Signal(32)
        w_rf, w_wa = Signal(), Signal(range(_DEPTH))
        w_tmp, w_baddr = Signal(), Signal()
        m.d.sync += w_on.eq(0)
        alu = Signal(32)
        m.d.comb += alu.eq(Mux(w_a, rq, 0) + Mux(w_tmpb, tmp, w_b))
        with m.If(w_on & w_when & w_tmp):
            m.d.sync += tmp.eq(alu)
        with m.If(w_on & w_baddr):
            m.d.sync += baddr.eq(alu)
        # a write comes from the bus (descriptor, data, SG entries) or from the adder
        bus_we, bus_wa = Signal(), Signal(range(_DEPTH))
        op_we = w_on & w_when & w_rf
        m.d.comb += [wp.en.eq(bus_we | op_we), wp.addr.eq(Mux(bus_we, bus_wa, w_wa)),
                     wp.data.eq(Mux(bus_we, bus.rdata, alu))]

        def issue(m, src, dst, b=0, a=1, when=1):
            """Choose the operation that writes next cycle (see :class:`_Op`)."""
            m.d.sync += [w_on.eq(1), w_a.eq(a if src is not None else 0), w_when.eq(when),
                         w_tmp.eq(isinstance(dst, str) and dst == "tmp"),
                         w_baddr.eq(isinstance(dst, str) and dst == "baddr"),
                         w_rf.eq(not isinstance(dst, str))]
            if b is tmp:
                m.d.sync += w_tmpb.eq(1)
            else:
                m.d.sync += [w_tmpb.eq(0), w_b.eq(b)]
            if not isinstance(dst, str):
                m.d.sync += w_wa.eq(dst)

        # what the decisions need, kept as the words are written
        cur_lo = [Signal(6, name=f"cur_lo{s}") for s in (0, 1)]      # offset in a 64-byte block
        left_lo = [Signal(7, name=f"left_lo{s}") for s in (0, 1)]    # bytes left, when < 128
        left_big = [Signal(name=f"left_big{s}") for s in (0, 1)]
        ents_zero = [Signal(name=f"ents_zero{s}") for s in (0, 1)]
        rows_one = Signal()
        planes_one = Signal()
        # (a cycle after the write, from registers: the adder's carry chain ends at the RAM;
        # `settled` says the bits are current)
        we, wd, wa = Signal(), Signal(32), Signal(range(_DEPTH))
        m.d.sync += [we.eq(wp.en), wd.eq(wp.data), wa.eq(wp.addr)]
        settled = Signal()
        m.d.sync += settled.eq(~wp.en & ~we)
        hi_zero = Signal()
        m.d.comb += hi_zero.eq(wd[7:] == 0)
        with m.If(we):
            for s in (0, 1):
                with m.If(wa == _side(s, CUR)):
                    m.d.sync += cur_lo[s].eq(wd[:6])
                with m.If(wa == _side(s, LEFT)):
                    m.d.sync += [left_lo[s].eq(wd[:7]), left_big[s].eq(~hi_zero)]
                with m.If(wa == _side(s, ENTS)):
                    m.d.sync += ents_zero[s].eq(hi_zero & (wd[:7] == 0))
            with m.If(wa == ROWS):
                m.d.sync += rows_one.eq(hi_zero & (wd[:7] == 1))
            with m.If(wa == PLANES):
                m.d.sync += planes_one.eq(hi_zero & (wd[:7] == 1))
        left_zero = [~left_big[s] & (left_lo[s] == 0) for s in (0, 1)]

        k = Signal(range(32))       # step of an operation sequence

        def run(m, ops, then):
            """Run ``ops`` (one a cycle, pipelined: operation i reads in step i and writes in
            step i + 1; no operation may read what the one before it writes), then go to state
            ``then``."""
            with m.Switch(k):
                for i in range(len(ops) + 1):
                    with m.Case(i):
                        if i < len(ops):
                            o = ops[i]
                            if o.src is not None:
                                m.d.comb += raddr.eq(o.src)
                            issue(m, o.src, o.dst, o.b, o.a, o.when)
                        if i < len(ops):
                            m.d.sync += k.eq(i + 1)
                        else:
                            m.d.sync += k.eq(0)
                            m.next = then

        # -- the descriptor's control word and its validation, a word at a time ----------------
        ctl = Signal(layout(Control))           # (its reserved bits are `f_rsvd`)
        fill = ctl.opcode == Opcode.FILL
        src_sgl = ctl.src_sgl & ~fill
        dst_sgl = ctl.dst_sgl
        nd = ctl.ndim >= 2
        three = ctl.ndim == 3
        f = {name: Signal(name=f"f_{name}") for name in (
            "rsvd", "length_zero", "count0_zero", "count1_zero", "src_count_zero",
            "dst_count_zero", "src_misaligned", "dst_misaligned", "src_wide", "dst_wide")}
        faults = descriptor_rules(ctl, sg_rsvd=~f["count0_zero"] | ~f["count1_zero"], **f)
        desc_addr = Signal(aw)      # the ring slot (64-byte aligned)

        # -- outcome ---------------------------------------------------------------------------
        failed = Signal()
        code = Signal(4)
        eaddr = Signal(aw)
        event_done = Signal()
        raise_error = Signal()
        pending = interrupts(m, regs, event_done, raise_error, self.irq)
        # the error registers show `code` and `eaddr`, which change only at the next error
        m.d.comb += [regs.err_code.code.eq(code), regs.err_addr.addr.eq(eaddr)]

        def fail(m, why, addr):
            m.d.sync += [failed.eq(1), code.eq(why), eaddr.eq(addr), regs.err_index.index.eq(head)]
            m.next = "RECORD"

        # -- bursts ----------------------------------------------------------------------------
        beat = Signal(5)
        issued = Signal()           # the burst's address went out
        rerr = Signal(2)            # the worst response of the burst so far
        r_hs = bus.rvalid & bus.rready
        rz = Signal()
        m.d.comb += rz.eq(bus.rdata == 0)
        worst = Mux(bus.rresp > rerr, bus.rresp, rerr)
        with m.If(r_hs):
            m.d.sync += rerr.eq(worst)

        def burst_read(m, addr, length):
            """Present a read burst (once); a Value true at its last beat."""
            m.d.comb += [bus.arvalid.eq(~issued), bus.araddr.eq(addr), bus.arlen.eq(length),
                         bus.rready.eq(issued)]
            with m.If(bus.arvalid & bus.arready):
                m.d.sync += [issued.eq(1), beat.eq(0), rerr.eq(Resp.OKAY)]
            with m.If(r_hs):
                m.d.sync += beat.eq(beat + 1)
            last = r_hs & bus.rlast
            with m.If(last):
                m.d.sync += issued.eq(0)
            return last

        def resp_code(resp, slverr, decerr):
            return Mux(resp == Resp.DECERR, decerr, slverr)

        def wide(v):
            return (v >> aw) != 0 if aw < 32 else Const(0)

        # -- chunks and the byte funnel ----------------------------------------------------------
        n = Signal(range(BLOCK + 1))    # bytes in this chunk
        rlen = Signal(4)            # its read and write bursts' beats - 1
        wlen = Signal(4)
        last_lane = Signal(2)
        s_room = Mux(fill, BLOCK, BLOCK - cur_lo[0])    # FILL's source is no burst
        d_room = BLOCK - cur_lo[1]
        room = Signal(range(BLOCK + 1))
        m.d.comb += room.eq(Mux(s_room < d_room, s_room, d_room))

        def clamp(s, cap):
            return Mux(~left_big[s] & (left_lo[s] < cap), left_lo[s], cap)
        chunk = Signal(range(BLOCK + 1))
        m.d.comb += chunk.eq(clamp(1, clamp(0, room)))
        s_off, d_off = cur_lo[0][:2], cur_lo[1][:2]
        lo = Signal(32)             # the funnel's lower word; its upper word is `rq`
        w_gap = Signal()            # the cycle between write beats
        sh = Signal(2)
        m.d.comb += sh.eq(s_off - d_off)
        ahead = s_off >= d_off      # the source's first byte sits later in its word
        # FILL's buffer holds the pattern twice over: its virtual source starts at offset 0
        base = Mux(fill, cur_lo[0][2], 0)
        first_strb = Signal(4)
        last_strb = Signal(4)
        m.d.comb += [first_strb.eq(Const(0xF, 4) << d_off), last_strb.eq(Const(0xF, 4) >> ~last_lane)]
        aligned = Cat(Const(0, 2), baddr[2:aw])
        rec_addr = Cat(Const(COMPLETION_OFFSET, 6), desc_addr[6:])

        idle = Signal()
        halted = Signal()
        lside = Signal()            # the SG list being read: 0 source, 1 destination
        scanning = Signal()         # summing the lists (else: reading the next entry to move)
        acc = Signal(32)
        ovf = Signal()
        bad = Signal()              # an SG entry is malformed

        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += idle.eq(1)
                with m.If(reset_pend):
                    m.d.sync += [head.eq(tail), reset_pend.eq(0)]
                    m.d.comb += head_we.eq(1)
                with m.Elif(regs.control.enable & ~regs.control.pause & has_work):
                    m.d.sync += [desc_addr.eq((regs.ring_base.addr[:aw] & ~(DESCRIPTOR_SIZE - 1)) +
                                              (head << 6)),
                                 failed.eq(0)]
                    issue(m, None, DONE)        # DONE = 0 (written in FETCH's first cycle)
                    m.next = "FETCH"

            with m.State("FETCH"):
                # one 16-beat burst; the first 12 words are kept, and checked as they pass
                last = burst_read(m, desc_addr, DESCRIPTOR_SIZE // 4 - 1)
                w = bus.rdata
                with m.If(r_hs & (beat < _WORDS)):
                    m.d.comb += [bus_we.eq(1), bus_wa.eq(DESC + beat)]
                    with m.Switch(beat[:4]):
                        for word, side in ((0, "src"), (2, "dst")):
                            with m.Case(word):
                                m.d.sync += [f[f"{side}_misaligned"].eq(w[:4] != 0),
                                             f[f"{side}_wide"].eq(wide(w))]
                            with m.Case(word + 1):
                                m.d.sync += f[f"{side}_wide"].eq(f[f"{side}_wide"] | ~rz)
                        with m.Case(4):
                            m.d.sync += f["length_zero"].eq(rz)
                        with m.Case(5):
                            m.d.sync += [ctl.as_value()[:10].eq(w[:10]), f["rsvd"].eq(w[10:] != 0)]
                        for word, name in ((6, "src_count_zero"), (7, "dst_count_zero"),
                                           (10, "count0_zero"), (11, "count1_zero")):
                            with m.Case(word):
                                m.d.sync += f[name].eq(rz)
                with m.If(last):
                    m.next = "CHECK"

            with m.State("CHECK"):
                with m.If(reset_pend):
                    m.next = "IDLE"
                with m.Elif(rerr != Resp.OKAY):
                    fail(m, ErrorCode.DESC_ERR, desc_addr)
                with m.Elif(faults):
                    fail(m, ErrorCode.INVALID, desc_addr)
                with m.Elif(src_sgl | dst_sgl):
                    # sum the lists first: lengths that disagree never write a byte
                    m.d.sync += [lside.eq(~src_sgl), scanning.eq(1)]
                    m.next = "SCAN_INIT"
                with m.Else():
                    m.next = "START"

            # -- SG lists: summed entry by entry (scanning), later read entry by entry --------
            with m.State("SCAN_INIT"):
                m.d.sync += [acc.eq(0), ovf.eq(0), bad.eq(0)]
                run(m, [_Op(Mux(lside, DST_LO, SRC_LO), _side(lside, ROW)),
                        _Op(Mux(lside, PARAM + 1, PARAM + 0), _side(lside, ENTS))], "LIST_ADDR")

            with m.State("LIST_ADDR"):
                with m.If(reset_pend & (k == 0)):
                    m.next = "IDLE"
                with m.Else():
                    run(m, [_Op(_side(lside, ROW), "baddr")], "LIST_READ")

            with m.State("LIST_READ"):
                # an entry: address (beats 0, 1), length (2), flags (3)
                last = burst_read(m, baddr[:aw], 3)
                with m.If(r_hs):
                    with m.If(scanning):
                        with m.Switch(beat[:2]):
                            with m.Case(0):
                                m.d.sync += bad.eq(bad | wide(bus.rdata))
                            with m.Case(1):
                                m.d.sync += bad.eq(bad | ~rz)
                            with m.Case(2):
                                total = acc + bus.rdata
                                m.d.sync += [bad.eq(bad | rz), acc.eq(total[:32]), ovf.eq(ovf | total[32])]
                    with m.Elif(beat[:2] == 0):
                        m.d.comb += [bus_we.eq(1), bus_wa.eq(_side(lside, CUR))]
                    with m.Elif(beat[:2] == 2):
                        m.d.comb += [bus_we.eq(1), bus_wa.eq(_side(lside, LEFT))]
                with m.If(last):
                    with m.If(worst != Resp.OKAY):
                        fail(m, ErrorCode.SGL_ERR, baddr[:aw])
                    with m.Elif(scanning & (bad | ~rz)):       # (beat 3: the entry's flags)
                        fail(m, ErrorCode.INVALID, desc_addr)
                    with m.Else():
                        m.next = "LIST_STEP"

            with m.State("LIST_STEP"):
                run(m, [_Op(_side(lside, ROW), _side(lside, ROW), b=16),
                        _Op(_side(lside, ENTS), _side(lside, ENTS), b=-1)], "LIST_NEXT")

            with m.State("LIST_NEXT"):
                with m.If(~settled):
                    pass
                with m.Elif(~scanning):
                    m.next = "NEXT"
                with m.Elif(~Mux(lside, ents_zero[1], ents_zero[0])):
                    m.next = "LIST_ADDR"
                with m.Else():
                    m.next = "SCAN_END"

            with m.State("SCAN_END"):
                # the list's sum against the descriptor's length
                with m.If(k == 0):
                    m.d.comb += raddr.eq(LENGTH)
                    m.d.sync += k.eq(1)
                with m.Else():
                    m.d.sync += k.eq(0)
                    with m.If(ovf | (rq != acc)):
                        fail(m, ErrorCode.INVALID, desc_addr)
                    with m.Elif(~lside & dst_sgl):
                        m.d.sync += lside.eq(1)
                        m.next = "SCAN_INIT"
                    with m.Else():
                        m.d.sync += scanning.eq(0)
                        m.next = "START"

            # -- the transfer -------------------------------------------------------------------
            with m.State("START"):
                ops = []
                for s, lo_word, sgl, count in ((0, SRC_LO, src_sgl, PARAM + 0),
                                               (1, DST_LO, dst_sgl, PARAM + 1)):
                    ops += [_Op(lo_word, _side(s, CUR), a=~fill if s == 0 else 1),
                            _Op(lo_word, _side(s, ROW)), _Op(lo_word, _side(s, PLANE)),
                            _Op(LENGTH, _side(s, LEFT), a=~sgl), _Op(count, _side(s, ENTS))]
                ops += [_Op(PARAM + 4, ROWS, a=nd, b=~nd), _Op(PARAM + 5, PLANES, a=three, b=~three)]
                # FILL: the pattern over the whole buffer
                ops += [_Op(SRC_LO + (i & 1), BUF + i, when=fill) for i in range(16)]
                run(m, ops, "NEXT")

            with m.State("NEXT"):
                with m.If(~settled):
                    pass
                with m.Elif(reset_pend):
                    m.next = "IDLE"
                with m.Elif(left_zero[1]):
                    with m.If(dst_sgl):
                        with m.If(~ents_zero[1]):
                            m.d.sync += lside.eq(1)
                            m.next = "LIST_ADDR"
                        with m.Else():
                            m.next = "RECORD"
                    with m.Elif(~rows_one):
                        m.next = "ROW"
                    with m.Elif(~planes_one):
                        m.next = "PLANE"
                    with m.Else():
                        m.next = "RECORD"
                with m.Elif(left_zero[0]):
                    with m.If(src_sgl & ~ents_zero[0]):
                        m.d.sync += lside.eq(0)
                        m.next = "LIST_ADDR"
                    with m.Else():      # the list changed since it was summed
                        fail(m, ErrorCode.INVALID, desc_addr)
                with m.Else():
                    m.d.sync += n.eq(chunk)
                    with m.If(fill):
                        m.next = "WADDR"
                    with m.Else():
                        m.next = "RADDR"

            with m.State("ROW"):
                # the next row of both sides: row += stride0, the address there, `length` left
                ops = []
                for s, stride in ((0, PARAM + 0), (1, PARAM + 2)):
                    ops += [_Op(stride, "tmp"),
                            _Op(_side(s, ROW), _side(s, CUR), b=tmp, when=~fill if s == 0 else 1),
                            _Op(_side(s, ROW), _side(s, ROW), b=tmp)]
                ops += [_Op(LENGTH, _side(0, LEFT)), _Op(LENGTH, _side(1, LEFT)),
                        _Op(ROWS, ROWS, b=-1)]
                run(m, ops, "NEXT")

            with m.State("PLANE"):
                # the next plane: plane += stride1, its first row
                ops = []
                for s, stride in ((0, PARAM + 1), (1, PARAM + 3)):
                    ops += [_Op(stride, "tmp"),
                            _Op(_side(s, PLANE), _side(s, CUR), b=tmp, when=~fill if s == 0 else 1),
                            _Op(_side(s, PLANE), _side(s, ROW), b=tmp),
                            _Op(_side(s, PLANE), _side(s, PLANE), b=tmp)]
                ops += [_Op(LENGTH, _side(0, LEFT)), _Op(LENGTH, _side(1, LEFT)),
                        _Op(PARAM + 4, ROWS), _Op(PLANES, PLANES, b=-1)]
                run(m, ops, "NEXT")

            # (the bursts' lengths from `n`, a cycle after it is chosen)
            lengths = [rlen.eq((s_off + n - 1)[2:]), wlen.eq((d_off + n - 1)[2:]),
                       last_lane.eq((d_off + n - 1)[:2])]

            with m.State("RADDR"):
                m.d.sync += lengths
                run(m, [_Op(_side(0, CUR), "baddr")], "READ")

            with m.State("READ"):
                last = burst_read(m, aligned, rlen)
                with m.If(r_hs):
                    m.d.comb += [bus_we.eq(1), bus_wa.eq(BUF + beat[:4])]
                with m.If(last):
                    with m.If(worst != Resp.OKAY):
                        fail(m, resp_code(worst, ErrorCode.READ_SLVERR, ErrorCode.READ_DECERR), aligned)
                    with m.Else():
                        m.next = "WADDR"

            with m.State("WADDR"):
                m.d.sync += [beat.eq(0)] + lengths
                run(m, [_Op(_side(1, CUR), "baddr")], "WSETUP")

            with m.State("WSETUP"):
                # the write burst's address; meanwhile the funnel's first word into `lo`
                m.d.sync += w_gap.eq(0)
                m.d.comb += [bus.awvalid.eq(~issued), bus.awaddr.eq(aligned), bus.awlen.eq(wlen)]
                with m.If(bus.awvalid & bus.awready):
                    m.d.sync += issued.eq(1)
                with m.Switch(beat[:2]):
                    with m.Case(0):
                        m.d.comb += raddr.eq(BUF + (base + ahead - 1)[:4])
                        m.d.sync += beat.eq(1)
                    with m.Case(1):
                        m.d.comb += raddr.eq(BUF + (base + ahead)[:4])
                        m.d.sync += [lo.eq(rq), beat.eq(2)]
                    with m.Default():
                        m.d.comb += raddr.eq(BUF + (base + ahead)[:4])
                        with m.If(issued):
                            m.d.sync += beat.eq(0)
                            m.next = "WRITE"

            with m.State("WRITE"):
                # a beat every other cycle: the buffer's address comes from registers only (a
                # handshake-driven address would run from the memory's ready, through the
                # interconnect, into the RAM)
                m.d.comb += raddr.eq(BUF + (base + beat + ahead)[:4])
                with m.If(~w_gap):
                    m.d.comb += [bus.wvalid.eq(1), bus.wlast.eq(beat[:4] == wlen),
                                 bus.wdata.eq((Cat(lo, rq) >> Cat(Const(0, 3), sh))[:32]),
                                 bus.wstrb.eq(Mux(beat == 0, first_strb, 0xF) &
                                              Mux(bus.wlast, last_strb, 0xF))]
                    with m.If(bus.wready):
                        m.d.sync += [lo.eq(rq), beat.eq(beat + 1), w_gap.eq(1)]
                        with m.If(bus.wlast):
                            m.next = "WRESP"
                with m.Else():
                    m.d.sync += w_gap.eq(0)

            with m.State("WRESP"):
                m.d.comb += bus.bready.eq(1)
                with m.If(bus.bvalid):
                    m.d.sync += issued.eq(0)
                    with m.If(bus.bresp != Resp.OKAY):
                        fail(m, resp_code(bus.bresp, ErrorCode.WRITE_SLVERR, ErrorCode.WRITE_DECERR), aligned)
                    with m.Else():
                        m.next = "UPDATE"

            with m.State("UPDATE"):
                run(m, [_Op(_side(0, CUR), _side(0, CUR), b=n), _Op(_side(0, LEFT), _side(0, LEFT), b=-n),
                        _Op(_side(1, CUR), _side(1, CUR), b=n), _Op(_side(1, LEFT), _side(1, LEFT), b=-n),
                        _Op(DONE, DONE, b=n)], "NEXT")

            # -- the completion record, then the head moves on ----------------------------------
            with m.State("RECORD"):
                # 4 words at the end of the ring slot; `rq` shows DONE from the second cycle on
                m.d.comb += raddr.eq(DONE)
                record = Cat(Mux(failed, int(Status.ERROR), int(Status.DONE)), Const(0, 6),
                             Mux(failed, code, 0), Const(0, 4), Const(0, 16), rq,
                             Mux(failed, eaddr, 0), Const(0, 64 - aw))
                with m.If(reset_pend & ~issued):
                    m.next = "IDLE"
                with m.Else():
                    m.d.comb += [bus.awvalid.eq(~issued), bus.awaddr.eq(rec_addr), bus.awlen.eq(3),
                                 bus.wvalid.eq(issued), bus.wdata.eq(record.word_select(beat[:2], 32)),
                                 bus.wstrb.eq(0xF), bus.wlast.eq(beat[:2] == 3)]
                    with m.If(bus.awvalid & bus.awready):
                        m.d.sync += [issued.eq(1), beat.eq(0)]
                    with m.If(bus.wvalid & bus.wready):
                        m.d.sync += beat.eq(beat + 1)
                        with m.If(bus.wlast):
                            m.next = "RRESP"

            with m.State("RRESP"):
                m.d.comb += bus.bready.eq(1)
                with m.If(bus.bvalid):
                    m.d.sync += [issued.eq(0), regs.done_cycle.cycle.eq(cycles[:32])]
                    with m.If(bus.bresp == Resp.OKAY):
                        m.d.sync += head.eq((head + 1) & mask)
                        m.d.comb += head_we.eq(1)
                        with m.If(~failed):
                            m.d.sync += regs.completed.count.eq(regs.completed.count + 1)
                            m.d.comb += event_done.eq(ctl.irq)
                    with m.Elif(~failed):   # a failed descriptor's registers keep its own error
                        m.d.sync += [code.eq(ErrorCode.COMPLETION_ERR), eaddr.eq(rec_addr),
                                     regs.err_index.index.eq(head)]
                    with m.If(failed | (bus.bresp != Resp.OKAY)):
                        m.d.comb += raise_error.eq(1)
                        m.next = "HALTED"
                    with m.Else():
                        m.next = "IDLE"

            with m.State("HALTED"):
                m.d.comb += halted.eq(1)
                with m.If(reset_pend):
                    m.d.sync += [head.eq(tail), reset_pend.eq(0)]
                    m.d.comb += head_we.eq(1)
                    m.next = "IDLE"

        waiting = regs.control.enable & has_work
        with m.If(halted):
            m.d.comb += regs.status.state.eq(ChannelState.HALTED)
        with m.Elif(idle & regs.control.pause & ~reset_pend):
            m.d.comb += regs.status.state.eq(ChannelState.PAUSED)
        with m.Elif(~idle | reset_pend | waiting):
            m.d.comb += regs.status.state.eq(ChannelState.RUNNING)
        with m.Else():
            m.d.comb += regs.status.state.eq(ChannelState.IDLE)
        m.d.comb += self.busy.eq(~idle & ~halted | reset_pend | waiting | (pending != 0))
        return m
