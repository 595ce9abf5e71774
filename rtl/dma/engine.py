"""The DMA engine: channels sharing one AXI4 manager port, and their register bank."""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ...sw.registers import ID_MAGIC, VERSION_MAJOR, VERSION_MINOR, register_map
from ..axi.interconnect import AXI4Interconnect
from ..axi.slice import AXI4RegisterSlice
from ..bus import AXI4LiteSignature
from ..regbank import RegisterBank
from .channel import Channel

__all__ = ["Engine"]


class Engine(wiring.Component):
    """Scatter-gather DMA engine with ``channels`` descriptor-ring channels.

    Parameters
    ----------
    channels : int
        1..16 channels; channel ``k`` carries device ID ``k`` in ``AxUSER``.
    addr_width, data_width : int
        Memory bus: addresses up to 64 bits (descriptor addresses above ``addr_width`` are
        rejected as invalid), data 32 / 64 / 128 bits.
    max_beats : int
        Burst length cap (power of two, 1..256).
    buffer_beats : int
        Read buffer per channel, in bus words (a power of two >= ``max_beats``; default four
        bursts).
    max_reads, max_writes : int
        Data bursts in flight per channel and direction.
    user_width : int
        ``AxUSER`` width (device ID), >= bits needed for ``channels``.
    register_slices : bool
        A register slice on each channel's internal managers (address and write data, before
        the channel's arbiter), on each channel's port (before the engine's arbiter) and on
        the engine's port (all five channels): no combinational path from a channel's address
        arithmetic reaches an arbiter or the memory, at a few cycles of latency per
        transaction.  Boards need it
        (the SoC turns it on); the cycle benches of the bare engine run without.

    Members
    -------
    csr : In(AXI4LiteSignature(addr_width=csr_addr_width, data_width=32)) — registers
        (``docs/registers.md``).
    bus : Out(AXI4Signature(id_width=4 + log2(channels))) — memory.
    irq : Out(channels) — one interrupt line per channel.
    busy : Out(1) — some channel has work (a simulator may skip ahead while it is low).
    """

    def __init__(self, *, channels=4, addr_width=32, data_width=64, max_beats=256,
                 buffer_beats=None, max_reads=64, max_writes=32, user_width=8, csr_addr_width=None,
                 register_slices=False):
        if not isinstance(channels, int) or not 1 <= channels <= 16:
            raise ValueError(f"channels must be an integer in 1..16, not {channels!r}")
        if data_width not in (32, 64, 128):
            raise ValueError(f"data_width must be 32, 64 or 128, not {data_width!r}")
        if not isinstance(addr_width, int) or not 16 <= addr_width <= 64:
            raise ValueError(f"addr_width must be an integer in 16..64, not {addr_width!r}")
        if not isinstance(user_width, int) or (1 << user_width) < channels:
            raise ValueError(f"user_width must hold a device ID per channel, not {user_width!r}")
        if buffer_beats is None:
            # four bursts: one being written, one waiting, two arriving -- the read channel
            # never waits for buffer space even at long memory latencies
            buffer_beats = 4 * max_beats
        if not isinstance(buffer_beats, int) or buffer_beats < max_beats or buffer_beats & (buffer_beats - 1):
            raise ValueError(f"buffer_beats must be a power of two >= max_beats, not {buffer_beats!r}")
        for name, v in (("max_reads", max_reads), ("max_writes", max_writes)):
            if not isinstance(v, int) or not 1 <= v <= 256:
                raise ValueError(f"{name} must be an integer in 1..256, not {v!r}")
        self._n, self._aw, self._dw = channels, addr_width, data_width
        self._slices = bool(register_slices)
        self.regmap = register_map(channels)
        self._chan = [Channel(device_id=k, addr_width=addr_width, data_width=data_width,
                              user_width=user_width, max_beats=max_beats, buffer_beats=buffer_beats,
                              max_reads=max_reads, max_writes=max_writes,
                              register_slices=register_slices) for k in range(channels)]
        self._xbar = AXI4Interconnect(managers=channels, windows=[(0, 1 << addr_width)],
                                      addr_width=addr_width, data_width=data_width,
                                      id_width=self._chan[0].bus.signature.id_width,
                                      user_width=user_width,
                                      max_outstanding=max(max_reads, max_writes, 8) * 2)
        self._bank = RegisterBank(self.regmap, addr_width=csr_addr_width)
        super().__init__({
            "csr": In(AXI4LiteSignature(addr_width=self._bank.bus.signature.addr_width, data_width=32)),
            "bus": Out(self._xbar.sub_signature),
            "irq": Out(channels),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.bank = bank = self._bank
        m.submodules.xbar = xbar = self._xbar
        cycles = Signal(64)
        wiring.connect(m, wiring.flipped(self.csr), bank.bus)
        if self._slices:
            m.submodules.out_slice = out = AXI4RegisterSlice(xbar.sub_signature)
            wiring.connect(m, xbar.sub[0], out.s)
            wiring.connect(m, out.m, wiring.flipped(self.bus))
        else:
            wiring.connect(m, xbar.sub[0], wiring.flipped(self.bus))
        for k, ch in enumerate(self._chan):
            m.submodules[f"ch{k}"] = ch
            if self._slices:
                sl = AXI4RegisterSlice(ch.bus.signature, channels=("aw", "w", "ar"))
                m.submodules[f"ch{k}_slice"] = sl
                wiring.connect(m, ch.bus, sl.s)
                wiring.connect(m, sl.m, xbar.mgr[k])
            else:
                wiring.connect(m, ch.bus, xbar.mgr[k])
            wiring.connect(m, bank.channel[k], ch.regs)
            m.d.comb += ch.cycles.eq(cycles)
        m.d.comb += [self.irq.eq(Cat(ch.irq for ch in self._chan)),
                     self.busy.eq(Cat(ch.busy for ch in self._chan).any())]

        sys = bank.system
        m.d.sync += cycles.eq(cycles + 1)
        m.d.comb += [
            sys.id.magic.eq(ID_MAGIC),
            sys.version.major.eq(VERSION_MAJOR), sys.version.minor.eq(VERSION_MINOR),
            sys.config.channels.eq(self._n), sys.config.data_bytes.eq(self._dw // 8),
            sys.cycles.count.eq(cycles),
        ]
        return m
