"""AXI4 memory and interconnect under cocotbext-axi masters, random stalls on every channel."""

import pytest

from sgdma.sim import harness
from sgdma.sim.tops import MemorySystem


def system(managers, mem_sizes, data_width=64, id_width=4):
    return MemorySystem(managers=managers, mem_sizes=mem_sizes, data_width=data_width,
                        id_width=id_width)


@pytest.mark.parametrize("data_width", [32, 64, 128])
def test_memory(data_width):
    built = harness.build(system, params=dict(managers=1, mem_sizes=[1 << 16],
                                               data_width=data_width))
    harness.run(built, "tests.rtl.bench_memory")


def test_interconnect():
    built = harness.build(system, params=dict(managers=3, mem_sizes=[1 << 16, 1 << 14]))
    harness.run(built, "tests.rtl.bench_memory")
