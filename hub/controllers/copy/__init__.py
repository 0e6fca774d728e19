"""Copy annotations (docs/annotations.md)."""
