"""AXI4 arbiter: N managers to one subordinate, each direction among the managers that use it."""

from amaranth.hdl import Array, Cat, Const, Module, Signal
from amaranth.lib import fifo, wiring
from amaranth.lib.wiring import In, Out

from ..bus import AXI4Signature, channel_payload
from .common import round_robin

__all__ = ["AXI4Arbiter"]


class AXI4Arbiter(wiring.Component):
    """N managers sharing one subordinate port, with per-burst round robin on AR and on AW.

    Unlike :class:`~.interconnect.AXI4Interconnect` it decodes no address and tracks no
    outstanding burst: there is one subordinate, so responses route back by the ID bits the
    arbiter adds (the manager's position among that direction's managers, above its own ID
    bits) and same-ID order is the subordinate's.  A direction only has the managers listed
    for it: a read-only manager (a descriptor or list fetcher) costs the write side nothing,
    and a direction with a single manager is plain wiring.  A manager's requests in a direction
    it is not listed for are never accepted.

    Parameters
    ----------
    managers : int
        Number of manager ports (>= 1).
    reads, writes : iterable of int or None
        The managers that read / write (default: all).
    addr_width, data_width, id_width, user_width : int
        Manager-side bus parameters; the subordinate port has ``id_width +
        ceil(log2(max(len(reads), len(writes))))`` ID bits.
    max_writes : int
        Write bursts whose data is still owed (the W-order queue), with more than one writer.

    Members
    -------
    mgr : In(AXI4Signature).array(managers)
    sub : Out(AXI4Signature)

    Latency: none on any channel (address, data and response pass combinationally); with more
    than one writer, write data starts a cycle after its AW is accepted.
    """

    def __init__(self, *, managers, reads=None, writes=None, addr_width=32, data_width=64,
                 id_width=4, user_width=0, max_writes=16):
        if not isinstance(managers, int) or managers < 1:
            raise ValueError(f"managers must be a positive integer, not {managers!r}")
        sides = {}
        for name, given in (("reads", reads), ("writes", writes)):
            chosen = list(range(managers)) if given is None else sorted(set(given))
            if any(not isinstance(i, int) or not 0 <= i < managers for i in chosen):
                raise ValueError(f"{name} must list manager indices in 0..{managers - 1}, not {given!r}")
            sides[name] = chosen
        if not isinstance(max_writes, int) or max_writes < 1:
            raise ValueError(f"max_writes must be a positive integer, not {max_writes!r}")
        self._reads, self._writes = sides["reads"], sides["writes"]
        self._max_writes = max_writes
        self._ibits = max(len(self._reads) - 1, len(self._writes) - 1, 0).bit_length()
        self.mgr_signature = AXI4Signature(addr_width=addr_width, data_width=data_width,
                                           id_width=id_width, user_width=user_width)
        self.sub_signature = AXI4Signature(addr_width=addr_width, data_width=data_width,
                                           id_width=id_width + self._ibits, user_width=user_width)
        super().__init__({
            "mgr": In(self.mgr_signature).array(managers),
            "sub": Out(self.sub_signature),
        })

    def elaborate(self, platform):
        m = Module()
        sub, ib = self.sub, self._ibits
        idw = self.mgr_signature.id_width
        writers = [self.mgr[i] for i in self._writes]
        if len(writers) > 1:
            # which writer owes the data of each accepted AW, oldest first
            m.submodules.wq = wq = fifo.SyncFIFO(width=ib, depth=self._max_writes)
        for a, resp, side in (("ar", "r", self._reads), ("aw", "b", self._writes)):
            mgrs = [self.mgr[i] for i in side]
            n = len(mgrs)
            valid, ready = getattr(sub, f"{a}valid"), getattr(sub, f"{a}ready")
            if n == 0:
                m.d.comb += [valid.eq(0), getattr(sub, f"{resp}ready").eq(0)]
                continue
            reqs = Signal(n, name=f"{a}_reqs")
            m.d.comb += reqs.eq(Cat(getattr(mgr, f"{a}valid") for mgr in mgrs))
            if n == 1:
                grant, index = Const(1, 1), Const(0, 1)
            else:
                # the grant is a register (`round_robin`), and its number beside it: the
                # payload multiplexer is selected by flip-flops.  A combinational grant gets
                # folded into every payload bit by the LUT mapper (~8 LUTs per bit); this one
                # costs a cycle when the grant has to move to a requester, none between the
                # bursts of busy ones
                hold = Signal(name=f"{a}_hold")
                grant, index = round_robin(m, reqs, hold, a, index=True)
                m.d.comb += hold.eq(valid & ~ready)
            room = Signal(name=f"{a}_room", init=1)
            if a == "aw" and n > 1:
                m.d.comb += room.eq(wq.w_rdy)
            m.d.comb += valid.eq((grant & reqs).any() & room)
            for k, mgr in enumerate(mgrs):
                m.d.comb += getattr(mgr, f"{a}ready").eq(grant[k] & room & ready)
            # the payload: the granted manager's fields, a multiplexer tree on the grant's number
            for name in channel_payload(sub, a):
                src = [getattr(mgr, name) for mgr in mgrs]
                if name == f"{a}id":
                    src = [Cat(s, Const(k, ib)) for k, s in enumerate(src)]
                m.d.comb += getattr(sub, name).eq(src[0] if n == 1 else Array(src)[index])
            # responses: to the manager named by the added ID bits
            rid = getattr(sub, f"{resp}id")
            to = [(rid[idw:] == k) if n > 1 else Const(1) for k in range(n)]
            for k, mgr in enumerate(mgrs):
                m.d.comb += getattr(mgr, f"{resp}valid").eq(getattr(sub, f"{resp}valid") & to[k])
                for name, sig in channel_payload(sub, resp).items():
                    m.d.comb += getattr(mgr, name).eq(sig[:idw] if name == f"{resp}id" else sig)
            m.d.comb += getattr(sub, f"{resp}ready").eq(
                Cat(to[k] & getattr(mgr, f"{resp}ready") for k, mgr in enumerate(mgrs)).any())

        # write data in AW order: with one writer its own order, else a queue of writers
        if not writers:
            m.d.comb += sub.wvalid.eq(0)
        elif len(writers) == 1:
            w = writers[0]
            m.d.comb += [sub.wvalid.eq(w.wvalid), w.wready.eq(sub.wready)]
            for name in channel_payload(sub, "w"):
                m.d.comb += getattr(sub, name).eq(getattr(w, name))
        else:
            head = wq.r_data
            m.d.comb += [wq.w_en.eq(sub.awvalid & sub.awready), wq.w_data.eq(sub.awid[idw:]),
                         sub.wvalid.eq(wq.r_rdy & Cat((head == k) & w.wvalid
                                                      for k, w in enumerate(writers)).any()),
                         wq.r_en.eq(sub.wvalid & sub.wready & sub.wlast)]
            for name in channel_payload(sub, "w"):
                m.d.comb += getattr(sub, name).eq(Array(getattr(w, name) for w in writers)[head])
            for k, w in enumerate(writers):
                m.d.comb += w.wready.eq(wq.r_rdy & (head == k) & sub.wready)
        # a direction a manager is not listed for: never accepted, never answered
        for i, mgr in enumerate(self.mgr):
            if i not in self._reads:
                m.d.comb += [mgr.arready.eq(0), mgr.rvalid.eq(0)]
            if i not in self._writes:
                m.d.comb += [mgr.awready.eq(0), mgr.wready.eq(0), mgr.bvalid.eq(0)]
        return m
