"""Buffered FIFOs for block RAM.

Amaranth's :class:`~amaranth.lib.fifo.SyncFIFOBuffered` keeps its words in a memory with a
synchronous read port.  Yosys cannot see that a FIFO never reads the word it writes in the
same cycle, and ECP5's DP16KD leaves such a collision between its two ports undefined, so it
emulates the collision for every such memory with a word-wide register and a word-wide
multiplexer -- a LUT and up to three flip-flops per bit.  A FIFO never reads the word it
writes in the same cycle (the word being read was written in an earlier cycle), so the
emulation is dead logic.  Yosys's attribute for this, ``no_rw_check``, is applied only where
Yosys itself merges a register into an asynchronous read port (``memory_dff``), never to a
port that arrives synchronous, as Amaranth's do in RTLIL.  :func:`registered_read` reads a
memory that way (every block RAM of this project that needs no collision logic is read
through it), and :class:`BufferedFIFO` is :class:`~amaranth.lib.fifo.SyncFIFOBuffered`
rebuilt on it.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import fifo
from amaranth.lib.memory import Memory

__all__ = ["BufferedFIFO", "BlockFIFO", "registered_read"]


def registered_read(m, memory, addr, *, en=None, name):
    """The word at last cycle's ``addr`` of ``memory`` (at the last cycle ``en`` was high,
    if given), in a register Yosys merges into the block RAM, without read-during-write
    logic: ``memory`` is marked ``no_rw_check`` and read through an asynchronous port, the
    only form in which Yosys honours the attribute.  The caller never reads a word in the
    cycle it is written, or resolves that collision itself."""
    memory.attrs["no_rw_check"] = 1
    port = memory.read_port(domain="comb")
    data = Signal(port.data.shape(), name=name, reset_less=True)
    m.d.comb += port.addr.eq(addr)
    if en is None:
        m.d.sync += data.eq(port.data)
    else:
        with m.If(en):
            m.d.sync += data.eq(port.data)
    return data


class BufferedFIFO(fifo.SyncFIFOBuffered):
    """:class:`~amaranth.lib.fifo.SyncFIFOBuffered` (same ports, same cycle behaviour) without
    Yosys's read-during-write bypass."""

    _ram_style = None

    def elaborate(self, platform):
        if self.depth <= 1:
            return super().elaborate(platform)
        m = Module()
        inner_depth = self.depth - 1
        inner_level = Signal(range(inner_depth + 1))
        inner_r_rdy = Signal()
        do_write = self.w_rdy & self.w_en
        do_inner_read = inner_r_rdy & (~self.r_rdy | self.r_en)
        m.d.comb += [
            self.w_rdy.eq(inner_level != inner_depth),
            inner_r_rdy.eq(inner_level != 0),
            self.w_level.eq(self.level),
            self.r_level.eq(self.level),
            self.level.eq(inner_level + self.r_rdy),
        ]
        attrs = {"ram_style": self._ram_style} if self._ram_style else {}
        storage = m.submodules.storage = Memory(shape=self.width, depth=inner_depth, init=[],
                                                attrs=attrs)
        w_port = storage.write_port()
        produce = Signal(range(inner_depth))
        consume = Signal(range(inner_depth))

        def incr(ptr):
            if inner_depth == 1 << len(ptr):
                return ptr + 1
            return Mux(ptr == inner_depth - 1, 0, ptr + 1)

        # the free slot at `produce` takes the input in every cycle the queue is not full, so
        # a push only moves the pointer: the writer's handshake (`w_en`, often logic far
        # away) never reaches the storage's write enables -- for a register storage, the
        # clock enables of a whole word (session 21: the mover's read-command queue, 232
        # enables behind the command's `read` bit and two gates, 13.7 ns).  The slot is not
        # read while free: with nothing queued nothing is read, and a full queue writes none
        m.d.comb += [w_port.addr.eq(produce), w_port.data.eq(self.w_data), w_port.en.eq(self.w_rdy),
                     self.r_data.eq(registered_read(m, storage, consume, en=do_inner_read, name="out"))]
        with m.If(do_write):
            m.d.sync += produce.eq(incr(produce))
        with m.If(do_inner_read):
            m.d.sync += consume.eq(incr(consume))
        with m.If(do_write & ~do_inner_read):
            m.d.sync += inner_level.eq(inner_level + 1)
        with m.If(do_inner_read & ~do_write):
            m.d.sync += inner_level.eq(inner_level - 1)
        with m.If(do_inner_read):
            m.d.sync += self.r_rdy.eq(1)
        with m.Elif(self.r_en):
            m.d.sync += self.r_rdy.eq(0)
        return m


class BlockFIFO(BufferedFIFO):
    """A :class:`BufferedFIFO` whose storage Yosys must put in block RAM (``ram_style``),
    however shallow: for wide queues that would otherwise take hundreds of LUT RAM cells."""

    _ram_style = "block"
