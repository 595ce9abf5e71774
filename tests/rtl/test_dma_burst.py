"""BurstSplitter against its reference model (Amaranth simulator: a small, pure unit)."""

import random

import pytest
from amaranth.sim import Simulator

from sgdma.rtl.dma.burst import BurstSplitter, split_bursts
from sgdma.sim.harness import seed_from_env


@pytest.mark.parametrize("data_width,max_beats", [(64, 256), (32, 16), (128, 1), (64, 4)])
def test_burst_splitter(data_width, max_beats):
    r = random.Random(seed_from_env())
    wb = data_width // 8
    dut = BurstSplitter(data_width=data_width, max_beats=max_beats)
    frags = []
    for _ in range(100):
        kind = r.random()
        length = (r.randrange(1, 9) if kind < 0.3 else r.randrange(1, 20000) if kind < 0.9
                  else r.choice([0, 4096, 4095, 4097, 1 << 15]))
        addr = r.choice([r.randrange(1 << 31), 4096 * r.randrange(1, 100) - r.randrange(1, 9)])
        frags.append((addr, length, r.random() < 0.3))
    expected = []
    for addr, length, last in frags:
        bursts = split_bursts(addr, length, wb, max_beats)
        expected += [(a, ln, b, last and k == len(bursts) - 1) for k, (a, ln, b) in enumerate(bursts)]
    got = []

    async def producer(ctx):
        for addr, length, last in frags:
            ctx.set(dut.i.payload, {"addr": addr, "length": length, "last": last})
            ctx.set(dut.i.valid, 1)
            await ctx.tick().until(dut.i.ready)  # the fragment's final burst was taken
            while r.random() < 0.2:
                ctx.set(dut.i.valid, 0)
                await ctx.tick()
        ctx.set(dut.i.valid, 0)

    async def consumer(ctx):  # random backpressure
        while True:
            ctx.set(dut.o.ready, r.random() < 0.8)
            await ctx.tick()

    async def monitor(ctx):
        async for _clk, _rst, valid, ready, payload in ctx.tick().sample(
                dut.o.valid, dut.o.ready, dut.o.payload):
            if valid and ready:
                got.append((payload.addr, payload.len, payload.bytes, bool(payload.last)))
                b = got[-1]
                assert (b[1] + 1) <= max_beats
                assert b[0] // 4096 == (b[0] + b[2] - 1) // 4096, f"burst crosses 4 KiB: {b}"
            if len(got) >= len(expected):
                return

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(producer)
    sim.add_testbench(consumer, background=True)
    sim.add_testbench(monitor)
    sim.run()
    assert got == expected


def test_reference_model_rules():
    # 4 KiB boundary and burst cap
    assert split_bursts(4090, 20, 8, 256) == [(4090, 0, 6), (4096, 1, 14)]
    assert split_bursts(3, 2048, 8, 256) == [(3, 255, 2045), (2048, 0, 3)]
    assert split_bursts(0, 0, 8, 256) == []


def test_constructor_checks():
    with pytest.raises(ValueError, match="max_beats"):
        BurstSplitter(max_beats=3)
    with pytest.raises(ValueError, match="data_width"):
        BurstSplitter(data_width=48)


def _stream(dut, frags, n):
    """Feed ``frags`` back to back with the consumer always ready; the first ``n`` bursts as
    ``(cycle, payload values)``."""
    seen = []

    async def producer(ctx):
        for frag in frags:
            ctx.set(dut.i.payload, frag)
            ctx.set(dut.i.valid, 1)
            await ctx.tick().until(dut.i.ready)
        ctx.set(dut.i.valid, 0)

    async def monitor(ctx):
        ctx.set(dut.o.ready, 1)
        cycle = 0
        async for _clk, _rst, valid, payload in ctx.tick().sample(dut.o.valid, dut.o.payload):
            cycle += 1
            if valid:
                seen.append((cycle, {f: getattr(payload, f) for f in ("addr", "len", "bytes", "last", "tag")
                                     if f in dut.o.payload.shape().members}))
            if len(seen) == n:
                return

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(producer)
    sim.add_testbench(monitor)
    sim.run()
    return seen


def test_one_burst_per_cycle():
    """Back-to-back one-burst fragments with the consumer always ready: a burst every cycle
    (three cycles of latency), the tag travelling with each."""
    dut = BurstSplitter(data_width=64, max_beats=16, tag_width=8)
    n = 20
    seen = _stream(dut, [{"addr": 64 * k + 3, "length": 40, "last": 1, "tag": k} for k in range(n)], n)
    assert [b["tag"] for _c, b in seen] == list(range(n))
    assert all(b["addr"] == 64 * k + 3 and b["bytes"] == 40 for k, (_c, b) in enumerate(seen))
    assert seen[-1][0] - seen[0][0] == n - 1, "a bubble between bursts"
    assert seen[0][0] <= 4, "more than three cycles of latency"


def test_cut_fragment_every_other_cycle():
    """A fragment cut into several bursts gives one every other cycle (the idle cycle works
    out whether the rest fits in one burst), in order and each as the model cuts it."""
    dut = BurstSplitter(data_width=64, max_beats=4)
    addr, length = 0x1FE3, 32 * 5 + 7      # a 4 KiB boundary cut, four full bursts, a tail
    want = split_bursts(addr, length, 8, 4)
    seen = _stream(dut, [{"addr": addr, "length": length, "last": 1}], len(want))
    assert [(b["addr"], b["len"], b["bytes"]) for _c, b in seen] == want
    assert [b["last"] for _c, b in seen] == [0] * (len(want) - 1) + [1]
    assert [c - seen[0][0] for c, _b in seen] == list(range(0, 2 * len(want), 2))
