/**
 * The "Typical failures" table of remote-clusters.md §4, as code: an error text seen from the ECH side
 * (`_resolve/cluster` `error`, a cross-cluster search error, `_cluster/settings` 400) → cause → fix.
 * The message patterns come from Elasticsearch's own messages (troubleshooting page, ES source); which of them the
 * local cluster surfaces through `_resolve/cluster` (rather than only in its logs) is partly UNCONFIRMED, so every
 * pattern lives here and can be corrected without touching the activities. Pure: no I/O.
 */

export interface Diagnosis {
  /** Stable code for tests, logs and the workflow. */
  code:
    | 'unreachable'
    | 'unreliable-network'
    | 'tls-untrusted'
    | 'tls-name-mismatch'
    | 'tls-expired'
    | 'transport-port'
    | 'tls-handshake-rejected'
    | 'credentials-missing'
    | 'credentials-on-tls-model'
    | 'rest-api-key'
    | 'key-invalid'
    | 'license'
    | 'insufficient-privileges'
    | 'no-remote-indices-privileges'
    | 'stale-sniff-settings'
    | 'malformed-address'
    | 'no-such-remote'
    | 'no-matching-indices'
    | 'not-connected'
    | 'unknown';
  cause: string;
  fix: string;
  /** True when waiting may cure it (a lazy connection, a network blip, a keystore reload in flight). */
  transient: boolean;
}

interface Rule {
  test: RegExp;
  /** Only for this security model (the same text means something else in the other). */
  only?: DiagnosisContext['securityModel'];
  make: (ctx: DiagnosisContext, text: string) => Diagnosis;
}

export interface DiagnosisContext {
  alias: string;
  securityModel: 'api-key' | 'tls-certificate';
  proxyAddress?: string;
  serverName?: string;
}

const EGRESS = 'https://ips.cld.elstc.co/';

function expectedPort(ctx: DiagnosisContext): string {
  return ctx.securityModel === 'api-key' ? '9443 (remote cluster server)' : '9300 (transport)';
}

function transportPort(ctx: DiagnosisContext): Diagnosis {
  return {
    code: 'transport-port',
    cause: `proxy_address${ctx.proxyAddress ? ` ${ctx.proxyAddress}` : ''} points at the transport port (9300), not at the remote cluster server`,
    fix: 'use the remote cluster server port (default 9443) in remote.proxyAddress; enable remote_cluster_server on the self-managed cluster if needed',
    transient: false,
  };
}

// Order matters: the more specific patterns first.
const RULES: Rule[] = [
  {
    // TLS model: the self-managed node ends the handshake because it does not accept ECH's node certificate.
    test: /Received fatal alert: (?:certificate_unknown|bad_certificate)|does not match trust restrictions/i,
    only: 'tls-certificate',
    make: (ctx) => ({
      code: 'tls-handshake-rejected',
      cause: `the self-managed cluster rejected ECH's transport certificate in the TLS handshake: its trust restrictions (trust.subject_name) do not list the ECH deployment's nodes, or it does not trust the ECH CA`,
      fix: `on every self-managed node list the ECH deployment's pattern (recommended_trust_restriction of GET /deployments/{id}/certificate-authority) in the trust restrictions file and the ECH CA(s) in xpack.security.transport.ssl.certificate_authorities, then restart; ${ctx.proxyAddress ?? 'proxy_address'} must be the transport port`,
      transient: false,
    }),
  },
  {
    test: /current license is non-compliant for \[advanced-remote-cluster-security\]|license.*non-compliant/i,
    make: () => ({
      code: 'license',
      cause:
        'a license below Enterprise on one of the clusters (the API-key model is the licensed feature advanced-remote-cluster-security)',
      fix: 'upgrade both clusters to an Enterprise (or trial) license, or use the TLS-certificate model',
      transient: false,
    }),
  },
  {
    test: /expected API key type of \[cross_cluster\].*type of? \[rest\]|has type \[rest\]/i,
    make: (ctx) => ({
      code: 'rest-api-key',
      cause: `a REST API key was installed as cluster.remote.${ctx.alias}.credentials`,
      fix: 'create a cross-cluster API key (POST /_security/cross_cluster/api_key on the self-managed cluster) and install its `encoded` value',
      transient: false,
    }),
  },
  {
    test: /require transport header \[_cross_cluster_access_credentials\]|configured remote cluster credentials/i,
    make: (ctx) => ({
      code: 'credentials-missing',
      cause: `ECH has no cluster.remote.${ctx.alias}.credentials for this alias (alias mismatch between keystore and cluster settings, or the keystore was not reloaded yet)`,
      fix: `install the cross-cluster API key in the ECH keystore under exactly cluster.remote.${ctx.alias}.credentials (ECH < 8.14: restart Elasticsearch)`,
      transient: true,
    }),
  },
  {
    test: /unable to authenticate user \[.*\] for action \[cluster:internal\/remote_cluster\/handshake\]|invalid credentials for API key|api key (?:is )?(?:has )?(?:expired|invalidated)|api key .*(?:expired|invalidated)/i,
    make: () => ({
      code: 'key-invalid',
      cause: 'the cross-cluster API key is wrong, invalidated or expired',
      fix: 'issue a new cross-cluster API key on the self-managed cluster and install it (rotateRemoteClusterKey)',
      transient: false,
    }),
  },
  {
    test: /Empty client certificate chain|bad_certificate|missing authentication credentials for action \[cluster:internal\/remote_cluster\/handshake\]|requires channel profile to be \[_remote_cluster\]|unauthorized for user \[_?anonymous|certificate_required|CN=transport/i,
    make: (ctx) => transportPort(ctx),
  },
  {
    test: /No subject alternative (?:DNS )?name|No name matching|hostname .*(?:mismatch|does not match)|altnames/i,
    make: (ctx) => {
      const name =
        ctx.serverName ??
        (ctx.proxyAddress ? ctx.proxyAddress.replace(/:\d+$/, '').replace(/^\[|\]$/g, '') : undefined);
      const what = ctx.serverName
        ? `server_name "${ctx.serverName}"`
        : `the host of proxy_address${name ? ` ("${name}")` : ''}`;
      return {
        code: 'tls-name-mismatch',
        cause: `the remote certificate does not cover the name ECH verifies: ${what}`,
        fix: `set remote.serverName to a name in the certificate's subject alternative names, or re-issue the certificate with a SAN for ${name ?? 'that name'}`,
        transient: false,
      };
    },
  },
  {
    test: /certificate (?:has )?expired|CertificateExpired|NotAfter|validity check failed/i,
    make: () => ({
      code: 'tls-expired',
      cause: 'the remote cluster server certificate has expired (or is not yet valid)',
      fix: 're-issue the remote cluster server certificate (elasticsearch-certutil cert …) and reload it on every node',
      transient: false,
    }),
  },
  {
    test: /PKIX path building failed|failed to establish trust|unable to find valid certification path|certificate_unknown|did not trust this server|unknown_ca/i,
    make: (ctx) => {
      if (ctx.securityModel === 'api-key' && /:9300$/.test(ctx.proxyAddress ?? '')) return transportPort(ctx);
      return ctx.securityModel === 'api-key'
        ? {
            code: 'tls-untrusted',
            cause:
              'ECH does not trust the certificate presented at proxy_address: the remote cluster server certificate is signed by a private CA that ECH was not given, or by a different CA;' +
              ' or proxy_address points at the transport port (9300), whose certificate is signed by the transport CA',
            fix:
              'with a private CA add it to the request (remote.ca = {kind: "private", pem}) so an ECH trust entry is created (path B), otherwise use a certificate from a publicly trusted CA;' +
              ' and make sure proxy_address uses the remote cluster server port (default 9443), not the transport port',
            transient: false,
          }
        : {
            code: 'tls-untrusted',
            cause:
              "the two clusters do not trust each other's transport certificates (CA missing on one side, trust entry node names / scope, or trust restrictions do not match)",
            fix: 'add the self-managed transport CA to the ECH trusted environment, and the ECH CA(s) to xpack.security.transport.ssl.certificate_authorities on every self-managed node; check trust restrictions',
            transient: false,
          };
    },
  },
  {
    test: /cannot be used with the configured .*mode|\[required=PROXY, configured=SNIFF\]|\[required=SNIFF, configured=PROXY\]/i,
    make: (ctx) => ({
      code: 'stale-sniff-settings',
      cause: `cluster.remote.${ctx.alias} still has sniff-mode settings (seeds / node_connections) or mode is not proxy`,
      fix: 'set mode to proxy and clear seeds and node_connections (null) in the same _cluster/settings request',
      transient: false,
    }),
  },
  {
    test: /remote hosts need to be configured as \[host:port\]|failed to parse port|port number must be > 0/i,
    make: () => ({
      code: 'malformed-address',
      cause: 'proxy_address is not a valid host:port',
      fix: 'use host:port (IPv6 as [addr]:port) in remote.proxyAddress',
      transient: false,
    }),
  },
  {
    test: /unknown host|UnknownHostException|Name or service not known|nodename nor servname/i,
    make: (ctx) => ({
      code: 'unreachable',
      cause: `the host of ${ctx.proxyAddress ?? 'proxy_address'} does not resolve from ECH (a name only resolvable inside your network?)`,
      fix: 'use a publicly resolvable name or a public IP address in remote.proxyAddress',
      transient: false,
    }),
  },
  {
    test: /no such remote cluster|no_such_remote_cluster_exception|unknown remote cluster/i,
    make: (ctx) => ({
      code: 'no-such-remote',
      cause: `no remote cluster named ${ctx.alias} is configured on ECH`,
      fix: `register it (PUT _cluster/settings cluster.remote.${ctx.alias}.*) before verifying`,
      transient: false,
    }),
  },
  {
    test: /because no remote indices privileges apply for the target cluster/i,
    make: (ctx) => ({
      code: 'no-remote-indices-privileges',
      cause: `the searching user has no remote_indices privileges for ${ctx.alias}`,
      fix: `grant a role with remote_indices (clusters: ["${ctx.alias}"]) to the user`,
      transient: false,
    }),
  },
  {
    test: /towards remote cluster .*is unauthorized|is unauthorized for (?:user|API key)/i,
    make: () => ({
      code: 'insufficient-privileges',
      cause:
        "the intersection of the cross-cluster key's access and the user's remote_indices privileges does not cover the request",
      fix: "grant remote_indices for these indices to the user, or widen the cross-cluster key's access (PUT /_security/cross_cluster/api_key/{id} on the self-managed cluster)",
      transient: false,
    }),
  },
  {
    test: /failed to open any proxy connections|connect_exception|ConnectTransportException|Connection refused|connect timed out|NoRouteToHost|no route to host|unable to connect|Unable to open any proxy connections/i,
    make: (ctx) => ({
      code: 'unreachable',
      cause: `ECH cannot open a connection to ${ctx.proxyAddress ?? 'proxy_address'}: wrong host/port, remote cluster server not enabled (remote_cluster_server.enabled), bound to localhost (remote_cluster.host not set), or a firewall`,
      fix: `check host and port ${expectedPort(ctx)}, set remote_cluster_server.enabled: true and remote_cluster.host on every node, and allow inbound traffic from the ECH egress IPs (${EGRESS})`,
      transient: true,
    }),
  },
  {
    test: /closed by remote|connection reset|timed? ?out|node not connected|NodeDisconnected/i,
    make: () => ({
      code: 'unreliable-network',
      cause: 'the connection was closed or timed out (unreliable network or idle-connection killing)',
      fix: 'check the network path and firewalls between ECH and the remote; enable TCP keepalives / allow long-lived idle connections',
      transient: true,
    }),
  },
];

/** Map an error text to the failure table's cause and fix. */
export function diagnoseRemoteError(text: string, ctx: DiagnosisContext): Diagnosis {
  for (const rule of RULES) {
    if (rule.only && rule.only !== ctx.securityModel) continue;
    if (rule.test.test(text)) return rule.make(ctx, text);
  }
  return {
    code: 'unknown',
    cause: `unrecognised error: ${text.slice(0, 500)}`,
    fix: "see the self-managed cluster's logs around this time and the troubleshooting page for remote clusters",
    transient: true,
  };
}

/** Diagnoses from `_remote/info` state alone (no error text). */
export function diagnoseRemoteInfo(
  entry:
    | { connected?: boolean; num_proxy_sockets_connected?: number; cluster_credentials?: unknown; mode?: string }
    | undefined,
  ctx: DiagnosisContext,
): Diagnosis | undefined {
  if (!entry) {
    return {
      code: 'no-such-remote',
      cause: `_remote/info does not list ${ctx.alias}`,
      fix: `register it (PUT _cluster/settings cluster.remote.${ctx.alias}.*) before verifying`,
      transient: true,
    };
  }
  const hasCredentials = entry.cluster_credentials !== undefined;
  if (ctx.securityModel === 'api-key' && !hasCredentials) {
    return {
      code: 'credentials-missing',
      cause: `_remote/info shows no cluster_credentials for ${ctx.alias}: ECH has no cluster.remote.${ctx.alias}.credentials keystore entry under this alias (or has not reloaded it), so it would use the certificate model`,
      fix: `install the cross-cluster API key in the ECH keystore under exactly cluster.remote.${ctx.alias}.credentials (ECH < 8.14: restart Elasticsearch)`,
      transient: true,
    };
  }
  if (ctx.securityModel === 'tls-certificate' && hasCredentials) {
    return {
      code: 'credentials-on-tls-model',
      cause: `a cluster.remote.${ctx.alias}.credentials keystore entry exists, which switches this alias to the API-key model`,
      fix: `remove the keystore entry cluster.remote.${ctx.alias}.credentials, or connect with securityModel "api-key" to port 9443`,
      transient: false,
    };
  }
  if (!entry.connected || (entry.mode === 'proxy' && !(Number(entry.num_proxy_sockets_connected) > 0))) {
    return {
      code: 'not-connected',
      cause: `${ctx.alias} is registered but not connected (no open proxy sockets), and no error was reported`,
      fix: `check that ${ctx.proxyAddress ?? 'proxy_address'} is reachable from the ECH egress IPs (${EGRESS}) on port ${expectedPort(ctx)}`,
      transient: true,
    };
  }
  return undefined;
}
