"""The SoC's address map as the host sees it through the bridge, declared once.

The DMA engine sees the same memory addresses (its bus reaches only the memory; every other
address answers DECERR -- which is how the demo injects a bus error).
"""

__all__ = ["MEMORY_BASE", "REGISTERS_BASE", "REGISTERS_SIZE", "IOMMU_BASE", "HOST_DEVICE_ID"]

MEMORY_BASE = 0x0000_0000     #: device memory, ``mem_size`` bytes
REGISTERS_BASE = 0x4000_0000  #: DMA engine registers (``docs/registers.md``)
REGISTERS_SIZE = 0x1_0000
IOMMU_BASE = 0x4001_0000      #: reserved for the IOMMU's registers
HOST_DEVICE_ID = 0xFF         #: AxUSER of the bridge's memory accesses
