"""AXI4 memory, interconnect and arbiter under cocotbext-axi masters, random stalls on every channel."""

import pytest

from sgdma.rtl.axi.arbiter import AXI4Arbiter
from sgdma.rtl.axi.memory import BANK_WORDS, AXI4Memory
from sgdma.sim import harness
from sgdma.sim.tops import MemorySystem


def system(managers, mem_sizes, data_width=64, id_width=4, arbiter=False, storage="verilog",
           bank_words=BANK_WORDS):
    return MemorySystem(managers=managers, mem_sizes=mem_sizes, data_width=data_width,
                        id_width=id_width, arbiter=arbiter, storage=storage, bank_words=bank_words)


@pytest.mark.parametrize("data_width", [32, 64, 128])
def test_memory(data_width):
    built = harness.build(system, params=dict(managers=1, mem_sizes=[1 << 16],
                                               data_width=data_width))
    harness.run(built, "tests.rtl.bench_memory")


@pytest.mark.parametrize("size", [64 << 10, 128 << 10])
def test_memory_ice40_spram(size):
    """The iCEBreaker's memory: single-port RAMs (a model of SB_SPRAM256KA), reads and writes
    taking turns, two masters at once, random stalls."""
    built = harness.build(system, params=dict(managers=2, mem_sizes=[size], data_width=32,
                                               arbiter=True, storage="ice40_spram"))
    harness.run(built, "tests.rtl.bench_memory")


def test_memory_banked():
    """The boards' block RAM: banks with registered inputs and outputs (a read three cycles
    deep, its data queued for the manager; four banks here), two masters at once, random
    stalls."""
    built = harness.build(system, params=dict(managers=2, mem_sizes=[1 << 16], arbiter=True,
                                               storage="amaranth", bank_words=2048))
    harness.run(built, "tests.rtl.bench_memory")


def test_interconnect():
    built = harness.build(system, params=dict(managers=3, mem_sizes=[1 << 16, 1 << 14]))
    harness.run(built, "tests.rtl.bench_memory")


def test_arbiter():
    built = harness.build(system, params=dict(managers=3, mem_sizes=[1 << 16], arbiter=True))
    harness.run(built, "tests.rtl.bench_memory")


@pytest.mark.parametrize("kw,message", [
    (dict(managers=0), "managers"), (dict(managers=2, reads=[2]), "reads"),
    (dict(managers=2, writes=[-1]), "writes"), (dict(managers=2, max_writes=0), "max_writes"),
])
def test_arbiter_arguments(kw, message):
    with pytest.raises(ValueError, match=message):
        AXI4Arbiter(**kw)


def test_arbiter_id_bits():
    """A direction's managers are numbered in the ID bits added above their own; a direction
    with one manager adds none."""
    assert AXI4Arbiter(managers=2, reads=[0], writes=[1], id_width=1).sub_signature.id_width == 1
    assert AXI4Arbiter(managers=6, writes=range(5), id_width=3).sub_signature.id_width == 6
    with pytest.raises(ValueError, match="one memory"):
        MemorySystem(managers=2, mem_sizes=[1 << 12, 1 << 12], arbiter=True)


@pytest.mark.parametrize("bank_words", [0, 15, 3000, "16"])
def test_memory_bank_words_argument(bank_words):
    with pytest.raises(ValueError, match="bank_words"):
        AXI4Memory(size=1 << 16, bank_words=bank_words)


def test_register_slice_signatures():
    """The register slice takes AXI4 and AXI4-Lite signatures (the SoC slices the bridge's
    register accesses), nothing else."""
    from amaranth.lib import wiring

    from sgdma.rtl.axi.slice import AXI4RegisterSlice
    from sgdma.rtl.bus import AXI4LiteSignature
    lite = AXI4RegisterSlice(AXI4LiteSignature(addr_width=16, data_width=32), half_rate=("aw", "ar"))
    assert "awaddr" in lite.s.signature.members
    with pytest.raises(TypeError, match="AXI4Signature or AXI4LiteSignature"):
        AXI4RegisterSlice(wiring.Signature({}))
    sig = AXI4LiteSignature(addr_width=16, data_width=32)
    with pytest.raises(ValueError, match="forward channels"):
        AXI4RegisterSlice(sig, channels=("ar",), forward=("aw",))
    with pytest.raises(ValueError, match="both half_rate and forward"):
        AXI4RegisterSlice(sig, half_rate=("ar",), forward=("ar",))


def test_banked_ram_read_sees_a_colliding_write():
    """The boards' banked RAM (``banked_ram``, Amaranth simulator): random reads and writes
    over few words of four banks, so that a read and a write often meet in the same cycle;
    every read returns the words as written by every write presented up to and including its
    own cycle (a colliding write's bytes come from the bypass: without it a read would see
    the old bytes here, and undefined ones in a DP16KD)."""
    import random

    from amaranth.hdl import Module
    from amaranth.sim import Simulator

    from sgdma.rtl.axi.memory import BANKED_READ_LATENCY, banked_ram

    seed = harness.seed_from_env()
    rng = random.Random(seed)
    depth, width, nbytes = 64, 32, 4
    init = [rng.getrandbits(width) for _ in range(depth)]
    m = Module()
    rport, wport = banked_ram(m, depth=depth, data_width=width, bank_words=16, words=init)
    model = list(init)
    expect = []                                   # (cycle the data is due, value)
    stats = {"collisions": 0, "checked": 0}

    async def bench(ctx):
        for cycle in range(3000):
            # addresses from two words of every bank, often the same word for both ports
            raddr = rng.choice([0, 1, 17, 33, 48, 49])
            waddr = raddr if rng.random() < 0.4 else rng.choice([0, 1, 17, 33, 48, 49])
            en = rng.getrandbits(nbytes) if rng.random() < 0.7 else 0
            data = rng.getrandbits(width)
            ctx.set(rport.addr, raddr)
            ctx.set(wport.addr, waddr)
            ctx.set(wport.en, en)
            ctx.set(wport.data, data)
            for k in range(nbytes):
                if en >> k & 1:
                    byte = 0xFF << 8 * k
                    model[waddr] = model[waddr] & ~byte | data & byte
            stats["collisions"] += raddr == waddr and en != 0
            expect.append((cycle + BANKED_READ_LATENCY, model[raddr]))
            while expect and expect[0][0] == cycle:
                _, want = expect.pop(0)
                got = ctx.get(rport.data)
                assert got == want, f"cycle {cycle}: read {got:#010x}, want {want:#010x} (seed {seed})"
                stats["checked"] += 1
            await ctx.tick()

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert stats["collisions"] > 500 and stats["checked"] > 2900, stats


def test_banked_ram_has_no_collision_logic_per_bank():
    """Yosys maps the banks onto DP16KDs alone: the read-during-write logic is the shared
    bypass (a byte multiplexer per data bit, the address compare), not a word-wide bypass per
    bank (~90 LUTs and ~160 flip-flops each, which Yosys adds to a synchronous read port)."""
    from amaranth.hdl import Module
    from amaranth.lib import wiring
    from amaranth.lib.wiring import In, Out

    from sgdma.rtl.axi.memory import banked_ram
    from sgdma.sim.synth import estimate_ecp5

    class Top(wiring.Component):
        raddr: In(13)
        waddr: In(13)
        en: In(8)
        wdata: In(64)
        rdata: Out(64)

        def elaborate(self, platform):
            m = Module()
            rport, wport = banked_ram(m, depth=8192, data_width=64, bank_words=2048)
            m.d.comb += [rport.addr.eq(self.raddr), wport.addr.eq(self.waddr), wport.en.eq(self.en),
                         wport.data.eq(self.wdata), self.rdata.eq(rport.data)]
            return m

    est = estimate_ecp5(Top(), "banked_ram_4x2048x64")
    print(est)
    assert est["ebr"] == 32, est
    # four banks' outputs picked (two LUTs and a PFU mux per bit), the bypass (a LUT per bit),
    # the compare; with the per-bank emulation this was ~4 x 90 more
    assert est["lut"] < 320, est                # 298 here (36 of them the address copies' reset terms)
    # addresses, write data and enables, the banks' catch registers, the bypass's two stages
    # and each 16-bit group's own read and write address copies (4 banks x 4 groups x 2 x 11
    # bits) -- kept apart by synthesis, or one register would drive every RAM's address
    copies = 4 * 4 * 2 * 11
    assert est["ff"] >= copies + 64 * 4, est
    assert est["ff"] < copies + 2 * 13 + 64 + 8 + 4 * 64 + 2 * (64 + 8) + 8 + 4 * 8 + 16, est
