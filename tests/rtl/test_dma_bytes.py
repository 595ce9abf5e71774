"""ByteQueue packing and unpacking under random backpressure (Amaranth simulator)."""

import random

import pytest
from amaranth.sim import Simulator

from sgdma.rtl.dma.bytes import ByteQueue
from sgdma.sim.harness import seed_from_env


def transfers(r, nb):
    out = []
    for _ in range(40):
        total = r.choice([1, 2, nb - 1, nb, nb + 1, r.randrange(1, 20 * nb)])
        out.append(bytes(r.randrange(256) for _ in range(total)))
    return out


@pytest.mark.parametrize("data_width", [32, 64, 128])
def test_pack(data_width):
    """Chunks of any size in; full words out, a transfer's remainder in its ``last`` word."""
    r = random.Random(seed_from_env())
    nb = data_width // 8
    dut = ByteQueue(data_width=data_width, pack=True)
    xfers = transfers(r, nb)
    got = [[]]

    async def producer(ctx):
        for x in xfers:
            pos = 0
            while pos < len(x):
                n = min(r.randrange(1, nb + 1), len(x) - pos)
                off = r.randrange(nb - n + 1)             # the bytes start at lane `off`
                junk = r.getrandbits(data_width)
                mask = ((1 << 8 * n) - 1) << 8 * off
                word = (junk & ~mask) | int.from_bytes(x[pos:pos + n], "little") << 8 * off
                ctx.set(dut.offset, off)
                ctx.set(dut.i.payload, {"data": word, "count": n, "last": pos + n == len(x)})
                ctx.set(dut.i.valid, 1)
                await ctx.tick().until(dut.i.ready)
                pos += n
                if r.random() < 0.3:
                    ctx.set(dut.i.valid, 0)
                    await ctx.tick()
        ctx.set(dut.i.valid, 0)

    async def consumer(ctx):
        while True:
            ctx.set(dut.o.ready, r.random() < 0.7)
            await ctx.tick()

    async def monitor(ctx):
        async for _c, _r, valid, ready, p in ctx.tick().sample(dut.o.valid, dut.o.ready, dut.o.payload):
            if valid and ready:
                n = p.count
                assert p.last or n == nb, "a word before the end of a transfer must be full"
                got[-1].append(int(p.data).to_bytes(nb, "little")[:n])
                if p.last:
                    got.append([])

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(producer)
    sim.add_process(consumer)
    sim.add_process(monitor)
    sim.run_until(1e-8 * 20000)
    assert [b"".join(g) for g in got[:-1]] == xfers


@pytest.mark.parametrize("data_width", [32, 64, 128])
def test_unpack(data_width):
    """Dense words in; as many bytes as the consumer asks for, at the lanes it asks for, zero
    elsewhere; ``clear`` per transfer."""
    r = random.Random(seed_from_env())
    nb = data_width // 8
    dut = ByteQueue(data_width=data_width, pack=False)
    xfers = transfers(r, nb)
    got = []

    async def producer(ctx):
        for x in xfers:
            for pos in range(0, len(x), nb):
                n = min(nb, len(x) - pos)
                ctx.set(dut.i.payload, {"data": int.from_bytes(x[pos:pos + n], "little"),
                                        "count": n, "last": pos + n == len(x)})
                ctx.set(dut.i.valid, 1)
                await ctx.tick().until(dut.i.ready)
                if r.random() < 0.3:
                    ctx.set(dut.i.valid, 0)
                    await ctx.tick()
        ctx.set(dut.i.valid, 0)

    async def consumer(ctx):
        for x in xfers:
            left, out = len(x), b""
            while left:
                want = min(r.randrange(1, nb + 1), left)
                off = r.randrange(nb - want + 1)
                ctx.set(dut.want, want)
                ctx.set(dut.offset, off)
                ctx.set(dut.o.ready, 1)
                data, = await ctx.tick().sample(dut.o.payload.data).until(dut.o.valid)
                word = int(data).to_bytes(nb, "little")
                assert word[:off] == bytes(off) and word[off + want:] == bytes(nb - off - want), \
                    f"lanes outside {off}..{off + want - 1} must be zero: {word.hex()}"
                out += word[off:off + want]
                left -= want
                ctx.set(dut.o.ready, 0)
                ctx.set(dut.want, 0)
                while r.random() < 0.3:
                    await ctx.tick()
            got.append(out)
            ctx.set(dut.clear, 1)
            await ctx.tick()
            ctx.set(dut.clear, 0)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(producer, background=True)
    sim.add_testbench(consumer)
    sim.run()
    assert got == xfers
