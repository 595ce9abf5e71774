"""AXI4 crossbar: N managers to M subordinates."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import fifo, wiring
from amaranth.lib.wiring import In, Out

from ..bus import AXI4Signature, channel_payload
from .error_slave import AXI4ErrorSlave

__all__ = ["AXI4Interconnect"]


def _and_or(terms, width):
    """``OR(value & replicate(enable))`` over ``(enable, value)`` pairs: a balanced mux tree
    for a one-hot select."""
    out = Const(0, width)
    for enable, value in terms:
        out = out | (value & enable.replicate(width))
    return out


class AXI4Interconnect(wiring.Component):
    """N x M AXI4 crossbar with per-burst round-robin arbitration.

    Managers' IDs are extended with the manager index on the subordinate side (upper bits),
    so responses route back by ID.  Addresses that no subordinate decodes are answered by an
    internal DECERR subordinate.  Each manager keeps its outstanding reads (and, separately,
    writes) on one subordinate at a time, which keeps same-ID responses in order without
    reorder buffers; a DMA engine talking to one memory never notices.

    Parameters
    ----------
    managers : int
        Number of manager ports (>= 1).
    windows : list of (base, size)
        Address window of each subordinate port; ``size`` a power of two, ``base`` aligned
        to it; windows must not overlap.
    addr_width, data_width, id_width, user_width : int
        Manager-side bus parameters; subordinate ports have ``id_width + ceil(log2(managers))``
        ID bits.
    max_outstanding : int
        Bursts per manager and direction in flight (and write bursts queued per subordinate
        for W routing).

    Members
    -------
    mgr : In(AXI4Signature).array(managers)
    sub : Out(AXI4Signature).array(len(windows))

    Latency: address, read data and write response channels pass combinationally (zero
    added cycles, no bubble between back-to-back bursts of one manager); write data starts
    one cycle after its AW reaches the subordinate.
    """

    def __init__(self, *, managers, windows, addr_width=32, data_width=64, id_width=4,
                 user_width=0, max_outstanding=32):
        if not isinstance(managers, int) or managers < 1:
            raise ValueError(f"managers must be a positive integer, not {managers!r}")
        windows = [tuple(w) for w in windows]
        if not windows:
            raise ValueError("windows must list at least one subordinate window")
        for base, size in windows:
            if size < 1 or size & (size - 1) or base % size:
                raise ValueError(f"window ({base:#x}, {size:#x}) must be a power-of-two size "
                                 f"at a base aligned to it")
            if base + size > (1 << addr_width):
                raise ValueError(f"window ({base:#x}, {size:#x}) exceeds addr_width {addr_width}")
        spans = sorted(windows)
        for (b0, s0), (b1, _) in zip(spans, spans[1:]):
            if b0 + s0 > b1:
                raise ValueError(f"windows at {b0:#x} and {b1:#x} overlap")
        if not isinstance(max_outstanding, int) or max_outstanding < 1:
            raise ValueError(f"max_outstanding must be a positive integer, not {max_outstanding!r}")
        self._n = managers
        self._windows = windows
        self._max = max_outstanding
        self._mbits = (managers - 1).bit_length()
        self.mgr_signature = AXI4Signature(addr_width=addr_width, data_width=data_width,
                                           id_width=id_width, user_width=user_width)
        self.sub_signature = AXI4Signature(addr_width=addr_width, data_width=data_width,
                                           id_width=id_width + self._mbits, user_width=user_width)
        super().__init__({
            "mgr": In(self.mgr_signature).array(managers),
            "sub": Out(self.sub_signature).array(len(windows)),
        })

    def _decode(self, m, addr, name):
        """Index of the subordinate for ``addr`` (len(windows) = the DECERR subordinate)."""
        sel = Signal(range(len(self._windows) + 1), name=name, init=len(self._windows))
        for j, (base, size) in reversed(list(enumerate(self._windows))):
            with m.If((addr >> (size.bit_length() - 1)) == (base >> (size.bit_length() - 1))):
                m.d.comb += sel.eq(j)
        return sel

    def elaborate(self, platform):
        m = Module()
        n, mbits = self._n, self._mbits
        m.submodules.decerr = decerr = AXI4ErrorSlave(self.sub_signature)
        subs = list(self.sub) + [decerr.bus]
        nsub = len(subs)
        idw = self.mgr_signature.id_width

        for direction, (a, resp) in {"read": ("ar", "r"), "write": ("aw", "b")}.items():
            # per manager: the subordinate holding its outstanding bursts, and how many
            tgt = [Signal(range(nsub), name=f"{direction}_tgt{i}") for i in range(n)]
            cnt = [Signal(range(self._max + 1), name=f"{direction}_cnt{i}") for i in range(n)]
            dec = [self._decode(m, getattr(self.mgr[i], f"{a}addr"), f"{direction}_dec{i}")
                   for i in range(n)]
            req = [[Signal(name=f"{a}_req{i}_{j}") for j in range(nsub)] for i in range(n)]
            for i in range(n):
                ok = ((cnt[i] == 0) | (tgt[i] == dec[i])) & (cnt[i] < self._max)
                for j in range(nsub):
                    m.d.comb += req[i][j].eq(getattr(self.mgr[i], f"{a}valid") & ok & (dec[i] == j))

            accepted = [Signal(name=f"{a}_acc{i}") for i in range(n)]
            for j, sub in enumerate(subs):
                last = Signal(range(n), name=f"{a}_last{j}", init=n - 1)
                held = Signal(name=f"{a}_held{j}")
                held_grant = Signal(n, name=f"{a}_hgrant{j}")
                reqs = Signal(n, name=f"{a}_reqs{j}")
                m.d.comb += reqs.eq(Cat(req[i][j] for i in range(n)))
                # round robin, one-hot: the lowest requester above the last granted one, else
                # the lowest requester (x & -x isolates the lowest set bit: a carry chain)
                above = Signal(n, name=f"{a}_above{j}")
                m.d.comb += above.eq(reqs & Cat(last < i for i in range(n)))
                first_above = Signal(n, name=f"{a}_fa{j}")
                first_any = Signal(n, name=f"{a}_fr{j}")
                m.d.comb += [first_above.eq(above & (~above + 1)), first_any.eq(reqs & (~reqs + 1))]
                grant = Signal(n, name=f"{a}_grant{j}")
                m.d.comb += grant.eq(Mux(held, held_grant, Mux(above.any(), first_above, first_any)))
                sel = Signal(range(n), name=f"{a}_sel{j}")
                for i in range(1, n):
                    with m.If(grant[i]):
                        m.d.comb += sel.eq(i)
                room = Signal(name=f"{a}_room{j}", init=1)
                valid = Signal(name=f"{a}_valid{j}")
                m.d.comb += valid.eq(grant.any())
                sub_ready = getattr(sub, f"{a}ready")
                if a == "aw":
                    wq = fifo.SyncFIFO(width=max(mbits, 1), depth=self._max)
                    m.submodules[f"wq{j}"] = wq
                    m.d.comb += [wq.w_en.eq(valid & sub_ready), wq.w_data.eq(sel)]
                    m.d.comb += room.eq(wq.w_rdy)
                    setattr(self, f"_wq{j}", wq)
                m.d.comb += getattr(sub, f"{a}valid").eq(valid & room)
                # the payload: an AND-OR of the managers' fields under the one-hot grant
                for name, _ in channel_payload(sub, a).items():
                    src = [getattr(self.mgr[i], name) for i in range(n)]
                    if name == f"{a}id":
                        src = [Cat(s, Const(i, mbits)) if mbits else s for i, s in enumerate(src)]
                    width = len(getattr(sub, name))
                    m.d.comb += getattr(sub, name).eq(
                        _and_or([(grant[i], src[i]) for i in range(n)], width))
                m.d.sync += held.eq(valid & room & ~sub_ready)
                with m.If(valid & room & ~held):
                    m.d.sync += held_grant.eq(grant)
                with m.If(valid & room & sub_ready):
                    m.d.sync += last.eq(sel)
                    for i in range(n):
                        with m.If(grant[i]):
                            m.d.comb += accepted[i].eq(1)
            for i in range(n):
                m.d.comb += getattr(self.mgr[i], f"{a}ready").eq(accepted[i])

            # responses: from the subordinate holding the manager's bursts
            done = [Signal(name=f"{resp}_done{i}") for i in range(n)]
            for i in range(n):
                mgr = self.mgr[i]
                src_valid = Signal(name=f"{resp}_v{i}")
                for j, sub in enumerate(subs):
                    rid = getattr(sub, f"{resp}id")
                    mine = (rid[idw:] == i) if mbits else Const(1)
                    with m.If(tgt[i] == j):
                        m.d.comb += src_valid.eq(getattr(sub, f"{resp}valid") & mine)
                        for name, sig in channel_payload(sub, resp).items():
                            m.d.comb += getattr(mgr, name).eq(sig[:idw] if name == f"{resp}id" else sig)
                m.d.comb += getattr(mgr, f"{resp}valid").eq(src_valid)
                last_beat = mgr.rlast if resp == "r" else Const(1)
                m.d.comb += done[i].eq(src_valid & getattr(mgr, f"{resp}ready") & last_beat)
                with m.If(accepted[i]):
                    m.d.sync += tgt[i].eq(dec[i])
                m.d.sync += cnt[i].eq(cnt[i] + accepted[i] - done[i])
            for j, sub in enumerate(subs):
                rid = getattr(sub, f"{resp}id")
                ready = Const(0)
                for i in range(n):
                    mine = (rid[idw:] == i) if mbits else Const(1)
                    ready = ready | (mine & (tgt[i] == j) & getattr(self.mgr[i], f"{resp}ready"))
                m.d.comb += getattr(sub, f"{resp}ready").eq(ready)

            if direction == "write":
                # W follows AW order at each subordinate; a manager's W goes to its target
                for j, sub in enumerate(subs):
                    wq = getattr(self, f"_wq{j}")
                    head = wq.r_data[:mbits] if mbits else Const(0)
                    wvalid = Const(0)
                    for i in range(n):
                        wvalid = wvalid | ((head == i) & self.mgr[i].wvalid & (tgt[i] == j))
                    m.d.comb += sub.wvalid.eq(wq.r_rdy & wvalid)
                    for name in ("wdata", "wstrb", "wlast"):
                        m.d.comb += getattr(sub, name).eq(_and_or(
                            [(head == i, getattr(self.mgr[i], name)) for i in range(n)],
                            len(getattr(sub, name))))
                    m.d.comb += wq.r_en.eq(sub.wvalid & sub.wready & sub.wlast)
                for i in range(n):
                    ready = Const(0)
                    for j, sub in enumerate(subs):
                        wq = getattr(self, f"_wq{j}")
                        head = wq.r_data[:mbits] if mbits else Const(0)
                        ready = ready | ((tgt[i] == j) & wq.r_rdy & (head == i) & sub.wready)
                    m.d.comb += self.mgr[i].wready.eq(ready)
        return m
