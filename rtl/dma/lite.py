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
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ...sw.formats import DESCRIPTOR_SIZE, Descriptor, ErrorCode, Opcode, Status
from ...sw.registers import ChannelState, register_map
from ..bus import AXI4LiteSignature, AXI4Signature, Resp
from ..formats import layout
from ..regbank import RegisterBank
from .channel import COMPLETION_OFFSET, descriptor_faults, doorbell_stamp, interrupts
from .engine import system_registers

__all__ = ["LiteEngine"]

BLOCK = 64          # a chunk stays inside one 64-byte block at either end
_WORDS = 12         # descriptor words kept: addresses, length, control, parameters


class _Side:
    """Where one side (source or destination) of a transfer stands.  ``cur``/``left``: the
    current fragment; ``row``/``plane``: the N-D row and plane starts (for an SG list,
    ``row`` is the address of the next entry and ``ents`` the entries not yet read)."""

    def __init__(self, name, aw):
        self.cur = Signal(aw, name=f"{name}_cur")
        self.left = Signal(32, name=f"{name}_left")
        self.row = Signal(aw, name=f"{name}_row")
        self.plane = Signal(aw, name=f"{name}_plane")
        self.ents = Signal(32, name=f"{name}_ents")


class LiteEngine(wiring.Component):
    """A one-channel, sequential DMA engine with :class:`~.engine.Engine`'s programming model.

    Parameters
    ----------
    addr_width : int
        Memory bus address width, 16..32 (descriptor addresses above it are invalid).
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
        self._bank = RegisterBank(self.regmap, addr_width=csr_addr_width)
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
        system_registers(m, bank.system, cycles, channels=1, data_bytes=4, lite=True)
        doorbell_stamp(m, regs, cycles[:32])
        m.d.comb += regs.device_id.id.eq(0)

        m.d.comb += [bus.arsize.eq(2), bus.awsize.eq(2), bus.arid.eq(0), bus.awid.eq(0)]

        mask = Signal(16)
        m.d.comb += mask.eq((Const(1, 17) << regs.ring_size.log2) - 1)
        head = regs.head.index
        tail = Signal(16)
        m.d.comb += tail.eq(regs.tail.index & mask)
        reset_pend = Signal()       # a soft reset waits for the next point with nothing in flight
        with m.If(regs.control.w_stb & regs.control.reset):
            m.d.sync += reset_pend.eq(1)

        # -- the descriptor (its first 48 bytes, kept while it runs) ---------------------------
        raw = Signal(32 * _WORDS)
        d = data.View(layout(Descriptor), Cat(raw, Const(0, 8 * DESCRIPTOR_SIZE - 32 * _WORDS)))
        ctl, nd_p, sg_p = d.control, d.params.nd_params, d.params.sg_params
        fill = ctl.opcode == Opcode.FILL
        src_sgl = ctl.src_sgl & ~fill
        dst_sgl = ctl.dst_sgl
        desc_addr = Signal(aw)      # the ring slot

        # -- outcome ---------------------------------------------------------------------------
        failed = Signal()
        code = Signal(4)
        eaddr = Signal(aw)
        done_bytes = Signal(32)     # bytes written and acknowledged
        event_done = Signal()
        raise_error = Signal()
        pending = interrupts(m, regs, event_done, raise_error, self.irq)

        # the error registers show `code` and `eaddr`, which change only at the next error
        m.d.comb += [regs.err_code.code.eq(code), regs.err_addr.addr.eq(eaddr)]

        def fail(m, why, addr):
            m.d.sync += [failed.eq(1), code.eq(why), eaddr.eq(addr), regs.err_index.index.eq(head)]
            m.next = "RECORD"

        # -- transfer state --------------------------------------------------------------------
        src, dst = _Side("src", aw), _Side("dst", aw)
        rows = Signal(32)           # rows left in this plane, this one included
        planes = Signal(32)         # planes left, this one included
        n = Signal(range(BLOCK + 1))    # bytes in this chunk
        rlen = Signal(4)            # its read and write bursts' beats - 1
        wlen = Signal(4)
        beat = Signal(5)
        issued = Signal()           # the burst's address went out
        rerr = Signal(2)            # the worst response of the burst so far
        list_dst = Signal()         # the SG list being read belongs to the destination
        sum_ovf = Signal()          # an SG list's lengths overflowed 32 bits
        bad = Signal()              # an SG list entry is malformed

        r_hs = bus.rvalid & bus.rready
        with m.If(r_hs & (bus.rresp > rerr)):
            m.d.sync += rerr.eq(bus.rresp)

        def burst_read(m, addr, length):
            """Present a read burst (once); True (a Value) at its last beat."""
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

        # -- the chunk buffer and the byte funnel ------------------------------------------------
        m.submodules.buf = buf = Memory(shape=32, depth=16, init=[])
        wp = buf.write_port()
        rp = buf.read_port(transparent_for=())
        raddr = Signal(5)
        ridx = Signal(5)            # the word `rp` shows (the address a cycle ago)
        m.d.sync += ridx.eq(raddr)
        m.d.comb += rp.addr.eq(raddr[:4])
        # FILL reads a virtual source: the 8-byte pattern repeated from offset 0
        pattern_word = Mux(src.cur[2] ^ ridx[0], d.src[32:64], d.src[:32])
        word = Mux(fill, pattern_word, rp.data)
        lo = Signal(32)
        sh = Signal(3)
        m.d.comb += sh.eq(src.cur[:2] - dst.cur[:2])
        ahead = src.cur[:2] >= dst.cur[:2]   # the source's first byte sits later in its word
        wdata = Signal(32)
        m.d.comb += wdata.eq((Cat(lo, word) >> Cat(Const(0, 3), sh[:2]))[:32])
        last_lane = Signal(2)
        first_strb = Signal(4)
        last_strb = Signal(4)
        m.d.comb += [first_strb.eq(Const(0xF, 4) << dst.cur[:2]),
                     last_strb.eq(Const(0xF, 4) >> ~last_lane)]

        # chunk size: the rest of either fragment, and the rest of either 64-byte block (FILL's
        # source is no burst)
        s_room = Mux(fill, BLOCK, BLOCK - src.cur[:6])
        d_room = BLOCK - dst.cur[:6]
        room = Signal(range(BLOCK + 1))
        m.d.comb += room.eq(Mux(s_room < d_room, s_room, d_room))

        def clamp(left, cap):
            return Mux((left[7:] == 0) & (left[:7] < cap), left[:7], cap)
        chunk = Signal(range(BLOCK + 1))
        m.d.comb += chunk.eq(clamp(dst.left, clamp(src.left, room)))

        def wide(v):
            return (v >> aw) != 0 if aw < 32 else Const(0)

        def step_row(m, side, plane, keep_cur=Const(0, 1)):
            """Start the side's next row (``plane``: its next plane).  With ``keep_cur`` (FILL's
            virtual source) the address runs on."""
            stride0 = nd_p.src_stride0 if side is src else nd_p.dst_stride0
            stride1 = nd_p.src_stride1 if side is src else nd_p.dst_stride1
            nxt = (Mux(plane, side.plane, side.row) + Mux(plane, stride1, stride0))[:aw]
            m.d.sync += [side.row.eq(nxt), side.left.eq(d.length)]
            with m.If(~keep_cur):
                m.d.sync += side.cur.eq(nxt)
            with m.If(plane):
                m.d.sync += side.plane.eq(nxt)

        idle = Signal()
        halted = Signal()
        rec_addr = (desc_addr + COMPLETION_OFFSET)[:aw]
        m.d.comb += [bus.awburst.eq(1), bus.arburst.eq(1)]
        if self._uw:
            m.d.comb += [bus.aruser.eq(0), bus.awuser.eq(0)]

        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += idle.eq(1)
                with m.If(reset_pend):
                    m.d.sync += [head.eq(tail), reset_pend.eq(0)]
                with m.Elif(regs.control.enable & ~regs.control.pause & (head != tail)):
                    m.d.sync += [desc_addr.eq((regs.ring_base.addr[:aw] & ~(DESCRIPTOR_SIZE - 1)) +
                                              (head << 6)),
                                 failed.eq(0), done_bytes.eq(0)]
                    m.next = "FETCH"

            with m.State("FETCH"):
                # one 16-beat burst; the first 12 words are kept
                last = burst_read(m, desc_addr, DESCRIPTOR_SIZE // 4 - 1)
                with m.If(r_hs & (beat < _WORDS)):
                    m.d.sync += raw.word_select(beat[:4], 32).eq(bus.rdata)
                with m.If(last):
                    m.next = "CHECK"

            with m.State("CHECK"):
                with m.If(reset_pend):
                    m.next = "IDLE"
                with m.Elif(rerr != Resp.OKAY):
                    fail(m, ErrorCode.DESC_ERR, desc_addr)
                with m.Elif(descriptor_faults(d, aw)):
                    fail(m, ErrorCode.INVALID, desc_addr)
                with m.Elif(src_sgl | dst_sgl):
                    # sum the lists first: lengths that disagree never write a byte
                    m.d.sync += [list_dst.eq(~src_sgl), sum_ovf.eq(0), bad.eq(0), src.left.eq(0),
                                 src.row.eq(Mux(src_sgl, d.src[:aw], d.dst[:aw])),
                                 src.ents.eq(Mux(src_sgl, sg_p.src_count, sg_p.dst_count))]
                    m.next = "SCAN"
                with m.Else():
                    m.next = "START"

            with m.State("SCAN"):
                # one entry a burst; the source's `row`/`ents`/`left` hold pointer, count and sum
                with m.If(reset_pend & ~issued):
                    m.next = "IDLE"
                with m.Else():
                    last = burst_read(m, src.row, 3)
                    with m.If(r_hs):
                        with m.Switch(beat[:2]):
                            with m.Case(0):
                                m.d.sync += bad.eq(bad | wide(bus.rdata))
                            with m.Case(1):
                                m.d.sync += bad.eq(bad | (bus.rdata != 0))
                            with m.Case(2):
                                total = src.left + bus.rdata
                                m.d.sync += [bad.eq(bad | (bus.rdata == 0)), src.left.eq(total),
                                             sum_ovf.eq(sum_ovf | total[32])]
                            with m.Case(3):
                                m.d.sync += bad.eq(bad | (bus.rdata != 0))
                    with m.If(last):
                        m.d.sync += [src.row.eq(src.row + 16), src.ents.eq(src.ents - 1)]
                        with m.If((rerr != Resp.OKAY) | (bus.rresp != Resp.OKAY)):
                            fail(m, ErrorCode.SGL_ERR, src.row)
                        with m.Elif(bad | (bus.rdata != 0)):     # (beat 3: the entry's flags)
                            fail(m, ErrorCode.INVALID, desc_addr)
                        with m.Elif(src.ents == 1):
                            with m.If(sum_ovf | (src.left != d.length)):
                                fail(m, ErrorCode.INVALID, desc_addr)
                            with m.Elif(~list_dst & dst_sgl):
                                m.d.sync += [list_dst.eq(1), src.left.eq(0), src.row.eq(d.dst[:aw]),
                                             src.ents.eq(sg_p.dst_count)]
                            with m.Else():
                                m.next = "START"

            with m.State("START"):
                nd = ctl.ndim >= 2
                m.d.sync += [rows.eq(Mux(nd, nd_p.count0, 1)),
                             planes.eq(Mux(ctl.ndim == 3, nd_p.count1, 1))]
                for side, addr, sgl, count in ((src, Mux(fill, 0, d.src[:aw]), src_sgl, sg_p.src_count),
                                               (dst, d.dst[:aw], dst_sgl, sg_p.dst_count)):
                    m.d.sync += [side.cur.eq(addr), side.row.eq(addr), side.plane.eq(addr),
                                 side.left.eq(Mux(sgl, 0, d.length)), side.ents.eq(count)]
                m.next = "NEXT"

            with m.State("NEXT"):
                with m.If(reset_pend):
                    m.next = "IDLE"
                with m.Elif(dst.left == 0):
                    with m.If(dst_sgl):
                        with m.If(dst.ents != 0):
                            m.d.sync += list_dst.eq(1)
                            m.next = "LIST"
                        with m.Else():
                            m.next = "RECORD"
                    with m.Elif(rows > 1):
                        m.d.sync += rows.eq(rows - 1)
                        step_row(m, src, 0, keep_cur=fill)
                        step_row(m, dst, 0)
                    with m.Elif(planes > 1):
                        m.d.sync += [planes.eq(planes - 1), rows.eq(nd_p.count0)]
                        step_row(m, src, 1, keep_cur=fill)
                        step_row(m, dst, 1)
                    with m.Else():
                        m.next = "RECORD"
                with m.Elif(src.left == 0):
                    with m.If(src.ents != 0):
                        m.d.sync += list_dst.eq(0)
                        m.next = "LIST"
                    with m.Else():      # the list changed since it was summed
                        fail(m, ErrorCode.INVALID, desc_addr)
                with m.Else():
                    m.d.sync += [n.eq(chunk),
                                 rlen.eq((src.cur[:2] + chunk - 1)[2:]),
                                 wlen.eq((dst.cur[:2] + chunk - 1)[2:]),
                                 last_lane.eq((dst.cur[:2] + chunk - 1)[:2]),
                                 beat.eq(0)]
                    with m.If(fill):
                        m.next = "WSETUP"
                    with m.Else():
                        m.next = "READ"

            with m.State("LIST"):
                # the next SG entry of one side: its address (beat 0) and length (beat 2)
                side_row = Mux(list_dst, dst.row, src.row)
                last = burst_read(m, side_row, 3)
                for side, sel in ((src, ~list_dst), (dst, list_dst)):
                    with m.If(r_hs & sel & (beat[:2] == 0)):
                        m.d.sync += side.cur.eq(bus.rdata)
                    with m.If(r_hs & sel & (beat[:2] == 2)):
                        m.d.sync += side.left.eq(bus.rdata)
                    with m.If(last & sel):
                        m.d.sync += [side.row.eq(side.row + 16), side.ents.eq(side.ents - 1)]
                with m.If(last):
                    with m.If((rerr != Resp.OKAY) | (bus.rresp != Resp.OKAY)):
                        fail(m, ErrorCode.SGL_ERR, side_row)
                    with m.Else():
                        m.next = "NEXT"

            with m.State("READ"):
                araddr = Cat(Const(0, 2), src.cur[2:])
                last = burst_read(m, araddr, rlen)
                m.d.comb += [wp.addr.eq(beat[:4]), wp.data.eq(bus.rdata), wp.en.eq(r_hs)]
                with m.If(last):
                    worst = Mux(bus.rresp > rerr, bus.rresp, rerr)
                    with m.If(worst != Resp.OKAY):
                        fail(m, resp_code(worst, ErrorCode.READ_SLVERR, ErrorCode.READ_DECERR), araddr)
                    with m.Else():
                        m.d.sync += beat.eq(0)
                        m.next = "WSETUP"

            with m.State("WSETUP"):
                # the write burst's address; meanwhile the funnel's first word into `lo`
                m.d.comb += [bus.awvalid.eq(~issued), bus.awaddr.eq(Cat(Const(0, 2), dst.cur[2:])),
                             bus.awlen.eq(wlen)]
                with m.If(bus.awvalid & bus.awready):
                    m.d.sync += issued.eq(1)
                with m.Switch(beat[:2]):
                    with m.Case(0):
                        m.d.comb += raddr.eq(ahead - 1)
                        m.d.sync += beat.eq(1)
                    with m.Case(1):
                        m.d.comb += raddr.eq(ahead)
                        m.d.sync += [lo.eq(word), beat.eq(2)]
                    with m.Default():
                        m.d.comb += raddr.eq(ahead)
                        with m.If(issued):
                            m.d.sync += beat.eq(0)
                            m.next = "WRITE"

            with m.State("WRITE"):
                w_hs = bus.wvalid & bus.wready
                m.d.comb += [bus.wvalid.eq(1), bus.wdata.eq(wdata), bus.wlast.eq(beat[:4] == wlen),
                             bus.wstrb.eq(Mux(beat == 0, first_strb, 0xF) &
                                          Mux(bus.wlast, last_strb, 0xF)),
                             raddr.eq(beat + ahead + w_hs)]
                with m.If(w_hs):
                    m.d.sync += [lo.eq(word), beat.eq(beat + 1)]
                    with m.If(bus.wlast):
                        m.next = "WRESP"

            with m.State("WRESP"):
                m.d.comb += bus.bready.eq(1)
                with m.If(bus.bvalid):
                    m.d.sync += issued.eq(0)
                    with m.If(bus.bresp != Resp.OKAY):
                        fail(m, resp_code(bus.bresp, ErrorCode.WRITE_SLVERR, ErrorCode.WRITE_DECERR),
                             Cat(Const(0, 2), dst.cur[2:]))
                    with m.Else():
                        m.d.sync += [done_bytes.eq(done_bytes + n),
                                     src.cur.eq(src.cur + n), src.left.eq(src.left - n),
                                     dst.cur.eq(dst.cur + n), dst.left.eq(dst.left - n)]
                        m.next = "NEXT"

            with m.State("RECORD"):
                # the completion record: 4 words at the end of the ring slot
                record = Cat(Mux(failed, int(Status.ERROR), int(Status.DONE)), Const(0, 6),
                             Mux(failed, code, 0), Const(0, 4), Const(0, 16), done_bytes,
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
                    m.next = "IDLE"

        waiting = regs.control.enable & (head != tail)
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
