"""Register bank generated from a declaration: every access type, 64-bit halves, DECERR."""

import pytest

from sgdma.rtl.regbank import RegisterBank
from sgdma.sim import harness
from sgdma.sw.regdef import Access, Field, Placement, Register, RegisterBlock, RegisterMap

A = Access
BLOCK = RegisterBlock("blk", "every access type", [
    Register("rw", 0x00, "read/write with a reset value", [
        Field("lo", 8, A.RW, "low byte", reset=0x5A),
        Field("hi", 8, A.RW, "second byte", reset=0xC3, offset=16),
    ]),
    Register("ro", 0x04, "hardware-driven", [Field("v", 32, A.R, "value")]),
    Register("wo", 0x08, "write-only", [Field("v", 32, A.W, "value")]),
    Register("w1c", 0x0C, "status", [Field("v", 8, A.RW1C, "bits")]),
    Register("w1s", 0x10, "start bits", [Field("v", 8, A.RW1S, "bits")]),
    # 0x14 is a hole
    Register("wide", 0x18, "64-bit read/write", [Field("v", 64, A.RW, "value", reset=0x0123456789ABCDEF)],
             width=64),
    Register("odd", 0x30, "a field across a byte-lane boundary",
             [Field("v", 12, A.RW, "bits 4-15", reset=0xABC, offset=4)]),
    Register("wide_ro", 0x20, "64-bit hardware-driven", [Field("v", 64, A.R, "value")], width=64),
])
MAP = RegisterMap("test", "test map", [Placement(BLOCK, 0x00), Placement(BLOCK.__class__(
    "arr", "an array of blocks", [Register("x", 0x0, "rw", [Field("v", 16, A.RW, "v")])], size=0x10),
    0x40, count=3)])


def top(byte_lanes=True):
    return RegisterBank(MAP, addr_width=8, byte_lanes=byte_lanes)


@pytest.mark.parametrize("byte_lanes", [True, False])
def test_regbank(byte_lanes):
    harness.run(harness.build(top, params={"byte_lanes": byte_lanes}), "tests.rtl.bench_regbank")


def test_declaration_errors():
    with pytest.raises(ValueError, match="overlaps"):
        Register("r", 0, "d", [Field("a", 8, A.RW, "a"), Field("b", 8, A.RW, "b", offset=4)])
    with pytest.raises(ValueError, match="does not fit"):
        Field("a", 4, A.RW, "a", reset=16)
    with pytest.raises(ValueError, match="offset"):
        Register("r", 2, "d", [])
    with pytest.raises(ValueError, match="overlap"):
        RegisterMap("m", "d", [Placement(BLOCK, 0), Placement(RegisterBlock("b2", "d", [], size=16), 0x20)])
    with pytest.raises(TypeError, match="RegisterMap"):
        RegisterBank(BLOCK)
    with pytest.raises(ValueError, match="addr_width"):
        RegisterBank(MAP, addr_width=4)
