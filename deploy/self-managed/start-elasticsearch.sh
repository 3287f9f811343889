#!/usr/bin/env bash
# Starts the official image's entrypoint with the `elastic` password from the Docker secret. The image's own
# ELASTIC_PASSWORD_FILE insists on a file mode of 400/600 owned by its uid, which a compose secret from a host file
# rarely has; reading it here keeps the password out of the compose file and the environment of `docker inspect`.
set -euo pipefail
ELASTIC_PASSWORD="$(cat /run/secrets/elastic_password)"
export ELASTIC_PASSWORD
exec /bin/tini -- /usr/local/bin/docker-entrypoint.sh eswrapper
