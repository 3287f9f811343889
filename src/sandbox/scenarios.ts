/**
 * Sandbox scenarios: which estate the sandbox simulates. A scenario fixes the self-managed cluster's version, license,
 * remote cluster server (on/off, which CA signs its certificate) and transport certificates, and names the ready
 * ConnectRequest in sandbox.json that fits it. Versions of both sides can be overridden; the default mix (ECH 9.1,
 * self-managed 8.17) is the one that trips 9.x clients against 8.x clusters.
 */
import { hasRemoteClusterSecurity } from './elasticsearch/compat';

export const SCENARIOS = [
  'api-key-public',
  'api-key-private',
  'tls-certificate',
  'tls-certificate-no-othername',
  'old-version',
  'basic-license',
  'rcs-disabled',
  'cluster-yellow',
  'cluster-red',
  'expired-license',
] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export type License = 'basic' | 'gold' | 'platinum' | 'enterprise' | 'trial';

export interface Versions {
  ech: string;
  selfManaged: string;
}

export const DEFAULT_VERSIONS: Versions = { ech: '9.1.3', selfManaged: '8.17.4' };

/**
 * The last patch of each minor in which the API-key model was beta (8.10-8.13; elastic/elasticsearch
 * `server/src/main/java/org/elasticsearch/Version.java`: V_8_10_4, V_8_11_4, V_8_12_2, V_8_13_4). Select one with
 * `versions.selfManaged` (or `versions.ech`): the sandbox then answers as that version did (docs/sandbox.md "Fidelity").
 */
export const API_KEY_BETA_VERSIONS = ['8.10.4', '8.11.4', '8.12.2', '8.13.4'] as const;

export interface ScenarioSpec {
  name: ScenarioName;
  description: string;
  /** The request of sandbox.json that this scenario is meant for. */
  request: 'api-key-public' | 'api-key-private' | 'tls-certificate';
  versions: Versions;
  ech: { license: License };
  selfManaged: {
    license: License;
    /** `remote_cluster_server.enabled` at start (its certificate and key files exist either way, so enabling works). */
    rcsEnabled: boolean;
    /** Which CA signs the remote cluster server certificate. */
    rcsCa: 'public' | 'private';
    /** Transport certificates carry the Cloud-pattern `otherName` SAN (re-issued as in domain step C2). */
    transportOtherName: boolean;
    /** The (paid) license is past its expiry date. */
    licenseExpired?: boolean;
    /** `_cluster/health` status (default green). */
    health?: 'green' | 'yellow' | 'red';
    /** Nodes of the self-managed cluster (default 1): path C names and trusts every node (ClusterConfig `nodes`). */
    nodes?: number;
  };
}

const DESCRIPTIONS: Record<ScenarioName, string> = {
  'api-key-public':
    'API-key model; the self-managed remote cluster server certificate chains to the public root (Path A).',
  'api-key-private':
    'API-key model; the remote cluster server certificate is signed by the self-managed private CA (Path B).',
  'tls-certificate':
    'TLS-certificate model: remote cluster server off, transport mTLS; self-managed transport certificates carry otherName; self-managed 8.19 by default (wire-compatible with ECH 9.x) (Path C).',
  'tls-certificate-no-othername':
    'Path C with out-of-the-box self-managed transport certificates (no otherName SAN): they must be re-issued (instances.yml + elasticsearch-certutil, see POST /_sandbox/self-managed/certutil).',
  'old-version':
    'Self-managed 8.12 with the remote cluster server on: the API-key model exists there only in beta (8.10-8.13), so the product refuses it (8.14+); override the version with any of API_KEY_BETA_VERSIONS, or below 8.10 where it does not exist.',
  'basic-license': 'Self-managed on a basic license: API-key cross-cluster requests fail with the license error.',
  'rcs-disabled': 'API-key model, but the self-managed remote cluster server is off until the admin enables it.',
  'cluster-yellow':
    'API-key model; the self-managed cluster is yellow (replicas unassigned, as on any one-node cluster with replicas): no obstacle.',
  'cluster-red':
    'API-key model; the self-managed cluster is red (a primary shard unassigned): the connection works, searches of that index fail.',
  'expired-license':
    'API-key model; the self-managed Enterprise license has expired: licensed features refused, cluster health and stats blocked (SecurityActionFilter).',
};

export function isScenarioName(name: unknown): name is ScenarioName {
  return typeof name === 'string' && (SCENARIOS as readonly string[]).includes(name);
}

/** The full description of a scenario; `versions` overrides the defaults (old-version pins self-managed 8.12). */
export function scenarioSpec(name: ScenarioName, versions: Partial<Versions> = {}): ScenarioSpec {
  const v: Versions = { ...DEFAULT_VERSIONS, ...stripUndefined(versions) };
  const base: ScenarioSpec = {
    name,
    description: DESCRIPTIONS[name],
    request: 'api-key-public',
    versions: v,
    ech: { license: 'enterprise' },
    selfManaged: { license: 'enterprise', rcsEnabled: true, rcsCa: 'public', transportOtherName: true },
  };
  switch (name) {
    case 'api-key-public':
      return base;
    case 'api-key-private':
      return { ...base, request: 'api-key-private', selfManaged: { ...base.selfManaged, rcsCa: 'private' } };
    case 'tls-certificate':
      // The certificate model follows transport wire compatibility: 9.1+ talks only to 8.19 among 8.x (domain §3),
      // so the default self-managed version is 8.19 here; override it to reproduce the incompatibility.
      return {
        ...base,
        request: 'tls-certificate',
        versions: { ...v, selfManaged: versions.selfManaged ?? '8.19.3' },
        // Three nodes: ECH's trust entry and the trust-restrictions file must cover every one, not the one probed.
        selfManaged: { ...base.selfManaged, rcsEnabled: false, nodes: 3 },
      };
    case 'tls-certificate-no-othername': {
      const tlsModel = scenarioSpec('tls-certificate', versions);
      return {
        ...tlsModel,
        name,
        description: DESCRIPTIONS[name],
        selfManaged: { ...tlsModel.selfManaged, transportOtherName: false },
      };
    }
    case 'old-version': {
      // 8.10-8.13 have the remote cluster server (beta): it runs, as an admin who followed the beta docs left it.
      // Below 8.10 its settings are unknown and a node would not start with them, so it stays off.
      const selfManaged = versions.selfManaged ?? '8.12.2';
      return {
        ...base,
        versions: { ...v, selfManaged },
        selfManaged: { ...base.selfManaged, rcsEnabled: hasRemoteClusterSecurity(selfManaged) },
      };
    }
    case 'basic-license':
      return { ...base, selfManaged: { ...base.selfManaged, license: 'basic' } };
    case 'rcs-disabled':
      return { ...base, selfManaged: { ...base.selfManaged, rcsEnabled: false } };
    case 'cluster-yellow':
      return { ...base, selfManaged: { ...base.selfManaged, health: 'yellow' } };
    case 'cluster-red':
      return { ...base, selfManaged: { ...base.selfManaged, health: 'red' } };
    case 'expired-license':
      return { ...base, selfManaged: { ...base.selfManaged, licenseExpired: true } };
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

const VERSION_RE = /^(7\.17|8\.\d{1,2}|9\.\d{1,2})\.\d{1,2}$/;

/** Versions the simulator covers: 7.17 to 9.x, as `major.minor.patch`. */
export function validVersion(v: unknown): v is string {
  return typeof v === 'string' && VERSION_RE.test(v);
}
