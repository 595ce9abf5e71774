"""Address generators: the only place that knows the shape of a transfer."""

from amaranth.lib import enum

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..formats import layout
from ...sw.formats import SgEntry
from ...sw.formats import ErrorCode
from .burst import BurstSplitter, Fragment
from .common import Tag, later_or_same, manager_signature
from .fetch import RecordFetcher

__all__ = ["Shape", "GenCommand", "AddressGenerator", "shaped_bursts"]


class Shape(enum.Enum, shape=2):
    CONTIG = 0  #: one run of ``length`` bytes at ``addr``
    ND = 1      #: ``count1`` planes of ``count0`` rows of ``length`` bytes, signed strides
    SGL = 2     #: the entries of the SG list at ``addr`` (``count0`` entries, ``length`` in total)


def GenCommand(addr_width):
    return data.StructLayout({
        "kind": Shape,
        "addr": addr_width,
        "length": 32,
        "count0": 32,
        "count1": 32,
        "stride0": signed(32),
        "stride1": signed(32),
        "tag": Tag(),
    })


def Tagged(addr_width):
    return data.StructLayout({"frag": Fragment(addr_width), "tag": Tag()})


class AddressGenerator(wiring.Component):
    """Turns one side of a descriptor into ``(addr, length)`` fragments, ``last`` on the final
    one, each tagged with the descriptor's :func:`~.common.Tag`.

    Contiguous: one fragment.  N-D: one fragment per row, one row per cycle.  SG list: the
    list is fetched in bursts (its own manager port ``bus``) and each entry becomes a
    fragment, one every other cycle at most.  An SG list that ends before ``length`` bytes,
    or an entry that would take the total past ``length`` (the list changed after
    validation) stops the generator with ``error`` = INVALID; a fetch error stops it with the
    bus response.

    Members
    -------
    cmd : In(stream.Signature(GenCommand))
    o : Out(stream.Signature({frag: Fragment, tag}))
    bus : Out(AXI4Signature) — SG-list reads, ``AxUSER`` = the command's channel.
    stop : In — holds back the list's bursts, a cycle later (:class:`RecordFetcher`, ``registered_stop``).
    error : Out({valid, resp, invalid, addr, tag}) — sticky until reset.
    """

    def __init__(self, *, addr_width=32, data_width=64, user_width=0, sg_buffer=8):
        self._aw, self._dw, self._uw, self._sgbuf = addr_width, data_width, user_width, sg_buffer
        super().__init__({
            "cmd": In(stream.Signature(GenCommand(addr_width))),
            "o": Out(stream.Signature(Tagged(addr_width))),
            "bus": Out(manager_signature(addr_width, data_width, user_width)),
            "stop": In(1),
            "error": Out(data.StructLayout({"valid": 1, "resp": 2, "invalid": 1,
                                            "addr": addr_width, "tag": Tag()})),
        })

    def elaborate(self, platform):
        m = Module()
        aw = self._aw
        m.submodules.fetch = fetch = RecordFetcher(
            record_bytes=16, addr_width=aw, data_width=self._dw, user_width=self._uw,
            buffer_records=self._sgbuf, burst_records=self._sgbuf,
            # (`stop` is the mover's hold-back rule: its error register and a sequence
            # compare, a long way off; the mover's reset waits a cycle longer for it)
            registered_stop=True)
        wiring.connect(m, wiring.flipped(self.bus), fetch.bus)
        m.d.comb += fetch.stop.eq(self.stop)

        # (the command's registers are reset-less: only `busy` says one is live)
        cmd = Signal(GenCommand(aw), reset_less=True)
        busy = Signal()
        row = Signal(aw, reset_less=True)        # address of the next row
        plane = Signal(aw, reset_less=True)      # address of the first row of the current plane
        # counters run down, so "last" is a compare with a constant: rows (or SG entries)
        # after the current one, planes after the current one, and rows per plane less one
        r0 = Signal(32, reset_less=True)
        r1 = Signal(32, reset_less=True)
        rows_m1 = Signal(32, reset_less=True)
        left = Signal(33, reset_less=True)       # SG: bytes still to place
        entry = data.View(layout(SgEntry), fetch.o.payload.data)
        err = self.error

        m.d.comb += [self.cmd.ready.eq(~busy & fetch.cmd.ready & ~err.valid),
                     fetch.cmd.payload.addr.eq(self.cmd.payload.addr),
                     fetch.cmd.payload.count.eq(self.cmd.payload.count0)]
        # N-D: "this is the plane's last row" / "the last plane" are registers, stepped with
        # the counters, so a row's fragment (and its `last`) leaves from registers
        last_row = Signal()
        last_plane = Signal()
        single_row = Signal()   # one row per plane
        checked = Signal()      # SG: the entry on offer has been checked ...
        checked_bad = Signal()  # ... and this is the verdict
        with m.If(~busy):
            m.d.sync += checked.eq(0)
        # the command's registers follow the offered command while idle (their ~230 clock
        # enables are `busy` and the sticky error, registers: not the offer's fence and
        # hold-back compares); only `busy` waits for the handshake
        p = self.cmd.payload
        with m.If(~busy & ~err.valid):
            m.d.sync += [cmd.eq(p), row.eq(p.addr), plane.eq(p.addr),
                         r0.eq(p.count0 - 1), r1.eq(p.count1 - 1), rows_m1.eq(p.count0 - 1),
                         left.eq(p.length), single_row.eq(p.count0 == 1),
                         last_row.eq(p.count0 == 1), last_plane.eq(p.count1 == 1)]
        with m.If(self.cmd.valid & self.cmd.ready):
            m.d.sync += busy.eq(1)
            m.d.comb += fetch.cmd.valid.eq(p.kind == Shape.SGL)

        # (the fetcher takes a command once the previous one's bursts are out: the current
        # command's channel is the requester of every burst it issues)
        m.d.comb += [self.o.payload.tag.eq(cmd.tag), fetch.user.eq(cmd.tag.ch)]
        frag = self.o.payload.frag
        hs = self.o.valid & self.o.ready
        # r0 steps down (an N-D row within its plane, an SG entry) or reloads (an N-D plane):
        # two flags, so the decrement is one adder on r0 with its result chosen after it
        step = Signal()
        new_plane = Signal()
        r0_dec = Signal(32)
        m.d.comb += r0_dec.eq(r0 - 1)
        with m.If(new_plane):
            m.d.sync += r0.eq(rows_m1)
        with m.Elif(step):
            m.d.sync += r0.eq(r0_dec)
        with m.Switch(cmd.kind):
            with m.Case(Shape.CONTIG):
                m.d.comb += [self.o.valid.eq(busy), frag.addr.eq(cmd.addr),
                             frag.length.eq(cmd.length), frag.last.eq(1)]
                with m.If(hs):
                    m.d.sync += busy.eq(0)
            with m.Case(Shape.ND):
                end_all = last_row & last_plane
                m.d.comb += [self.o.valid.eq(busy), frag.addr.eq(row), frag.length.eq(cmd.length),
                             frag.last.eq(end_all)]
                with m.If(hs):
                    with m.If(end_all):
                        m.d.sync += busy.eq(0)
                    with m.Elif(last_row):
                        nxt = plane + cmd.stride1.as_signed()
                        m.d.comb += new_plane.eq(1)
                        m.d.sync += [r1.eq(r1 - 1), plane.eq(nxt), row.eq(nxt),
                                     last_row.eq(single_row), last_plane.eq(r1 == 1)]
                    with m.Else():
                        m.d.comb += step.eq(1)
                        m.d.sync += [row.eq(row + cmd.stride0.as_signed()), last_row.eq(r0 == 1)]
            with m.Case(Shape.SGL):
                final = r0 == 0
                bad = (fetch.o.payload.error | (entry.len == 0) | (entry.len > left) |
                       (final & (entry.len != left)) | (entry.addr >> aw != 0))
                m.d.comb += [frag.addr.eq(entry.addr), frag.length.eq(entry.len),
                             frag.last.eq(final)]
                # the report's fields follow the entry on offer until an error freezes them:
                # only `valid` waits for the entry's checks (not ~80 clock enables)
                with m.If(~err.valid):
                    m.d.sync += [err.resp.eq(fetch.o.payload.resp), err.invalid.eq(~fetch.o.payload.error),
                                 err.addr.eq(fetch.o.payload.addr), err.tag.eq(cmd.tag)]
                # an entry is checked in the cycle it arrives and used in the next, from the
                # verdict's register (an entry every other cycle: the compares against `left`
                # stay off the handshake and the counters' enables)
                with m.If(busy & fetch.o.valid & ~checked):
                    m.d.sync += [checked.eq(1), checked_bad.eq(bad)]
                with m.If(busy & fetch.o.valid & checked):
                    with m.If(checked_bad):
                        m.d.comb += fetch.o.ready.eq(1)
                        m.d.sync += checked.eq(0)
                        with m.If(~err.valid):
                            m.d.sync += [err.valid.eq(1), busy.eq(0)]
                    with m.Else():
                        m.d.comb += [self.o.valid.eq(1), fetch.o.ready.eq(self.o.ready)]
                        with m.If(hs):
                            m.d.comb += step.eq(1)
                            m.d.sync += [left.eq(left - entry.len), checked.eq(0)]
                            with m.If(final):
                                m.d.sync += busy.eq(0)
        return m


def shaped_bursts(m, side, *, addr_width, data_width, user_width, max_beats):
    """The front end a :class:`~.reader.Reader` and a :class:`~.writer.Writer` share: an
    :class:`AddressGenerator` (SG lists through ``side.sg_bus``) feeding a
    :class:`~.burst.BurstSplitter`, and the hold-back rule of ``side.stop`` / ``side.halt``.

    Returns ``(gen, split, held, tag_of, o_held)``: ``held(tag)`` is true when requests
    of that descriptor must be held back; each burst on ``split.o`` carries its descriptor's
    :func:`~.common.Tag` (``tag_of(burst)`` views it).  ``o_held`` is the rule for the burst on
    ``split.o`` from registers only (no sequence-number compare on the issue path): it is
    made a cycle ahead, for the burst ``split.o`` shows next cycle (``split.o_next`` if
    it moves, else the same one), against ``side.halt_seq_next``.
    An SG-list failure of the generator is reported in ``side.error`` (SGL_ERR for a bus
    error, INVALID for a list that changed after validation) unless an error is already there.
    """
    def held(tag):
        return side.stop | (side.halt & later_or_same(tag.seq, side.halt_seq))

    def tag_of(burst):
        return data.View(Tag(), burst.tag)

    m.submodules.gen = gen = AddressGenerator(addr_width=addr_width, data_width=data_width,
                                              user_width=user_width)
    m.submodules.split = split = BurstSplitter(addr_width=addr_width, data_width=data_width,
                                               max_beats=max_beats, tag_width=Tag().size)
    wiring.connect(m, wiring.flipped(side.sg_bus), gen.bus)
    frag = gen.o.payload.frag
    m.d.comb += [
        gen.stop.eq(held(gen.o.payload.tag)),
        split.i.payload.addr.eq(frag.addr), split.i.payload.length.eq(frag.length),
        split.i.payload.last.eq(frag.last), split.i.payload.tag.eq(gen.o.payload.tag),
        split.i.valid.eq(gen.o.valid), gen.o.ready.eq(split.i.ready),
    ]
    err = side.error
    with m.If(gen.error.valid & ~err.valid):
        m.d.sync += [err.valid.eq(1),
                     err.code.eq(Mux(gen.error.invalid, ErrorCode.INVALID, ErrorCode.SGL_ERR)),
                     err.addr.eq(gen.error.addr), err.tag.eq(gen.error.tag)]
    ahead = Signal()
    o_held = Signal()
    moves = split.o.ready | ~split.o.valid      # split.o shows split.o_next next cycle
    # (both compares, then the choice: the issue handshake behind `moves` meets only the mux)
    m.d.sync += ahead.eq(Mux(moves, later_or_same(tag_of(split.o_next).seq, side.halt_seq_next),
                             later_or_same(tag_of(split.o.payload).seq, side.halt_seq_next)))
    m.d.comb += o_held.eq(side.stop | (side.halt & ahead))
    return gen, split, held, tag_of, o_held
