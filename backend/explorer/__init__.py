"""Latent Space Explorer: projections and clusterings of a model's feature vectors, per item."""
