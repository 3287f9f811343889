#!/usr/bin/env bash
# One-shot setup of the self-managed cluster's TLS (compose profile `self-managed`, service es-setup): a private CA and
# PEM certificates for the transport layer, the HTTP layer and the remote cluster server (port 9443, API-key model),
# made with elasticsearch-certutil into the es-certs volume. Runs at every start; makes the leaf certificates again
# (same CA) only when ES_PUBLIC_HOST / ES_PUBLIC_IP changed.
set -euo pipefail
cd /usr/share/elasticsearch
certs=config/certs

: "${ES_PUBLIC_HOST:?ES_PUBLIC_HOST: the DNS name (or IP) ECH will reach this cluster by (the proxy address host)}"
# The leaf certificates name the public host: made again (same CA) when it changes, so a first start with the wrong
# name is fixed by starting again with the right one.
identity="${ES_PUBLIC_HOST}|${ES_PUBLIC_IP:-}"
if [ -f "$certs/remote-cluster-server/remote-cluster-server.crt" ] && [ "$(cat "$certs/.public-host" 2>/dev/null)" = "$identity" ]; then
  echo "certificates for ${ES_PUBLIC_HOST} exist in $certs: nothing to do"
  exit 0
fi
if [ "$ES_PUBLIC_HOST" = "localhost" ]; then
  echo "WARNING: ES_PUBLIC_HOST is localhost: ECH cannot reach this cluster by that name; set ES_PUBLIC_HOST and start again." >&2
fi

if [ ! -f "$certs/ca/ca.crt" ]; then
  bin/elasticsearch-certutil ca --silent --pem --out "$certs/ca.zip"
  unzip -qo "$certs/ca.zip" -d "$certs"
fi

# The remote cluster server's certificate must name the host ECH dials (remote.proxyAddress / remote.serverName):
# a DNS name as a DNS SAN, an IP address as an IP SAN.
ips=()
dns_public="\"${ES_PUBLIC_HOST}\", "
if [[ "$ES_PUBLIC_HOST" =~ ^[0-9.]+$ || "$ES_PUBLIC_HOST" == *:* ]]; then ips+=("$ES_PUBLIC_HOST"); dns_public=""; fi
if [ -n "${ES_PUBLIC_IP:-}" ]; then ips+=("$ES_PUBLIC_IP"); fi
ip_line=""
if [ ${#ips[@]} -gt 0 ]; then ip_line="    ip: [$(printf '"%s", ' "${ips[@]}" | sed 's/, $//')]"; fi
cat >"$certs/instances.yml" <<YAML
instances:
  - name: transport
    dns: ["es01", "localhost"]
  - name: http
    dns: [${dns_public}"es01", "localhost"]
${ip_line}
  - name: remote-cluster-server
    dns: [${dns_public}"es01", "localhost"]
${ip_line}
YAML

bin/elasticsearch-certutil cert --silent --pem --in "$certs/instances.yml" --out "$certs/certs.zip" \
  --ca-cert "$certs/ca/ca.crt" --ca-key "$certs/ca/ca.key"
unzip -qo "$certs/certs.zip" -d "$certs"
rm -f "$certs/ca.zip" "$certs/certs.zip"
printf '%s' "$identity" >"$certs/.public-host"

# Elasticsearch runs as uid 1000 and reads the keys; nobody else may. The CA key stays for issuing more certificates.
chown -R 1000:0 "$certs"
find "$certs" -type d -exec chmod 750 {} +
find "$certs" -type f -exec chmod 640 {} +
echo "certificates ready. The CA for requests (remote.ca.pem, path B):"
cat "$certs/ca/ca.crt"
