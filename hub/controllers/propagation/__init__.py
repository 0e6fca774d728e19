"""Direct propagation of Federated objects (docs/federated.md)."""
