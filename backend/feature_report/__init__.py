"""The feature report: which trained feature model separates a dataset's current labels best."""
