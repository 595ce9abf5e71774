"""Host bridge: the framed, CRC-checked wire protocol of :mod:`sgdma.sw.protocol` on a byte
stream, executed as AXI4-Lite reads and writes.

    rx bytes -> receiver (sync hunt, header, payload into a commit/rollback buffer, CRC-32,
                timeout) -> command queue -> executor (sequence check, AXI4-Lite, duplicate
                cache) -> framer (responses, IRQ frames, CRC-32) -> tx bytes

A frame is executed only after its CRC checked out: WRITE payloads wait in the payload buffer
and a bad frame rolls its words back.  Every command is answered -- ACK with the first
non-OKAY AXI response and the index of its word, or NAK -- so a host can keep two frames in
flight and still knows exactly what happened.  Sequence numbers make writes run exactly once:
a retransmitted WRITE the bridge already ran is answered from a small response cache.
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..sw.protocol import (CRC_RESIDUE, DUPLICATE, MAGIC, MAX_WORDS, PROTOCOL_VERSION, STATUS_WORDS,
                           SYNC_REQUEST, SYNC_RESPONSE, BridgeStatus, Kind, Nak, Op)
from .bus import AXI4LiteSignature, Resp
from .fifo import BlockFIFO, BufferedFIFO, registered_read
from .formats import layout

__all__ = ["Bridge", "crc32_step"]

_POLY = 0xEDB88320


def _step_model(crc, byte):
    c = crc ^ byte
    for _ in range(8):
        c = (c >> 1) ^ (_POLY if c & 1 else 0)
    return c


def crc32_step(crc, byte):
    """The reflected CRC-32 register after one more byte (an Amaranth expression): each
    result bit is the XOR of the input bits that reach it (the update is linear over GF(2))."""
    inputs = Cat(crc, byte)
    bits = []
    for out in range(32):
        taps = [i for i in range(40)
                if _step_model(1 << i if i < 32 else 0, 1 << (i - 32) if i >= 32 else 0) >> out & 1]
        bits.append(Cat(*(inputs[i] for i in taps)).xor())
    return Cat(*bits)


class Bridge(wiring.Component):
    """Byte-stream to AXI4-Lite bridge.

    Parameters
    ----------
    irq_lines : int
        Interrupt inputs reported in STATUS and, when unmasked, by IRQ frames (1..16).
    timeout : int
        Cycles without a byte after which a partial frame is dropped and the receiver hunts
        for the next sync byte.
    payload_words : int
        WRITE payload buffer (power of two >= 2 * 256: two full frames in flight).
    addr_width : int
        AXI4-Lite address width (<= 32: frames carry 32-bit addresses).
    block_ram_queues : bool
        The command and response-word queues in block RAM (for FPGAs without LUT RAM, such
        as the iCE40, where a 4-deep queue of 64-bit commands costs ~400 flip-flops).

    Members
    -------
    rx : In(stream.Signature(8)) — request bytes from the host.
    tx : Out(stream.Signature(8)) — response bytes to the host.
    bus : Out(AXI4LiteSignature(addr_width, 32)).
    irq : In(irq_lines) — interrupt lines, sampled into a register (a change is seen a cycle later).
    busy : Out(1) — a frame is being received, executed or sent (or an IRQ frame is due).
    """

    def __init__(self, *, irq_lines=4, timeout=1 << 16, payload_words=2 * MAX_WORDS, addr_width=32,
                 block_ram_queues=False):
        if not isinstance(irq_lines, int) or not 1 <= irq_lines <= 16:
            raise ValueError(f"irq_lines must be an integer in 1..16, not {irq_lines!r}")
        if not isinstance(timeout, int) or timeout < 16:
            raise ValueError(f"timeout must be an integer >= 16 cycles, not {timeout!r}")
        if (not isinstance(payload_words, int) or payload_words < 2 * MAX_WORDS or
                payload_words & (payload_words - 1)):
            raise ValueError(f"payload_words must be a power of two >= {2 * MAX_WORDS}, "
                             f"not {payload_words!r}")
        if not isinstance(addr_width, int) or not 8 <= addr_width <= 32:
            raise ValueError(f"addr_width must be an integer in 8..32, not {addr_width!r}")
        self._irq_lines, self._timeout, self._depth, self._aw = irq_lines, timeout, payload_words, addr_width
        self._fifo = BlockFIFO if block_ram_queues else BufferedFIFO
        super().__init__({
            "rx": In(stream.Signature(8)),
            "tx": Out(stream.Signature(8)),
            "bus": Out(AXI4LiteSignature(addr_width=addr_width, data_width=32)),
            "irq": In(irq_lines),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        depth = self._depth
        pbits = (depth - 1).bit_length() + 1            # pointers carry one wrap bit

        # ---- payload buffer: the receiver writes tentatively, commits on a good CRC ----
        m.submodules.payload = payload = Memory(shape=32, depth=depth, init=[])
        pw = payload.write_port()
        wp, wp_commit, rp = Signal(pbits), Signal(pbits), Signal(pbits)
        # the word at last cycle's `rp`: the executor reads only committed words, never the one
        # the receiver is writing, so the payload needs no read-during-write logic
        pr_data = registered_read(m, payload, rp[:pbits - 1], name="pr_data")
        # "full" a cycle late, from registers: one word short of full (the receiver writes
        # at most a word a cycle, the executor only frees words)
        full = Signal()
        m.d.sync += full.eq((wp - rp)[:pbits] >= depth - 1)

        # ---- command queue: receiver -> executor ----
        cmd_layout = [("op", 8), ("seq", 8), ("n1", 8), ("addr", 32), ("nak", 8)]
        cmd_width = sum(w for _, w in cmd_layout)
        m.submodules.cmd_q = cmd_q = self._fifo(width=cmd_width, depth=4)

        def fields(value):
            out, pos = {}, 0
            for name, w in cmd_layout:
                out[name] = value[pos:pos + w]
                pos += w
            return out

        # ---- receiver ----
        rx = self.rx
        r_op, r_seq, r_n1 = Signal(8), Signal(8), Signal(8)
        r_addr = Signal(32)
        r_cnt = Signal(range(4 * MAX_WORDS + 8))
        r_crc = Signal(32, init=0xFFFFFFFF)
        r_word = Signal(24)
        r_idle = Signal(range(self._timeout + 1))
        idle_full = Signal()        # r_idle == timeout, a register (set as r_idle steps to it)
        crc_errors, timeouts = Signal(16), Signal(16)
        r_verdict, r_ok = Signal(), Signal()
        hunting, timed_out = Signal(), Signal()

        # the receiver takes a byte from registers: `rx.ready` is what the FSM wanted in the
        # cycle before (never in the cycle after a take), so a byte is taken every other
        # cycle at most -- a UART brings one every few hundred
        rx_want = Signal()
        rx_ok = Signal()
        m.d.comb += rx.ready.eq(rx_ok & ~timed_out)
        take = rx.valid & rx.ready
        m.d.sync += rx_ok.eq(rx_want & ~take)
        byte = rx.payload
        crc_next = crc32_step(r_crc, byte)
        # a payload word is written a cycle after its last byte is taken, from registers: the
        # take (the UART's valid and the receiver's state) is not a path into the block RAM's
        # enables.  The executor reads committed words only, and a frame commits 4 CRC bytes
        # (8 cycles at least) later; a rollback comes later still
        pw_en = Signal()
        pw_addr = Signal(pbits - 1, reset_less=True)
        pw_data = Signal(32, reset_less=True)
        m.d.sync += [pw_en.eq(0), pw_addr.eq(wp[:pbits - 1]), pw_data.eq(Cat(r_word, byte))]
        m.d.comb += [pw.addr.eq(pw_addr), pw.data.eq(pw_data), pw.en.eq(pw_en),
                     timed_out.eq(~hunting & idle_full)]

        with m.FSM(name="rx_fsm"):
            with m.State("HUNT"):
                m.d.comb += [hunting.eq(1), rx_want.eq(1)]
                with m.If(take & (byte == SYNC_REQUEST)):
                    m.d.sync += [r_cnt.eq(0), r_crc.eq(0xFFFFFFFF)]
                    m.next = "HEADER"
            with m.State("HEADER"):
                m.d.comb += rx_want.eq(1)
                with m.If(timed_out):
                    m.next = "HUNT"
                with m.Elif(take):
                    m.d.sync += [r_crc.eq(crc_next), r_cnt.eq(r_cnt + 1)]
                    with m.Switch(r_cnt):
                        with m.Case(0):
                            m.d.sync += r_op.eq(byte)
                            with m.If((byte < Op.READ) | (byte > Op.IRQ_MASK)):
                                m.next = "HUNT"              # not a frame: keep hunting
                        with m.Case(1):
                            m.d.sync += r_seq.eq(byte)
                        with m.Case(2):
                            m.d.sync += r_n1.eq(byte)
                        with m.Case(3, 4, 5):
                            m.d.sync += r_addr.eq(Cat(r_addr[8:], byte))
                        with m.Case(6):
                            m.d.sync += [r_addr.eq(Cat(r_addr[8:], byte)), r_cnt.eq(0)]
                            with m.If(r_op == Op.WRITE):
                                m.next = "PAYLOAD"
                            with m.Else():
                                m.next = "CRC"
            with m.State("PAYLOAD"):
                m.d.comb += rx_want.eq(~full)
                with m.If(timed_out):
                    m.next = "HUNT"
                with m.Elif(take):
                    m.d.sync += [r_crc.eq(crc_next), r_cnt.eq(r_cnt + 1), r_word.eq(Cat(r_word[8:], byte))]
                    with m.If(r_cnt[:2] == 3):
                        m.d.sync += [pw_en.eq(1), wp.eq(wp + 1)]
                        with m.If(r_cnt[2:] == r_n1):
                            m.d.sync += r_cnt.eq(0)
                            m.next = "CRC"
            with m.State("CRC"):
                m.d.comb += rx_want.eq(cmd_q.w_rdy)
                with m.If(timed_out):
                    m.next = "HUNT"
                with m.Elif(take):
                    m.d.sync += [r_crc.eq(crc_next), r_cnt.eq(r_cnt + 1)]
                    with m.If(r_cnt == 3):
                        # the verdict is acted on in the next cycle, from registers
                        m.d.sync += [r_verdict.eq(1), r_ok.eq(crc_next == CRC_RESIDUE)]
                        m.next = "HUNT"

        with m.If(take | hunting):
            m.d.sync += [r_idle.eq(0), idle_full.eq(0)]
        with m.Elif(timed_out):
            # a partial frame went quiet: drop it; the FSM hunts for the next sync byte
            m.d.sync += [r_idle.eq(0), idle_full.eq(0), wp.eq(wp_commit), timeouts.eq(timeouts + 1)]
        with m.Else():
            m.d.sync += [r_idle.eq(r_idle + 1), idle_full.eq(r_idle == self._timeout - 1)]

        with m.If(r_verdict):
            m.d.sync += r_verdict.eq(0)
            m.d.comb += [cmd_q.w_en.eq(1),
                         cmd_q.w_data.eq(Cat(r_op, r_seq, r_n1, r_addr, Mux(r_ok, 0, Nak.CRC)))]
            with m.If(r_ok):
                m.d.sync += wp_commit.eq(wp)
            with m.Else():
                m.d.sync += [wp.eq(wp_commit), crc_errors.eq(crc_errors + 1)]

        # ---- framer: responses and IRQ frames, CRC-32 appended ----
        m.submodules.words = words = self._fifo(width=32, depth=4)
        m.submodules.tx_q = tx_q = BufferedFIFO(width=8, depth=16)
        f_kind, f_seq, f_n1 = Signal(8), Signal(8), Signal(8)
        f_words = Signal(range(MAX_WORDS + 1))        # data words still to send
        f_resp, f_info = Signal(8), Signal(8)
        f_trailer = Signal()                            # resp/info are final
        f_go = Signal()                                 # executor: start a frame (framer idle)
        f_idle = Signal()
        f_crc = Signal(32)
        f_cnt = Signal(2)
        f_byte = Signal(8)
        f_valid = Signal()
        f_crc_out = Signal()
        # each byte passes a register on its way to the queue, and enters the CRC as it
        # leaves it: the CRC's XOR tree starts from flip-flops, not from the framer's byte
        # multiplexer (the CRC state waits for the register to drain of counted bytes)
        t_byte = Signal(8, reset_less=True)
        t_valid = Signal()
        t_counted = Signal(reset_less=True)     # the byte is inside the CRC
        m.d.comb += [tx_q.w_data.eq(t_byte), tx_q.w_en.eq(t_valid),
                     self.tx.payload.eq(tx_q.r_data), self.tx.valid.eq(tx_q.r_rdy),
                     tx_q.r_en.eq(self.tx.ready)]
        t_free = ~t_valid | tx_q.w_rdy
        sent = f_valid & t_free
        with m.If(t_free):
            m.d.sync += [t_valid.eq(f_valid), t_byte.eq(f_byte), t_counted.eq(~f_crc_out)]
        with m.If(t_valid & tx_q.w_rdy & t_counted):
            m.d.sync += f_crc.eq(crc32_step(f_crc, t_byte))

        def one_byte(state, value, nxt, valid=1):
            with m.State(state):
                m.d.comb += [f_byte.eq(value), f_valid.eq(valid)]
                with m.If(sent):
                    m.d.sync += f_cnt.eq(0)
                    m.next = nxt

        with m.FSM(name="tx_fsm"):
            with m.State("IDLE"):
                m.d.comb += f_idle.eq(1)
                with m.If(f_go):
                    m.next = "SYNC"
            with m.State("SYNC"):
                m.d.comb += [f_byte.eq(SYNC_RESPONSE), f_valid.eq(1), f_crc_out.eq(1)]
                with m.If(sent):
                    m.d.sync += f_crc.eq(0xFFFFFFFF)   # the sync byte is outside the CRC
                    m.next = "KIND"
            for state, value, nxt in (("KIND", f_kind, "SEQ"), ("SEQ", f_seq, "N1"), ("N1", f_n1, "DATA")):
                one_byte(state, value, nxt)
            with m.State("DATA"):
                with m.If(f_words == 0):
                    m.next = "RESP"
                with m.Else():
                    m.d.comb += [f_byte.eq(words.r_data.word_select(f_cnt, 8)), f_valid.eq(words.r_rdy)]
                    with m.If(sent):
                        m.d.sync += f_cnt.eq(f_cnt + 1)
                        with m.If(f_cnt == 3):
                            m.d.comb += words.r_en.eq(1)
                            m.d.sync += f_words.eq(f_words - 1)
            one_byte("RESP", f_resp, "INFO", valid=f_trailer)     # resp/info are known last
            one_byte("INFO", f_info, "CRC")
            with m.State("CRC"):
                final = ~f_crc
                m.d.comb += [f_byte.eq(final.word_select(f_cnt, 8)), f_valid.eq(~(t_valid & t_counted)),
                             f_crc_out.eq(1)]
                with m.If(sent):
                    m.d.sync += f_cnt.eq(f_cnt + 1)
                    with m.If(f_cnt == 3):
                        m.d.sync += f_trailer.eq(0)
                        m.next = "IDLE"

        # ---- executor ----
        bus = self.bus
        cmd = fields(cmd_q.r_data)
        c_op, c_seq, c_n1, c_addr = Signal(8), Signal(8), Signal(8), Signal(32)
        expected = Signal(8)
        mask = Signal(self._irq_lines)
        reported = Signal(self._irq_lines)
        # the interrupt lines through a register: an engine's lines are logic over its
        # registers, and the executor's first decision (report an IRQ, or take a command)
        # starts from flip-flops, not from the far side of the engine's register bank
        irq = Signal(self._irq_lines)
        m.d.sync += irq.eq(self.irq)
        masked = irq & mask
        cache_resp = Signal(2 * 4)   # response cache of the last four sequenced WRITEs,
        cache_info = Signal(8 * 4)   # by seq mod 4 (a host keeps at most two in flight)
        x_left = Signal(range(MAX_WORDS + 1))
        x_index = Signal(8)
        x_resp = Signal(8)
        x_info = Signal(8)
        x_status = Signal(range(STATUS_WORDS + 1))
        aw_ok, w_ok = Signal(), Signal()
        ahead = (c_seq - expected)[:8]
        status = Signal(layout(BridgeStatus))
        m.d.comb += [status.magic.eq(MAGIC), status.version.eq(PROTOCOL_VERSION),
                     status.expected_seq.eq(expected), status.irq_lines.eq(self._irq_lines),
                     status.irq_mask.eq(mask), status.irq.eq(irq),
                     status.crc_errors.eq(crc_errors), status.timeouts.eq(timeouts)]
        m.d.comb += [bus.awaddr.eq(c_addr), bus.araddr.eq(c_addr),
                     bus.wdata.eq(pr_data), bus.wstrb.eq(0xF)]

        def start_frame(kind, n1, nwords, resp=None, info=0):
            m.d.comb += f_go.eq(1)
            m.d.sync += [f_kind.eq(kind), f_seq.eq(c_seq), f_n1.eq(n1), f_words.eq(nwords)]
            if resp is not None:
                m.d.sync += [f_resp.eq(resp), f_info.eq(info), f_trailer.eq(1)]

        def record(resp):
            with m.If((resp != Resp.OKAY) & (x_resp == Resp.OKAY)):
                m.d.sync += [x_resp.eq(resp), x_info.eq(x_index)]

        with m.FSM(name="exec_fsm") as exec_fsm:
            with m.State("IDLE"):
                with m.If(f_idle & (masked != reported)):
                    m.d.sync += reported.eq(masked)
                    m.d.sync += [f_kind.eq(Kind.IRQ), f_seq.eq(0), f_n1.eq(0), f_words.eq(1),
                                 f_resp.eq(0), f_info.eq(0), f_trailer.eq(1)]
                    m.d.comb += [f_go.eq(1), words.w_en.eq(1), words.w_data.eq(masked)]
                with m.Elif(cmd_q.r_rdy):
                    m.d.comb += cmd_q.r_en.eq(1)
                    m.d.sync += [c_op.eq(cmd["op"]), c_seq.eq(cmd["seq"]), c_n1.eq(cmd["n1"]),
                                 c_addr.eq(cmd["addr"]), x_left.eq(cmd["n1"] + 1), x_index.eq(0),
                                 x_resp.eq(Resp.OKAY), x_info.eq(0), x_status.eq(0),
                                 aw_ok.eq(0), w_ok.eq(0)]
                    with m.If(cmd["nak"] != 0):
                        m.d.sync += x_resp.eq(cmd["nak"])
                        m.next = "NAK"
                    with m.Elif((cmd["op"] == Op.STATUS) | (cmd["op"] == Op.IRQ_MASK)):
                        with m.If(cmd["op"] == Op.IRQ_MASK):
                            m.d.sync += mask.eq(cmd["addr"])
                        m.next = "STATUS"
                    with m.Else():
                        m.next = "DISPATCH"
            with m.State("NAK"):
                with m.If(f_idle):
                    start_frame(Kind.NAK, 0, 0, resp=x_resp)
                    m.next = "IDLE"
            with m.State("STATUS"):
                with m.If(f_idle):
                    start_frame(Kind.ACK_STATUS, 0, STATUS_WORDS, resp=0)
                    m.next = "STATUS_WORDS"
            with m.State("STATUS_WORDS"):
                m.d.comb += [words.w_en.eq(1),
                             words.w_data.eq(status.as_value().word_select(x_status[:2], 32))]
                with m.If(words.w_rdy):
                    m.d.sync += x_status.eq(x_status + 1)
                    with m.If(x_status == STATUS_WORDS - 1):
                        m.next = "IDLE"
            with m.State("DISPATCH"):
                slot = c_seq[:2]
                with m.If((ahead != 0) & ~ahead[7]):
                    # an earlier frame was lost: refuse (and drop a WRITE's payload)
                    with m.If(c_op == Op.WRITE):
                        m.d.sync += rp.eq(rp + c_n1 + 1)
                    m.d.sync += x_resp.eq(Nak.SEQUENCE)
                    m.next = "NAK"
                with m.Elif(c_op == Op.READ):
                    with m.If(ahead == 0):
                        m.d.sync += expected.eq(expected + 1)
                    m.next = "READ_START"
                with m.Elif(ahead == 0):
                    m.d.sync += expected.eq(expected + 1)
                    m.next = "WRITE_FETCH"
                with m.Else():
                    # a retransmitted WRITE that already ran: answer from the cache
                    m.d.sync += [rp.eq(rp + c_n1 + 1),
                                 x_resp.eq(cache_resp.word_select(slot, 2) | DUPLICATE),
                                 x_info.eq(cache_info.word_select(slot, 8))]
                    m.next = "WRITE_ACK_CACHED"
            with m.State("WRITE_ACK_CACHED"):
                with m.If(f_idle):
                    start_frame(Kind.ACK_WRITE, c_n1, 0, resp=x_resp, info=x_info)
                    m.next = "IDLE"
            with m.State("WRITE_FETCH"):       # the payload word at rp appears next cycle
                m.next = "WRITE_ISSUE"
            with m.State("WRITE_ISSUE"):
                m.d.comb += [bus.awvalid.eq(~aw_ok), bus.wvalid.eq(~w_ok)]
                aw_now = aw_ok | bus.awready
                w_now = w_ok | bus.wready
                with m.If(aw_now & w_now):
                    m.d.sync += [aw_ok.eq(0), w_ok.eq(0)]
                    m.next = "WRITE_RESP"
                with m.Else():
                    m.d.sync += [aw_ok.eq(aw_now), w_ok.eq(w_now)]
            with m.State("WRITE_RESP"):
                m.d.comb += bus.bready.eq(1)
                with m.If(bus.bvalid):
                    record(bus.bresp)
                    m.d.sync += [rp.eq(rp + 1), c_addr.eq(c_addr + 4), x_index.eq(x_index + 1),
                                 x_left.eq(x_left - 1)]
                    with m.If(x_left == 1):
                        m.next = "WRITE_ACK"
                    with m.Else():
                        m.next = "WRITE_FETCH"
            with m.State("WRITE_ACK"):
                slot = c_seq[:2]
                with m.If(f_idle):
                    start_frame(Kind.ACK_WRITE, c_n1, 0, resp=x_resp, info=x_info)
                    for k in range(4):
                        with m.If(slot == k):
                            m.d.sync += [cache_resp.word_select(k, 2).eq(x_resp),
                                         cache_info.word_select(k, 8).eq(x_info)]
                    m.next = "IDLE"
            with m.State("READ_START"):
                with m.If(f_idle):
                    start_frame(Kind.ACK_READ, c_n1, c_n1 + 1)
                    m.next = "READ_ADDR"
            with m.State("READ_ADDR"):
                m.d.comb += bus.arvalid.eq(words.w_rdy)
                with m.If(bus.arvalid & bus.arready):
                    m.next = "READ_DATA"
            with m.State("READ_DATA"):
                m.d.comb += [bus.rready.eq(1), words.w_en.eq(bus.rvalid), words.w_data.eq(bus.rdata)]
                with m.If(bus.rvalid):
                    record(bus.rresp)
                    m.d.sync += [c_addr.eq(c_addr + 4), x_index.eq(x_index + 1), x_left.eq(x_left - 1)]
                    with m.If(x_left == 1):
                        m.next = "READ_TRAILER"
                    with m.Else():
                        m.next = "READ_ADDR"
            with m.State("READ_TRAILER"):
                m.d.sync += [f_resp.eq(x_resp), f_info.eq(x_info), f_trailer.eq(1)]
                m.next = "IDLE"

        # (FIFO levels, not r_rdy: a buffered FIFO's output lags its input by a cycle)
        # (`r_verdict`: a frame's last byte is in, its command not yet in the queue -- without
        # it the SoC looked quiet for that cycle, and the socket simulator slept 200 ms in it)
        m.d.comb += self.busy.eq(~hunting | r_verdict | ~exec_fsm.ongoing("IDLE") | (cmd_q.level != 0) |
                                 ~f_idle | t_valid | (tx_q.level != 0) | (masked != reported) |
                                 (irq != self.irq) | (rp != wp_commit))
        return m
