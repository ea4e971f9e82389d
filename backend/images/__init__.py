"""Decoding items to float32 arrays, display transforms and cached thumbnails."""
