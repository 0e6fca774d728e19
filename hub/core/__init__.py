"""Pure domain code: no event loop, no I/O, no clients (docs/architecture.md)."""
