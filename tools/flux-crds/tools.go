//go:build tools

// Package tools pins controller-gen and the HelmRelease API it generates the CRD from
// (make control-plane writes helm.toolkit.fluxcd.io_helmreleases into .cache/crds/).
package tools

import (
	_ "github.com/fluxcd/helm-controller/api/v2"
	_ "sigs.k8s.io/controller-tools/cmd/controller-gen"
)
