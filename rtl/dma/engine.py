"""The DMA engine: channels sharing one data mover and one AXI4 manager port, and their
register bank."""

from amaranth.hdl import Array, Cat, Module, Mux, ResetInserter, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ...sw.registers import ID_MAGIC, VERSION_MAJOR, VERSION_MINOR, register_map
from ..axi.arbiter import AXI4Arbiter
from ..axi.common import round_robin
from ..axi.slice import AXI4RegisterSlice
from ..bus import AXI4LiteSignature
from ..regbank import RegisterBank
from .channel import Channel
from .mover import Mover
from .scan import ListScanner

__all__ = ["Engine", "system_registers"]


def _connect_ids(m, mgr, port):
    """Connect manager port ``mgr`` to ``port`` (an arbiter's manager port) whose IDs may be
    wider: request IDs are zero-extended, response IDs truncated."""
    for name, member in mgr.signature.members.items():
        if member.flow == Out:
            m.d.comb += getattr(port, name).eq(getattr(mgr, name))
        else:
            m.d.comb += getattr(mgr, name).eq(getattr(port, name))


class Engine(wiring.Component):
    """Scatter-gather DMA engine with ``channels`` descriptor-ring channels.

    Each channel fetches, validates and completes its own descriptors; one
    :class:`~.mover.Mover` moves the bytes of all of them, taking the channels' decoded
    descriptors in round robin, one descriptor at a time.  When a descriptor fails (or a
    channel is reset) the mover is reset once everything before it has finished, and the
    other channels give it again what it had not finished (see :class:`~.channel.Channel`).

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
        The mover's read buffer, in bus words (a power of two >= ``max_beats``; default four
        bursts).
    max_reads, max_writes : int
        Data bursts in flight per direction.
    user_width : int
        ``AxUSER`` width (device ID), >= bits needed for ``channels``.
    register_slices : bool
        A register slice on the mover's read managers (before its arbiter), on each port
        before the engine's arbiter (a channel's and the scanner's at half rate where they
        carry little) and on the engine's port (all five channels): no combinational path
        from address arithmetic reaches an arbiter or the memory, at a few cycles of latency
        per transaction.  Boards need it (the SoC turns it on); the
        cycle benches of the bare engine run without.

    Members
    -------
    csr : In(AXI4LiteSignature(addr_width=csr_addr_width, data_width=32)) — registers
        (``docs/registers.md``).
    bus : Out(AXI4Signature(id_width=3 + log2(channels + 2))) — memory.
    irq : Out(channels) — one interrupt line per channel.
    busy : Out(1) — some channel has work, a cycle late (a simulator may skip ahead while it
        is low: a doorbell that starts work is a bridge write, and the bridge is busy then).
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
                              user_width=user_width)
                      for k in range(channels)]
        self._mover = Mover(channels=channels, addr_width=addr_width, data_width=data_width,
                            user_width=user_width, max_beats=max_beats, buffer_beats=buffer_beats,
                            max_reads=max_reads, max_writes=max_writes,
                            register_slices=register_slices)
        self._scanner = ListScanner(channels=channels, addr_width=addr_width, data_width=data_width,
                                    user_width=user_width)
        id_width = max(p.bus.signature.id_width for p in self._chan + [self._mover, self._scanner])
        # managers: the channels, the mover, the scanner (which only reads)
        self._xbar = AXI4Arbiter(managers=channels + 2, writes=range(channels + 1),
                                 addr_width=addr_width, data_width=data_width, id_width=id_width,
                                 user_width=user_width, max_writes=max(max_writes, 8) * 2)
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
            # (full rate on every channel: an N-D transfer of short rows issues a burst per
            # row on each side -- at half rate a 128-row column took 329 cycles, not 199)
            m.submodules.out_slice = out = AXI4RegisterSlice(xbar.sub_signature)
            wiring.connect(m, xbar.sub, out.s)
            wiring.connect(m, out.m, wiring.flipped(self.bus))
        else:
            wiring.connect(m, xbar.sub, wiring.flipped(self.bus))
        # the mover is reset when every channel is ready for it (see Channel)
        mover_reset = Signal()
        mover, chans, n = self._mover, self._chan, self._n
        m.submodules.mover = ResetInserter(mover_reset)(mover)
        for k, ch in enumerate(chans):
            m.submodules[f"ch{k}"] = ch
        m.submodules.scanner = scanner = self._scanner
        names = [f"ch{k}" for k in range(n)] + ["mover", "scanner"]
        for k, port in enumerate([ch.bus for ch in chans] + [mover.bus, scanner.bus]):
            if self._slices:
                # the mover: all five channels at full rate.  The scanner: requests and B
                # responses at half rate (a few per list), its R (list entries) at full rate.
                # A channel: requests, completion-record data and B at half rate (a 16-byte
                # record per descriptor); its R (descriptors) passes straight from the
                # engine's port slice (`out`), a register, through the arbiter's ID compare
                if port is mover.bus:
                    sl = AXI4RegisterSlice(port.signature)
                elif port is scanner.bus:
                    sl = AXI4RegisterSlice(port.signature, half_rate=("ar", "aw", "b"))
                else:
                    sl = AXI4RegisterSlice(port.signature, channels=("ar", "aw", "w", "b"),
                                           half_rate=("ar", "aw", "w", "b"))
                m.submodules[f"{names[k]}_slice"] = sl
                wiring.connect(m, port, sl.s)
                port = sl.m
            _connect_ids(m, port, xbar.mgr[k])
        for k, ch in enumerate(chans):
            wiring.connect(m, ch.scan_req, scanner.req[k])
            m.d.comb += [ch.scan_res.eq(scanner.res[k]), ch.scan_quiet.eq(scanner.quiet[k]),
                         scanner.stop[k].eq(ch.scan_stop), scanner.abort[k].eq(ch.restart)]
        for k, ch in enumerate(chans):
            wiring.connect(m, bank.channel[k], ch.regs)
            m.d.comb += ch.cycles.eq(cycles)
        m.d.comb += self.irq.eq(Cat(ch.irq for ch in chans))
        # (a register: every channel's state is behind it)
        m.d.sync += self.busy.eq(Cat(ch.busy for ch in chans).any())

        # descriptors: round robin over the channels.  The grant is a one-hot register, never
        # empty, chosen a cycle ahead: the lowest offering channel above the granted one, else
        # the lowest offering one.  It stays while its channel waits for the mover, and with no
        # offer at all: so a lone channel keeps it (no cycle lost between its commands, nor
        # before its first), and the ~430-bit command mux is selected by flip-flops (the grant's
        # number: a tree of LUT multiplexers)
        offers = Signal(n)
        m.d.comb += offers.eq(Cat(ch.cmd.valid for ch in chans))
        waiting = Signal()
        grant, index = round_robin(m, offers, waiting, "cmd", index=True)
        m.d.comb += waiting.eq((grant & offers).any() & ~mover.cmd.ready)
        m.d.comb += [
            mover.cmd.valid.eq((grant & offers).any()),
            mover.cmd.payload.eq(Array(ch.cmd.payload.as_value() for ch in chans)[index]),
        ]
        for k, ch in enumerate(chans):
            m.d.comb += ch.cmd.ready.eq(grant[k] & mover.cmd.ready)

        # completions and errors go to the descriptor's channel
        done, err = mover.done, mover.error
        for k, ch in enumerate(chans):
            mine = done.payload.tag.ch == k
            m.d.comb += [ch.done.valid.eq(done.valid & mine), ch.done.payload.eq(done.payload),
                         ch.error.eq(err), ch.error.valid.eq(err.valid & (err.tag.ch == k)),
                         ch.acked.eq(mover.acked), mover.done_seq[k].eq(ch.done_count)]
        m.d.comb += done.ready.eq(Cat(ch.done.ready & (done.payload.tag.ch == k)
                                      for k, ch in enumerate(chans)).any())

        # the mover's reset: once an error is reported or a channel asks for it, no channel
        # hands the mover anything (`closing`); when every channel is ready, the mover is
        # frozen (it issues nothing more), and once the freeze has held long enough for its
        # registered `idle` to see every request issued before it, an idle mover gets one
        # reset pulse (a register: it fans out to the whole mover).  Without the freeze a
        # burst of another channel's descriptor could go out in the cycles `idle` lags, and
        # the reset would cut its write data short.
        closing = Signal()
        stop_req = Cat(ch.stop_req for ch in chans).any()
        m.d.sync += closing.eq(err.valid | stop_req)
        # (each channel's `ready` through a register: the channels' drain logic stays out
        # of the freeze counter and the reset; it only adds a cycle to the count)
        ready = Signal(n)
        m.d.sync += ready.eq(Cat(ch.ready for ch in chans))
        all_ready = Signal()
        m.d.comb += all_ready.eq(closing & ready.all())
        # the freeze's length: `stop` reaches the mover's issue gates a cycle after it rises
        # (the mover's register), its SG-list fetchers' a cycle later still (theirs); the
        # last burst they let go is offered a cycle later, passes the mover's port slice, and
        # `idle` (a register) sees it the cycle after: 5 cycles from the freeze's first
        freeze = 5
        frozen = Signal(range(freeze + 1))      # cycles every channel has been ready, up to `freeze`
        m.d.sync += frozen.eq(Mux(all_ready & ~mover_reset, Mux(frozen == freeze, freeze, frozen + 1), 0))
        # a stop would keep an error's earlier descriptors from finishing: the error wins,
        # until every channel is ready
        m.d.comb += mover.stop.eq((stop_req & ~err.valid) | (frozen != 0))
        m.d.sync += mover_reset.eq(all_ready & (frozen == freeze) & mover.idle & ~mover_reset)
        for ch in chans:
            m.d.comb += [ch.closing.eq(closing), ch.mover_reset.eq(mover_reset),
                         ch.mover_idle.eq(mover.idle)]

        system_registers(m, bank.system, cycles, channels=self._n, data_bytes=self._dw // 8,
                         addr_bits=self._aw)
        return m


def system_registers(m, sys, cycles, *, channels, data_bytes, addr_bits, lite=False):
    """Drive the ``system`` block: identification, configuration and the free-running cycle
    counter ``cycles`` (a 64-bit signal this steps)."""
    m.d.sync += cycles.eq(cycles + 1)
    m.d.comb += [
        sys.id.magic.eq(ID_MAGIC),
        sys.version.major.eq(VERSION_MAJOR), sys.version.minor.eq(VERSION_MINOR),
        sys.config.channels.eq(channels), sys.config.data_bytes.eq(data_bytes),
        sys.config.lite.eq(lite), sys.config.addr_bits.eq(addr_bits), sys.cycles.count.eq(cycles),
    ]
