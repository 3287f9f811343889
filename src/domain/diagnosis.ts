/**
 * Why a remote connection does not work, from evidence the ECH side really has (remote-clusters.md §4b):
 *
 * - Elasticsearch's API answers: `_remote/info`, `_resolve/cluster` and the cross-cluster search outcome. For a
 *   connection failure (unreachable, wrong port, TLS trust or host name, handshake refused) real Elasticsearch says
 *   only `connected: false` (TransportResolveClusterAction reports no `error` for a remote-unavailable exception, the
 *   search a NoSeedNodeLeftException or "Unable to connect to [alias]"). Only security exceptions over an open
 *   connection (invalidated key, missing remote_indices, license), index-not-found, a timeout and settings validation
 *   carry a message: those texts are matched below (`diagnoseRemoteError`).
 * - The worker's own TLS probe of proxy_address, re-run at verification time (`diagnoseUnconnected`): chain, server
 *   name, transport port or not. It is seen from the worker's network, which may differ from ECH's egress.
 *
 * The "Typical failures" table's texts are node-log lines: here they are instructions (`lookFor`: which log to read
 * and what to search for), never expected API answers. Every diagnosis lists the evidence it rests on. Pure: no I/O.
 */
import type { Finding, TlsProbeReport } from '../contract/facts';

export interface Diagnosis {
  /** Stable code for tests, logs and the workflow. */
  code:
    | 'unreachable'
    | 'unreliable-network'
    | 'tls-untrusted'
    | 'tls-name-mismatch'
    | 'tls-expired'
    | 'transport-port'
    | 'not-tls'
    | 'not-transport-port'
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
  /** What the diagnosis rests on: each Elasticsearch answer or probe result, named (set by the caller's evidence). */
  evidence: string[];
  /** Where to confirm it: which cluster's logs to read and what to look for there (the failure table's log texts). */
  lookFor?: string;
}

/** A rule's or a probe's verdict, before the evidence is attached. */
type Verdict = Omit<Diagnosis, 'evidence'>;

interface Rule {
  test: RegExp;
  /** Only for this security model (the same text means something else in the other). */
  only?: DiagnosisContext['securityModel'];
  make: (ctx: DiagnosisContext, text: string) => Verdict;
}

export interface DiagnosisContext {
  alias: string;
  securityModel: 'api-key' | 'tls-certificate';
  proxyAddress?: string;
  serverName?: string;
  /**
   * The CA ECH was given for proxy_address is not known to this run (day 2: the request does not restate remote.ca),
   * so the worker's probe checks the chain against the public roots only: an untrusted chain is evidence, not a verdict.
   */
  caUnknown?: boolean;
}

const EGRESS = 'https://ips.cld.elstc.co/';

function expectedPort(ctx: DiagnosisContext): string {
  return ctx.securityModel === 'api-key' ? '9443 (remote cluster server)' : '9300 (transport)';
}

/** The failure table's log lines, as instructions: where each failure shows itself when the APIs say nothing. */
export const LOOK_FOR = {
  transportPort:
    'in the ECH deployment logs look for "Received fatal alert: bad_certificate" or "certificate_required"; in the self-managed node logs for "Empty client certificate chain" or "requires channel profile to be [_remote_cluster]"',
  notTls: 'in the ECH deployment logs look for "Unsupported or unrecognized SSL message" for this address',
  nameMismatch: (name: string) =>
    `in the ECH deployment logs look for "No subject alternative DNS name matching ${name} found" (after "failed to establish trust with server")`,
  untrusted:
    'in the ECH deployment logs look for "failed to establish trust with server" followed by "PKIX path building failed"; on the self-managed nodes for "client did not trust this server\'s certificate"',
  expired: 'in the ECH deployment logs look for "validity check failed" or "the certificate is expired"',
  unreachable: (alias: string) =>
    `in the ECH deployment logs look for "failed to open any proxy connections to cluster [${alias}]" followed by "connect_exception", "Connection refused" or "connect_timeout"`,
  handshakeRefused: (alias: string) =>
    `in the self-managed node logs look for "Authentication using apikey failed" (invalidated, expired or unknown key), "current license is non-compliant for [advanced-remote-cluster-security]" or "require transport header [_cross_cluster_access_credentials]"; in the ECH deployment logs for "failed to open any proxy connections to cluster [${alias}]" and the exception after it`,
  certificateModel:
    'in the self-managed node logs look for "does not match trust restrictions" or "Received fatal alert: certificate_unknown" (ECH\'s certificate refused); in the ECH deployment logs for "do not match any trusted node name" or "PKIX path building failed"',
} as const;

function transportPort(ctx: DiagnosisContext): Verdict {
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
      lookFor:
        'in the self-managed node logs look for "Authentication using apikey failed" (it names the reason: invalidated, expired, unknown id)',
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
    test: /index_not_found_exception|no such index \[/i,
    make: (ctx, text) => ({
      code: 'no-matching-indices',
      cause: `the remote cluster ${ctx.alias} is reachable, but the index searched does not exist there (${/no such index \[[^\]]*\]/.exec(text)?.[0] ?? 'index not found'})`,
      fix: 'set verify.searchIndex to an index or pattern that exists on the self-managed cluster (a pattern with * matches nothing without failing)',
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

/**
 * Map an error text Elasticsearch returned (a `_resolve/cluster` `error`, a search or settings error) to the failure
 * table's cause and fix. `source` names the answer the text came from (it becomes the evidence).
 */
export function diagnoseRemoteError(text: string, ctx: DiagnosisContext, source = 'Elasticsearch error'): Diagnosis {
  const evidence = [`${source}: ${text.slice(0, 500)}`];
  for (const rule of RULES) {
    if (rule.only && rule.only !== ctx.securityModel) continue;
    if (rule.test.test(text)) return { ...rule.make(ctx, text), evidence };
  }
  return {
    code: 'unknown',
    cause: `unrecognised error: ${text.slice(0, 500)}`,
    fix: "see the self-managed cluster's logs around this time and the troubleshooting page for remote clusters",
    transient: true,
    evidence,
  };
}

/** Diagnoses from `_remote/info` state alone (no error text). */
export function diagnoseRemoteInfo(
  entry:
    | { connected?: boolean; num_proxy_sockets_connected?: number; cluster_credentials?: unknown; mode?: string }
    | undefined,
  ctx: DiagnosisContext,
): Diagnosis | undefined {
  const verdict = remoteInfoVerdict(entry, ctx);
  return verdict && { ...verdict, evidence: [describeRemoteInfo(entry, ctx.alias)] };
}

/** One `_remote/info` entry as evidence. */
export function describeRemoteInfo(
  entry:
    | { connected?: boolean; num_proxy_sockets_connected?: number; cluster_credentials?: unknown; mode?: string }
    | undefined,
  alias: string,
): string {
  if (!entry) return `_remote/info: no entry for ${alias}`;
  return (
    `_remote/info: connected=${String(entry.connected)}` +
    (entry.mode === 'proxy' ? `, num_proxy_sockets_connected=${String(entry.num_proxy_sockets_connected)}` : '') +
    `, cluster_credentials ${entry.cluster_credentials !== undefined ? 'present' : 'absent'}`
  );
}

function remoteInfoVerdict(
  entry:
    | { connected?: boolean; num_proxy_sockets_connected?: number; cluster_credentials?: unknown; mode?: string }
    | undefined,
  ctx: DiagnosisContext,
): Verdict | undefined {
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

/** What the worker's probe says, as one line of evidence. */
export function describeProbe(probe: TlsProbeReport): string {
  const errors = probe.findings.filter((f) => f.level !== 'info');
  const leaf = probe.chain[0];
  const names = leaf ? [...leaf.dnsNames, ...leaf.ipAddresses, ...leaf.otherNames] : [];
  return (
    `worker TLS probe of ${probe.address} (server name ${probe.serverName}; seen from the worker's network, which may differ from ECH's egress): ` +
    (errors.length
      ? errors.map((f) => `${f.code}: ${f.message}`).join(' | ')
      : `reachable, chain trusted, ${probe.hostnameMatches ? 'name matches' : 'name not checked'}, ` +
        `${probe.requestsClientCertificate ? 'asks' : 'does not ask'} for a client certificate`) +
    (leaf
      ? ` (certificate ${leaf.subject}, issued by ${leaf.issuer}${names.length ? `, names ${names.join(', ')}` : ''})`
      : '') +
    (probe.nodes && probe.nodes.length > 1
      ? `; ${probe.nodes.length} nodes met behind it: ${probe.nodes.map((n) => n.subject).join(', ')}`
      : '')
  );
}

/**
 * ECH reports the remote as not connected and Elasticsearch gives no reason (§4b): the cause comes from the worker's
 * TLS probe of proxy_address, re-run now. `echEvidence` are ECH's own answers (already described); `probe` is
 * undefined when no probe could run (no proxy_address, or the probe itself failed: `probeError`).
 */
export function diagnoseUnconnected(
  ctx: DiagnosisContext,
  echEvidence: string[],
  probe: TlsProbeReport | undefined,
  probeError?: string,
): Diagnosis {
  const evidence = [
    ...echEvidence,
    probe
      ? describeProbe(probe)
      : `worker TLS probe: ${probeError ?? 'not run (no proxy_address configured for this alias)'}`,
  ];
  return { ...unconnectedVerdict(ctx, probe), evidence };
}

function unconnectedVerdict(ctx: DiagnosisContext, probe: TlsProbeReport | undefined): Verdict {
  const addr = ctx.proxyAddress ?? 'proxy_address';
  const apiKey = ctx.securityModel === 'api-key';
  const finding = (code: string): Finding | undefined => probe?.findings.find((f) => f.code === code);
  if (!probe) {
    return {
      code: 'not-connected',
      cause: `${ctx.alias} is registered but not connected, and Elasticsearch's API gives no reason for connection failures`,
      fix: `check that ${addr} is reachable from the ECH egress IPs (${EGRESS}) on port ${expectedPort(ctx)}`,
      transient: true,
      lookFor: LOOK_FOR.unreachable(ctx.alias),
    };
  }
  const seen = "(the worker's TLS probe, from the worker's network)";
  if (apiKey && (finding('TLS_TRANSPORT_PORT') || probe.looksLikeTransportPort)) {
    return { ...transportPort(ctx), cause: `${transportPort(ctx).cause} ${seen}`, lookFor: LOOK_FOR.transportPort };
  }
  const notTls = finding('TLS_NOT_TLS');
  if (notTls) {
    return {
      code: 'not-tls',
      cause: `${notTls.message} ${seen}`,
      fix:
        notTls.fix ??
        `point remote.proxyAddress at the ${apiKey ? 'remote cluster server (9443)' : 'transport port (9300)'}`,
      transient: false,
      lookFor: LOOK_FOR.notTls,
    };
  }
  if (!apiKey && finding('TLS_NOT_TRANSPORT_PORT')) {
    const f = finding('TLS_NOT_TRANSPORT_PORT')!;
    return {
      code: 'not-transport-port',
      cause: `${f.message} ${seen}`,
      fix: f.fix ?? 'use the transport port (default 9300) in remote.proxyAddress',
      transient: false,
      lookFor: LOOK_FOR.certificateModel,
    };
  }
  const expired = finding('TLS_CERT_EXPIRED');
  if (expired) {
    return {
      code: 'tls-expired',
      cause: `${expired.message} ${seen}`,
      fix: expired.fix ?? 're-issue the certificate and reload it on every node',
      transient: false,
      lookFor: LOOK_FOR.expired,
    };
  }
  const name = finding('TLS_NAME_MISMATCH');
  if (apiKey && name) {
    const what = ctx.serverName
      ? `server_name "${ctx.serverName}"`
      : `the host of proxy_address ("${probe.serverName}")`;
    return {
      code: 'tls-name-mismatch',
      cause: `the remote certificate does not cover the name ECH verifies: ${what}. ${name.message} ${seen}`,
      fix: name.fix ?? `set remote.serverName to a name in the certificate's subject alternative names`,
      transient: false,
      lookFor: LOOK_FOR.nameMismatch(probe.serverName),
    };
  }
  const untrusted = finding('TLS_UNTRUSTED_CHAIN');
  if (untrusted && !ctx.caUnknown) {
    return {
      code: 'tls-untrusted',
      cause: `${untrusted.message} ${seen}; ECH verifies the same chain against the public roots and its trusted environments`,
      fix: untrusted.fix ?? 'give the CA that signed the certificate in remote.ca',
      transient: false,
      lookFor: LOOK_FOR.untrusted,
    };
  }
  if (!probe.reachable) {
    return {
      code: 'unreachable',
      cause: `neither ECH (not connected) nor the worker can connect to ${addr}: wrong host or port, the ${apiKey ? 'remote cluster server not enabled (remote_cluster_server.enabled) or bound to localhost (remote_cluster.host)' : 'transport port not bound to a reachable address'}, or a firewall`,
      fix: `check host and port ${expectedPort(ctx)}${apiKey ? ', set remote_cluster_server.enabled: true and remote_cluster.host on every node' : ''}, and allow inbound traffic from the ECH egress IPs (${EGRESS})`,
      transient: true,
      lookFor: LOOK_FOR.unreachable(ctx.alias),
    };
  }
  // The worker finds a correctly set-up endpoint: what is left cannot be seen from here.
  if (apiKey) {
    const chain =
      untrusted && ctx.caUnknown
        ? 'chain not verified: this run does not know the CA ECH was given, and the public roots do not verify it'
        : 'chain trusted';
    return {
      code: 'not-connected',
      cause:
        `from the worker's network ${addr} is a working remote cluster server (${chain}, name "${probe.serverName}" matches, no client certificate asked), ` +
        `yet ECH is not connected to ${ctx.alias} and Elasticsearch's API gives no reason. What remains, which only the logs tell apart:` +
        ' the handshake refused by the self-managed cluster (cross-cluster API key invalidated, expired or not a cross-cluster key; license below Enterprise),' +
        " ECH not trusting a private CA (its trust entry not applied yet), or a firewall that admits the worker but not ECH's egress IPs",
      fix: `read the logs named below; a firewall must admit the ECH egress IPs (${EGRESS}) on ${addr}; a refused key is replaced with rotateRemoteClusterKey`,
      transient: true,
      lookFor: LOOK_FOR.handshakeRefused(ctx.alias),
    };
  }
  // Every node met behind the address (each of ECH's sockets reaches one), not only the first connection's.
  const otherNamesMet = [...new Set((probe.nodes ?? probe.chain.slice(0, 1)).flatMap((n) => n.otherNames))];
  return {
    code: 'not-connected',
    cause:
      `from the worker's network ${addr} is a transport port whose chain the given CA verifies, yet ECH is not connected to ${ctx.alias}.` +
      " The worker cannot present ECH's certificate, so what remains is on the certificate exchange: the self-managed nodes not trusting the ECH CA or their trust restrictions not listing the ECH nodes," +
      " or ECH's trusted environment not naming the self-managed nodes (their transport certificates' otherName)",
    fix: `on every self-managed node trust the ECH CA(s) and list the ECH deployment's pattern in the trust restrictions; check that the trust entry's node names match the otherName of the transport certificates${otherNamesMet.length ? ` (${otherNamesMet.join(', ')})` : ''}`,
    transient: true,
    lookFor: LOOK_FOR.certificateModel,
  };
}
