"""The round-robin grant (`rtl.axi.common.round_robin`) against a Python model, under random
offers and holds (Amaranth simulator): one-hot, never empty, the next offering requester
above the granted one else the lowest, kept while held or with no offer -- and every copy of
its number equal to the grant's number on every cycle (the copies carry clear terms of their
own so synthesis keeps them apart; a wrong term shows up here)."""

import random

import pytest
from amaranth.hdl import Elaboratable, Module, Signal
from amaranth.sim import Simulator

from sgdma.rtl.axi.common import round_robin
from sgdma.sim.harness import seed_from_env


class _Top(Elaboratable):
    def __init__(self, n, copies):
        self.n, self.copies = n, copies
        self.offers, self.hold = Signal(n), Signal()
        self.grant, self.numbers = None, None

    def elaborate(self, platform):
        m = Module()
        self.grant, numbers = round_robin(m, self.offers, self.hold, "t", index=True,
                                          copies=self.copies)
        self.numbers = numbers if self.copies > 1 else [numbers]
        return m


@pytest.mark.parametrize("n,copies", [(2, 1), (4, 1), (4, 8), (4, 9), (3, 7), (6, 13)])
def test_round_robin_model(n, copies):
    r = random.Random(seed_from_env())
    dut = _Top(n, copies)
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
            for c, number in enumerate(dut.numbers):
                assert ctx.get(number) == granted, (cycle, c, ctx.get(number), granted)
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


@pytest.mark.parametrize("copies", [0, 10])
def test_round_robin_copies_range(copies):
    with pytest.raises(ValueError, match="copies must be 1..9"):
        round_robin(Module(), Signal(4), Signal(), "t", index=True, copies=copies)
