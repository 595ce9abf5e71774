"""The AXI4 protocol checker catches every violation class and passes clean traffic.

(Clean traffic at scale: every memory / interconnect / DMA bench runs checkers on every link.)
"""

import pytest

from sgdma.rtl.axi.checker import AXI4Checker
from sgdma.rtl.bus import AXI4Signature
from sgdma.sim import harness


def checker():
    return AXI4Checker(AXI4Signature(addr_width=32, data_width=64, id_width=4), max_outstanding=8)


def test_checker():
    harness.run(harness.build(checker), "tests.rtl.bench_checker")


def test_checker_arguments():
    with pytest.raises(TypeError, match="AXI4Signature"):
        AXI4Checker("axi")
