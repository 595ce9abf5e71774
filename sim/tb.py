"""cocotb-side helpers shared by every bench (import only inside a simulation)."""

import json
import os
import random

import cocotb
from cocotb.handle import Immediate
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from .records import bench_record  # noqa: F401  (benches import it from here)

__all__ = ["params", "rng", "start", "pause_generator", "quiet_controls", "MemoryBackdoor", "SpramBackdoor",
           "ProtocolWatch"]


def params():
    """The parameters the top was built with (``SGDMA_PARAMS``)."""
    return json.loads(os.environ.get("SGDMA_PARAMS", "{}"))


def rng(salt=""):
    """A ``random.Random`` seeded from ``SGDMA_SEED`` (set and printed by the harness)."""
    return random.Random(f"{os.environ.get('SGDMA_SEED', '1')}/{salt}")


async def start(dut, period_ns=10, reset_cycles=4):
    """Start the clock and hold ``rst`` for ``reset_cycles`` cycles."""
    cocotb.start_soon(Clock(dut.clk, period_ns, unit="ns").start())
    dut.rst.value = 1
    await ClockCycles(dut.clk, reset_cycles)
    dut.rst.value = 0
    await RisingEdge(dut.clk)


def pause_generator(r, probability):
    """Endless booleans, True with ``probability``: a cocotbext-axi pause generator."""
    while True:
        yield r.random() < probability


#: Runtime controls of :class:`sgdma.sim.tops.MemorySystem` (latency model, error windows,
#: stall injectors, perf counters); :func:`quiet_controls` zeroes them.
MEMORY_SYSTEM_CONTROLS = ("read_latency", "write_latency", "slverr_base", "slverr_limit",
                          "decerr_base", "decerr_limit", "stall", "seed", "load", "perf_clear")


def quiet_controls(dut):
    """No latency, no error windows, no stalls: the state a MemorySystem bench starts from."""
    for name in MEMORY_SYSTEM_CONTROLS:
        getattr(dut, name).value = 0


class MemoryBackdoor:
    """Load and inspect an :class:`~sgdma.rtl.axi.memory.AXI4Memory` without bus cycles.

    ``handle`` is the memory's storage array (e.g. ``dut.mem0.storage``)."""

    def __init__(self, handle, word_bytes, size):
        try:                       # AXI4Memory(storage="verilog"): the array inside the RAM
            handle = handle.mem
        except AttributeError:
            pass
        self.handle = handle
        self.word_bytes = word_bytes
        self.size = size

    def _word(self, i):
        return int(self.handle[i].value)

    def _set_word(self, i, value):
        # immediate: a later read-modify-write of the same word in this time step must
        # see it (plain assignments are applied at the end of the step)
        self.handle[i].value = Immediate(value)

    def write(self, addr, data):
        data = bytes(data)
        if addr < 0 or addr + len(data) > self.size:
            raise ValueError(f"backdoor write [{addr:#x}, +{len(data):#x}) outside the memory")
        wb = self.word_bytes
        pos = 0
        while pos < len(data):
            a = addr + pos
            i, off = divmod(a, wb)
            n = min(wb - off, len(data) - pos)
            chunk = data[pos:pos + n]
            if n == wb:
                value = int.from_bytes(chunk, "little")
            else:
                word = bytearray(self._word(i).to_bytes(wb, "little"))
                word[off:off + n] = chunk
                value = int.from_bytes(word, "little")
            self._set_word(i, value)
            pos += n

    def read(self, addr, length):
        if addr < 0 or addr + length > self.size:
            raise ValueError(f"backdoor read [{addr:#x}, +{length:#x}) outside the memory")
        wb = self.word_bytes
        first, last = addr // wb, (addr + length - 1) // wb if length else addr // wb - 1
        raw = b"".join(self._word(i).to_bytes(wb, "little") for i in range(first, last + 1))
        off = addr - first * wb
        return raw[off:off + length]


class BankedBackdoor(MemoryBackdoor):
    """The backdoor of an ``AXI4Memory(storage="amaranth")`` (``handle`` is the memory
    itself): its words live in banks of ``bank_words`` words each (the memory's; default
    :data:`~sgdma.rtl.axi.memory.BANK_WORDS`), a bank's bits in groups of
    :data:`~sgdma.rtl.axi.memory.GROUP_BITS` (``bank0_0``, ``bank0_1``...)."""

    def __init__(self, handle, word_bytes, size, bank_words=None):
        from ..rtl.axi.memory import BANK_WORDS, GROUP_BITS
        super().__init__(None, word_bytes, size)
        self.memory = handle
        self.bank_words = min(size // word_bytes, bank_words or BANK_WORDS)
        self.group_bits = GROUP_BITS
        self.groups = 8 * word_bytes // GROUP_BITS

    def _cells(self, i):
        bank, j = divmod(i, self.bank_words)
        return [getattr(self.memory, f"bank{bank}_{g}")[j] for g in range(self.groups)]

    def _word(self, i):
        return sum(int(c.value) << g * self.group_bits for g, c in enumerate(self._cells(i)))

    def _set_word(self, i, value):
        mask = (1 << self.group_bits) - 1
        for g, c in enumerate(self._cells(i)):
            c.value = Immediate(value >> g * self.group_bits & mask)


class SpramBackdoor(MemoryBackdoor):
    """The backdoor of an ``AXI4Memory(storage="ice40_spram")`` (``handle`` is the memory
    itself): its 32-bit words live in pairs of 16-bit RAMs (sim/verilog/SB_SPRAM256KA.v), one
    pair per 16K words."""

    def __init__(self, handle, size):
        super().__init__(None, 4, size)
        self.memory = handle

    def _halves(self, i):
        bank, j = divmod(i, 1 << 14)
        return [getattr(self.memory, f"spram{bank}_{h}").mem for h in (0, 1)], j

    def _word(self, i):
        (lo, hi), j = self._halves(i)
        return int(lo[j].value) | int(hi[j].value) << 16

    def _set_word(self, i, value):
        (lo, hi), j = self._halves(i)
        lo[j].value = Immediate(value & 0xFFFF)
        hi[j].value = Immediate(value >> 16)


class ProtocolWatch:
    """Fails the test at the first AXI protocol violation any checker in the top reports."""

    def __init__(self, dut, names=()):
        self.dut = dut
        self.names = list(names)
        self._task = cocotb.start_soon(self._watch())

    def describe(self):
        from ..rtl.axi.checker import Channel, Violation
        d = self.dut
        which = int(d.chk_which.value)
        where = self.names[which] if which < len(self.names) else f"checker #{which}"
        return (f"AXI protocol violation at {where}: {Violation(int(d.chk_code.value)).name} on "
                f"{Channel(int(d.chk_channel.value)).name} channel, cycle {int(d.chk_cycle.value)}, "
                f"id {int(d.chk_id.value)}")

    async def _watch(self):
        await RisingEdge(self.dut.chk_error)
        raise AssertionError(self.describe())

    def check(self):
        if int(self.dut.chk_error.value):
            raise AssertionError(self.describe())
