"""cocotb bench for tests/rtl/test_checker.py: inject each violation class by hand."""

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge

from sgdma.rtl.axi.checker import Channel, Violation
from sgdma.sim.tb import start

SIGNALS = {
    "aw": ("awvalid", "awready", "awid", "awaddr", "awlen", "awsize", "awburst"),
    "w": ("wvalid", "wready", "wdata", "wstrb", "wlast"),
    "b": ("bvalid", "bready", "bid", "bresp"),
    "ar": ("arvalid", "arready", "arid", "araddr", "arlen", "arsize", "arburst"),
    "r": ("rvalid", "rready", "rid", "rdata", "rresp", "rlast"),
}
DEFAULTS = {"awburst": 1, "arburst": 1, "awsize": 3, "arsize": 3, "wstrb": 0xFF}


class Bus:
    def __init__(self, dut):
        self.dut = dut

    def idle(self):
        for names in SIGNALS.values():
            for n in names:
                getattr(self.dut, f"bus__{n}").value = DEFAULTS.get(n, 0)

    async def cycle(self, **values):
        """Drive ``values`` (others idle) for one clock cycle."""
        self.idle()
        for n, v in values.items():
            getattr(self.dut, f"bus__{n}").value = v
        await RisingEdge(self.dut.clk)

    async def reset(self):
        self.idle()
        self.dut.rst.value = 1
        await RisingEdge(self.dut.clk)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)


async def expect(dut, code, channel):
    await RisingEdge(dut.clk)
    await ReadOnly()
    assert int(dut.error.value) == 1, f"{code.name} on {channel.name} was not caught"
    got = (Violation(int(dut.error_code.value)), Channel(int(dut.error_channel.value)))
    assert got == (code, channel), f"expected {code.name}/{channel.name}, got {got[0].name}/{got[1].name}"
    await RisingEdge(dut.clk)


async def expect_clean(dut):
    await RisingEdge(dut.clk)
    await ReadOnly()
    assert int(dut.error.value) == 0, (f"false alarm: {Violation(int(dut.error_code.value)).name} on "
                                       f"{Channel(int(dut.error_channel.value)).name}")
    await RisingEdge(dut.clk)


@cocotb.test()
async def violations(dut):
    await start(dut)
    bus = Bus(dut)
    V, C = Violation, Channel

    # Every case starts from reset and uses its own IDs (per-ID tables are not reset).
    cases = []

    def case(fn):
        cases.append(fn)
        return fn

    @case
    async def payload_changes_before_ready():
        await bus.cycle(awvalid=1, awid=1, awaddr=0x100)
        await bus.cycle(awvalid=1, awid=1, awaddr=0x108)
        await expect(dut, V.UNSTABLE, C.AW)

    @case
    async def valid_drops_before_ready():
        await bus.cycle(wvalid=1, wdata=5)
        await bus.cycle()
        await expect(dut, V.UNSTABLE, C.W)

    @case
    async def r_payload_changes():
        await bus.cycle(arvalid=1, arready=1, arid=2, araddr=0)
        await bus.cycle(rvalid=1, rid=2, rdata=1, rlast=1)
        await bus.cycle(rvalid=1, rid=2, rdata=2, rlast=1)
        await expect(dut, V.UNSTABLE, C.R)

    @case
    async def crosses_4k():
        await bus.cycle(arvalid=1, arready=1, arid=3, araddr=0x1FF8, arlen=1)
        await expect(dut, V.CROSS_4K, C.AR)

    @case
    async def size_wider_than_bus():
        await bus.cycle(awvalid=1, awready=1, awid=3, awaddr=0x0, awsize=4)
        await expect(dut, V.BAD_SIZE, C.AW)

    @case
    async def reserved_burst():
        await bus.cycle(arvalid=1, arready=1, arid=4, arburst=3)
        await expect(dut, V.BAD_BURST, C.AR)

    @case
    async def wrap_length():
        await bus.cycle(awvalid=1, awready=1, awid=4, awburst=2, awlen=2)
        await expect(dut, V.BAD_BURST, C.AW)

    @case
    async def wlast_early():
        await bus.cycle(awvalid=1, awready=1, awid=5, awaddr=0x40, awlen=1)
        await bus.cycle(wvalid=1, wready=1, wlast=1)
        await expect(dut, V.WLAST, C.W)

    @case
    async def wlast_missing():
        await bus.cycle(awvalid=1, awready=1, awid=5, awaddr=0x40, awlen=0)
        await bus.cycle(wvalid=1, wready=1, wlast=0)
        await expect(dut, V.WLAST, C.W)

    @case
    async def w_ahead_of_aw_with_wrong_length():
        await bus.cycle(wvalid=1, wready=1)
        await bus.cycle(wvalid=1, wready=1, wlast=1)
        await bus.cycle(awvalid=1, awready=1, awid=6, awlen=2)
        await expect(dut, V.WLAST, C.AW)

    @case
    async def rlast_early():
        await bus.cycle(arvalid=1, arready=1, arid=7, arlen=1)
        await bus.cycle(rvalid=1, rready=1, rid=7, rlast=1)
        await expect(dut, V.RLAST, C.R)

    @case
    async def read_data_without_request():
        await bus.cycle(rvalid=1, rready=1, rid=8, rlast=1)
        await expect(dut, V.NO_REQUEST, C.R)

    @case
    async def write_response_without_request():
        await bus.cycle(bvalid=1, bready=1, bid=9)
        await expect(dut, V.NO_REQUEST, C.B)

    @case
    async def write_response_before_data():
        await bus.cycle(awvalid=1, awready=1, awid=10, awlen=0)
        await bus.cycle(bvalid=1, bready=1, bid=10)
        await expect(dut, V.NO_REQUEST, C.B)

    @case
    async def strobe_outside_narrow_beat():
        # 4-byte beat at address 4 owns lanes 4..7 of the 64-bit bus
        await bus.cycle(awvalid=1, awready=1, awid=11, awaddr=0x4, awsize=2)
        await bus.cycle(wvalid=1, wready=1, wstrb=0x0F, wlast=1)
        await expect(dut, V.STROBE, C.W)

    @case
    async def strobe_below_unaligned_start():
        await bus.cycle(awvalid=1, awready=1, awid=12, awaddr=0x3, awlen=1)
        await bus.cycle(wvalid=1, wready=1, wstrb=0xFC)
        await expect(dut, V.STROBE, C.W)

    @case
    async def too_many_outstanding():
        for _ in range(9):
            await bus.cycle(arvalid=1, arready=1, arid=13)
        await expect(dut, V.CAPACITY, C.AR)

    @case
    async def clean_traffic():
        # unaligned narrow write with W ahead of AW, in-order read of two IDs interleaved
        await bus.cycle(wvalid=1, wready=1, wstrb=0xF8)
        await bus.cycle(awvalid=1, awready=1, awid=14, awaddr=0x0FF3, awlen=1, wvalid=1,
                        wready=0, wstrb=0xFF, wlast=1)
        await bus.cycle(wvalid=1, wready=1, wstrb=0xFF, wlast=1)
        await bus.cycle(bvalid=1, bready=1, bid=14)
        await bus.cycle(arvalid=1, arready=1, arid=14, arlen=1, araddr=0x10)
        await bus.cycle(arvalid=1, arready=1, arid=15, arlen=0, araddr=0x20)
        await bus.cycle(rvalid=1, rready=1, rid=14)
        await bus.cycle(rvalid=1, rready=1, rid=15, rlast=1)
        await bus.cycle(rvalid=1, rready=0, rid=14, rlast=1)
        await bus.cycle(rvalid=1, rready=1, rid=14, rlast=1)
        await bus.cycle(arvalid=1, arready=1, arid=14, arlen=3, arburst=2, araddr=0x18)
        await bus.cycle(awvalid=1, awready=1, awid=14, awlen=0, awsize=0, awaddr=0xFFF)
        await bus.cycle(wvalid=1, wready=1, wstrb=0x80, wlast=1)
        await expect_clean(dut)

    for fn in cases:
        await bus.reset()
        dut._log.info("case %s", fn.__name__)
        await fn()
