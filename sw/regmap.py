"""Named register access for the driver, generated from a :class:`RegisterMap`.

    regs = RegisterFile(SGDMA, transport)
    regs.system.scratch.write(value=0x1234)
    regs.system.config.fields()["channels"]
    regs.chan[2].tail.write(tail=5)          # arrays of blocks index like lists

The transport needs ``read32(addr) -> int`` and ``write32(addr, value)``.  No address or bit
position is typed anywhere but in the declaration.
"""

from .regdef import RegisterMap

__all__ = ["RegisterFile"]


class RegisterView:
    def __init__(self, transport, address, register):
        self._t = transport
        self.address = address
        self.register = register

    def read(self):
        """The whole register (64-bit ones read low word first, which latches the high word)."""
        lo = self._t.read32(self.address)
        if self.register.width == 32:
            return lo
        return lo | self._t.read32(self.address + 4) << 32

    def write(self, value=None, **fields):
        """Write a whole value, or named fields (the others take their reset values)."""
        if value is not None and fields:
            raise TypeError("give either a value or fields, not both")
        if value is None:
            value = self.register.pack(**fields)
        if not 0 <= value < (1 << self.register.width):
            raise ValueError(f"{self.register.name}: {value!r} does not fit in {self.register.width} bits")
        self._t.write32(self.address, value & 0xFFFFFFFF)
        if self.register.width == 64:
            self._t.write32(self.address + 4, value >> 32)

    def modify(self, **fields):
        """Read, change the named fields, write back."""
        current = self.register.unpack(self.read())
        current.update(fields)
        self.write(**{k: int(v) for k, v in current.items()})

    def fields(self):
        return self.register.unpack(self.read())

    def __getattr__(self, name):
        try:
            f = self.register.field(name)
        except KeyError:
            raise AttributeError(f"register {self.register.name} has no field {name!r}") from None
        return self.register.unpack(self.read())[f.name]

    def __repr__(self):
        return f"<register {self.register.name} @ {self.address:#x}>"


class BlockView:
    def __init__(self, transport, base, block):
        self._t = transport
        self.base = base
        self.block = block

    def __getattr__(self, name):
        try:
            reg = self.block.register(name)
        except KeyError:
            raise AttributeError(f"block {self.block.name} has no register {name!r}") from None
        return RegisterView(self._t, self.base + reg.offset, reg)


class RegisterFile:
    def __init__(self, regmap, transport):
        if not isinstance(regmap, RegisterMap):
            raise TypeError(f"regmap must be a RegisterMap, not {regmap!r}")
        self.regmap = regmap
        self._t = transport

    def __getattr__(self, name):
        try:
            p = self.regmap.placement(name)
        except KeyError:
            raise AttributeError(f"{self.regmap.name} has no block {name!r}") from None
        if p.count is None:
            return BlockView(self._t, p.base, p.block)
        return [BlockView(self._t, p.base_of(i), p.block) for i in range(p.count)]
