"""Board tops: clock generation, reset, UART pins and LEDs around the :class:`~sgdma.rtl.soc.SoC`.

The SoC is the same one ``sgdma sim`` runs; a board adds a PLL to the target frequency, a
reset held until the PLL locks, the FTDI UART (3 Mbaud by default) and LEDs: activity (busy,
stretched so it is visible), any channel's interrupt, and a heartbeat.
"""

from amaranth.hdl import ClockDomain, ClockSignal, Elaboratable, Instance, Module, Mux, Signal
from amaranth.lib.cdc import ResetSynchronizer

from ..rtl.soc import SoC
from ..rtl.uart import divisor

__all__ = ["BoardTop", "ecp5_pll", "ice40_pll"]


def ecp5_pll(fin_mhz, fout_mhz):
    """EHXPLLL dividers ``(clki_div, clkfb_div, clkop_div, achieved MHz)`` closest to ``fout``."""
    best = None
    for clki in range(1, 129):
        pfd = fin_mhz / clki
        if not 3.125 <= pfd <= 400:
            continue
        for fb in range(1, 81):
            f = pfd * fb
            for op in range(1, 129):
                vco = f * op
                if 400 <= vco <= 800:
                    err = abs(f - fout_mhz)
                    if best is None or err < best[0]:
                        best = (err, clki, fb, op, f)
                    break
    if best is None or best[0] > 0.02 * fout_mhz:
        raise ValueError(f"no ECP5 PLL setting makes {fout_mhz} MHz from {fin_mhz} MHz")
    return best[1:]


def ice40_pll(fin_mhz, fout_mhz):
    """SB_PLL40 ``(divr, divf, divq, filter_range, achieved MHz)`` closest to ``fout``."""
    best = None
    for divr in range(16):
        pfd = fin_mhz / (divr + 1)
        if not 10 <= pfd <= 133:
            continue
        for divf in range(128):
            vco = pfd * (divf + 1)
            if not 533 <= vco <= 1066:
                continue
            for divq in range(1, 7):
                f = vco / (1 << divq)
                err = abs(f - fout_mhz)
                if best is None or err < best[0]:
                    best = (err, divr, divf, divq, f)
    if best is None or best[0] > 0.02 * fout_mhz:
        raise ValueError(f"no iCE40 PLL setting makes {fout_mhz} MHz from {fin_mhz} MHz")
    pfd = fin_mhz / (best[1] + 1)
    filt = next(k for k, hi in enumerate((17, 26, 44, 66, 101, 133)) if pfd < hi) + 1
    return best[1], best[2], best[3], filt, best[4]


class BoardTop(Elaboratable):
    """``family`` ``"ecp5"`` or ``"ice40"``; ``clock`` the board's oscillator resource."""

    def __init__(self, *, family, clock, clock_mhz, target_mhz, baud=3_000_000, soc=None):
        self.family, self.clock, self.clock_mhz, self.target_mhz = family, clock, clock_mhz, target_mhz
        self.baud = baud
        self.soc_params = dict(soc or {})
        self.divisor = divisor(target_mhz * 1e6, baud)

    def _pll(self, m, clk_in, clk_out, lock):
        if self.family == "ecp5":
            clki, fb, op, _ = ecp5_pll(self.clock_mhz, self.target_mhz)
            m.submodules.pll = Instance(
                "EHXPLLL", a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1",
                a_MFG_GMCREF_SEL="2",
                p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
                p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_OUTDIVIDER_MUXB="DIVB",
                p_OUTDIVIDER_MUXC="DIVC", p_OUTDIVIDER_MUXD="DIVD", p_CLKI_DIV=clki, p_CLKFB_DIV=fb,
                p_CLKOP_ENABLE="ENABLED", p_CLKOP_DIV=op, p_CLKOP_CPHASE=op - 1, p_CLKOP_FPHASE=0,
                p_FEEDBK_PATH="CLKOP",
                i_CLKI=clk_in, i_CLKFB=clk_out, i_RST=0, i_STDBY=0, i_PHASESEL0=0, i_PHASESEL1=0,
                i_PHASEDIR=0, i_PHASESTEP=0, i_PHASELOADREG=0, i_PLLWAKESYNC=0, i_ENCLKOP=0,
                o_CLKOP=clk_out, o_LOCK=lock)
        else:
            divr, divf, divq, filt, _ = ice40_pll(self.clock_mhz, self.target_mhz)
            m.submodules.pll = Instance(
                "SB_PLL40_PAD", p_FEEDBACK_PATH="SIMPLE", p_DIVR=divr, p_DIVF=divf, p_DIVQ=divq,
                p_FILTER_RANGE=filt, i_PACKAGEPIN=clk_in.io, i_RESETB=1, i_BYPASS=0,
                o_PLLOUTGLOBAL=clk_out, o_LOCK=lock)

    def elaborate(self, platform):
        m = Module()
        # the iCE40's PLL sits on the clock pin itself (SB_PLL40_PAD); the ECP5's takes a net
        clk_in = platform.request(self.clock, 0, dir="-") if self.family == "ice40" else \
            platform.request(self.clock, 0).i
        m.domains.sync = ClockDomain("sync")
        lock, clk = Signal(), Signal()
        self._pll(m, clk_in, clk, lock)
        m.d.comb += ClockSignal("sync").eq(clk)
        m.submodules.reset = ResetSynchronizer(~lock, domain="sync")
        platform.add_clock_constraint(clk, self.target_mhz * 1e6)

        m.submodules.soc = soc = SoC(uart_divisor=self.divisor, **self.soc_params)
        uart = platform.request("uart", 0)
        m.d.comb += [soc.uart_rx.eq(uart.rx.i), uart.tx.o.eq(soc.uart_tx)]

        leds = []
        try:
            for k in range(3):
                leds.append(platform.request("led", k).o)
        except Exception:       # boards with fewer LEDs
            pass
        hz = int(self.target_mhz * 1e6)
        stretch = Signal(range(hz // 20 + 1))           # activity stays lit for 50 ms
        beat = Signal(range(hz // 2 + 1))
        heart = Signal()
        # (busy gathers every channel's state: registered before it loads the counter)
        busy = Signal()
        m.d.sync += busy.eq(soc.busy)
        with m.If(busy):
            m.d.sync += stretch.eq(hz // 20)
        with m.Elif(stretch != 0):
            m.d.sync += stretch.eq(stretch - 1)
        m.d.sync += beat.eq(Mux(beat == hz // 2, 0, beat + 1))
        with m.If(beat == 0):
            m.d.sync += heart.eq(~heart)
        for led, value in zip(leds, [stretch != 0, soc.irq.any(), heart]):
            m.d.comb += led.eq(value)
        return m
