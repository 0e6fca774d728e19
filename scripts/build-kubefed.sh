#!/usr/bin/env bash
# Build KubeFed's controller-manager and copy its CRDs, once, for bench/kubefed.py
# (make kubefed; not part of make control-plane, CI never builds it):
#   <cache>/bin/kubefed-<version>/controller-manager   (tools/kubefed)
#   <cache>/crds/kubefed-<version>.yaml                the Helm chart's CRDs, as shipped
# The version is pinned by tools/kubefed/go.mod. Quiet unless something fails.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
name=build-kubefed
# shellcheck source=scripts/build-lib.sh
source "$root/scripts/build-lib.sh"
cache="${SYNCHUB_CACHE_DIR:-$root/.cache}"
module=sigs.k8s.io/kubefed
version=$(pinned "$root/tools/kubefed/go.mod" "$module")
bin="$cache/bin/kubefed-${version}"
crds="$cache/crds"
mkdir -p "$bin" "$crds"

if [ ! -x "$bin/controller-manager" ]; then
  start=$SECONDS
  # The version stamp is what upstream's Makefile sets (it logs it at start).
  (cd "$root/tools/kubefed" && quiet env CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X $module/pkg/version.version=$version -X $module/pkg/version.gitTreeState=clean" \
    -o "$bin/controller-manager.tmp" "$module/cmd/controller-manager")
  mv "$bin/controller-manager.tmp" "$bin/controller-manager"
  echo "build-kubefed: built controller-manager $version in $((SECONDS - start))s"
fi

out="$crds/kubefed-${version}.yaml"
if [ ! -s "$out" ]; then
  src=$(cd "$root/tools/kubefed" && go list -m -f '{{.Dir}}' "$module")
  [ -n "$src" ] || (cd "$root/tools/kubefed" && quiet go mod download "$module")
  src=$(cd "$root/tools/kubefed" && go list -m -f '{{.Dir}}' "$module")
  cp "$src/charts/kubefed/charts/controllermanager/crds/crds.yaml" "$out.tmp"
  chmod u+w "$out.tmp"
  mv "$out.tmp" "$out"
fi
echo "$bin/controller-manager"
