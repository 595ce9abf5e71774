"""Fetch arrays of fixed-size records (descriptors, SG entries) from memory."""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..axi.slice import half_skid
from ..bus import Resp
from .common import Queue, idle_manager, manager_signature, reserve_count

__all__ = ["RecordFetcher"]


class RecordFetcher(wiring.Component):
    """Reads ``count`` records of ``record_bytes`` each, starting at ``addr``, in bursts.

    A burst is issued only when the buffer has room for all of its beats, so read data is
    always accepted.  Records come out in order; a record any of whose beats was answered
    with an error carries ``error`` (with the response) and the record's address.

    Parameters
    ----------
    record_bytes : int
        16 or 64 (a power of two >= the bus width is not required; records must be aligned
        to ``record_bytes``).
    buffer_records : int
        Records buffered (bounds the read-ahead).
    burst_records : int
        Records per burst at most.
    count_width : int
        Width of a command's ``count`` (a ring's fetch needs 17 bits, an SG list 32).
    registered_stop : bool
        ``stop`` passes a register first (it holds back bursts a cycle later): for a
        fetcher whose ``stop`` is decided far away (the mover's error), so that it is not
        a path into the ~50 clock enables of the burst registers.  Its owner allows for
        the cycle.

    Members
    -------
    cmd : In(stream.Signature({addr, count}))
        A new command is accepted once every burst of the previous one has been issued.
    o : Out(stream.Signature({data, error, resp, addr}))
    bus : Out(AXI4Signature) — the manager port (reads only, ``rready`` always 1).
    stop : In(1)
        Hold back new bursts (outstanding ones complete; a burst already offered stays).
    user : In(user_width)
        ``aruser`` of every burst (the requester's device ID).
    """

    def __init__(self, *, record_bytes, addr_width=32, data_width=64, user_width=0,
                 buffer_records=4, burst_records=4, count_width=32, registered_stop=False):
        if record_bytes not in (16, 32, 64):
            raise ValueError(f"record_bytes must be 16, 32 or 64, not {record_bytes!r}")
        if not isinstance(count_width, int) or not 1 <= count_width <= 32:
            raise ValueError(f"count_width must be an integer in 1..32, not {count_width!r}")
        self._rb, self._aw, self._dw = record_bytes, addr_width, data_width
        self._registered_stop = bool(registered_stop)
        self._bpr = max(1, record_bytes * 8 // data_width)
        if record_bytes * 8 < data_width:
            raise ValueError(f"records of {record_bytes} bytes need a bus of at most {record_bytes * 8} "
                             f"bits, not {data_width!r}")
        self._buf, self._burst = buffer_records, min(burst_records, buffer_records, 256 // self._bpr)
        self.record_layout = data.StructLayout({
            "data": record_bytes * 8, "error": 1, "resp": 2, "addr": addr_width})
        super().__init__({
            "cmd": In(stream.Signature(data.StructLayout({"addr": addr_width, "count": count_width}))),
            "o": Out(stream.Signature(self.record_layout)),
            "bus": Out(manager_signature(addr_width, data_width, user_width)),
            "stop": In(1),
            "user": In(max(user_width, 1)),
        })
        self._uw = user_width

    def elaborate(self, platform):
        m = Module()
        bpr, rb, dw = self._bpr, self._rb, self._dw
        bus = self.bus
        idle_manager(m, bus)
        beats_total = self._buf * bpr

        # -- issue ---------------------------------------------------------------------------
        # (data registers are reset-less: `busy`, `full` and the counters say what is live)
        busy = Signal()
        addr = Signal(self._aw, reset_less=True)
        left = Signal.like(self.cmd.payload.count, reset_less=True)
        used = Signal(range(beats_total + 1))           # beats reserved in the buffer
        m.d.comb += self.cmd.ready.eq(~busy)
        # (addr and left follow the offer while idle: only `busy` waits for the handshake,
        # and it looks at nothing of the command's -- a command of no records ends a cycle
        # later, on `left == 0`)
        with m.If(~busy):
            m.d.sync += [addr.eq(self.cmd.payload.addr), left.eq(self.cmd.payload.count)]
        with m.If(self.cmd.valid & ~busy):
            m.d.sync += busy.eq(1)
        with m.If(busy & (left == 0)):
            m.d.sync += busy.eq(0)

        # the next burst's size is computed into a register the cycle after addr/left change
        # (one idle cycle per burst), so the arithmetic stays off the AR path; so is whether
        # it may go (`go`: a burst of records, room for all of them).  The room is this
        # cycle's, for the burst of next cycle: an underestimate, as only an issue takes
        # room, and after an issue `go` is clear for a cycle anyway
        to_4k = Signal(range(4096 // rb + 1))
        m.d.comb += to_4k.eq((4096 - addr[:12]) // rb)
        n = Signal(range(self._burst + 1))
        cap = Signal.like(n)
        m.d.comb += cap.eq(Mux(to_4k < self._burst, to_4k, self._burst))
        # (`left < cap`: the count's high bits are zero and its low bits, `n`'s width, are
        # below `cap` -- a compare as narrow as a burst's size, not as wide as a command's)
        few = left[:len(n)]
        short = Signal()
        m.d.comb += short.eq((left[len(n):] == 0) & (few < cap))
        n_next = Signal.like(n)
        m.d.comb += n_next.eq(Mux(short, few, cap))
        room = Signal(range(self._buf + 1))
        m.d.comb += room.eq((beats_total - used) // bpr)
        # hold AR until the buffer has room for the whole burst: read data is never refused
        go = Signal()
        # (the tests of both candidate sizes side by side, then the choice: no compare
        # behind the multiplexer; when `left` is the smaller it fits in `n`'s bits)
        m.d.sync += [n.eq(n_next),
                     go.eq(busy & Mux(short, (few != 0) & (room >= few), (cap != 0) & (room >= cap)))]
        info_q = Queue(data.StructLayout({"addr": self._aw, "n": range(self._burst + 1)}),
                       self._buf)
        m.submodules.info_q = info_q
        # a burst goes out from registers of its own (a `half_skid`: one burst waits for
        # `arready`), taken from `addr`/`n` when they are free: the address and count step
        # (and the queue and the buffer reservation) on `load`, a decision of flip-flops, and
        # `arready` -- a long way from the interconnect -- reaches only the register's flag,
        # not the ~50 clock enables of `addr` and `left`.  `stop` holds back the load; a
        # burst already waiting stays (AXI: once valid, stay valid until the handshake)
        offer, free = Signal(), Signal()
        ar = Signal(data.StructLayout({"addr": self._aw, "len": 8}))
        stop = self.stop
        if self._registered_stop:
            stop = Signal()
            m.d.sync += stop.eq(self.stop)
        m.d.comb += [offer.eq(go & info_q.i.ready & ~stop),
                     ar.addr.eq(addr), ar.len.eq(n * bpr - 1)]
        ar_out = Signal.like(ar)
        half_skid(m, "ar", offer, free, ar.as_value(), bus.arvalid, bus.arready, ar_out.as_value())
        load = offer & free
        m.d.comb += [
            bus.arid.eq(0),
            bus.araddr.eq(ar_out.addr),
            bus.arlen.eq(ar_out.len),
            bus.arsize.eq((dw // 8).bit_length() - 1),
            info_q.i.valid.eq(load),
            info_q.i.payload.addr.eq(addr),
            info_q.i.payload.n.eq(n),
        ]
        if self._uw:
            m.d.comb += bus.aruser.eq(self.user)
        with m.If(load):
            m.d.sync += [addr.eq(addr + n * rb), left.eq(left - n), busy.eq(left != n), go.eq(0)]

        # -- receive -------------------------------------------------------------------------
        beat = data.StructLayout({"data": dw, "resp": 2})
        m.submodules.buf = buf = Queue(beat, beats_total, buffered=beats_total > 16)
        m.d.comb += [
            bus.rready.eq(1),
            buf.i.valid.eq(bus.rvalid),
            buf.i.payload.data.eq(bus.rdata),
            buf.i.payload.resp.eq(bus.rresp),
        ]
        pop = buf.o.valid & buf.o.ready
        reserve_count(m, used, n * bpr, load, pop)

        # -- assemble records --------------------------------------------------------------
        rec = Signal(rb * 8, reset_less=True)
        resp = Signal(2, reset_less=True)
        got = Signal(range(bpr + 1))
        full = Signal()
        rec_addr = Signal(self._aw, reset_less=True)
        rec_in_burst = Signal(range(self._burst + 1))
        last_idx = Signal(range(self._burst + 1), reset_less=True)     # the burst's records, less one
        m.d.comb += [
            self.o.valid.eq(full),
            self.o.payload.data.eq(rec),
            self.o.payload.resp.eq(resp),
            self.o.payload.error.eq(resp != Resp.OKAY),
            self.o.payload.addr.eq(rec_addr),
        ]
        if bpr == 1:
            m.d.comb += buf.o.ready.eq(~full | self.o.ready)
        else:
            m.d.comb += buf.o.ready.eq(~full)
        out_hs = self.o.valid & self.o.ready
        with m.If(out_hs):
            m.d.sync += full.eq(0)
        with m.If(pop):
            worst = Mux(buf.o.payload.resp > Mux(got == 0, 0, resp), buf.o.payload.resp,
                        Mux(got == 0, 0, resp))
            m.d.sync += [
                rec.eq(Cat(rec[dw:], buf.o.payload.data) if bpr > 1 else buf.o.payload.data),
                resp.eq(worst),
            ]
            with m.If(got == bpr - 1):
                m.d.sync += [got.eq(0), full.eq(1)]
            with m.Else():
                m.d.sync += got.eq(got + 1)
            # the address of the record being assembled.  A burst's entry leaves the info queue
            # as its first record starts, its size kept (less one) in a register: the queue's
            # flags follow a few flip-flops, not a compare of its LUT RAM output
            with m.If(got == 0):
                first = rec_in_burst == 0
                with m.If(first):
                    m.d.sync += [rec_addr.eq(info_q.o.payload.addr), last_idx.eq(info_q.o.payload.n - 1)]
                with m.Else():
                    # (a burst never crosses 4 KiB: the step is an adder on the page offset)
                    m.d.sync += rec_addr[:12].eq(rec_addr[:12] + rb)
                last_of_burst = Mux(first, info_q.o.payload.n == 1, rec_in_burst == last_idx)
                m.d.comb += info_q.o.ready.eq(first)
                m.d.sync += rec_in_burst.eq(Mux(last_of_burst, 0, rec_in_burst + 1))
        return m
