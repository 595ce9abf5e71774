"""cocotb benches of the DMA engine (tests/rtl/test_dma.py)."""

import cocotb

from sgdma.sim.dmatb import DmaTB, desc_bytes
from sgdma.sw.formats import ErrorCode, Status


@cocotb.test()
async def smoke(dut):
    tb = DmaTB(dut)
    await tb.start()
    ring = await tb.setup_ring(0, 0x1000)
    data = bytes(range(256)) * 2
    tb.mem_write(0x10003, data[:300])
    i = ring.put(desc_bytes(src=0x10003, dst=0x20005, length=300))
    await ring.doorbell()
    await tb.wait_head(ring, i + 1, timeout=5000)
    rec = ring.completion(i)
    assert rec["status"] == Status.DONE and rec["code"] == ErrorCode.NONE and rec["bytes"] == 300, rec
    assert tb.mem_read(0x20005, 300) == data[:300]
    assert tb.mem_read(0x20004, 1) == b"\0" and tb.mem_read(0x20005 + 300, 1) == b"\0"
