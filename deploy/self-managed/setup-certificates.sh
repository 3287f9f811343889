#!/usr/bin/env bash
# One-shot setup of the self-managed cluster's TLS (compose profile `self-managed`, service es-setup): a private CA and
# PEM certificates for the transport layer, the HTTP layer and the remote cluster server (port 9443, API-key model),
# made with elasticsearch-certutil into the es-certs volume. Runs once; delete the volume to start over.
set -euo pipefail
cd /usr/share/elasticsearch
certs=config/certs

if [ -f "$certs/remote-cluster-server/remote-cluster-server.crt" ]; then
  echo "certificates exist in $certs: nothing to do"
  exit 0
fi
: "${ES_PUBLIC_HOST:?ES_PUBLIC_HOST: the DNS name ECH will reach this cluster by (the proxy address host)}"

bin/elasticsearch-certutil ca --silent --pem --out "$certs/ca.zip"
unzip -qo "$certs/ca.zip" -d "$certs"

# The remote cluster server's certificate must name the host ECH dials (remote.proxyAddress / remote.serverName).
ip_line=""
if [ -n "${ES_PUBLIC_IP:-}" ]; then ip_line="    ip: [\"${ES_PUBLIC_IP}\"]"; fi
cat >"$certs/instances.yml" <<YAML
instances:
  - name: transport
    dns: ["es01", "localhost"]
  - name: http
    dns: ["es01", "localhost", "${ES_PUBLIC_HOST}"]
${ip_line}
  - name: remote-cluster-server
    dns: ["${ES_PUBLIC_HOST}", "es01", "localhost"]
${ip_line}
YAML

bin/elasticsearch-certutil cert --silent --pem --in "$certs/instances.yml" --out "$certs/certs.zip" \
  --ca-cert "$certs/ca/ca.crt" --ca-key "$certs/ca/ca.key"
unzip -qo "$certs/certs.zip" -d "$certs"
rm -f "$certs/ca.zip" "$certs/certs.zip"

# Elasticsearch runs as uid 1000 and reads the keys; nobody else may. The CA key stays for issuing more certificates.
chown -R 1000:0 "$certs"
find "$certs" -type d -exec chmod 750 {} +
find "$certs" -type f -exec chmod 640 {} +
echo "certificates ready. The CA for requests (remote.ca.pem, path B):"
cat "$certs/ca/ca.crt"
