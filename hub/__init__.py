"""SyncHub: a multi-cluster sync hub for Kubernetes."""

__version__ = "0.1.0"
