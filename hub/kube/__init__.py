"""Talking to one Kubernetes API server; knows nothing of ``clusters.yaml``."""
