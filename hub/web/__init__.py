"""The HTTP endpoints (docs/metrics.md); reads snapshots, never controllers."""
