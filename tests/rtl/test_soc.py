"""The SoC (bridge + engine + memory) driven by the real host driver from a cocotb bench."""

from sgdma.rtl.soc import SoC
from sgdma.sim import harness


def soc(memory="sim", **kw):
    return SoC(memory=memory, **kw)


def test_driver_in_cocotb_bench():
    built = harness.build(soc, params=dict(channels=1, data_width=32, mem_size=1 << 16, max_beats=16,
                                           buffer_beats=64, max_reads=4, max_writes=4, timeout=4096))
    harness.run(built, "tests.rtl.bench_soc")


def test_driver_lite_soc():
    """The same driver and bench on the iCEBreaker's SoC: the lite engine, single-port RAM
    (the model of the UP5K's SPRAM)."""
    built = harness.build(soc, params=dict(channels=1, data_width=32, mem_size=1 << 16, lite=True,
                                           memory="spram", timeout=4096))
    harness.run(built, "tests.rtl.bench_soc")
