"""The UART PHY (Amaranth simulator): transmitter into receiver at several divisors, line
timing of the transmitter, and a missing stop bit dropped with ``frame_error``."""

import random

import pytest
from amaranth.hdl import Module
from amaranth.sim import Simulator

from sgdma.rtl.uart import UartRx, UartTx, divisor
from sgdma.sim.harness import seed_from_env


@pytest.mark.parametrize("div", [4, 7, 25])
def test_loopback(div):
    r = random.Random(seed_from_env())
    data = bytes(r.randrange(256) for _ in range(40))
    m = Module()
    m.submodules.tx = tx = UartTx(divisor=div)
    m.submodules.rx = rx = UartRx(divisor=div)
    m.d.comb += rx.rx.eq(tx.tx)
    got = []

    async def send(ctx):
        for b in data:
            ctx.set(tx.i.payload, b)
            ctx.set(tx.i.valid, 1)
            await ctx.tick().until(tx.i.ready)
            ctx.set(tx.i.valid, 0)
            for _ in range(r.randrange(3)):
                await ctx.tick()

    async def receive(ctx):
        async for _c, _r, valid, payload, err in ctx.tick().sample(rx.o.valid, rx.o.payload, rx.frame_error):
            assert not err
            if valid:
                got.append(payload)

    sim = Simulator(m)
    sim.add_clock(1e-8)
    sim.add_testbench(send)
    sim.add_process(receive)
    sim.run_until(1e-8 * div * 10 * (len(data) + 4) * 1.5)
    assert bytes(got) == data


def test_tx_line_timing_and_frame_error():
    div = 8
    m = Module()
    m.submodules.tx = tx = UartTx(divisor=div)
    m.submodules.rx = rx = UartRx(divisor=div)
    line = []
    errors = []

    async def bench(ctx):
        ctx.set(tx.i.payload, 0xA5)
        ctx.set(tx.i.valid, 1)
        await ctx.tick().until(tx.i.ready)
        ctx.set(tx.i.valid, 0)
        for _ in range(11 * div):
            line.append(ctx.get(tx.tx))
            await ctx.tick()
        # a byte whose stop bit is low: start, 8 data bits of 0, stop 0
        ctx.set(rx.rx, 0)
        for _ in range(12 * div):
            await ctx.tick()
            errors.append(ctx.get(rx.frame_error))
            assert not ctx.get(rx.o.valid)
        ctx.set(rx.rx, 1)

    sim = Simulator(m)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    bits = [line[k * div + div // 2] for k in range(10)]
    assert bits == [0] + [(0xA5 >> k) & 1 for k in range(8)] + [1]
    assert any(errors)


def test_divisor_and_arguments():
    assert divisor(48e6, 3_000_000) == 16
    with pytest.raises(ValueError):
        UartRx(divisor=3)
    with pytest.raises(ValueError):
        UartTx(divisor=1.5)
