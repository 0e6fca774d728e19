//go:build tools

// Package tools pins KubeFed's controller-manager command so `go mod tidy` keeps its dependencies.
package tools

import _ "sigs.k8s.io/kubefed/cmd/controller-manager"
