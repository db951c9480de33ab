"""Everything between a dataset on disk and a ``(B, 3, T, H, W)`` batch."""
