"""Buffered FIFOs for block RAM.

Amaranth's :class:`~amaranth.lib.fifo.SyncFIFOBuffered` keeps its words in a memory with a
synchronous read port.  Yosys cannot see that a FIFO never reads the word it writes in the
same cycle, and ECP5's DP16KD leaves such a collision between its two ports undefined, so it
emulates the collision for every such memory with a word-wide register and a word-wide
multiplexer -- a LUT and up to three flip-flops per bit.  A FIFO's read pointer never equals
its write pointer while both ports are active on the same word (the word being read has
been written in an earlier cycle), so the emulation is dead logic: :class:`BufferedFIFO`
marks its storage ``no_rw_check``, Yosys's attribute for exactly this.
"""

from amaranth.lib import fifo

__all__ = ["BufferedFIFO", "BlockFIFO"]


class BufferedFIFO(fifo.SyncFIFOBuffered):
    """:class:`~amaranth.lib.fifo.SyncFIFOBuffered` without Yosys's read-during-write bypass."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        if self.depth > 1:
            m.submodules.storage.attrs["no_rw_check"] = 1
        return m


class BlockFIFO(BufferedFIFO):
    """A :class:`BufferedFIFO` whose storage Yosys must put in block RAM (``ram_style``),
    however shallow: for wide queues that would otherwise take hundreds of LUT RAM cells."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        if self.depth > 1:
            m.submodules.storage.attrs["ram_style"] = "block"
        return m
