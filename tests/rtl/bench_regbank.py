"""cocotb bench for tests/rtl/test_regbank.py."""

import cocotb
from cocotb.triggers import RisingEdge
from cocotbext.axi import AxiLiteBus, AxiLiteMaster
from cocotbext.axi.constants import AxiResp

from sgdma.sim.tb import start


class TB:
    def __init__(self, dut):
        self.dut = dut
        self.axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "bus", bus_separator="__"),
                                  dut.clk, dut.rst)

    async def read(self, addr):
        r = await self.axil.read(addr, 4)
        return int.from_bytes(r.data, "little"), r.resp

    async def rd(self, addr):
        v, resp = await self.read(addr)
        assert resp == AxiResp.OKAY, f"read {addr:#x}: {resp!r}"
        return v

    async def wr(self, addr, value, strb_bytes=None, expect=AxiResp.OKAY):
        data = value.to_bytes(4, "little")
        if strb_bytes is None:
            r = await self.axil.write(addr, data)
        else:  # a narrow write: cocotbext-axi derives the strobes from address and length
            lo, n = strb_bytes
            r = await self.axil.write(addr + lo, data[lo:lo + n])
        assert r.resp == expect, f"write {addr:#x}: {r.resp!r}, expected {expect!r}"


@cocotb.test()
async def all_access_types(dut):
    await start(dut)
    tb = TB(dut)
    # reset values
    assert await tb.rd(0x00) == 0x00C3005A
    assert await tb.rd(0x18) == 0x89ABCDEF and await tb.rd(0x1C) == 0x01234567

    # RW: only the fields' bits stick; byte strobes honoured
    await tb.wr(0x00, 0xFFFFFFFF)
    assert await tb.rd(0x00) == 0x00FF00FF
    assert int(dut.blk__rw__lo.value) == 0xFF and int(dut.blk__rw__hi.value) == 0xFF
    await tb.wr(0x00, 0x00110022, strb_bytes=(2, 1))
    assert await tb.rd(0x00) == 0x001100FF

    # a field across a byte-lane boundary: each lane's bits follow its own strobe
    assert await tb.rd(0x30) == 0xABC0
    await tb.wr(0x30, 0xFFFFFFFF, strb_bytes=(1, 1))
    assert await tb.rd(0x30) == 0xFFC0 and int(dut.blk__odd__v.value) == 0xFFC
    await tb.wr(0x30, 0, strb_bytes=(0, 1))
    assert await tb.rd(0x30) == 0xFF00
    await tb.wr(0x30, 0x12345678)
    assert await tb.rd(0x30) == 0x5670

    # R: hardware drives, writes ignored (OKAY)
    dut.blk__ro__v.value = 0xDEADBEEF
    await RisingEdge(dut.clk)
    assert await tb.rd(0x04) == 0xDEADBEEF
    await tb.wr(0x04, 0)
    assert await tb.rd(0x04) == 0xDEADBEEF

    # W: reads as zero, hardware sees value and a one-cycle strobe
    strobes = []

    async def count(sig):
        while True:
            await RisingEdge(dut.clk)
            if int(sig.value):
                strobes.append(int(dut.blk__wo__v.value))
    mon = cocotb.start_soon(count(dut.blk__wo__w_stb))
    await tb.wr(0x08, 0x12345678)
    await tb.wr(0x08, 0x9)
    assert await tb.rd(0x08) == 0
    assert strobes == [0x12345678, 0x9], strobes
    mon.cancel()

    # RW1C: hardware sets, software clears ones
    dut.blk__w1c__v_set.value = 0xA5
    await RisingEdge(dut.clk)
    dut.blk__w1c__v_set.value = 0
    assert await tb.rd(0x0C) == 0xA5
    await tb.wr(0x0C, 0x05)
    assert await tb.rd(0x0C) == 0xA0

    # RW1S: software sets ones, hardware clears
    await tb.wr(0x10, 0x03)
    await tb.wr(0x10, 0x0C)
    assert await tb.rd(0x10) == 0x0F
    dut.blk__w1s__v_clear.value = 0x05
    await RisingEdge(dut.clk)
    dut.blk__w1s__v_clear.value = 0
    assert await tb.rd(0x10) == 0x0A

    # 64-bit: the low half waits for the high half
    await tb.wr(0x18, 0xAAAAAAAA)
    assert int(dut.blk__wide__v.value) == 0x0123456789ABCDEF
    await tb.wr(0x1C, 0x55555555)
    assert int(dut.blk__wide__v.value) == 0x55555555AAAAAAAA
    # an upper-half write alone changes only the upper half
    await tb.wr(0x1C, 0x11111111)
    assert int(dut.blk__wide__v.value) == 0x11111111AAAAAAAA
    # 64-bit read: low half latches the high half
    dut.blk__wide_ro__v.value = 0x00000001FFFFFFFF
    await RisingEdge(dut.clk)
    lo = await tb.rd(0x20)
    dut.blk__wide_ro__v.value = 0x0000000200000000
    await RisingEdge(dut.clk)
    hi = await tb.rd(0x24)
    assert (hi << 32 | lo) == 0x00000001FFFFFFFF

    # arrays of blocks
    for i in range(3):
        await tb.wr(0x40 + 0x10 * i, 0x100 + i)
    for i in range(3):
        assert await tb.rd(0x40 + 0x10 * i) == 0x100 + i
        assert int(getattr(dut, f"arr__{i}__x__v").value) == 0x100 + i

    # holes answer DECERR, both ways, and change nothing
    for hole in (0x14, 0x28, 0x34, 0x3C, 0x44, 0x70, 0xFC):
        v, resp = await tb.read(hole)
        assert resp == AxiResp.DECERR, f"read {hole:#x}: {resp!r}"
        await tb.wr(hole, 0xFFFFFFFF, expect=AxiResp.DECERR)
    assert await tb.rd(0x00) == 0x001100FF
