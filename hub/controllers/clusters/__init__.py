"""The cluster registry: one ``Cluster`` object per configured cluster."""
