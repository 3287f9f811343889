/**
 * Names a request may not use as a secret reference: the worker's own configuration. A `…Secret` field names an
 * environment variable of the worker, so without this a request could name `ECH_REMOTE_ENCRYPTION_KEYS` (or
 * `TEMPORAL_API_KEY`, `ECH_REMOTE_CODEC_TOKEN`, …) as its Cloud API key and send it to an endpoint of its choosing.
 * Checked by the request schema (InvalidRequest, nothing done) and again by resolveSecret. No I/O: the workflow
 * bundle imports this file.
 */

/** The shape of a secret name: an environment variable, or a file directly in ECH_REMOTE_SECRETS_DIR (no path). */
export const SECRET_NAME_RE = /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/;

/**
 * The tool's, Temporal's, Node's and the dynamic loader's variables, and the credentials a worker's platform puts in
 * its environment (cloud providers, CI, Vault, Docker, OpenTelemetry), whatever follows the prefix.
 */
export const RESERVED_SECRET_PREFIXES = [
  'ECH_REMOTE_',
  'TEMPORAL_',
  'NODE_',
  'NPM_',
  'LD_',
  'DYLD_',
  'UV_',
  'AWS_',
  'AZURE_',
  'GOOGLE_',
  'GCP_',
  'GITHUB_',
  'GH_',
  'ACTIONS_',
  'VAULT_',
  'DOCKER_',
  'OTEL_',
] as const;

/** Process configuration that is not a secret of a cluster (proxies may carry credentials, too). */
export const RESERVED_SECRET_NAMES = [
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'PWD',
  'TMPDIR',
  'TMP',
  'TEMP',
  'HOSTNAME',
  'LANG',
  'TZ',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'ALL_PROXY',
  'NO_PROXY',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
] as const;

/** Why `name` may not be a secret reference, or undefined when it may. Case-insensitive (e.g. `http_proxy`). */
export function reservedSecretName(name: string): string | undefined {
  const upper = name.toUpperCase();
  const prefix = RESERVED_SECRET_PREFIXES.find((p) => upper.startsWith(p));
  if (prefix)
    return `names starting with "${prefix}" belong to the worker's own configuration or platform, not a secret a request may use`;
  if ((RESERVED_SECRET_NAMES as readonly string[]).includes(upper)) {
    return `"${name}" is the worker's own process configuration, not a secret a request may use`;
  }
  return undefined;
}
