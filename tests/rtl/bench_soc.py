"""The real driver in a cocotb bench (tests/rtl/test_soc.py): the SoC's byte streams carry
the bridge protocol from host code running in a bridge thread."""

import cocotb
from cocotb.task import bridge

from sgdma.sim.cocotb_transport import CocotbTransport
from sgdma.sim.tb import rng, start
from sgdma.sw.driver import INTERRUPT, Chunk, Device, InterleavedTemplate, ReadError, model_execute
from sgdma.sw.model import FlatMemory


def host(t, r):
    dev = Device(t)
    assert dev.n_channels == 1 and dev.data_bytes == 4 and dev.mem_size == 1 << 16
    shadow = FlatMemory(dev.mem_size)
    chan = dev.channel(0)

    def buffer(n):
        b = dev.alloc(n, align=1)
        data = r.randbytes(n)
        b.write(data)
        shadow.write(b.addr, data)
        return b

    a, b, c = buffer(3000), buffer(3000), buffer(500)
    txs = [chan.prep_memcpy(b[5:2005], a[3:2003], 2000),
           chan.prep_sg([b[2100:2300], c[0:100]], [a[2500:2550], c[300:400], a[0:150]]),
           chan.prep_fill(c[101:290], b"\x5a\xa5", 189),
           chan.prep_interleaved(InterleavedTemplate(a.addr + 7, b.addr + 2400, 10,
                                                     (Chunk(13, src_icg=40, dst_icg=3),)), flags=INTERRUPT)]
    cookies = [tx.submit() for tx in txs]
    chan.issue_pending()
    for k in cookies:
        chan.wait(k, timeout=5)
    for tx in txs:
        model_execute(tx, shadow)
    for buf in (a, b, c):
        assert buf.read() == shadow.read(buf.addr, buf.size)
    hole = dev.raw(0x3000_0000, 64)
    k = chan.prep_memcpy(b[0:64], hole, 64).submit()
    chan.issue_pending()
    try:
        chan.wait(k, timeout=5)
        raise AssertionError("no error reported")
    except ReadError as exc:
        assert exc.addr == hole.addr
    assert b.read() == shadow.read(b.addr, b.size)
    return dev.link.stats


@cocotb.test()
async def driver_in_bench(dut):
    await start(dut)
    t = CocotbTransport(dut)
    stats = await bridge(host)(t, rng("soc"))
    assert stats["irq_frames"] >= 1, stats
