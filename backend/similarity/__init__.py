"""Similarity search over a model's feature vectors: an hnswlib cosine index per (model, dataset)."""
