"""API groups of the two federation generations SyncHub reads (DESIGN.md §5)."""

KUBEFED_TYPES = "types.kubefed.io"
LEGACY_TYPES = "types.federation.k8s.io"
TYPE_GROUPS = (KUBEFED_TYPES, LEGACY_TYPES)

KUBEFED_CORE = "core.kubefed.io"
LEGACY_CORE = "core.federation.k8s.io"
#: A master serving one of these runs a federation controller (KubeFed): mode auto → federation.
CONTROL_GROUPS = (KUBEFED_CORE, LEGACY_CORE)
