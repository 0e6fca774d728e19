"""ObjectSync: one source object fanned out to many namespaces (docs/objectsync.md)."""
