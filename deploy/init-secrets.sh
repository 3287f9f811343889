#!/usr/bin/env bash
# Creates the secret files docker-compose.yml mounts, once: existing files are kept (rotating the encryption key is
# adding a new key in front, see docs/secrets.md). git ignores deploy/secrets/.
set -euo pipefail
dir="$(cd "$(dirname "$0")" && pwd)/secrets"
mkdir -p "$dir/worker"
# On the host only the owner may enter the folder; inside the containers (other uids) the mounted files must be
# readable, and a bind mount does not need the host folder's permissions.
chmod 700 "$dir"
chmod 755 "$dir/worker"
umask 022

random() { head -c "$1" /dev/urandom | base64 | tr -d '\n'; }
create() { # name, content
  if [ -s "$dir/$1" ]; then echo "kept    deploy/secrets/$1"; else printf '%s' "$2" >"$dir/$1" && echo "created deploy/secrets/$1"; fi
}

create temporal-db-password "$(random 24)"
# ECH_REMOTE_ENCRYPTION_KEYS format: keyId=base64(32 bytes); the first key encrypts, every listed key decrypts.
create encryption-keys "k$(date -u +%Y%m%d)=$(random 32)"
# Hex: the token is also a path segment of the UI's codec endpoint.
create codec-token "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
# docker compose reads .env for interpolation: the UI's codec endpoint carries the same token (git ignores .env).
env_file="$(dirname "$dir")/../.env"
if ! grep -qs '^ECH_REMOTE_CODEC_TOKEN=' "$env_file"; then
  (umask 077 && printf 'ECH_REMOTE_CODEC_TOKEN=%s\n' "$(cat "$dir/codec-token")" >>"$env_file")
  echo "wrote   ECH_REMOTE_CODEC_TOKEN to .env"
fi
create elastic-password "$(random 18)"

# The worker reads the secrets requests name (EC_API_KEY, ECH_ES_CREDENTIALS, ...) from deploy/secrets/worker/<NAME>.
echo "Put the secrets your requests name in deploy/secrets/worker/<NAME> (one value per file), e.g.:"
echo "  printf '%s' \"\$EC_API_KEY\" > deploy/secrets/worker/EC_API_KEY"
