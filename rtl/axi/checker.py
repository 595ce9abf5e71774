"""AXI4 protocol checker: watches a bus and reports the first violation."""

import enum

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import fifo, memory, wiring
from amaranth.lib.wiring import In, Out

from ..bus import AXI4Signature, Burst, CHANNELS, channel_payload
from .common import next_beat_address, size_bytes

__all__ = ["AXI4Checker", "Violation", "Channel", "monitor"]


class Violation(enum.IntEnum):
    NONE = 0
    UNSTABLE = 1          #: valid dropped, or payload changed, before ready
    CROSS_4K = 2          #: INCR burst crosses a 4 KiB boundary
    BAD_SIZE = 3          #: AxSIZE wider than the data bus
    BAD_BURST = 4         #: reserved burst type, illegal WRAP/FIXED length, unaligned WRAP
    WLAST = 5             #: WLAST not on the burst's last beat (or W burst length != AWLEN+1)
    RLAST = 6             #: RLAST not on the burst's last beat
    NO_REQUEST = 7        #: B or R response with no matching outstanding request
    STROBE = 8            #: WSTRB enables a byte lane outside the beat's transfer
    CAPACITY = 9          #: more outstanding transactions than the checker tracks


class Channel(enum.IntEnum):
    NONE = 0
    AW = 1
    W = 2
    B = 3
    AR = 4
    R = 5


def _monitor_signature(sig):
    # members are Out so that the checker's In(...) port makes every one of them an input
    return wiring.Signature({name: Out(member.shape) for name, member in sig.members.items()})


def monitor(m, checker, bus):
    """Connect every signal of ``bus`` to ``checker.bus`` (all inputs) in module ``m``."""
    for name in checker.bus.signature.members:
        m.d.comb += getattr(checker.bus, name).eq(getattr(bus, name))


class AXI4Checker(wiring.Component):
    """Passive AXI4 protocol checker for simulation (synthesizable, but meant for benches).

    Checks, on every channel: valid and payload held until ready; on AW/AR: legal size and
    burst type, WRAP/FIXED lengths, no INCR burst crossing 4 KiB; on W: WLAST exactly on the
    last beat (also when W runs ahead of AW) and strobes only on the byte lanes of the beat's
    transfer (for beats whose AW is already known); on B/R: no response without an
    outstanding request, RLAST exactly on the last beat per ID (responses of different IDs
    may interleave).

    Members
    -------
    bus : In(all members of AXI4Signature(...))
        The bus under observation (connect with :func:`monitor`).
    error : Out(1)
        Set, and held, on the first violation.
    error_code : Out(Violation)
    error_channel : Out(Channel)
    error_cycle : Out(32)
        Cycles since reset at the first violation.
    error_id : Out(id_width)
        AxID / BID / RID involved, where one is.

    Parameters
    ----------
    max_outstanding : int
        Write bursts, and read bursts per ID, that the checker tracks; more is reported as
        ``CAPACITY`` rather than silently unchecked.
    """

    def __init__(self, signature, *, max_outstanding=256):
        if not isinstance(signature, AXI4Signature):
            raise TypeError(f"signature must be an AXI4Signature, not {signature!r}")
        if signature.id_width > 8:
            raise ValueError(f"the checker tracks IDs up to 8 bits, not {signature.id_width}")
        self._sig = signature
        self._max = max_outstanding
        super().__init__({
            "bus": In(_monitor_signature(signature)),
            "error": Out(1),
            "error_code": Out(Violation),
            "error_channel": Out(Channel),
            "error_cycle": Out(32),
            "error_id": Out(signature.id_width),
        })

    def elaborate(self, platform):
        m = Module()
        bus, sig = self.bus, self._sig
        nbytes = sig.data_width // 8
        idw = sig.id_width
        nid = 1 << idw

        cycle = Signal(32)
        m.d.sync += cycle.eq(cycle + 1)

        # (code, channel, id, condition) in priority order; the first true one is reported.
        checks = []

        def fire(ch):
            return getattr(bus, f"{ch}valid") & getattr(bus, f"{ch}ready")

        # --- stability on all five channels ---------------------------------------------------
        for ch in CHANNELS:
            valid, ready = getattr(bus, f"{ch}valid"), getattr(bus, f"{ch}ready")
            payload = Cat(*channel_payload(bus, ch).values())
            p_valid, p_ready = Signal(name=f"{ch}_pvalid"), Signal(name=f"{ch}_pready")
            p_payload = Signal(len(payload), name=f"{ch}_ppayload")
            m.d.sync += [p_valid.eq(valid), p_ready.eq(ready), p_payload.eq(payload)]
            checks.append((Violation.UNSTABLE, Channel[ch.upper()], 0,
                           p_valid & ~p_ready & (~valid | (payload != p_payload))))

        # --- address channel legality -------------------------------------------------------
        max_size = (nbytes - 1).bit_length()
        for ch in ("aw", "ar"):
            valid = getattr(bus, f"{ch}valid")
            addr, length = getattr(bus, f"{ch}addr"), getattr(bus, f"{ch}len")
            size, burst = getattr(bus, f"{ch}size"), getattr(bus, f"{ch}burst")
            ident = getattr(bus, f"{ch}id")
            chan = Channel[ch.upper()]
            low = Signal(12, name=f"{ch}_low")  # bits below the transfer size
            m.d.comb += low.eq(size_bytes(size) - 1)
            end = Signal(18, name=f"{ch}_end")
            m.d.comb += end.eq((addr[:12] & ~low) + ((length + 1) << size))
            checks.append((Violation.BAD_SIZE, chan, ident, valid & (size > max_size)))
            wrap_len_ok = (length == 1) | (length == 3) | (length == 7) | (length == 15)
            unaligned = (addr[:12] & low) != 0
            checks.append((Violation.BAD_BURST, chan, ident, valid & (
                (burst == 3) |
                ((burst == Burst.WRAP) & (~wrap_len_ok | unaligned)) |
                ((burst == Burst.FIXED) & (length > 15)))))
            checks.append((Violation.CROSS_4K, chan, ident,
                           valid & (burst == Burst.INCR) & (end > 4096)))

        # --- write data against write addresses -----------------------------------------------
        aw_layout_w = idw + 12 + 8 + 3 + 2
        m.submodules.aw_q = aw_q = fifo.SyncFIFO(width=aw_layout_w, depth=self._max)
        m.submodules.early_q = early_q = fifo.SyncFIFO(width=9, depth=self._max)
        incoming = Cat(bus.awid, bus.awaddr[:12], bus.awlen, bus.awsize, bus.awburst)
        aw_fire, w_fire, b_fire = fire("aw"), fire("w"), fire("b")
        ar_fire, r_fire = fire("ar"), fire("r")

        # The AW that the current W burst belongs to: the queue head, or an AW arriving
        # in this very cycle when nothing older is waiting.
        have_head = Signal()
        head = Signal(aw_layout_w)
        bypass = Signal()
        m.d.comb += bypass.eq(~aw_q.r_rdy & aw_fire & ~early_q.r_rdy)
        m.d.comb += [have_head.eq(aw_q.r_rdy | bypass),
                     head.eq(Mux(aw_q.r_rdy, aw_q.r_data, incoming))]
        h_id = head[:idw]
        h_addr = head[idw:idw + 12]
        h_len = head[idw + 12:idw + 20]
        h_size = head[idw + 20:idw + 23]
        h_burst = head[idw + 23:idw + 25]

        w_beat = Signal(9)
        w_addr = Signal(12)
        w_cur = Signal(12)
        m.d.comb += w_cur.eq(Mux(w_beat == 0, h_addr, w_addr))
        w_next = next_beat_address(m, w_cur, h_size, h_len, h_burst)
        with m.If(w_fire):
            m.d.sync += [w_beat.eq(Mux(bus.wlast, 0, w_beat + 1)), w_addr.eq(w_next)]

        checked_w = w_fire & have_head
        checks.append((Violation.WLAST, Channel.W, h_id,
                       checked_w & (bus.wlast != (w_beat == h_len))))
        # strobes: lanes from the beat address up to the end of its size-aligned container
        lane = w_cur[:max(max_size, 1)] if nbytes > 1 else Const(0, 1)
        szb = Signal(range(nbytes * 2 + 1))
        m.d.comb += szb.eq(size_bytes(h_size))
        container = Signal(range(nbytes))
        m.d.comb += container.eq(lane & ~(szb - 1))
        allowed = Signal(nbytes)
        m.d.comb += allowed.eq(((Const(1, nbytes + 1) << szb) - 1) << container &
                               ~((Const(1, nbytes + 1) << lane) - 1))
        checks.append((Violation.STROBE, Channel.W, h_id,
                       checked_w & ((bus.wstrb & ~allowed) != 0)))

        # Per-ID state lives in small memories (compact in simulation even for wide IDs);
        # comb read ports see the value before this cycle's write.
        def table(name, width, readers, writers):
            mem = memory.Memory(shape=width, depth=nid, init=[])
            m.submodules[name] = mem
            return ([mem.read_port(domain="comb") for _ in range(readers)],
                    [mem.write_port() for _ in range(writers)])

        # write bursts whose AW and W are both complete, per ID, awaiting B
        (d_done, d_b), (w_done, w_b) = table("wdone", 10, 2, 2)
        done_id = Signal(idw)
        done = Signal()
        with m.If(w_fire & bus.wlast & have_head):
            m.d.comb += [done.eq(1), done_id.eq(h_id)]
        with m.Elif(aw_fire & early_q.r_rdy):
            m.d.comb += [done.eq(1), done_id.eq(bus.awid)]
        m.d.comb += [
            aw_q.r_en.eq(w_fire & bus.wlast & aw_q.r_rdy),
            early_q.w_en.eq(w_fire & bus.wlast & ~have_head),
            early_q.w_data.eq(w_beat),
            early_q.r_en.eq(aw_fire & early_q.r_rdy),
            aw_q.w_en.eq(aw_fire & ~early_q.r_rdy & ~(bypass & w_fire & bus.wlast)),
            aw_q.w_data.eq(incoming),
        ]
        checks.append((Violation.WLAST, Channel.AW, bus.awid,
                       aw_fire & early_q.r_rdy & (early_q.r_data != bus.awlen)))
        checks.append((Violation.CAPACITY, Channel.AW, bus.awid,
                       (aw_q.w_en & ~aw_q.w_rdy) | (early_q.w_en & ~early_q.w_rdy)))
        b_ok = b_fire & (d_b.data != 0)
        same = done & b_ok & (done_id == bus.bid)  # +1 and -1 on one ID cancel out
        m.d.comb += [
            d_done.addr.eq(done_id), d_b.addr.eq(bus.bid),
            w_done.addr.eq(done_id), w_done.data.eq(d_done.data + 1), w_done.en.eq(done & ~same),
            w_b.addr.eq(bus.bid), w_b.data.eq(d_b.data - 1), w_b.en.eq(b_ok & ~same),
        ]
        checks.append((Violation.NO_REQUEST, Channel.B, bus.bid, b_fire & (d_b.data == 0)))

        # --- reads: per-ID queues of burst lengths -------------------------------------------
        per = self._max
        ptr_bits = (per - 1).bit_length()
        m.submodules.r_lens = r_lens = memory.Memory(shape=8, depth=nid * per, init=[])
        len_w = r_lens.write_port()
        len_r = r_lens.read_port(domain="comb")
        # AR side: write pointer per ID; R side: read pointer and beat count per ID
        (wp_ar, wp_r), (wp_w,) = table("r_wptr", ptr_bits + 1, 2, 1)
        (rp_r, rp_ar), (rp_w,) = table("r_rptr", ptr_bits + 1 + 9, 2, 1)
        m.d.comb += [wp_ar.addr.eq(bus.arid), wp_r.addr.eq(bus.rid),
                     rp_r.addr.eq(bus.rid), rp_ar.addr.eq(bus.arid)]
        ar_n = Signal(ptr_bits + 1)
        r_n = Signal(ptr_bits + 1)
        r_ptr = rp_r.data[:ptr_bits + 1]
        r_beat = rp_r.data[ptr_bits + 1:]
        m.d.comb += [ar_n.eq(wp_ar.data - rp_ar.data[:ptr_bits + 1]),
                     r_n.eq(wp_r.data - r_ptr)]
        push = Signal()
        m.d.comb += push.eq(ar_fire & (ar_n < per))
        m.d.comb += [
            len_w.en.eq(push), len_w.addr.eq(Cat(wp_ar.data[:ptr_bits], bus.arid)),
            len_w.data.eq(bus.arlen),
            wp_w.en.eq(push), wp_w.addr.eq(bus.arid), wp_w.data.eq(wp_ar.data + 1),
            len_r.addr.eq(Cat(r_ptr[:ptr_bits], bus.rid)),
        ]
        checks.append((Violation.CAPACITY, Channel.AR, bus.arid, ar_fire & (ar_n >= per)))
        r_known = r_n != 0
        checks.append((Violation.NO_REQUEST, Channel.R, bus.rid, r_fire & ~r_known))
        checks.append((Violation.RLAST, Channel.R, bus.rid,
                       r_fire & r_known & (bus.rlast != (r_beat == len_r.data))))
        m.d.comb += [
            rp_w.en.eq(r_fire & r_known), rp_w.addr.eq(bus.rid),
            rp_w.data.eq(Mux(bus.rlast, Cat((r_ptr + 1)[:ptr_bits + 1], Const(0, 9)),
                                        Cat(r_ptr, (r_beat + 1)[:9]))),
        ]

        # --- report the first violation ---------------------------------------------------------
        with m.If(~self.error):
            for i, (code, chan, ident, cond) in enumerate(checks):
                with (m.If if i == 0 else m.Elif)(cond):
                    m.d.sync += [self.error.eq(1), self.error_code.eq(code),
                                 self.error_channel.eq(chan), self.error_cycle.eq(cycle),
                                 self.error_id.eq(ident)]
        return m
