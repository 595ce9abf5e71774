"""Bus signatures: AXI4, AXI4-Lite (flat, AMBA names) and byte streams.

Members use the AMBA signal names (``awaddr``, ``wlast``, ...) without a separator so that
Amaranth's Verilog ports read ``<port>__awaddr`` and cocotbext-axi binds them with
``AxiBus.from_prefix(dut, "<port>", bus_separator="__")``.  ``Out`` members are driven by the
manager (master), ``In`` members by the subordinate (slave).
"""

import enum

from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Resp", "Burst", "AXI4Signature", "AXI4LiteSignature", "CHANNELS",
           "channel_payload", "channel_valid", "channel_ready", "resp_max"]


class Resp(enum.IntEnum):
    OKAY = 0
    EXOKAY = 1
    SLVERR = 2
    DECERR = 3


class Burst(enum.IntEnum):
    FIXED = 0
    INCR = 1
    WRAP = 2


#: AXI channel name -> True when the manager drives valid (AW, W, AR).
CHANNELS = {"aw": True, "w": True, "b": False, "ar": True, "r": False}


def resp_max(a, b):
    """The worse of two AXI responses (DECERR > SLVERR > OKAY), as an Amaranth expression."""
    from amaranth.hdl import Mux
    return Mux(a > b, a, b)


class AXI4Signature(wiring.Signature):
    """AXI4 manager port: INCR/FIXED/WRAP bursts of up to 256 beats, byte strobes, IDs.

    Parameters
    ----------
    addr_width : int
        Byte address width (1..64).
    data_width : int
        Data width in bits: 8, 16, ..., 1024.
    id_width : int
        Transaction ID width (>= 1).
    user_width : int
        Width of ``awuser``/``aruser`` (0: absent).  sgdma carries the requester's device ID
        here so an IOMMU can sit between a master and the interconnect.
    """

    def __init__(self, *, addr_width, data_width, id_width=1, user_width=0):
        if not isinstance(addr_width, int) or not 1 <= addr_width <= 64:
            raise ValueError(f"addr_width must be an integer in 1..64, not {addr_width!r}")
        if data_width not in (8, 16, 32, 64, 128, 256, 512, 1024):
            raise ValueError(f"data_width must be a power of two in 8..1024, not {data_width!r}")
        if not isinstance(id_width, int) or not 1 <= id_width <= 32:
            raise ValueError(f"id_width must be an integer in 1..32, not {id_width!r}")
        if not isinstance(user_width, int) or not 0 <= user_width <= 64:
            raise ValueError(f"user_width must be an integer in 0..64, not {user_width!r}")
        self.addr_width = addr_width
        self.data_width = data_width
        self.id_width = id_width
        self.user_width = user_width
        members = {}
        for ch in ("aw", "ar"):
            members[f"{ch}valid"] = Out(1)
            members[f"{ch}ready"] = In(1)
            members[f"{ch}id"] = Out(id_width)
            members[f"{ch}addr"] = Out(addr_width)
            members[f"{ch}len"] = Out(8)
            members[f"{ch}size"] = Out(3)
            members[f"{ch}burst"] = Out(2, init=Burst.INCR)
            if user_width:
                members[f"{ch}user"] = Out(user_width)
            if ch == "aw":
                members.update({
                    "wvalid": Out(1), "wready": In(1), "wdata": Out(data_width),
                    "wstrb": Out(data_width // 8), "wlast": Out(1),
                    "bvalid": In(1), "bready": Out(1), "bid": In(id_width), "bresp": In(2),
                })
        members.update({
            "rvalid": In(1), "rready": Out(1), "rid": In(id_width), "rdata": In(data_width),
            "rresp": In(2), "rlast": In(1),
        })
        super().__init__(members)

    @property
    def data_bytes(self):
        return self.data_width // 8

    def __eq__(self, other):
        return (type(other) is type(self) and self.addr_width == other.addr_width and
                self.data_width == other.data_width and self.id_width == other.id_width and
                self.user_width == other.user_width)

    def __hash__(self):
        return hash((type(self), self.addr_width, self.data_width, self.id_width, self.user_width))

    def __repr__(self):
        return (f"AXI4Signature(addr_width={self.addr_width}, data_width={self.data_width}, "
                f"id_width={self.id_width}, user_width={self.user_width})")


class AXI4LiteSignature(wiring.Signature):
    """AXI4-Lite manager port (32- or 64-bit data)."""

    def __init__(self, *, addr_width, data_width=32):
        if not isinstance(addr_width, int) or not 1 <= addr_width <= 64:
            raise ValueError(f"addr_width must be an integer in 1..64, not {addr_width!r}")
        if data_width not in (32, 64):
            raise ValueError(f"data_width must be 32 or 64, not {data_width!r}")
        self.addr_width = addr_width
        self.data_width = data_width
        super().__init__({
            "awvalid": Out(1), "awready": In(1), "awaddr": Out(addr_width), "awprot": Out(3),
            "wvalid": Out(1), "wready": In(1), "wdata": Out(data_width),
            "wstrb": Out(data_width // 8),
            "bvalid": In(1), "bready": Out(1), "bresp": In(2),
            "arvalid": Out(1), "arready": In(1), "araddr": Out(addr_width), "arprot": Out(3),
            "rvalid": In(1), "rready": Out(1), "rdata": In(data_width), "rresp": In(2),
        })

    def __eq__(self, other):
        return (type(other) is type(self) and self.addr_width == other.addr_width and
                self.data_width == other.data_width)

    def __hash__(self):
        return hash((type(self), self.addr_width, self.data_width))

    def __repr__(self):
        return f"AXI4LiteSignature(addr_width={self.addr_width}, data_width={self.data_width})"


def channel_valid(bus, ch):
    return getattr(bus, f"{ch}valid")


def channel_ready(bus, ch):
    return getattr(bus, f"{ch}ready")


def channel_payload(bus, ch):
    """``{member name: signal}`` of one channel's payload (everything but valid/ready)."""
    out = {}
    for name in bus.signature.members:
        if name.startswith(ch) and name not in (f"{ch}valid", f"{ch}ready"):
            # "aw"/"ar" prefixes never collide with "w"/"r" payload names (wdata, rdata, ...)
            if ch in ("w", "r") and name[:2] in ("aw", "ar"):
                continue
            out[name] = getattr(bus, name)
    return out
