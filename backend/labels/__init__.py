"""Label classes and tag events: the append-only labeling record and the labels it adds up to."""
