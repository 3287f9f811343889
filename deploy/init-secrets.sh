#!/usr/bin/env bash
# Creates the secret files docker-compose.yml mounts, once: existing files are kept (rotating the encryption key is
# adding a new key in front, see README). git ignores deploy/secrets/.
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
create codec-token "$(random 32)"
create elastic-password "$(random 18)"

# The worker reads the secrets requests name (EC_API_KEY, ECH_ES_CREDENTIALS, ...) from deploy/secrets/worker/<NAME>.
echo "Put the secrets your requests name in deploy/secrets/worker/<NAME> (one value per file), e.g.:"
echo "  printf '%s' \"\$EC_API_KEY\" > deploy/secrets/worker/EC_API_KEY"
