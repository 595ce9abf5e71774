"""Amaranth tops for benches: managers -> [checker] -> interconnect -> stall -> [checker] -> memory.

Every AXI link in a bench top is watched by an :class:`~sgdma.rtl.axi.checker.AXI4Checker`;
the top ORs them into ``chk_error`` and reports the first one's details.
"""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..rtl.axi.checker import AXI4Checker, Channel, Violation, monitor
from ..rtl.axi.arbiter import AXI4Arbiter
from ..rtl.axi.interconnect import AXI4Interconnect
from ..rtl.axi.memory import BANK_WORDS, AXI4Memory
from ..rtl.axi.perf import AXI4PerfCounter
from ..rtl.axi.stall import AXI4Stall
from ..rtl.bus import AXI4Signature

__all__ = ["MemorySystem", "CheckerBank"]


class CheckerBank:
    """Collects checkers in a module and drives a top's ``chk_*`` ports from them."""

    def __init__(self):
        self.checkers = []

    def watch(self, m, bus, signature, name):
        chk = AXI4Checker(signature)
        m.submodules[f"chk_{name}"] = chk
        monitor(m, chk, bus)
        self.checkers.append((name, chk))
        return chk

    @staticmethod
    def ports(id_width=8):
        return {"chk_error": Out(1), "chk_code": Out(Violation), "chk_channel": Out(Channel),
                "chk_cycle": Out(32), "chk_id": Out(id_width), "chk_which": Out(8)}

    def drive(self, m, top):
        first = True
        for k, (_, chk) in enumerate(self.checkers):
            with (m.If if first else m.Elif)(chk.error):
                m.d.comb += [top.chk_error.eq(1), top.chk_code.eq(chk.error_code),
                             top.chk_channel.eq(chk.error_channel), top.chk_cycle.eq(chk.error_cycle),
                             top.chk_id.eq(chk.error_id), top.chk_which.eq(k)]
            first = False

    def names(self):
        return [name for name, _ in self.checkers]


class MemorySystem(wiring.Component):
    """``managers`` external AXI4 manager ports -> interconnect -> ``len(mem_sizes)`` memories.

    Each memory ``k`` sits at ``k * window`` (window = the largest memory size); a stall
    injector precedes it.  With one manager and one memory there is no interconnect.

    Members: ``mgr`` (array of AXI4 manager ports), ``read_latency``, ``write_latency``,
    ``slverr_base/limit``, ``decerr_base/limit`` (shared by all memories, as addresses
    local to each memory), ``stall``, ``seed``, ``load`` (stall injectors), ``chk_*``.
    """

    def __init__(self, *, managers=1, mem_sizes=(1 << 16,), data_width=64, addr_width=32,
                 id_width=4, user_width=0, max_bursts=64, interconnect=None, arbiter=False,
                 storage="verilog", bank_words=BANK_WORDS):
        self._n = managers
        self._sizes = list(mem_sizes)
        self._dw, self._aw, self._idw = data_width, addr_width, id_width
        self._max_bursts = max_bursts
        self._xbar = interconnect if interconnect is not None else (managers > 1 or len(self._sizes) > 1)
        self._arbiter = arbiter
        self._storage = storage     # the memories' (AXI4Memory): "ice40_spram" tests the iCE40's
        self._bank_words = bank_words
        if arbiter and len(self._sizes) != 1:
            raise ValueError("an arbiter has one subordinate: give one memory size")
        self.window = max(self._sizes)
        self._uw = user_width
        self.mgr_signature = AXI4Signature(addr_width=addr_width, data_width=data_width,
                                           id_width=id_width, user_width=user_width)
        super().__init__({
            "mgr": In(self.mgr_signature).array(managers),
            "read_latency": In(8), "write_latency": In(8),
            "slverr_base": In(addr_width), "slverr_limit": In(addr_width),
            "decerr_base": In(addr_width), "decerr_limit": In(addr_width),
            "stall": In(8), "seed": In(32), "load": In(1),
            "perf_clear": In(1),
            **{f"perf_{n}": Out(32) for n in AXI4PerfCounter.NAMES},
            **CheckerBank.ports(),
        })

    def elaborate(self, platform):
        m = Module()
        chk = CheckerBank()
        for i in range(self._n):
            chk.watch(m, self.mgr[i], self.mgr_signature, f"mgr{i}")
        m.submodules.perf = perf = AXI4PerfCounter(self.mgr_signature)  # on manager 0
        monitor(m, perf, self.mgr[0])
        m.d.comb += perf.clear.eq(self.perf_clear)
        for n in AXI4PerfCounter.NAMES:
            m.d.comb += getattr(self, f"perf_{n}").eq(getattr(perf, n))
        if self._arbiter:
            xbar = AXI4Arbiter(managers=self._n, addr_width=self._aw, data_width=self._dw,
                               id_width=self._idw, user_width=self._uw)
            m.submodules.xbar = xbar
            for i in range(self._n):
                wiring.connect(m, wiring.flipped(self.mgr[i]), xbar.mgr[i])
            subs, sub_sig = [xbar.sub], xbar.sub_signature
        elif self._xbar:
            xbar = AXI4Interconnect(managers=self._n, addr_width=self._aw, data_width=self._dw,
                                    id_width=self._idw, user_width=self._uw,
                                    windows=[(k * self.window, s) for k, s in enumerate(self._sizes)])
            m.submodules.xbar = xbar
            for i in range(self._n):
                wiring.connect(m, wiring.flipped(self.mgr[i]), xbar.mgr[i])
            subs, sub_sig = list(xbar.sub), xbar.sub_signature
        else:
            subs, sub_sig = [wiring.flipped(self.mgr[0])], self.mgr_signature
        for k, (sub, size) in enumerate(zip(subs, self._sizes)):
            stall = AXI4Stall(sub_sig, salt=k)
            mem = AXI4Memory(size=size, data_width=self._dw, addr_width=self._aw,
                             id_width=sub_sig.id_width, user_width=self._uw,
                             max_bursts=self._max_bursts, storage=self._storage,
                             bank_words=self._bank_words)
            m.submodules[f"stall{k}"] = stall
            m.submodules[f"mem{k}"] = mem
            wiring.connect(m, sub, stall.s)
            wiring.connect(m, stall.m, mem.bus)
            chk.watch(m, stall.m, sub_sig, f"mem{k}")
            m.d.comb += [stall.stall.eq(self.stall), stall.seed.eq(self.seed + k),
                         stall.load.eq(self.load)]
            for name in ("read_latency", "write_latency", "slverr_base", "slverr_limit",
                         "decerr_base", "decerr_limit"):
                m.d.comb += getattr(mem, name).eq(getattr(self, name))
        chk.drive(m, self)
        self.checker_names = chk.names()
        return m


class DmaSystem(wiring.Component):
    """The DMA :class:`~sgdma.rtl.dma.engine.Engine` as the manager of a :class:`MemorySystem`
    (checkers on the engine's port and at the memory, random stalls, latency model).

    Members: ``csr`` (AXI4-Lite, the engine's registers), ``irq``, and the MemorySystem's
    controls, perf counters and ``chk_*`` ports.
    """

    def __init__(self, *, channels=4, data_width=64, mem_size=1 << 20, max_beats=256,
                 buffer_beats=None, max_reads=64, max_writes=32, mem_bursts=64, register_slices=False,
                 lite=False, addr_width=32):
        from ..rtl.dma.engine import Engine
        from ..rtl.dma.lite import LiteEngine
        if lite:    # one channel, 32 bits: the other engine parameters do not apply
            self._engine = LiteEngine(addr_width=addr_width)
            channels, data_width = 1, 32
        else:
            self._engine = Engine(channels=channels, data_width=data_width, addr_width=addr_width,
                                  max_beats=max_beats,
                                  buffer_beats=buffer_beats, max_reads=max_reads,
                                  max_writes=max_writes, register_slices=register_slices)
        esig = self._engine.bus.signature
        self._mem = MemorySystem(managers=1, mem_sizes=[mem_size], data_width=data_width,
                                 addr_width=addr_width,
                                 id_width=esig.id_width, user_width=esig.user_width,
                                 max_bursts=mem_bursts)
        members = {
            "csr": self._engine.signature.members["csr"],
            "irq": Out(channels),
        }
        for name, member in self._mem.signature.members.items():
            if name != "mgr":
                members[name] = member
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        m.submodules.engine = engine = self._engine
        m.submodules.mem = mem = self._mem
        wiring.connect(m, wiring.flipped(self.csr), engine.csr)
        wiring.connect(m, engine.bus, mem.mgr[0])
        m.d.comb += self.irq.eq(engine.irq)
        for name, member in self._mem.signature.members.items():
            if name == "mgr":
                continue
            if member.flow == In:
                m.d.comb += getattr(mem, name).eq(getattr(self, name))
            else:
                m.d.comb += getattr(self, name).eq(getattr(mem, name))
        return m
