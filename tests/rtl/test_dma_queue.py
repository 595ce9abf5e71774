"""The DMA blocks' Queue against a Python model, under random pushes and pops (Amaranth
simulator): order, ``level``, and the flags -- ``i.ready`` exactly when not full and
``o.valid`` exactly when not empty, both flip-flops, so a push in the same cycle as a pop
never lets a full queue take a word."""

import collections
import random

import pytest
from amaranth.sim import Simulator

from sgdma.rtl.dma.common import Queue
from sgdma.sim.harness import seed_from_env


@pytest.mark.parametrize("depth,buffered", [(1, False), (2, False), (3, False), (4, False),
                                            (16, False), (2, True), (3, True), (4, True)])
def test_queue_model(depth, buffered):
    r = random.Random(seed_from_env())
    dut = Queue(12, depth, buffered=buffered)
    model = collections.deque()
    latency = 2 if buffered else 1      # cycles from a push to the word at the output
    stats = {"push": 0, "pop": 0, "full": 0}

    async def bench(ctx):
        in_flight = collections.deque()   # pushed, not yet visible at the output
        for cycle in range(3000):
            # phases: mostly pushing, mostly popping, mixed -- so the queue runs full and empty
            phase = (cycle // 200) % 3
            p_push, p_pop = ((0.9, 0.3), (0.3, 0.9), (0.6, 0.6))[phase]
            valid, ready = r.random() < p_push, r.random() < p_pop
            word = r.getrandbits(12)
            ctx.set(dut.i.valid, valid)
            ctx.set(dut.i.payload, word)
            ctx.set(dut.o.ready, ready)
            i_ready, o_valid, o_word, level = (ctx.get(dut.i.ready), ctx.get(dut.o.valid),
                                               ctx.get(dut.o.payload), ctx.get(dut.level))
            stored = len(model) + len(in_flight)
            if not buffered:
                assert i_ready == (stored < depth), (cycle, stored)
                assert level == stored, (cycle, level, stored)
                assert o_valid == (len(model) > 0), cycle
            else:
                assert not i_ready or stored <= depth, (cycle, stored)
                assert not o_valid or model, cycle
            if o_valid and ready:
                assert o_word == model.popleft(), cycle
                stats["pop"] += 1
            if valid and i_ready:
                in_flight.append((cycle + latency, word))
                stats["push"] += 1
            stats["full"] += not i_ready
            await ctx.tick()
            while in_flight and in_flight[0][0] <= cycle + 1:
                model.append(in_flight.popleft()[1])

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    # the bench exercised what it claims: words moved, the queue ran full
    assert stats["push"] > 500 and stats["pop"] > 500 and stats["full"] > 50, stats


@pytest.mark.parametrize("block", [False, True])
def test_block_ram_queue_has_no_bypass(block):
    """A block-RAM queue synthesizes (Yosys, ECP5) to its block RAMs, its pointers and -- for a
    block queue -- its output register: no read-during-write bypass (a word-wide register and
    multiplexer Yosys adds to a memory with a synchronous read port unless told the FIFO never
    reads the word it writes; see ``sgdma.rtl.fifo``)."""
    from sgdma.sim.synth import estimate_ecp5
    width = 300
    if block:
        dut, out_reg = Queue(width, 32, block=True, half_rate=True), width
    else:
        dut, out_reg = Queue(width, 512, buffered=True), 0
    est = estimate_ecp5(dut, f"queue_no_bypass_{width}_{'block' if block else 'buffered'}")
    print(est)
    assert est["ebr"] > 0, est
    assert est["lut"] < 75, est                 # pointers and flags; the bypass took ~350
    assert est["ff"] <= out_reg + 64, est       # the bypass added a word-wide register or two
