"""AXI4 building blocks: memory, interconnect, protocol checker, stall injector."""
