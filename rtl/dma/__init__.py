"""The DMA engine (issue: descriptor rings, scatter-gather, N-D, any alignment)."""
