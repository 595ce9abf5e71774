"""AXI4 memory: block RAM behind a pipelined AXI4 subordinate port."""

from types import SimpleNamespace as _Port

from amaranth.hdl import Cat, ClockSignal, Instance, Module, Mux, ResetSignal, Signal
from amaranth.lib import data, fifo, memory, wiring
from amaranth.lib.wiring import In

from ..bus import AXI4Signature, Resp
from ..fifo import BufferedFIFO, registered_read
from .common import next_beat_address

__all__ = ["AXI4Memory", "BANK_WORDS", "BANKED_READ_LATENCY", "GROUP_BITS", "banked_ram"]

#: Words per block-RAM bank of ``storage="amaranth"`` (an ECP5 DP16KD holds 16K x 1 bit: a
#: bank is one column of them, one per data bit, so a bank's read data needs no multiplexer)
BANK_WORDS = 16384
#: Bits of a bank with their own copy of the address registers in ``storage="amaranth"``
#: (16 DP16KDs on an ECP5: see :func:`banked_ram`)
GROUP_BITS = 16
#: Cycles from a read's issue to its data in ``storage="amaranth"``: the address register,
#: the RAM, the bank's output register
BANKED_READ_LATENCY = 3


def banked_ram(m, *, depth, data_width, bank_words, words=(), group_bits=GROUP_BITS):
    """A read port and a write port (``SimpleNamespace(addr, en, data)``) onto ``depth``
    words of ``data_width`` bits in ``m``: banks of ``bank_words`` words, each bank a row of
    Amaranth ``Memory`` groups of ``group_bits`` bits side by side (submodules ``bank0_0``,
    ``bank0_1``...; ``words`` their initial contents), pipelined so that no logic sits between
    a register and a RAM pin however far apart placement spreads the banks: the write port's
    address, data and enables are registers (a write lands a cycle after its beat); a read's
    address is a register, each bank's output is caught in a register beside it, and the bank
    is chosen from those.  The banks read every cycle (``rport.en`` is not needed): read data
    is valid :data:`BANKED_READ_LATENCY` cycles after its address.

    Every group has its own copies of the read and write address registers: an ECP5 DP16KD
    holds 16K x 1 bit, so one address register for a whole memory drives every block RAM's
    address pins -- 128 on the full SoC's 256 KiB, a net across the FPGA (17.6 ns routed); a
    group's copy drives ``group_bits`` DP16KDs of a bank.

    A read and a write of the same word in the same cycle: the read sees the write (the
    bytes it writes; its other bytes are the RAM's).  A DP16KD leaves a collision between
    its two ports undefined, and for a synchronous read port Yosys emulates the Amaranth
    semantics (old data) in every bank with a delayed write and a word-wide bypass -- ~90
    LUTs and ~160 flip-flops per bank.  So the banks are read without it
    (:func:`~sgdma.rtl.fifo.registered_read`) and the collision is resolved here once for all
    banks: the read and write addresses are
    both registers, so whether they meet is known a cycle before the RAM's data, and the
    written bytes travel beside the read to replace the RAM's."""
    abits = max((depth - 1).bit_length(), 1)
    dw = data_width
    if not isinstance(group_bits, int) or group_bits < 8 or group_bits % 8 or dw % group_bits:
        raise ValueError(f"group_bits must be a multiple of 8 dividing data_width {dw}, "
                         f"not {group_bits!r}")
    rport = _Port(addr=Signal(abits), en=Signal(), data=Signal(dw))
    wport = _Port(addr=Signal(abits), en=Signal(dw // 8), data=Signal(dw))
    bank_words = min(depth, bank_words)
    banks = depth // bank_words
    groups = dw // group_bits
    lo = (bank_words - 1).bit_length()
    # the whole addresses: the bank a read picks, and whether a read meets a write
    r_addr = Signal(abits, reset_less=True)
    w_addr = Signal(abits, reset_less=True)
    w_data = Signal(dw, reset_less=True)
    m.d.sync += [r_addr.eq(rport.addr), w_addr.eq(wport.addr),
                 w_data.eq(wport.data)]
    r_sel = [Signal(range(banks), name=f"r_sel{k}", reset_less=True) for k in range(2)]
    m.d.sync += [r_sel[0].eq(r_addr[lo:]), r_sel[1].eq(r_sel[0])]
    # the collision bypass: which bytes of the word being read are being written, and
    # their values, on to the cycle the banks' outputs are picked
    w_bytes = Signal(dw // 8, reset_less=True)
    m.d.sync += w_bytes.eq(wport.en)
    met = [Signal(dw // 8, name=f"met{k}", reset_less=True) for k in range(2)]
    met_data = [Signal(dw, name=f"met_data{k}", reset_less=True) for k in range(2)]
    m.d.sync += [met[0].eq(Mux(r_addr == w_addr, w_bytes, 0)), met_data[0].eq(w_data),
                 met[1].eq(met[0]), met_data[1].eq(met_data[0])]
    caught = []
    gb = group_bits // 8
    for b in range(banks):
        w_en = Signal(dw // 8, name=f"bank{b}_w_en")
        hit = (wport.addr[lo:] == b) if banks > 1 else 1
        m.d.sync += w_en.eq(Mux(hit, wport.en, 0))
        outs = []
        for g in range(groups):
            name = f"bank{b}_{g}"
            g_raddr = Signal(lo, name=f"{name}_r_addr", reset_less=True)
            g_waddr = Signal(lo, name=f"{name}_w_addr", reset_less=True)
            g_en = w_en[g * gb]
            m.d.sync += [g_raddr.eq(rport.addr[:lo]), g_waddr.eq(wport.addr[:lo])]
            # a reset term of the group's own keeps synthesis from merging the copies (Yosys
            # merges them despite distinct initial values).  Harmless: an address needs no
            # reset, and the write enable it takes is cleared by the same reset
            with m.If(ResetSignal(allow_reset_less=True) & g_en):
                m.d.sync += [g_raddr.eq(0), g_waddr.eq(0)]
            bits = slice(g * group_bits, (g + 1) * group_bits)
            bank = memory.Memory(shape=group_bits, depth=bank_words,
                                 init=[w >> g * group_bits & ((1 << group_bits) - 1)
                                       for w in words[b * bank_words:(b + 1) * bank_words]])
            m.submodules[name] = bank
            wp = bank.write_port(granularity=8)
            m.d.comb += [wp.addr.eq(g_waddr), wp.data.eq(w_data[bits]),
                         wp.en.eq(w_en[g * gb:(g + 1) * gb])]
            outs.append(registered_read(m, bank, g_raddr, name=f"{name}_q"))
        out = Signal(dw, name=f"bank{b}_out", reset_less=True)
        m.d.sync += out.eq(Cat(*outs))
        caught.append(out)
    picked = Signal(dw)
    if banks > 1:
        with m.Switch(r_sel[1]):
            for b in range(banks):
                with m.Case(b):
                    m.d.comb += picked.eq(caught[b])
    else:
        m.d.comb += picked.eq(caught[0])
    m.d.comb += rport.data.eq(Cat(Mux(met[1][k], met_data[1].word_select(k, 8),
                                      picked.word_select(k, 8)) for k in range(dw // 8)))
    return rport, wport


class AXI4Memory(wiring.Component):
    """Synthesizable AXI4 memory with a latency model and error windows for fault tests.

    Parameters
    ----------
    size : int
        Bytes of storage, a power of two, at least one bus word.  Addresses wrap modulo
        ``size`` (the interconnect decodes which addresses reach the memory) unless ``decode``.
    data_width, addr_width, id_width, user_width : int
        Bus parameters (see :class:`~sgdma.rtl.bus.AXI4Signature`).
    max_bursts : int
        Address-channel entries queued per direction: this many bursts can be in flight on
        each of read and write.  Must cover the configured latency when bursts are single
        beats (e.g. 64 for latency 32 with 1-beat reads at full rate).
    init : bytes or None
        Initial contents (little-endian words), zero-padded.

    Members
    -------
    bus : In(AXI4Signature(...))
        INCR, FIXED and WRAP bursts up to 256 beats, byte strobes, independent read and write
        paths.  Read data and write responses come back in order.
    read_latency, write_latency : In(8)
        Runtime latency model, 0..255 cycles: a read burst's first beat is valid
        ``max(read_latency, 2) + 1`` cycles after its AR handshake (3 at latency 0), a write's
        B ``max(write_latency, 2)`` cycles after its last W beat, measured without stalls.
        Back-to-back bursts stream at one beat per cycle on read and on write simultaneously
        at every latency, provided enough bursts are in flight.
    slverr_base, slverr_limit, decerr_base, decerr_limit : In(addr_width)
        Error windows ``[base, limit)`` (empty when ``base >= limit``): beats addressed there
        answer SLVERR / DECERR, their writes are dropped and reads return zero.  Tie to zero
        in a real design.
    bank_words : int
        Words per block-RAM bank of ``storage="amaranth"`` (default :data:`BANK_WORDS`).
    decode : bool
        Addresses at or above ``size`` answer DECERR (their writes are dropped) instead of
        wrapping: for a memory that is its bus's only subordinate.
    storage : str
        ``"ice40_spram"`` (the iCE40 UltraPlus's single-port RAMs: 2 or 4 SB_SPRAM256KA for
        64 or 128 KiB, 32 bits, every input registered; reads and writes take alternate cycles,
        a read's data comes a cycle later than from block RAM, and reads and writes each run
        at half a word per cycle at best), ``"amaranth"`` (block RAM: Amaranth ``Memory``
        banks of ``bank_words`` words with registers on every RAM input and output, so a
        large memory spread over the whole FPGA still runs at full clock; reads take
        two cycles more than the latency model says, writes land a cycle after their beat;
        synthesizable, ``init`` allowed) or
        ``"verilog"`` (simulation only: ``sgdma_sim_ram`` from ``sim/verilog``, zeroed; large
        sizes build in seconds instead of minutes).
    """

    def __init__(self, *, size, data_width=64, addr_width=32, id_width=4, user_width=0,
                 max_bursts=16, init=None, storage="amaranth", decode=False, bank_words=BANK_WORDS):
        if storage not in ("amaranth", "verilog", "ice40_spram"):
            raise ValueError(f"storage must be 'amaranth', 'verilog' or 'ice40_spram', not {storage!r}")
        if storage == "ice40_spram" and (data_width != 32 or size not in (64 << 10, 128 << 10) or init):
            raise ValueError(f"storage='ice40_spram' is 32 bits wide, 64 or 128 KiB, without init; "
                             f"not data_width={data_width!r}, size={size!r}")
        if storage == "verilog" and init:
            raise ValueError("storage='verilog' starts zeroed: load it through the backdoor instead of init")
        if data_width not in (32, 64, 128, 256):
            raise ValueError(f"data_width must be 32, 64, 128 or 256, not {data_width!r}")
        if not isinstance(bank_words, int) or bank_words < 16 or bank_words & (bank_words - 1):
            raise ValueError(f"bank_words must be a power of two >= 16, not {bank_words!r}")
        if not isinstance(size, int) or size < data_width // 8 or size & (size - 1):
            raise ValueError(f"size must be a power of two >= {data_width // 8} bytes, not {size!r}")
        if size > (1 << addr_width):
            raise ValueError(f"size {size:#x} does not fit in addr_width {addr_width}")
        if not isinstance(max_bursts, int) or max_bursts < 2:
            raise ValueError(f"max_bursts must be an integer >= 2, not {max_bursts!r}")
        if init is not None and len(init) > size:
            raise ValueError(f"init is {len(init)} bytes, more than size {size}")
        self._size = size
        self._data_width = data_width
        self._addr_width = addr_width
        self._max_bursts = max_bursts
        self._init = bytes(init or b"")
        self._storage = storage
        self._decode = bool(decode)
        self._bank_words = bank_words
        super().__init__({
            "bus": In(AXI4Signature(addr_width=addr_width, data_width=data_width,
                                    id_width=id_width, user_width=user_width)),
            "read_latency": In(8),
            "write_latency": In(8),
            "slverr_base": In(addr_width), "slverr_limit": In(addr_width),
            "decerr_base": In(addr_width), "decerr_limit": In(addr_width),
        })

    @property
    def size(self):
        return self._size

    def _beat_resp(self, m, addr, name):
        resp = Signal(Resp, name=name)
        above = (addr >> self._size.bit_length() - 1) != 0 if self._decode else 0
        with m.If(above | ((addr >= self.decerr_base) & (addr < self.decerr_limit))):
            m.d.comb += resp.eq(Resp.DECERR)
        with m.Elif((addr >= self.slverr_base) & (addr < self.slverr_limit)):
            m.d.comb += resp.eq(Resp.SLVERR)
        with m.Else():
            m.d.comb += resp.eq(Resp.OKAY)
        return resp

    def _spram(self, m, depth, slot):
        """Read and write ports onto SB_SPRAM256KA pairs (16K x 16 each: one pair per 64 KiB
        bank), sharing one address (``slot`` says whose turn it is; the caller never reads and
        writes in the same cycle).  Every RAM input is a register, so a read's data comes two
        cycles after its ``en``.  A RAM is selected only to read or write, so its output holds
        between reads."""
        abits = (depth - 1).bit_length()
        rport = _Port(addr=Signal(abits), en=Signal(), data=Signal(32))
        wport = _Port(addr=Signal(abits), en=Signal(4), data=Signal(32))
        addr = Signal(abits)
        wren, cs, mask = Signal(), Signal(), Signal(4)
        wdata = Signal(32)
        write = wport.en.any()
        m.d.sync += [addr.eq(Mux(slot, wport.addr, rport.addr)), wren.eq(write),
                     cs.eq(write | rport.en), mask.eq(wport.en), wdata.eq(wport.data)]
        banks = depth >> 14
        bank_r = Signal(range(max(banks, 2)))       # the bank of the last read
        with m.If(cs & ~wren):
            m.d.sync += bank_r.eq(addr[14:])
        outs = []
        for bank in range(banks):
            sel = (addr[14:] == bank) if banks > 1 else 1
            halves = []
            for half in (0, 1):
                be = mask[2 * half:2 * half + 2]
                dout = Signal(16, name=f"spram{bank}_{half}_out")
                m.submodules[f"spram{bank}_{half}"] = Instance(
                    "SB_SPRAM256KA", i_ADDRESS=addr[:14], i_DATAIN=wdata[16 * half:16 * half + 16],
                    i_MASKWREN=Cat(be[0], be[0], be[1], be[1]), i_WREN=wren & sel,
                    i_CHIPSELECT=cs, i_CLOCK=ClockSignal(),
                    i_STANDBY=0, i_SLEEP=0, i_POWEROFF=1, o_DATAOUT=dout)
                halves.append(dout)
            outs.append(Cat(*halves))
        m.d.comb += rport.data.eq(Mux(bank_r == 1, outs[-1], outs[0]) if banks > 1 else outs[0])
        return rport, wport

    def elaborate(self, platform):
        m = Module()
        bus = self.bus
        sig = bus.signature
        nbytes = self._data_width // 8
        lane_bits = (nbytes - 1).bit_length()
        depth = self._size // nbytes

        words = [int.from_bytes(self._init[i:i + nbytes].ljust(nbytes, b"\0"), "little")
                 for i in range(0, len(self._init), nbytes)]
        queued = self._storage == "amaranth"
        if queued:
            rport, wport = banked_ram(m, depth=depth, data_width=self._data_width,
                                      bank_words=self._bank_words, words=words)
        elif self._storage == "ice40_spram":
            # reads and writes take turns, a cycle each: the RAMs' address is selected by a
            # register, not by whether a write beat is arriving
            slot = Signal()
            m.d.sync += slot.eq(~slot)
            rport, wport = self._spram(m, depth, slot)
        else:
            # simulation only: a plain Verilog array (sim/verilog/sgdma_sim_ram.v)
            abits = max((depth - 1).bit_length(), 1)
            rport = _Port(addr=Signal(abits), en=Signal(), data=Signal(self._data_width))
            wport = _Port(addr=Signal(abits), en=Signal(nbytes), data=Signal(self._data_width))
            m.submodules.storage = Instance(
                "sgdma_sim_ram", p_WIDTH=self._data_width, p_DEPTH=depth, p_ABITS=abits,
                i_clk=ClockSignal(), i_raddr=rport.addr, i_ren=rport.en, o_rdata=rport.data,
                i_waddr=wport.addr, i_wen=wport.en, i_wdata=wport.data)

        now = Signal(16)
        m.d.sync += now.eq(now + 1)

        cmd = data.StructLayout({
            "id": sig.id_width, "addr": self._addr_width, "len": 8, "size": 3,
            "burst": 2, "time": 16,
        })

        # ---------------- read path ----------------
        m.submodules.ar_q = ar_q = BufferedFIFO(width=cmd.size, depth=self._max_bursts)
        m.d.comb += [
            bus.arready.eq(ar_q.w_rdy),
            ar_q.w_en.eq(bus.arvalid),
            ar_q.w_data.eq(Cat(bus.arid, bus.araddr, bus.arlen, bus.arsize, bus.arburst, now)),
        ]
        ar = data.View(cmd, ar_q.r_data)
        r_beat = Signal(8)
        r_addr = Signal(self._addr_width)
        r_cur = Signal(self._addr_width)
        m.d.comb += r_cur.eq(Mux(r_beat == 0, ar.addr, r_addr))
        r_age = Signal(16)
        m.d.comb += r_age.eq(now - ar.time)
        r_issue = Signal()
        w_accept = Signal()
        spram = self._storage == "ice40_spram"
        # single-port storage: a read on its turn, one beat in the RAM's pipeline at a time
        r_stage = Signal()          # (SPRAM) a read beat between its issue and `rvalid`
        r_turn = ~slot & ~r_stage if spram else 1
        # room for the beat's data: (banked) fewer beats owed than `r_out` holds, else the
        # RAM's output free or being taken
        room = Signal()
        r_space = room if queued else ~bus.rvalid | bus.rready
        m.d.comb += r_issue.eq(ar_q.r_rdy & ((r_beat != 0) | (r_age >= self.read_latency)) &
                               r_space & r_turn)
        r_next = next_beat_address(m, r_cur, ar.size, ar.len, ar.burst)
        r_last = Signal()
        m.d.comb += r_last.eq(r_beat == ar.len)
        r_resp = self._beat_resp(m, r_cur, "r_resp")
        m.d.comb += [
            rport.addr.eq(r_cur[lane_bits:]),
            rport.en.eq(r_issue),
            ar_q.r_en.eq(r_issue & r_last),
        ]
        r_zero = Signal()
        with m.If(r_issue):
            m.d.sync += [r_beat.eq(Mux(r_last, 0, r_beat + 1)), r_addr.eq(Cat(r_next, r_cur[12:]))]
        # the beat's response goes out with its data: a cycle after the issue, (SPRAM,
        # registered inputs) two, or (banked) through `r_out`
        out_beat = Signal()
        out = data.StructLayout({"id": sig.id_width, "last": 1, "resp": 2})
        beat_info = Signal(out)
        m.d.comb += beat_info.eq(Cat(ar.id, r_last, r_resp))
        if queued:
            # the beat's response travels beside the RAMs' pipeline; at its end the beat
            # waits in `r_out` (first word falls through) for the manager
            lat = BANKED_READ_LATENCY
            depth_out = 8
            m.submodules.r_out = r_out = fifo.SyncFIFO(width=out.size + self._data_width,
                                                       depth=depth_out)
            infos = [Signal(out, name=f"r_info{k}", reset_less=True) for k in range(lat)]
            valids = [Signal(name=f"r_valid{k}") for k in range(lat)]
            m.d.sync += [infos[0].eq(beat_info), valids[0].eq(r_issue)]
            for k in range(1, lat):
                m.d.sync += [infos[k].eq(infos[k - 1]), valids[k].eq(valids[k - 1])]
            done = data.View(out, infos[-1])
            m.d.comb += [
                r_out.w_en.eq(valids[-1]),
                r_out.w_data.eq(Cat(infos[-1], Mux(done.resp != Resp.OKAY, 0, rport.data))),
            ]
            got = data.View(out, r_out.r_data[:out.size])
            m.d.comb += [
                bus.rvalid.eq(r_out.r_rdy), bus.rid.eq(got.id), bus.rlast.eq(got.last),
                bus.rresp.eq(got.resp), bus.rdata.eq(r_out.r_data[out.size:]),
                r_out.r_en.eq(bus.rready),
            ]
            # beats issued and not yet taken by the manager: never more than `r_out` holds
            owed = Signal(range(depth_out + 1))
            m.d.sync += owed.eq(owed + r_issue - (bus.rvalid & bus.rready))
            m.d.comb += room.eq(owed < depth_out)
        else:
            if spram:
                staged = Signal(out)
                m.d.sync += r_stage.eq(r_issue)
                with m.If(r_issue):
                    m.d.sync += staged.eq(beat_info)
                m.d.comb += out_beat.eq(r_stage)
                beat_info = staged
            else:
                m.d.comb += out_beat.eq(r_issue)
            with m.If(out_beat):
                m.d.sync += [
                    bus.rvalid.eq(1),
                    bus.rid.eq(beat_info.id),
                    bus.rlast.eq(beat_info.last),
                    bus.rresp.eq(beat_info.resp),
                    r_zero.eq(beat_info.resp != Resp.OKAY),
                ]
            with m.Elif(bus.rready):
                m.d.sync += bus.rvalid.eq(0)
            m.d.comb += bus.rdata.eq(Mux(r_zero, 0, rport.data))

        # ---------------- write path ----------------
        m.submodules.aw_q = aw_q = BufferedFIFO(width=cmd.size, depth=self._max_bursts)
        m.d.comb += [
            bus.awready.eq(aw_q.w_rdy),
            aw_q.w_en.eq(bus.awvalid),
            aw_q.w_data.eq(Cat(bus.awid, bus.awaddr, bus.awlen, bus.awsize, bus.awburst, now)),
        ]
        aw = data.View(cmd, aw_q.r_data)
        b_entry = data.StructLayout({"id": sig.id_width, "resp": 2, "time": 16})
        m.submodules.b_q = b_q = BufferedFIFO(width=b_entry.size, depth=self._max_bursts)

        w_beat = Signal(8)
        w_addr = Signal(self._addr_width)
        w_cur = Signal(self._addr_width)
        w_resp = Signal(2)  # worst response so far in this burst
        m.d.comb += w_cur.eq(Mux(w_beat == 0, aw.addr, w_addr))
        w_last = Signal()
        m.d.comb += w_last.eq(w_beat == aw.len)
        # single-port storage: a write on its turn, never while a read is in the RAM's pipeline
        # or its data waits (the write could change the RAM's output)
        w_turn = slot & ~r_stage & ~bus.rvalid if spram else 1
        m.d.comb += w_accept.eq(aw_q.r_rdy & bus.wvalid & (~w_last | b_q.w_rdy) & w_turn)
        m.d.comb += bus.wready.eq(aw_q.r_rdy & (~w_last | b_q.w_rdy) & w_turn)
        w_next = next_beat_address(m, w_cur, aw.size, aw.len, aw.burst)
        beat_resp = self._beat_resp(m, w_cur, "w_beat_resp")
        burst_resp = Signal(2)
        prev = Mux(w_beat == 0, Resp.OKAY, w_resp)
        m.d.comb += burst_resp.eq(Mux(beat_resp > prev, beat_resp, prev))
        m.d.comb += [
            wport.addr.eq(w_cur[lane_bits:]),
            wport.data.eq(bus.wdata),
            wport.en.eq(Mux(w_accept & (beat_resp == Resp.OKAY), bus.wstrb, 0)),
            aw_q.r_en.eq(w_accept & w_last),
            b_q.w_en.eq(w_accept & w_last),
            b_q.w_data.eq(Cat(aw.id, burst_resp, now)),
        ]
        with m.If(w_accept):
            m.d.sync += [
                w_beat.eq(Mux(w_last, 0, w_beat + 1)),
                w_addr.eq(Cat(w_next, w_cur[12:])),
                w_resp.eq(burst_resp),
            ]

        b = data.View(b_entry, b_q.r_data)
        b_age = Signal(16)
        m.d.comb += b_age.eq(now - b.time)
        m.d.comb += [
            bus.bvalid.eq(b_q.r_rdy & (b_age >= self.write_latency)),
            bus.bid.eq(b.id),
            bus.bresp.eq(b.resp),
            b_q.r_en.eq(bus.bvalid & bus.bready),
        ]
        return m
