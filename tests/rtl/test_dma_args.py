"""DMA engine constructors reject bad arguments with a clear message (no simulation)."""

import pytest

from sgdma.rtl.dma.bytes import ByteQueue
from sgdma.rtl.dma.channel import Channel
from sgdma.rtl.dma.engine import Engine
from sgdma.rtl.dma.fetch import RecordFetcher
from sgdma.rtl.dma.lite import LiteEngine
from sgdma.rtl.dma.common import Queue
from sgdma.rtl.dma.mover import Mover
from sgdma.rtl.dma.scan import ListScanner


@pytest.mark.parametrize("kw,message", [
    (dict(channels=0), "channels"), (dict(channels=17), "channels"),
    (dict(data_width=48), "data_width"), (dict(addr_width=8), "addr_width"),
    (dict(user_width=1, channels=4), "user_width"),
    (dict(buffer_beats=100), "buffer_beats"), (dict(max_beats=16, buffer_beats=8), "buffer_beats"),
    (dict(max_reads=0), "max_reads"), (dict(max_writes=1000), "max_writes"),
    (dict(max_beats=3), "max_beats"),
])
def test_engine_arguments(kw, message):
    with pytest.raises(ValueError, match=message):
        Engine(**kw)


@pytest.mark.parametrize("kw,message", [
    (dict(addr_width=40), "addr_width"), (dict(addr_width=8), "addr_width"),
    (dict(data_width=64), "32 bits"), (dict(user_width=-1), "user_width"),
])
def test_lite_engine_arguments(kw, message):
    with pytest.raises(ValueError, match=message):
        LiteEngine(**kw)


def test_lite_soc_arguments():
    from sgdma.rtl.soc import SoC
    with pytest.raises(ValueError, match="one channel and a 32-bit"):
        SoC(lite=True, channels=2, data_width=32)
    with pytest.raises(ValueError, match="one channel and a 32-bit"):
        SoC(lite=True, channels=1, data_width=64)


@pytest.mark.parametrize("kw", [dict(addr_width=15), dict(addr_width=33), dict(addr_width="24"),
                                dict(addr_width=20, mem_size=2 << 20)])
def test_soc_address_width(kw):
    """The engine's bus must reach the whole memory (and no more than 32 bits: the host's)."""
    from sgdma.rtl.soc import SoC
    with pytest.raises(ValueError, match="addr_width"):
        SoC(**kw)
    assert SoC(addr_width=20, mem_size=1 << 20)._engine.bus.signature.addr_width == 20


def test_part_arguments():
    with pytest.raises(ValueError, match="max_beats"):
        Mover(max_beats=3)
    with pytest.raises(ValueError, match="device_id"):
        Channel(device_id=300, user_width=8)
    with pytest.raises(ValueError, match="record_bytes"):
        RecordFetcher(record_bytes=24)
    with pytest.raises(ValueError, match="count_width"):
        RecordFetcher(record_bytes=64, count_width=0)
    with pytest.raises(ValueError, match="data_width"):
        ByteQueue(data_width=48, pack=True)
    with pytest.raises(ValueError, match="channels"):
        ListScanner(channels=0)
    with pytest.raises(ValueError, match="half_rate"):
        Queue(8, 4, half_rate=True)


def test_register_map_follows_channels():
    e = Engine(channels=2)
    assert e.regmap.placement("channel").count == 2
