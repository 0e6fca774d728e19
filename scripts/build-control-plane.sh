#!/usr/bin/env bash
# Build the sandbox's control plane (kube-apiserver and etcd) from Go modules into
# .cache/bin/<kubernetes-version>/, once. Versions are pinned by tools/*/go.mod.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
kube_version=$(awk '$1 == "require" && $2 == "k8s.io/kubernetes" {print $3}' "$root/tools/kube-apiserver/go.mod")
out="${SYNCHUB_CACHE_DIR:-$root/.cache}/bin/${kube_version#v}"
mkdir -p "$out"

minor=$(echo "$kube_version" | cut -d. -f2)
build() {  # build NAME MODULE_DIR PACKAGE [LDFLAGS]
  local name=$1 dir=$2 pkg=$3 ldflags=${4:-}
  if [ -x "$out/$name" ]; then
    echo "control-plane: $name present in $out"
    return
  fi
  echo "control-plane: building $name ($pkg) ..."
  local start=$SECONDS
  (cd "$dir" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w $ldflags" -o "$out/$name.tmp" "$pkg")
  mv "$out/$name.tmp" "$out/$name"
  echo "control-plane: built $name in $((SECONDS - start))s"
}

# The version stamp makes /version report the real release instead of v0.0.0.
v=k8s.io/component-base/version
build kube-apiserver "$root/tools/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver \
  "-X $v.gitVersion=$kube_version -X $v.gitMajor=1 -X $v.gitMinor=$minor -X $v.gitTreeState=clean"
build etcd "$root/tools/etcd" go.etcd.io/etcd/server/v3
echo "$out"
