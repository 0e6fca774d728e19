"""GitSync: manifests pulled from git, applied to the selected clusters (docs/gitsync.md)."""
