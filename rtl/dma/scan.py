"""The SG-list scanner the channels share: a descriptor's SG lists are read and summed before
any of its bytes move."""

from amaranth.hdl import Array, Cat, Const, Module, ResetInserter, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ...sw.formats import SgEntry
from ..axi.common import round_robin
from ..formats import layout
from .common import manager_signature, quiet_port
from .fetch import RecordFetcher

__all__ = ["ListScanner", "ScanRequest", "ScanResult"]


def ScanRequest(addr_width):
    """One SG list to check: ``count`` entries at ``addr`` that must sum to ``length``."""
    return data.StructLayout({"addr": addr_width, "count": 32, "length": 32})


def ScanResult(addr_width):
    """``valid`` for one cycle when the list is checked.  ``bad``: an entry is malformed
    (zero length, flags set, an address beyond ``addr_width`` bits), could not be read
    (``err``, at the entry's ``addr``), or the lengths do not sum to the request's."""
    return data.StructLayout({"valid": 1, "bad": 1, "err": 1, "addr": addr_width})


class ListScanner(wiring.Component):
    """Checks SG lists for ``channels`` channels, one list at a time (round robin).

    Channel ``k`` offers a list on ``req[k]`` and gets its verdict on ``res[k]``; the
    entries are read on ``bus`` with ``AxUSER`` = ``k`` (the channel's device ID).  While it
    serves channel ``k``, ``stop[k]`` holds back its reads, and ``abort[k]`` (the channel
    restarts) drops the list in the next cycle -- only when ``quiet[k]``: nothing of the
    channel's is outstanding here.  A verdict in that cycle is the channel's to ignore.
    ``quiet`` is a register (a cycle late), like a channel's own port accounting.

    Members
    -------
    req : In(stream.Signature(ScanRequest)).array(channels)
    res : Out(ScanResult).array(channels)
    stop, abort : In(channels)
    quiet : Out(channels)
    bus : Out(AXI4Signature(id_width=1)) — reads only.
    """

    def __init__(self, *, channels, addr_width=32, data_width=64, user_width=8, buffer_records=8):
        if not isinstance(channels, int) or not 1 <= channels <= 16:
            raise ValueError(f"channels must be an integer in 1..16, not {channels!r}")
        self._n, self._aw, self._dw, self._uw = channels, addr_width, data_width, user_width
        self._buf = buffer_records
        super().__init__({
            "req": In(stream.Signature(ScanRequest(addr_width))).array(channels),
            "res": Out(ScanResult(addr_width)).array(channels),
            "stop": In(channels),
            "abort": In(channels),
            "quiet": Out(channels),
            "bus": Out(manager_signature(addr_width, data_width, user_width)),
        })

    def elaborate(self, platform):
        m = Module()
        n, aw = self._n, self._aw
        busy = Signal()
        owner = Signal(n)                   # one-hot: the channel served (or last served)
        mine = Signal(n)
        m.d.comb += mine.eq(owner & busy.replicate(n))
        # a restart of the list's channel drops it, a cycle later: `drop` is a register, for
        # it resets the list fetcher (the channel's restart is decided by its control logic).
        # Nothing is lost in that cycle: the channel restarts only once none of its list reads
        # is outstanding and none is issued (`stop`), it ignores a verdict while restarting, and
        # no list is taken while `drop` is pending
        drop = Signal()

        # (`stop` through a register: it is a channel's halt and mode logic, far away, and it
        # reached the fetcher's ~50 burst-register enables -- 13.9 ns, session 21.  A burst
        # loaded in the cycle `stop` rises is offered in the next and seen by the channel's
        # registered port accounting one later, inside its two-cycle settling window)
        fetch = RecordFetcher(record_bytes=16, addr_width=aw, data_width=self._dw,
                              user_width=self._uw, buffer_records=self._buf,
                              burst_records=self._buf, registered_stop=True)
        m.submodules.fetch = ResetInserter(drop)(fetch)
        wiring.connect(m, wiring.flipped(self.bus), fetch.bus)
        index = Signal(range(max(n, 2)))
        for k in range(1, n):
            with m.If(owner[k]):
                m.d.comb += index.eq(k)
        m.d.comb += [fetch.user.eq(index), fetch.stop.eq((mine & self.stop).any())]

        # the lists: round robin over the channels offering one (`round_robin`: the owner is
        # a register, held while a list is checked or its channel offers one); a list is
        # taken from the owner only, so the request multiplexer is selected by flip-flops (a
        # channel waits a cycle at most).  The take is decided from registers alone: a list
        # taken in the cycle its channel restarts is dropped in the next, like one being
        # checked (the fetcher issues nothing in its first cycle)
        offers = Signal(n)
        m.d.comb += offers.eq(Cat(r.valid for r in self.req))
        grant, number = round_robin(m, offers, busy | (owner & offers).any(), "list", index=True)
        m.d.comb += owner.eq(grant)
        take = Signal()
        m.d.comb += take.eq(~busy & ~drop & (owner & offers).any() & fetch.cmd.ready)
        m.d.sync += drop.eq((owner & (busy | take).replicate(n) & self.abort).any())
        chosen = data.View(ScanRequest(aw), Array(r.payload.as_value() for r in self.req)[number])
        m.d.comb += [fetch.cmd.valid.eq(take), fetch.cmd.payload.addr.eq(chosen.addr),
                     fetch.cmd.payload.count.eq(chosen.count)]
        for k, r in enumerate(self.req):
            m.d.comb += r.ready.eq(take & owner[k])

        left = Signal(32, reset_less=True)
        total = Signal(32, reset_less=True)
        acc = Signal(40, reset_less=True)
        bad = Signal()
        err = Signal()
        addr = Signal(aw, reset_less=True)
        # the list's registers follow the owner's offer while idle (their clock enable is
        # `busy`, a register): only `busy` waits for the take
        with m.If(~busy):
            m.d.sync += [left.eq(chosen.count), total.eq(chosen.length), acc.eq(0), bad.eq(0),
                         err.eq(0)]
        with m.If(take):
            m.d.sync += busy.eq(1)

        entry = data.View(layout(SgEntry), fetch.o.payload.data)
        too_wide = (entry.addr >> aw) != 0 if aw < 64 else Const(0)
        # entries left to take: `more` is `left != 0` kept in a register (the list's entry
        # handshake, and the verdict logic behind it, start from flip-flops).  It is set from
        # `left` in the list's first cycle (`fresh`), not from the offer's count through the
        # channel multiplexer: no entry of the list can arrive before its first burst is issued
        more = Signal()
        fresh = Signal()
        m.d.sync += fresh.eq(take)
        m.d.comb += fetch.o.ready.eq(busy & more)
        with m.If(~busy):
            m.d.sync += more.eq(1)
        with m.If(fresh):
            m.d.sync += more.eq(left != 0)
        with m.If(fetch.o.valid & fetch.o.ready):
            m.d.sync += [left.eq(left - 1), acc.eq(acc + entry.len), more.eq(left != 1)]
            with m.If((fetch.o.payload.error | (entry.len == 0) | (entry.flags != 0) | too_wide) & ~bad):
                m.d.sync += [bad.eq(1), err.eq(fetch.o.payload.error), addr.eq(fetch.o.payload.addr)]
        end = busy & ~more
        with m.If(end):
            m.d.sync += busy.eq(0)
        for k, r in enumerate(self.res):
            m.d.comb += [r.valid.eq(end & owner[k]), r.bad.eq(bad | (acc != total)), r.err.eq(err),
                         r.addr.eq(addr)]
        with m.If(drop):
            m.d.sync += busy.eq(0)

        port_quiet = quiet_port(m, self.bus, [self.bus], most=self._buf)   # a burst per record
        m.d.comb += self.quiet.eq(~mine | port_quiet.replicate(n))
        return m
