"""Declarations are the single source: driver packing, RTL layouts, docs and C header agree."""

import random
import shutil
import subprocess
import sys

import pytest

from sgdma.sim.harness import ROOT, seed_from_env
from sgdma.sw import gen
from sgdma.sw.fmtdef import Int, Struct, Union
from sgdma.sw.formats import Completion, Control, Descriptor, Opcode, SgEntry
from sgdma.sw.regmap import RegisterFile
from sgdma.sw.registers import SGDMA, ID_MAGIC


def random_values(fmt, r):
    if isinstance(fmt, Int):
        if fmt.reserved:
            return 0
        if fmt.signed:
            return r.randrange(-(1 << (fmt.width - 1)), 1 << (fmt.width - 1))
        return r.randrange(1 << fmt.width)
    if isinstance(fmt, Union):
        m = r.choice(fmt.members)
        return {m.name: random_values(m, r)}
    return {m.name: random_values(m, r) for m in fmt.members}


@pytest.mark.parametrize("fmt", [Descriptor, SgEntry, Completion, Control], ids=lambda f: f.name)
def test_format_round_trip_driver_and_rtl(fmt):
    """pack -> bytes equals the Amaranth layout's constant; unpack inverts pack."""
    from sgdma.rtl.formats import layout
    r = random.Random(seed_from_env())
    lay = layout(fmt)
    assert lay.size == fmt.width
    for _ in range(200):
        values = random_values(fmt, r)
        raw = fmt.pack(values)
        assert int.from_bytes(raw, "little") == lay.const(values).as_bits()
        back = fmt.unpack(raw)
        if not _has_union(fmt):  # a union unpacks to all its views, which do not pack back
            assert fmt.pack(back) == raw
        for name, v in values.items():
            if not isinstance(v, dict):
                assert back[name] == v, name


def _has_union(fmt):
    return any(isinstance(m, Union) or (isinstance(m, Struct) and _has_union(m)) for m in fmt.members)


def test_descriptor_layout_is_the_documented_one():
    assert Descriptor.size == 64 and SgEntry.size == 16
    assert Descriptor.byte_offset("length") == 0x10
    assert Descriptor.byte_offset("control") == 0x14
    assert Descriptor.byte_offset("params") == 0x18
    assert Descriptor.byte_offset("completion") == 0x30


def test_format_errors():
    with pytest.raises(ValueError, match="does not fit"):
        SgEntry.pack(len=1 << 32)
    with pytest.raises(ValueError, match="reserved"):
        SgEntry.pack(flags=1)
    with pytest.raises(KeyError, match="no field"):
        SgEntry.pack(length=1)
    with pytest.raises(ValueError, match="bytes"):
        SgEntry.unpack(b"\0" * 15)
    assert Control.unpack(Control.pack(opcode=Opcode.FILL))["opcode"] is Opcode.FILL
    assert Control.reserved_bits(Control.encode({"opcode": 1}) | 1 << 31) == 1 << 31


class FakeBus:
    def __init__(self):
        self.mem = {}
        self.log = []

    def read32(self, addr):
        self.log.append(("r", addr))
        return self.mem.get(addr, 0)

    def write32(self, addr, value):
        self.log.append(("w", addr, value))
        self.mem[addr] = value


def test_register_file_named_access():
    bus = FakeBus()
    regs = RegisterFile(SGDMA, bus)
    bus.mem[0x0] = ID_MAGIC
    assert regs.system.id.magic == ID_MAGIC
    regs.system.scratch.write(value=0xCAFE)
    assert bus.mem[0xC] == 0xCAFE
    bus.mem[0x10], bus.mem[0x14] = 0x89ABCDEF, 0x01234567
    bus.log.clear()
    assert regs.system.cycles.read() == 0x0123456789ABCDEF
    assert bus.log == [("r", 0x10), ("r", 0x14)]  # low word first: it latches the high word
    bus.mem[0x8] = 4 | 8 << 8 | 1 << 16 | 24 << 19
    assert regs.system.config.fields() == {"channels": 4, "data_bytes": 8, "iommu": 1, "offload": 0,
                                           "lite": 0, "addr_bits": 24}
    with pytest.raises(AttributeError, match="no register"):
        _ = regs.system.nope
    with pytest.raises(ValueError, match="does not fit"):
        regs.system.scratch.write(value=1 << 32)


def test_generated_docs_are_current():
    """docs/registers.md and include/sgdma_regs.h match the declarations."""
    assert gen.main(["--check"]) == 0, "run: python -m sgdma.sw.gen"


def test_c_header_compiles(tmp_path):
    src = tmp_path / "t.c"
    src.write_text(f'#include "{ROOT}/include/sgdma_regs.h"\n'
                   "int main(void) { return SGDMA_SYSTEM_SCRATCH == 0xc && "
                   "SGDMA_DESCRIPTOR_SIZE == 64 ? 0 : 1; }\n")
    compiler = shutil.which("cc") or shutil.which("gcc") or shutil.which("g++")
    lang = "c++" if "g++" in compiler else "c"
    subprocess.run([compiler, "-x", lang, "-Wall", "-Werror", "-o", str(tmp_path / "t"), str(src)],
                   check=True)
    assert subprocess.run([str(tmp_path / "t")]).returncode == 0


def test_sw_imports_without_amaranth_or_cocotb():
    code = ("import sys, sgdma.sw.regmap, sgdma.sw.formats, sgdma.sw.registers, sgdma.sw.gen; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('amaranth', 'cocotb')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
