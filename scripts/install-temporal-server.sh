#!/usr/bin/env bash
# Builds the Temporal server (what docker-compose.yml runs as temporalio/auto-setup) and its SQL schema tool from the
# Go module go.temporal.io/server, into a cache outside the repository, with `go install` only (the Go module proxy;
# no other download). v1.29.1's go.mod has no replace directive, so `go install pkg@version` works. Builds at the
# lowest CPU priority (a large build, minutes). Idempotent: an existing build is reused.
# Prints, on its last line, the directory holding `temporal-server`, `temporal-sql-tool` and, from the module,
# `schema/postgresql` (the schema files) and `config/` (the env-driven server config the images use: docker.yaml).
set -euo pipefail
VERSION="${TEMPORAL_SERVER_VERSION:-v1.29.1}"
CACHE="${ECH_REMOTE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ech-remote-clusters}"
DIR="$CACHE/temporal-server/$VERSION"

complete() {
  [ -x "$DIR/temporal-server" ] && [ -x "$DIR/temporal-sql-tool" ] && [ -d "$DIR/schema/postgresql/v12" ] &&
    [ -f "$DIR/config/docker.yaml" ]
}
if complete; then
  echo "$DIR"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "Cannot build the Temporal server: go is not installed (go.temporal.io/server $VERSION needs Go >= 1.25)." >&2
  exit 1
fi
mkdir -p "$DIR"

if [ ! -x "$DIR/temporal-server" ] || [ ! -x "$DIR/temporal-sql-tool" ]; then
  BUILD="$(mktemp -d "$CACHE/temporal-server/build.XXXXXX")"
  trap 'rm -rf "$BUILD"' EXIT
  echo "Building the Temporal server $VERSION and its SQL tool with go install into $DIR (several minutes, once)" >&2
  started=$(date +%s)
  # CGO off: the postgres12 plugin is pure Go; a static binary needs no C toolchain.
  CGO_ENABLED=0 GOBIN="$BUILD" nice -n 19 go install \
    "go.temporal.io/server/cmd/server@$VERSION" \
    "go.temporal.io/server/cmd/tools/sql@$VERSION" >&2
  mv "$BUILD/server" "$DIR/temporal-server"
  mv "$BUILD/sql" "$DIR/temporal-sql-tool"
  echo "Built in $(($(date +%s) - started))s" >&2
fi

# The schema files and the server config ship in the module: copied next to the binaries, so the cache does not
# depend on the module cache being kept.
MODDIR="$(go mod download -json "go.temporal.io/server@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
if [ -z "$MODDIR" ] || [ ! -d "$MODDIR/schema/postgresql/v12" ] || [ ! -f "$MODDIR/config/docker.yaml" ]; then
  echo "Cannot find the schema files and config of go.temporal.io/server@$VERSION in the module cache" >&2
  exit 1
fi
rm -rf "$DIR/schema" "$DIR/config"
mkdir -p "$DIR/schema" "$DIR/config/dynamicconfig"
cp -R "$MODDIR/schema/postgresql" "$DIR/schema/"
cp "$MODDIR/config/docker.yaml" "$DIR/config/"
cp "$MODDIR/config/dynamicconfig/docker.yaml" "$DIR/config/dynamicconfig/"
chmod -R u+w "$DIR/schema" "$DIR/config"
complete
echo "$DIR"
