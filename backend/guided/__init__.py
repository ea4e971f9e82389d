"""AI-guided labeling: batches chosen by similarity or by classifier probability, recorded as events."""
