#!/usr/bin/env bash
# Build the sandbox's cert-manager controller and write the CRDs it and the seed scenarios
# need, once:
#   <cache>/bin/cert-manager-<version>/cert-manager-controller  (tools/cert-manager)
#   <cache>/crds/cert-manager-<version>.yaml    cert-manager's CRDs, Helm fragments rendered
#   <cache>/crds/helmreleases-<version>.yaml    Flux's HelmRelease CRD (tools/flux-crds)
# Versions are pinned by tools/*/go.mod. Quiet unless something fails.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
name=build-cert-manager
# shellcheck source=scripts/build-lib.sh
source "$root/scripts/build-lib.sh"
cache="${SYNCHUB_CACHE_DIR:-$root/.cache}"
cm_version=$(pinned "$root/tools/cert-manager/go.mod" github.com/cert-manager/cert-manager)
hc_version=$(pinned "$root/tools/flux-crds/go.mod" github.com/fluxcd/helm-controller/api)
bin="$cache/bin/cert-manager-${cm_version}"
crds="$cache/crds"
mkdir -p "$bin" "$crds"

if [ ! -x "$bin/cert-manager-controller" ]; then
  start=$SECONDS
  (cd "$root/tools/cert-manager" && quiet env CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" \
    -o "$bin/cert-manager-controller.tmp" .)
  mv "$bin/cert-manager-controller.tmp" "$bin/cert-manager-controller"
  echo "build-cert-manager: built cert-manager-controller $cm_version in $((SECONDS - start))s"
fi

cm_crds="$crds/cert-manager-${cm_version}.yaml"
if [ ! -s "$cm_crds" ]; then
  src=$(cd "$root/tools/cert-manager" && go list -m -f '{{.Dir}}' github.com/cert-manager/cert-manager)
  [ -n "$src" ] || (cd "$root/tools/cert-manager" && quiet go mod download github.com/cert-manager/cert-manager)
  src=$(cd "$root/tools/cert-manager" && go list -m -f '{{.Dir}}' github.com/cert-manager/cert-manager)
  # The chart's templates are rendered the way `helm template --set crds.enabled=true` would:
  # template-only comment lines go, label values get the chart's name and release.
  for f in "$src"/deploy/crds/crd-*.yaml; do
    echo "---"
    sed -e '/^ *# .*{{.*}}/d' \
      -e "s/'{{ template \"cert-manager.name\" . }}'/cert-manager/g" \
      -e "s/'{{ .Release.Name }}'/cert-manager/g" \
      -e '/^ *annotations:$/{N;/helm.sh\/resource-policy/d}' "$f"
  done >"$cm_crds.tmp"
  if grep -n '{{' "$cm_crds.tmp" >&2; then
    echo "build-cert-manager: unrendered template fragments left in cert-manager CRDs" >&2
    exit 1
  fi
  mv "$cm_crds.tmp" "$cm_crds"
fi

hr_crds="$crds/helmreleases-${hc_version}.yaml"
if [ ! -s "$hr_crds" ]; then
  gen=$(mktemp -d)
  (cd "$root/tools/flux-crds" && quiet go run sigs.k8s.io/controller-tools/cmd/controller-gen \
    crd:crdVersions=v1 paths=github.com/fluxcd/helm-controller/api/... output:crd:dir="$gen")
  cat "$gen"/helm.toolkit.fluxcd.io_helmreleases.yaml >"$hr_crds.tmp"
  rm -rf "$gen"
  mv "$hr_crds.tmp" "$hr_crds"
fi
