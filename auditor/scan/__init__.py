"""Scanning: which windows of a video the detector flags, and the alert logs that name them."""
