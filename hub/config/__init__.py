"""Typed settings from ``clusters.yaml`` (docs/configuration.md)."""
