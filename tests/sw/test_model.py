"""The DMA reference model (sgdma.sw.model) on hand-checked cases."""

import pytest

from sgdma.sim.dmatb import desc_bytes, sg_bytes
from sgdma.sw.formats import Descriptor, ErrorCode, Status
from sgdma.sw.model import SparseMemory, execute, fragments


def mem_with(addr, data):
    m = SparseMemory()
    m.write(addr, data)
    return m


def test_copy_any_alignment():
    m = mem_with(0x1003, bytes(range(100)))
    out = execute(desc_bytes(src=0x1003, dst=0x2005, length=100), m)
    assert (out.status, out.code, out.bytes) == (Status.DONE, ErrorCode.NONE, 100)
    assert m.read(0x2005, 100) == bytes(range(100))
    assert m.read(0x2004, 1) == b"\0" and m.read(0x2005 + 100, 1) == b"\0"


def test_sg_five_fragments_into_three():
    src = [(0x1000, 7), (0x1103, 1), (0x1200, 50), (0x1301, 20), (0x1400, 22)]
    dst = [(0x2001, 60), (0x2100, 30), (0x2203, 10)]
    m = SparseMemory()
    data = bytes((i * 7) & 0xFF for i in range(100))
    pos = 0
    for a, n in src:
        m.write(a, data[pos:pos + n])
        pos += n
    m.write(0x3000, sg_bytes(src))
    m.write(0x3100, sg_bytes(dst))
    d = desc_bytes(src=0x3000, dst=0x3100, length=100, src_sgl=1, dst_sgl=1,
                   sg=dict(src_count=5, dst_count=3))
    assert execute(d, m).status == Status.DONE
    assert b"".join(m.read(a, n) for a, n in dst) == data


def test_nd_negative_strides_and_planes():
    m = SparseMemory()
    m.write(0x1000, bytes(range(256)))
    # 2 planes x 3 rows x 4 bytes; source rows walk backwards by 16, planes forward by 100
    d = desc_bytes(src=0x1040, dst=0x5000, length=4, ndim=3,
                   nd=dict(src_stride0=-16, src_stride1=100, dst_stride0=4, dst_stride1=12,
                           count0=3, count1=2))
    rows = [a for a, _ in fragments(Descriptor.unpack(d), "src", m)]
    assert rows == [0x1040, 0x1030, 0x1020, 0x10A4, 0x1094, 0x1084]
    assert execute(d, m).bytes == 24
    assert m.read(0x5000, 24) == b"".join(m.read(a, 4) for a in rows)


def test_fill_pattern_repeats_from_the_first_byte():
    m = SparseMemory()
    d = desc_bytes(opcode=2, src=0x0807060504030201, dst=0x2003, length=19)
    assert execute(d, m).bytes == 19
    assert m.read(0x2003, 19) == (bytes(range(1, 9)) * 3)[:19]


@pytest.mark.parametrize("kw", [
    dict(opcode=0), dict(opcode=5), dict(length=0), dict(rsvd=1),
    dict(ndim=2, nd=dict(count0=0)), dict(ndim=3, nd=dict(count0=1, count1=0)),
    dict(src=1 << 32), dict(src_sgl=1, sg=dict(src_count=0)), dict(src_sgl=1, src=0x3008,
                                                                  sg=dict(src_count=1)),
])
def test_invalid_descriptors_write_nothing(kw):
    m = mem_with(0x1000, bytes(64))
    d = dict(src=0x1000, dst=0x2000, length=64)
    d.update(kw)
    before = dict(m.bytes)
    out = execute(desc_bytes(**d), m)
    assert (out.status, out.code, out.bytes) == (Status.ERROR, ErrorCode.INVALID, 0)
    assert m.bytes == before


def test_sg_lengths_must_add_up():
    m = SparseMemory()
    m.write(0x3000, sg_bytes([(0x1000, 10), (0x1100, 10)]))
    d = desc_bytes(src=0x3000, dst=0x2000, length=21, src_sgl=1, sg=dict(src_count=2))
    assert execute(d, m).code == ErrorCode.INVALID
