"""The DMA engine under Verilator: the reference model, every operation, every error path."""

import pytest

from sgdma.sim import harness
from sgdma.sim.tops import DmaSystem


def system(**kw):
    return DmaSystem(**kw)


@pytest.mark.parametrize("testcase", ["smoke", "random_transfers", "bus_errors", "invalid_descriptors", "reset_mid_transfer", "fence_and_order", "coalescing", "pause_resume_wrap"])
def test_dma(testcase):
    built = harness.build(system, params=dict(channels=2, data_width=64, mem_size=1 << 20))
    harness.run(built, "tests.rtl.bench_dma", testcase=testcase)
