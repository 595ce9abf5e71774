"""Small pieces shared by the DMA blocks."""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ..axi.slice import half_skid, skid
from ..bus import AXI4Signature
from ..fifo import BlockFIFO, BufferedFIFO

__all__ = ["Queue", "later_or_same", "staged_error", "issue_gate", "idle_manager",
           "manager_signature", "SEQ_BITS", "CHANNEL_BITS", "Tag", "quiet_port", "reserve_count"]

SEQ_BITS = 16  #: width of descriptor sequence numbers (modular)
CHANNEL_BITS = 4  #: width of a channel number (up to 16 channels)


def Tag():
    """What every command, burst and report of the shared data mover carries about its
    descriptor: ``seq``, the mover's own sequence number (the order descriptors entered it,
    which is the order it moves them in); ``ch``, the channel (its device ID on the bus); and
    ``lseq``, the descriptor's sequence number within its channel."""
    return data.StructLayout({"seq": SEQ_BITS, "ch": CHANNEL_BITS, "lseq": SEQ_BITS})


class Queue(wiring.Component):
    """A stream FIFO of any shape.  ``buffered=True`` registers the output (block RAM
    friendly, two cycles from input to output); otherwise the output follows the input in
    the next cycle, ``i.ready`` and ``o.valid`` are flip-flops and neither handshake reaches
    the storage's write enables (an issue path that pushes into a queue stops at its
    pointer).  ``block=True``: the storage is block RAM whatever its size (a wide, shallow
    queue costs block RAMs instead of LUTs), its output registered once more (three cycles
    from input to output; ``level`` does not count the output register's two words).
    ``half_rate=True`` (with ``block``): that output register is a :func:`half_skid` (one
    word, a word every other cycle, no word-wide multiplexer) -- for a queue of commands.

    Members: ``i`` (In stream), ``o`` (Out stream), ``level`` (Out).
    """

    def __init__(self, shape, depth, *, buffered=False, block=False, half_rate=False):
        if not isinstance(depth, int) or depth < 1:
            raise ValueError(f"depth must be a positive integer, not {depth!r}")
        if half_rate and not block:
            raise ValueError("half_rate applies to a block queue's output register")
        self._shape, self._depth, self._buffered, self._block = shape, depth, buffered or block, block
        self._half = bool(half_rate)
        super().__init__({
            "i": In(stream.Signature(shape)),
            "o": Out(stream.Signature(shape)),
            "level": Out(range(depth + 2)),
        })

    def elaborate(self, platform):
        m = Module()
        width = self._shape if isinstance(self._shape, int) else data.Layout.cast(self._shape).size
        if not self._buffered:
            self._flags_queue(m, width)
            return m
        cls = BlockFIFO if self._block else BufferedFIFO
        m.submodules.fifo = q = cls(width=width, depth=self._depth)
        m.d.comb += [
            q.w_data.eq(self.i.payload),
            q.w_en.eq(self.i.valid),
            self.i.ready.eq(q.w_rdy),
            self.level.eq(q.level),
        ]
        if self._block:
            # a block RAM's data pins are slow (~6 ns on ECP5): its words go through a skid
            # register before anyone looks at them
            o_valid, o_ready = Signal(), Signal()
            o_data = Signal(width)
            (half_skid if self._half else skid)(m, "out", q.r_rdy, q.r_en, q.r_data, o_valid, o_ready, o_data)
            m.d.comb += [self.o.payload.eq(o_data), self.o.valid.eq(o_valid), o_ready.eq(self.o.ready)]
        else:
            m.d.comb += [self.o.payload.eq(q.r_data), self.o.valid.eq(q.r_rdy), q.r_en.eq(self.o.ready)]
        return m

    def _flags_queue(self, m, width):
        """The unbuffered queue: ``i.ready`` and ``o.valid`` are flip-flops, and the free slot
        at the write pointer takes the input in every cycle the queue is not full, so a push
        only moves the pointer -- neither handshake reaches the storage's write enables, and
        the pointers and the level step by selecting sums formed from registers."""
        depth = self._depth
        # two words: flip-flops and a 2:1 multiplexer per bit (~1 LUT a bit) beat a LUT RAM
        # cell per 4 bits that holds 16 words (6 LUTs on ECP5, with its write port)
        attrs = {"ram_style": "logic"} if depth <= 2 else {}
        storage = m.submodules.storage = memory.Memory(shape=width, depth=depth, init=[], attrs=attrs)
        wp = storage.write_port()
        rp = storage.read_port(domain="comb")
        w_ptr = Signal(range(depth))
        r_ptr = Signal(range(depth))
        level = Signal(range(depth + 1))
        full = Signal()
        filled = Signal()                 # not empty
        push = Signal()
        pop = Signal()
        m.d.comb += [
            wp.addr.eq(w_ptr), wp.data.eq(self.i.payload), wp.en.eq(~full),
            rp.addr.eq(r_ptr), self.o.payload.eq(rp.data),
            self.i.ready.eq(~full), self.o.valid.eq(filled), self.level.eq(level),
            push.eq(self.i.valid & ~full), pop.eq(self.o.ready & filled),
        ]

        def step(ptr):
            return Mux(ptr == depth - 1, 0, ptr + 1)[:len(ptr)]

        with m.If(push):
            m.d.sync += w_ptr.eq(step(w_ptr))
        with m.If(pop):
            m.d.sync += r_ptr.eq(step(r_ptr))
        with m.If(push & ~pop):
            m.d.sync += [level.eq(level + 1), full.eq(level == depth - 1), filled.eq(1)]
        with m.Elif(pop & ~push):
            m.d.sync += [level.eq(level - 1), full.eq(0), filled.eq(level != 1)]


def later_or_same(a, b):
    """``a`` is ``b`` or later in modular sequence-number order."""
    return (a - b)[SEQ_BITS - 1] == 0


def staged_error(m, err, bad, code, addr, tag, beats):
    """An error candidate (``bad`` this cycle, with its ``code``, ``addr`` and ``tag``) taken
    into registers, and recorded in the sticky ``err`` in the next cycle if there is none yet or
    ``beats(seq)`` (the candidate's sequence number takes precedence over the recorded one's):
    the logic behind ``bad`` and the fields stays off the error's flip-flops.  Returns the
    staged candidate's ``(valid, tag)``."""
    s_bad = Signal(name="staged_bad")
    s_code = Signal.like(err.code, reset_less=True, name="staged_code")
    s_addr = Signal(len(addr), reset_less=True, name="staged_addr")
    s_tag = Signal(Tag(), reset_less=True, name="staged_tag")
    m.d.sync += [s_bad.eq(bad), s_code.eq(code), s_addr.eq(addr), s_tag.eq(tag)]
    with m.If(s_bad & (~err.valid | beats(s_tag.seq))):
        m.d.sync += [err.valid.eq(1), err.code.eq(s_code), err.addr.eq(s_addr), err.tag.eq(s_tag)]
    return s_bad, s_tag


def issue_gate(m, valid, ready, stop, name):
    """Valid for an address channel that ``stop`` holds back, without ever withdrawing a
    request already presented (AXI: once valid, stay valid until the handshake)."""
    presented = Signal(name=f"{name}_presented")
    out = Signal(name=f"{name}_valid")
    m.d.comb += out.eq(valid & (~stop | presented))
    m.d.sync += presented.eq(out & ~ready)
    return out


def quiet_port(m, port, managers, most=1023):
    """Nothing outstanding on ``port`` (reads, writes, write data owed) and no request offered
    to the arbiter behind it by any of ``managers`` (it stores nothing: whatever the port
    offers, some manager offers).  ``most``: the most reads, and the most writes, the port's
    managers can have outstanding (their queues bound it; sizes the counters).  Returns the
    condition, registered (a cycle late)."""
    reads = Signal(range(most + 1))
    writes = Signal(range(most + 1))
    w_owed = Signal(range(most + 1))
    ar_hs, aw_hs = port.arvalid & port.arready, port.awvalid & port.awready
    r_end, b_hs = port.rvalid & port.rready & port.rlast, port.bvalid & port.bready
    w_end = port.wvalid & port.wready & port.wlast
    m.d.sync += [reads.eq(reads + ar_hs - r_end), writes.eq(writes + aw_hs - b_hs),
                 w_owed.eq(w_owed + aw_hs - w_end)]
    staged = Cat(Cat(mgr.arvalid, mgr.awvalid) for mgr in managers).any()
    idle = Signal()
    m.d.sync += idle.eq((reads == 0) & (writes == 0) & (w_owed == 0) & ~staged)
    return idle


def reserve_count(m, count, add, take, pop):
    """Step the buffer-reservation register ``count``: ``+ add`` when ``take`` (a burst is
    issued), ``- 1`` when ``pop`` (a beat leaves).  Both sums are formed from registers and
    the two handshakes only select between them, so neither waits behind an adder.  Returns
    ``count + add`` (for the caller's room check)."""
    plus = Signal((count + add).shape(), name=f"{count.name}_plus")
    m.d.comb += plus.eq(count + add)
    m.d.sync += count.eq(Mux(take, Mux(pop, plus - 1, plus), Mux(pop, count - 1, count)))
    return plus


def idle_manager(m, bus):
    """Tie off the write side of a read-only manager (reads: ``rready`` is set by the user)."""
    m.d.comb += [bus.awvalid.eq(0), bus.wvalid.eq(0), bus.bready.eq(1)]


def manager_signature(addr_width, data_width, user_width):
    return AXI4Signature(addr_width=addr_width, data_width=data_width, id_width=1,
                         user_width=user_width)
