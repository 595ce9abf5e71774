"""cocotb bench for tests/rtl/test_memory.py: AXI4Memory (+ interconnect) vs a Python model."""

import os

import cocotb
from cocotb.triggers import Combine, RisingEdge
from cocotbext.axi import AxiBus, AxiMaster
from cocotbext.axi.constants import AxiResp

from sgdma.sim.tb import (BankedBackdoor, MemoryBackdoor, ProtocolWatch, SpramBackdoor, params,
                          pause_generator, quiet_controls, rng, start)

P = params()
N = P["managers"]
SIZES = P["mem_sizes"]
WINDOW = max(SIZES)
WB = P.get("data_width", 64) // 8
OPS = int(os.environ.get("SGDMA_SOAK", "1")) * 40


class TB:
    def __init__(self, dut, r):
        self.dut = dut
        self.r = r
        self.masters = []
        for i in range(N):
            bus = AxiBus.from_prefix(dut, f"mgr__{i}", bus_separator="__")
            mst = AxiMaster(bus, dut.clk, dut.rst, max_burst_len=r.choice([1, 4, 16, 256]))
            self.masters.append(mst)
        if params().get("storage") == "ice40_spram":
            self.mems = [SpramBackdoor(getattr(dut, f"mem{k}"), s) for k, s in enumerate(SIZES)]
        elif params().get("storage") == "amaranth":
            self.mems = [BankedBackdoor(getattr(dut, f"mem{k}"), WB, s, params().get("bank_words"))
                         for k, s in enumerate(SIZES)]
        else:
            self.mems = [MemoryBackdoor(getattr(dut, f"mem{k}").storage, WB, s)
                         for k, s in enumerate(SIZES)]
        names = [f"mgr{i}" for i in range(N)] + [f"mem{k}" for k in range(len(SIZES))]
        self.watch = ProtocolWatch(dut, names)

    def set_stalls(self, probability, master_pause):
        self.dut.stall.value = probability
        self.dut.seed.value = self.r.getrandbits(32)
        for mst in self.masters:
            for ch in (mst.write_if.aw_channel, mst.write_if.w_channel, mst.write_if.b_channel,
                       mst.read_if.ar_channel, mst.read_if.r_channel):
                if master_pause:
                    ch.set_pause_generator(pause_generator(self.r, master_pause))
                else:
                    ch.clear_pause_generator()

    async def pulse_load(self):
        self.dut.load.value = 1
        await RisingEdge(self.dut.clk)
        self.dut.load.value = 0


async def setup(dut):
    await start(dut)
    quiet_controls(dut)
    await RisingEdge(dut.clk)


@cocotb.test()
async def random_traffic(dut):
    """Several masters, random bursts/sizes/alignments, stalls on all channels, data vs model."""
    r = rng("random_traffic")
    await setup(dut)
    tb = TB(dut, r)
    model = [bytearray(s) for s in SIZES]
    for k, s in enumerate(SIZES):  # start from known random contents
        init = bytes(r.getrandbits(8) for _ in range(min(s, 4096)))
        model[k][:len(init)] = init
        tb.mems[k].write(0, init)

    async def worker(mi, wi, nworkers, phase_ops):
        mst = tb.masters[mi]
        wr = rng(f"w{mi}.{wi}")
        for _ in range(phase_ops):
            k = wr.randrange(len(SIZES))
            # each (master, worker) owns a slice of every memory
            slice_len = SIZES[k] // (N * nworkers)
            base = (mi * nworkers + wi) * slice_len
            length = wr.choice([1, 2, 3, 7, 8, 9, 63, 64, 65, wr.randrange(1, min(slice_len, 3000))])
            off = wr.randrange(0, slice_len - length + 1)
            addr = k * WINDOW + base + off
            size = wr.choice([None, None, None] + [s for s in range(WB.bit_length() - 1)])
            if wr.random() < 0.5:
                data = bytes(wr.getrandbits(8) for _ in range(length))
                resp = await mst.write(addr, data, size=size)
                assert resp.resp == AxiResp.OKAY, f"write {addr:#x}+{length}: {resp.resp!r}"
                model[k][base + off:base + off + length] = data
            else:
                resp = await mst.read(addr, length, size=size)
                assert resp.resp == AxiResp.OKAY, f"read {addr:#x}+{length}: {resp.resp!r}"
                exp = bytes(model[k][base + off:base + off + length])
                assert resp.data == exp, f"read {addr:#x}+{length} (size {size}): data mismatch"

    phases = [(0, 0, 0, 0), (r.randrange(1, 65), r.randrange(1, 65), 64, 0.3),
              (r.randrange(0, 65), r.randrange(0, 65), 160, 0.5), (64, 0, 0, 0.1)]
    for rl, wl, stall, pause in phases:
        dut.read_latency.value = rl
        dut.write_latency.value = wl
        tb.set_stalls(stall, pause)
        await tb.pulse_load()
        nworkers = 3
        await Combine(*[cocotb.start_soon(worker(mi, wi, nworkers, OPS // nworkers))
                        for mi in range(N) for wi in range(nworkers)])
    for k in range(len(SIZES)):
        assert tb.mems[k].read(0, SIZES[k]) == bytes(model[k]), f"memory {k} differs from the model"
    tb.watch.check()


@cocotb.test()
async def error_windows(dut):
    """SLVERR / DECERR windows answer errors on exactly the beats inside them; writes there
    change nothing; unmapped addresses answer DECERR through the interconnect."""
    r = rng("error_windows")
    await setup(dut)
    tb = TB(dut, r)
    mst = tb.masters[0]
    pattern = bytes(range(256)) * 16
    tb.mems[0].write(0, pattern)
    dut.slverr_base.value, dut.slverr_limit.value = 0x400, 0x480
    dut.decerr_base.value, dut.decerr_limit.value = 0x800, 0x808
    await RisingEdge(dut.clk)
    cases = [(0x3F0, 32, AxiResp.SLVERR), (0x478, 16, AxiResp.SLVERR), (0x480, 64, AxiResp.OKAY),
             (0x7F8, 8, AxiResp.OKAY), (0x7F8, 9, AxiResp.DECERR), (0x100, 64, AxiResp.OKAY)]
    for addr, length, expect in cases:
        resp = await mst.write(addr, b"\xEE" * length)
        assert resp.resp == expect, f"write {addr:#x}+{length}: {resp.resp!r}, expected {expect!r}"
        got = await mst.read(addr, length)
        assert got.resp == expect, f"read {addr:#x}+{length}: {got.resp!r}, expected {expect!r}"
    expected = bytearray(pattern)
    expected[0x480:0x4C0] = b"\xEE" * 64
    expected[0x7F8:0x800] = b"\xEE" * 8
    expected[0x100:0x140] = b"\xEE" * 64
    # beats outside the windows of an erroring burst are written; those inside are not
    expected[0x3F0:0x400] = b"\xEE" * 16
    assert tb.mems[0].read(0, len(pattern)) == bytes(expected)
    if len(SIZES) > 1:  # past the last memory window nothing decodes
        hole = WINDOW * len(SIZES)
        resp = await mst.write(hole, b"\x11" * 40)
        assert resp.resp == AxiResp.DECERR, resp.resp
        got = await mst.read(hole + 8, 100)
        assert got.resp == AxiResp.DECERR, got.resp
    tb.watch.check()
