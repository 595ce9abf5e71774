"""The SoC: host bridge + DMA engine + memory -- the top every target shares.

    host bytes -> [UART] -> Bridge -> AXI4-Lite decoder -+-> engine registers
                                                          +-> Lite-to-AXI4 -+
                                              Engine bus (AXI4, bursts) ---+-> arbiter -> memory

The simulator drives the byte streams directly; a board top adds pins, a PLL and reset, and
asks for the UART (``uart_divisor``).  Addresses are in :mod:`sgdma.sw.memmap`.
"""

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..sw.memmap import HOST_DEVICE_ID, MEMORY_BASE, REGISTERS_BASE, REGISTERS_SIZE
from .axi.arbiter import AXI4Arbiter
from .axi.lite import AXI4LiteDecoder, AXI4LiteToAXI4
from .axi.memory import AXI4Memory
from .axi.slice import AXI4RegisterSlice, StreamRegisterSlice
from .bridge import Bridge
from .dma.engine import Engine
from .dma.lite import LiteEngine
from .fifo import BufferedFIFO
from .uart import UartRx, UartTx

__all__ = ["SoC"]


class SoC(wiring.Component):
    """Host bridge, DMA engine and memory.

    Parameters
    ----------
    channels, data_width, max_beats, buffer_beats, max_reads, max_writes :
        The DMA :class:`~sgdma.rtl.dma.engine.Engine`'s parameters.
    addr_width : int
        The engine's bus addresses (the engine's and the lite engine's ``addr_width``): the
        memory must lie below ``2**addr_width``; above it, descriptor and SG-entry addresses
        are malformed (INVALID) rather than answered DECERR.  Narrower addresses make every
        address register, adder and multiplexer of the engine narrower (a board whose whole
        memory map is a few hundred KiB needs no 32-bit DMA addresses).
    mem_size : int
        Memory bytes at :data:`~sgdma.sw.memmap.MEMORY_BASE` (a power of two); the memory
        answers DECERR above itself.
    memory : ``"bram"``, ``"spram"`` or ``"sim"``
        Block RAM (synthesizable), the iCE40 UltraPlus's single-port RAMs (64 or 128 KiB,
        32-bit; see :class:`~sgdma.rtl.axi.memory.AXI4Memory`) or the simulator's Verilog
        array (builds in seconds even for many megabytes).
    timeout : int
        Bridge resynchronization timeout in cycles.
    register_slices : bool
        The engine's register slices (see :class:`~sgdma.rtl.dma.engine.Engine`), one on the
        host's requests, one in front of the memory and one on the bridge's register accesses
        (the lite SoC: the host's requests and the engine's write data, at half rate); on by
        default: this is the top boards build.
    uart_divisor : int or None
        None: byte-stream ports ``rx``/``tx`` (simulation).  An int: serial pins
        ``uart_rx``/``uart_tx`` at ``clock / uart_divisor`` baud.
    lite : bool
        The sequential :class:`~sgdma.rtl.dma.lite.LiteEngine` instead of the engine (one
        channel, 32-bit data; ``channels`` must be 1, ``data_width`` 32, and the mover's
        parameters do not apply): for small FPGAs; the bridge's queues then sit in block RAM.

    Members
    -------
    rx : In(stream.Signature(8)), tx : Out(stream.Signature(8)) — without a UART.
    uart_rx : In(1), uart_tx : Out(1) — with a UART.
    irq : Out(channels) — the engine's interrupt lines (also reported over the bridge).
    busy : Out(1) — the bridge or a channel has work.
    """

    def __init__(self, *, channels=4, data_width=64, mem_size=1 << 20, max_beats=256, buffer_beats=None,
                 max_reads=64, max_writes=32, memory="bram", timeout=1 << 16, uart_divisor=None,
                 register_slices=True, lite=False, addr_width=32):
        if memory not in ("bram", "sim", "spram"):
            raise ValueError(f"memory must be 'bram', 'sim' or 'spram', not {memory!r}")
        if not isinstance(mem_size, int) or mem_size < 4096 or mem_size & (mem_size - 1):
            raise ValueError(f"mem_size must be a power of two >= 4096, not {mem_size!r}")
        if MEMORY_BASE + mem_size > REGISTERS_BASE:
            raise ValueError(f"mem_size {mem_size:#x} runs into the registers at {REGISTERS_BASE:#x}")
        if not isinstance(addr_width, int) or not 16 <= addr_width <= 32 or \
                MEMORY_BASE + mem_size > 1 << addr_width:
            raise ValueError(f"addr_width must be an integer in 16..32 that reaches the whole memory "
                             f"({mem_size:#x} bytes at {MEMORY_BASE:#x}), not {addr_width!r}")
        if lite:
            if channels != 1 or data_width != 32:
                raise ValueError(f"the lite engine has one channel and a 32-bit data path, not "
                                 f"channels={channels!r}, data_width={data_width!r}")
            self._engine = LiteEngine(addr_width=addr_width)
        else:
            self._engine = Engine(channels=channels, data_width=data_width, addr_width=addr_width,
                                  max_beats=max_beats,
                                  buffer_beats=buffer_beats, max_reads=max_reads,
                                  max_writes=max_writes, register_slices=register_slices)
        # (the lite SoC is for small FPGAs without LUT RAM: the bridge's queues in block RAM)
        self._bridge = Bridge(irq_lines=channels, timeout=timeout, block_ram_queues=lite)
        self._mem_size, self._memory, self._dw = mem_size, memory, data_width
        self._max_writes = max_writes
        self._slices = bool(register_slices)
        self._lite = bool(lite)
        self._uart = uart_divisor
        if uart_divisor is not None and (not isinstance(uart_divisor, int) or uart_divisor < 4):
            raise ValueError(f"uart_divisor must be None or an integer >= 4, not {uart_divisor!r}")
        self.channels = channels
        ports = ({"uart_rx": In(1, init=1), "uart_tx": Out(1, init=1)} if uart_divisor is not None else
                 {"rx": In(stream.Signature(8)), "tx": Out(stream.Signature(8))})
        super().__init__({**ports, "irq": Out(channels), "busy": Out(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.engine = engine = self._engine
        m.submodules.bridge = bridge = self._bridge
        esig = engine.bus.signature
        csr_size = 1 << engine.csr.signature.addr_width
        assert csr_size <= REGISTERS_SIZE
        m.submodules.decoder = dec = AXI4LiteDecoder(
            windows=[(MEMORY_BASE, self._mem_size), (REGISTERS_BASE, csr_size)])
        m.submodules.host = host = AXI4LiteToAXI4(esig, id=0, user=HOST_DEVICE_ID)
        # one subordinate (the memory, which answers DECERR above itself): an arbiter with a
        # registered grant rather than a crossbar -- its address decode, round robin and
        # outstanding-burst bookkeeping were the full SoC's slowest paths, and the lite
        # SoC's decode and write-order queues were a seventh of the UP5K.  The W-order queue
        # holds every write the engine may have issued ahead of its data, and the host's one
        assert MEMORY_BASE == 0
        m.submodules.arbiter = arbiter = AXI4Arbiter(
            managers=2, addr_width=esig.addr_width, data_width=esig.data_width,
            id_width=esig.id_width, user_width=esig.user_width,
            max_writes=2 if self._lite else self._max_writes + 1)
        m.submodules.memory = mem = AXI4Memory(
            size=self._mem_size, data_width=self._dw, addr_width=esig.addr_width,
            # block RAM answers at once: 16 bursts queued per direction keep it streaming, and
            # a queue that shallow sits in LUT RAM, whose output is a register, not a block
            # RAM's slow data pin.  The lite engine has one burst in flight.
            id_width=arbiter.sub_signature.id_width, user_width=esig.user_width,
            max_bursts=2 if self._lite else 16,
            storage={"sim": "verilog", "bram": "amaranth", "spram": "ice40_spram"}[self._memory],
            decode=True)

        if self._slices and not self._lite:
            # the bridge's requests and their responses through registers (half rate: the
            # bridge makes one access at a time): its executor never waits on the decoder
            m.submodules.bridge_slice = bs = AXI4RegisterSlice(
                bridge.bus.signature, half_rate=("aw", "w", "b", "ar", "r"))
            wiring.connect(m, bridge.bus, bs.s)
            wiring.connect(m, bs.m, dec.bus)
        else:
            wiring.connect(m, bridge.bus, dec.bus)
        # the decoder's windows are narrower than its 32-bit addresses: the memory's (through
        # the engine's bus width) and the register bank's see the low address bits only
        for sub, port in ((dec.sub[0], host.lite), (dec.sub[1], engine.csr)):
            for name, member in sub.signature.members.items():
                theirs, ours = getattr(port, name), getattr(sub, name)
                if name in ("awaddr", "araddr"):
                    m.d.comb += theirs.eq(ours[:len(theirs)])
                elif member.flow == Out:
                    m.d.comb += theirs.eq(ours)
                else:
                    m.d.comb += ours.eq(theirs)
        if self._slices and self._lite:
            # the lite engine's write data through a register (it sends a beat every other
            # cycle anyway): the memory's write acceptance no longer runs through the engine
            m.submodules.engine_slice = es = AXI4RegisterSlice(esig, channels=("w",), half_rate=("w",))
            wiring.connect(m, engine.bus, es.s)
            wiring.connect(m, es.m, arbiter.mgr[0])
        else:
            wiring.connect(m, engine.bus, arbiter.mgr[0])
        sub = arbiter.sub
        if self._slices:
            # the host's requests through registers: no combinational path runs from the
            # bridge's state through the decoder and the interconnect and back
            m.submodules.host_slice = hs = AXI4RegisterSlice(esig, channels=("aw", "w", "ar"),
                                                                half_rate=("aw", "w", "ar"))
            wiring.connect(m, host.bus, hs.s)
            wiring.connect(m, hs.m, arbiter.mgr[1])
        else:
            wiring.connect(m, host.bus, arbiter.mgr[1])
        if self._slices and not self._lite:
            # and the memory port: none from the engine into the block RAMs either (the lite
            # engine's requests come from registers, one at a time)
            # (forward registers: the memory's `ready`s are its queues' room, flip-flops, and the
            # arbiter's toward the memory a mux of the engine's slice's registers -- a skid's
            # spare words and multiplexers would buy nothing here but ~280 LUTs)
            m.submodules.mem_slice = ms = AXI4RegisterSlice(arbiter.sub_signature,
                                                            forward=("aw", "w", "b", "ar", "r"))
            wiring.connect(m, sub, ms.s)
            wiring.connect(m, ms.m, mem.bus)
        else:
            wiring.connect(m, sub, mem.bus)
        m.d.comb += [bridge.irq.eq(engine.irq), self.irq.eq(engine.irq),
                     self.busy.eq(bridge.busy | engine.busy)]

        if self._uart is None:
            wiring.connect(m, wiring.flipped(self.rx), bridge.rx)
            wiring.connect(m, bridge.tx, wiring.flipped(self.tx))
        else:
            m.submodules.uart_rx = urx = UartRx(divisor=self._uart)
            m.submodules.uart_tx = utx = UartTx(divisor=self._uart)
            # a UART cannot be told to wait: a FIFO absorbs bytes while the bridge is busy
            m.submodules.rx_fifo = rxf = BufferedFIFO(width=8, depth=64)
            # and a register between it and the bridge (a byte every few dozen cycles at most):
            # the FIFO's and the bridge's decisions stay apart
            m.submodules.rx_slice = rxs = StreamRegisterSlice(8, half_rate=True)
            m.d.comb += [urx.rx.eq(self.uart_rx), self.uart_tx.eq(utx.tx),
                         rxf.w_data.eq(urx.o.payload), rxf.w_en.eq(urx.o.valid),
                         rxs.i.payload.eq(rxf.r_data), rxs.i.valid.eq(rxf.r_rdy),
                         rxf.r_en.eq(rxs.i.ready)]
            wiring.connect(m, rxs.o, bridge.rx)
            wiring.connect(m, bridge.tx, utx.i)
        return m
