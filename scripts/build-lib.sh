# Shared by the build-*.sh scripts (sourced, not run): the pinned version of a module and a
# quiet runner. The sourcing script sets `name` (for its messages) before sourcing.

# pinned GO_MOD MODULE: the version GO_MOD requires of MODULE.
pinned() { awk -v m="$2" '($1 == "require" && $2 == m) || $1 == m {print ($1 == m ? $2 : $3); exit}' "$1"; }

log=$(mktemp)
trap 'rm -f "$log"' EXIT
quiet() {  # run quietly; on failure show the output and stop
  if ! "$@" >"$log" 2>&1; then
    echo "$name: failed: $*" >&2
    cat "$log" >&2
    exit 1
  fi
}
