"""sgdma"""
