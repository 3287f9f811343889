/**
 * The self-managed node as its admin sees it: an elasticsearch.yml-style flat settings map plus a config directory of
 * files (certificates, keys, CAs, the trust restrictions file). Changes are pending until a restart, when they are
 * validated the way the node validates them at startup (refusing to start with Elasticsearch's message).
 */
import { hasRemoteClusterSecurity } from './compat';

export type NodeSettings = Record<string, unknown>;

export const SETTING = {
  rcsEnabled: 'remote_cluster_server.enabled',
  rcsPort: 'remote_cluster.port',
  rcsHost: 'remote_cluster.host',
  rcsSslEnabled: 'xpack.security.remote_cluster_server.ssl.enabled',
  rcsCertificate: 'xpack.security.remote_cluster_server.ssl.certificate',
  rcsKey: 'xpack.security.remote_cluster_server.ssl.key',
  rcsClientAuthentication: 'xpack.security.remote_cluster_server.ssl.client_authentication',
  transportCertificate: 'xpack.security.transport.ssl.certificate',
  transportKey: 'xpack.security.transport.ssl.key',
  transportCas: 'xpack.security.transport.ssl.certificate_authorities',
  trustRestrictionsPath: 'xpack.security.transport.ssl.trust_restrictions.path',
  trustRestrictionsFields: 'xpack.security.transport.ssl.trust_restrictions.x509_fields',
} as const;

export const X509_FIELD_OTHER_NAME = 'subjectAltName.otherName.commonName';
export const X509_FIELD_DNS_NAME = 'subjectAltName.dnsName';

/** Default file names in the sandbox node's config directory. */
export const FILE = {
  httpCertificate: 'certs/http.crt',
  httpKey: 'certs/http.key',
  httpCa: 'certs/http_ca.crt',
  transportCertificate: 'certs/transport.crt',
  transportKey: 'certs/transport.key',
  transportCa: 'certs/transport-ca.crt',
  rcsCertificate: 'certs/remote-cluster-server.crt',
  rcsKey: 'certs/remote-cluster-server.key',
} as const;

export class NodeStartupError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'NodeStartupError';
  }
}

/** What the running node uses, resolved from effective settings and files at (re)start. */
export interface NodeRuntime {
  remoteClusterServer: {
    enabled: boolean;
    ssl: boolean;
    certPem: string;
    keyPem: string;
    certPath: string;
    clientAuthentication: string;
  };
  transport: {
    certPem: string;
    keyPem: string;
    certPath: string;
    cas: { path: string; pem: string }[];
    /** undefined = no trust restrictions configured. */
    trustRestrictions?: string[];
    x509Fields: string[];
  };
}

function asBool(key: string, v: unknown, def: boolean): boolean {
  if (v === undefined || v === null) return def;
  if (v === true || v === 'true') return true;
  if (v === false || v === 'false') return false;
  throw new NodeStartupError(`Failed to parse value [${String(v)}] as only [true] or [false] are allowed.`);
}

export function asList(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v.map(String);
  return String(v)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * Parse a trust restrictions file: `trust.subject_name: [patterns]` (flow or block list, or nested
 * `trust:` / `subject_name:`), the format Elasticsearch's RestrictedTrustConfig reads.
 */
export function parseTrustRestrictions(content: string): string[] {
  const lines = content.split(/\r?\n/).map((l) => l.replace(/\s+#.*$/, '').replace(/^#.*$/, ''));
  const unquote = (s: string) => s.trim().replace(/^["']|["']$/g, '');
  const patterns: string[] = [];
  let inList = false;
  let nestedTrust = false;
  let found = false;
  for (const line of lines) {
    if (!line.trim()) continue;
    const flat = /^\s*trust\.subject_name\s*:\s*(.*)$/.exec(line);
    const nested = nestedTrust ? /^\s+subject_name\s*:\s*(.*)$/.exec(line) : null;
    const head = flat ?? nested;
    if (/^trust\s*:\s*$/.test(line)) {
      nestedTrust = true;
      continue;
    }
    if (head) {
      found = true;
      const rest = head[1]!.trim();
      if (rest.startsWith('[')) {
        patterns.push(
          ...rest
            .replace(/^\[|\]$/g, '')
            .split(',')
            .map(unquote)
            .filter(Boolean),
        );
        inList = false;
      } else if (rest) {
        patterns.push(unquote(rest));
        inList = false;
      } else inList = true;
      continue;
    }
    const item = /^\s*-\s*(.+)$/.exec(line);
    if (inList && item) {
      patterns.push(unquote(item[1]!));
      continue;
    }
    inList = false;
  }
  if (!found) throw new NodeStartupError('trust restrictions file does not contain the setting [trust.subject_name]');
  return patterns;
}

export class NodeConfig {
  effective: NodeSettings;
  pending: NodeSettings;
  /** Files as they are on disk now (file edits are visible at once; the node reads them at restart). */
  files: Record<string, string>;

  constructor(
    readonly version: string,
    settings: NodeSettings,
    files: Record<string, string>,
  ) {
    this.effective = { ...settings };
    this.pending = { ...settings };
    this.files = { ...files };
  }

  /** Store settings/files as the admin edits elasticsearch.yml and the config dir; `null` removes a setting or file. */
  apply(settings: NodeSettings = {}, files: Record<string, string | null> = {}): void {
    for (const [k, v] of Object.entries(settings)) {
      if (v === null || v === undefined) delete this.pending[k];
      else this.pending[k] = v;
    }
    for (const [name, content] of Object.entries(files)) {
      if (content === null) delete this.files[name];
      else this.files[name] = content;
    }
  }

  get pendingRestart(): boolean {
    return JSON.stringify(sorted(this.effective)) !== JSON.stringify(sorted(this.pending));
  }

  file(path: string, setting: string, kind: string): string {
    const content = this.files[path] ?? this.files[`certs/${path}`];
    if (content === undefined) {
      throw new NodeStartupError(
        `failed to load SSL configuration [${setting.replace(/\.[^.]+$/, '')}] - cannot read configured [PEM] ${kind} [${path}] because the file does not exist`,
      );
    }
    return content;
  }

  /** Validate `settings` as node startup does and resolve the TLS material. Throws NodeStartupError. */
  resolve(settings: NodeSettings = this.pending): NodeRuntime {
    for (const key of Object.keys(settings)) {
      if (key.startsWith('transport.profiles._remote_cluster.')) {
        throw new NodeStartupError(
          'Remote Access settings should not be configured using the [_remote_cluster] profile. Use the [remote_cluster.] settings instead.',
        );
      }
      if (
        (key.startsWith('remote_cluster_server.') ||
          key.startsWith('remote_cluster.') ||
          key.startsWith('xpack.security.remote_cluster_server.')) &&
        !hasRemoteClusterSecurity(this.version)
      ) {
        throw new NodeStartupError(
          `unknown setting [${key}] please check that any required plugins are installed, or check the breaking changes documentation for removed settings`,
        );
      }
    }
    const rcsEnabled = asBool(SETTING.rcsEnabled, settings[SETTING.rcsEnabled], false);
    const rcsSsl = asBool(SETTING.rcsSslEnabled, settings[SETTING.rcsSslEnabled], true);
    const rcsCertPath = String(settings[SETTING.rcsCertificate] ?? FILE.rcsCertificate);
    const rcsKeyPath = String(settings[SETTING.rcsKey] ?? FILE.rcsKey);
    const rcs = {
      enabled: rcsEnabled,
      ssl: rcsSsl,
      certPath: rcsCertPath,
      certPem: rcsEnabled && rcsSsl ? this.file(rcsCertPath, SETTING.rcsCertificate, 'certificate') : '',
      keyPem: rcsEnabled && rcsSsl ? this.file(rcsKeyPath, SETTING.rcsKey, 'key') : '',
      clientAuthentication: String(settings[SETTING.rcsClientAuthentication] ?? 'none'),
    };
    // PEM settings next to a keystore/truststore (8.x auto-configured security uses certs/transport.p12): refused.
    for (const prefix of ['xpack.security.transport.ssl.', 'xpack.security.remote_cluster_server.ssl.']) {
      const set = (k: string) => ![undefined, null, ''].includes(settings[prefix + k] as string | null | undefined);
      for (const [pem, store] of [
        ['certificate', 'keystore.path'],
        ['certificate_authorities', 'truststore.path'],
      ] as const) {
        if (set(pem) && set(store)) {
          throw new NodeStartupError(`cannot specify both [${prefix}${pem}] and [${prefix}${store}]`);
        }
      }
    }
    const tCertPath = String(settings[SETTING.transportCertificate] ?? FILE.transportCertificate);
    const caPaths =
      settings[SETTING.transportCas] === undefined ? [FILE.transportCa] : asList(settings[SETTING.transportCas]);
    const restrictionsPath = settings[SETTING.trustRestrictionsPath];
    const fields =
      settings[SETTING.trustRestrictionsFields] === undefined
        ? [X509_FIELD_OTHER_NAME]
        : asList(settings[SETTING.trustRestrictionsFields]);
    for (const f of fields) {
      if (f !== X509_FIELD_OTHER_NAME && f !== X509_FIELD_DNS_NAME) {
        throw new NodeStartupError(
          `[${SETTING.trustRestrictionsFields}] contains unsupported field [${f}]; supported fields are [${X509_FIELD_OTHER_NAME}, ${X509_FIELD_DNS_NAME}]`,
        );
      }
    }
    let trustRestrictions: string[] | undefined;
    if (restrictionsPath !== undefined && restrictionsPath !== null && restrictionsPath !== '') {
      const p = String(restrictionsPath);
      const content = this.files[p] ?? this.files[`certs/${p}`];
      if (content === undefined) {
        throw new NodeStartupError(
          `failed to load SSL configuration [xpack.security.transport.ssl] - cannot read trust restrictions file [${p}] because the file does not exist`,
        );
      }
      trustRestrictions = parseTrustRestrictions(content);
    }
    return {
      remoteClusterServer: rcs,
      transport: {
        certPath: tCertPath,
        certPem: this.file(tCertPath, SETTING.transportCertificate, 'certificate'),
        keyPem: this.file(String(settings[SETTING.transportKey] ?? FILE.transportKey), SETTING.transportKey, 'key'),
        cas: caPaths.map((path) => ({ path, pem: this.file(path, SETTING.transportCas, 'certificate_authorities') })),
        ...(trustRestrictions ? { trustRestrictions } : {}),
        x509Fields: fields,
      },
    };
  }

  /** Restart: validate pending settings; on success they become effective. */
  promote(): NodeRuntime {
    const runtime = this.resolve(this.pending);
    this.effective = { ...this.pending };
    return runtime;
  }
}

function sorted(o: NodeSettings): [string, unknown][] {
  return Object.entries(o).sort(([a], [b]) => a.localeCompare(b));
}
