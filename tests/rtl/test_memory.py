"""AXI4 memory, interconnect and arbiter under cocotbext-axi masters, random stalls on every channel."""

import pytest

from sgdma.rtl.axi.arbiter import AXI4Arbiter
from sgdma.rtl.axi.memory import BANK_WORDS, AXI4Memory
from sgdma.sim import harness
from sgdma.sim.tops import MemorySystem


def system(managers, mem_sizes, data_width=64, id_width=4, arbiter=False, storage="verilog",
           bank_words=BANK_WORDS):
    return MemorySystem(managers=managers, mem_sizes=mem_sizes, data_width=data_width,
                        id_width=id_width, arbiter=arbiter, storage=storage, bank_words=bank_words)


@pytest.mark.parametrize("data_width", [32, 64, 128])
def test_memory(data_width):
    built = harness.build(system, params=dict(managers=1, mem_sizes=[1 << 16],
                                               data_width=data_width))
    harness.run(built, "tests.rtl.bench_memory")


@pytest.mark.parametrize("size", [64 << 10, 128 << 10])
def test_memory_ice40_spram(size):
    """The iCEBreaker's memory: single-port RAMs (a model of SB_SPRAM256KA), reads and writes
    taking turns, two masters at once, random stalls."""
    built = harness.build(system, params=dict(managers=2, mem_sizes=[size], data_width=32,
                                               arbiter=True, storage="ice40_spram"))
    harness.run(built, "tests.rtl.bench_memory")


def test_memory_banked():
    """The boards' block RAM: banks with registered inputs and outputs (a read three cycles
    deep, its data queued for the manager; four banks here), two masters at once, random
    stalls."""
    built = harness.build(system, params=dict(managers=2, mem_sizes=[1 << 16], arbiter=True,
                                               storage="amaranth", bank_words=2048))
    harness.run(built, "tests.rtl.bench_memory")


def test_interconnect():
    built = harness.build(system, params=dict(managers=3, mem_sizes=[1 << 16, 1 << 14]))
    harness.run(built, "tests.rtl.bench_memory")


def test_arbiter():
    built = harness.build(system, params=dict(managers=3, mem_sizes=[1 << 16], arbiter=True))
    harness.run(built, "tests.rtl.bench_memory")


@pytest.mark.parametrize("kw,message", [
    (dict(managers=0), "managers"), (dict(managers=2, reads=[2]), "reads"),
    (dict(managers=2, writes=[-1]), "writes"), (dict(managers=2, max_writes=0), "max_writes"),
])
def test_arbiter_arguments(kw, message):
    with pytest.raises(ValueError, match=message):
        AXI4Arbiter(**kw)


def test_arbiter_id_bits():
    """A direction's managers are numbered in the ID bits added above their own; a direction
    with one manager adds none."""
    assert AXI4Arbiter(managers=2, reads=[0], writes=[1], id_width=1).sub_signature.id_width == 1
    assert AXI4Arbiter(managers=6, writes=range(5), id_width=3).sub_signature.id_width == 6
    with pytest.raises(ValueError, match="one memory"):
        MemorySystem(managers=2, mem_sizes=[1 << 12, 1 << 12], arbiter=True)


@pytest.mark.parametrize("bank_words", [0, 15, 3000, "16"])
def test_memory_bank_words_argument(bank_words):
    with pytest.raises(ValueError, match="bank_words"):
        AXI4Memory(size=1 << 16, bank_words=bank_words)


def test_register_slice_signatures():
    """The register slice takes AXI4 and AXI4-Lite signatures (the SoC slices the bridge's
    register accesses), nothing else."""
    from amaranth.lib import wiring

    from sgdma.rtl.axi.slice import AXI4RegisterSlice
    from sgdma.rtl.bus import AXI4LiteSignature
    lite = AXI4RegisterSlice(AXI4LiteSignature(addr_width=16, data_width=32), half_rate=("aw", "ar"))
    assert "awaddr" in lite.s.signature.members
    with pytest.raises(TypeError, match="AXI4Signature or AXI4LiteSignature"):
        AXI4RegisterSlice(wiring.Signature({}))
