"""Trained models (ML models, not the database's table classes, which live in ``backend.storage``):
finding them, their files and the inference runs whose vectors other concepts read."""
