"""Datasets: named sets of items drawn from folder or Tiled sources."""
