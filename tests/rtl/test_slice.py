"""StreamRegisterSlice (the skid buffer every register slice is made of, its half-rate
one-register form and the forward register): order, throughput, inputs never refused while a
slot is free, outputs stable while stalled, clear (Amaranth simulator)."""

import random

import pytest
from amaranth.sim import Simulator

from sgdma.rtl.axi.slice import StreamRegisterSlice
from sgdma.sim.harness import seed_from_env


@pytest.mark.parametrize("p_in,p_out,clear,half,forward", [
    (1.0, 1.0, False, False, False), (0.7, 0.6, False, False, False), (0.9, 0.3, False, False, False),
    (0.8, 0.8, True, False, False),
    (1.0, 1.0, False, True, False), (0.7, 0.6, False, True, False), (0.9, 0.3, False, True, False),
    (1.0, 1.0, False, False, True), (0.7, 0.6, False, False, True), (0.9, 0.3, False, False, True)])
def test_stream_slice(p_in, p_out, clear, half, forward):
    r = random.Random(seed_from_env())
    dut = StreamRegisterSlice(16, clear=clear, half_rate=half, forward=forward)
    room = 1 if half or forward else 2
    words = [r.randrange(1 << 16) for _ in range(400)]
    sent, got = [], []
    cycles = [0]

    async def bench(ctx):
        k = 0
        held = None          # (payload) while the output is valid and not taken
        while len(got) < len(sent) or k < len(words):
            offer = k < len(words) and r.random() < p_in
            take = r.random() < p_out
            flush = clear and r.random() < 0.02
            ctx.set(dut.i.valid, offer)
            ctx.set(dut.i.payload, words[k] if offer else 0)
            ctx.set(dut.o.ready, take)
            if clear:
                ctx.set(dut.clear, flush)
            await ctx.delay(1e-9)
            i_ready, o_valid, o_payload = ctx.get(dut.i.ready), ctx.get(dut.o.valid), ctx.get(dut.o.payload)
            # two words of room (one for the half-rate and the forward register): an input is
            # refused only when every slot is taken -- the forward register's slot frees as
            # its word is taken
            free = len(sent) - len(got) < room or (forward and o_valid and take)
            assert i_ready == free, "refused with a slot free (or took one too many)"
            if held is not None and not flush:
                assert o_valid and o_payload == held, "output changed while stalled"
            if o_valid and take:
                got.append(o_payload)
            if offer and i_ready:
                sent.append(words[k])
                k += 1
            held = o_payload if (o_valid and not take) else None
            if flush:
                # everything not yet given is dropped, with the word taken in this cycle
                del sent[len(got):]
                held = None
            await ctx.tick()
            cycles[0] += 1
            if cycles[0] > 20000:
                break
        ctx.set(dut.i.valid, 0)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert got == sent
    assert len(got) >= (1 if clear else len(words))
    if p_in == 1.0 and p_out == 1.0:
        # full throughput: one word per cycle after one cycle of latency (half: every other)
        assert cycles[0] <= (len(words) if forward else len(words) * 2 // room) + 2


def test_stream_slice_args():
    with pytest.raises(ValueError, match="no clear"):
        StreamRegisterSlice(8, clear=True, half_rate=True)
    with pytest.raises(ValueError, match="no clear"):
        StreamRegisterSlice(8, clear=True, forward=True)
    with pytest.raises(ValueError, match="not both"):
        StreamRegisterSlice(8, half_rate=True, forward=True)
