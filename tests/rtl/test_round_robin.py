"""The round-robin grant (`rtl.axi.common.round_robin`) against a Python model, under random
offers and holds (Amaranth simulator): one-hot, never empty, the next offering requester
above the granted one else the lowest, kept while held or with no offer -- and its number
(the register that selects the wide multiplexers) equal to the grant's on every cycle."""

import random

import pytest
from amaranth.hdl import Elaboratable, Module, Signal
from amaranth.sim import Simulator

from sgdma.rtl.axi.common import round_robin
from sgdma.sim.harness import seed_from_env


class _Top(Elaboratable):
    def __init__(self, n):
        self.offers, self.hold = Signal(n), Signal()
        self.grant = self.number = None

    def elaborate(self, platform):
        m = Module()
        self.grant, self.number = round_robin(m, self.offers, self.hold, "t", index=True)
        return m


@pytest.mark.parametrize("n", [1, 2, 3, 4, 6])
def test_round_robin_model(n):
    r = random.Random(seed_from_env())
    dut = _Top(n)
    seen = set()

    async def bench(ctx):
        granted = 0
        for cycle in range(2000):
            offers = r.getrandbits(n) if r.random() < 0.8 else 0
            hold = r.random() < 0.3
            ctx.set(dut.offers, offers)
            ctx.set(dut.hold, hold)
            grant = ctx.get(dut.grant)
            assert grant == 1 << granted, (cycle, grant, granted)
            assert ctx.get(dut.number) == granted, (cycle, ctx.get(dut.number), granted)
            if offers and not hold:
                above = [k for k in range(granted + 1, n) if offers >> k & 1]
                granted = above[0] if above else min(k for k in range(n) if offers >> k & 1)
            seen.add(granted)
            await ctx.tick()
        assert seen == set(range(n))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()

