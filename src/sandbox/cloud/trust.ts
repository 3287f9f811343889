/**
 * `settings.trust` of an Elasticsearch resource: validation with the swagger's rules (`DirectTrustRelationship`,
 * `AccountTrustRelationship`, `ExternalTrustRelationship`), uid bookkeeping, rendering with certificate metadata, and
 * the translation into what the ECH nodes then trust.
 */
import { randomUUID } from 'node:crypto';
import { certificateMetadata, splitPemBundle, type CertificateMetadata } from './certs';
import { CloudValidationError } from './errors';

export type DirectTrustType = 'ECE' | 'ESS' | 'generic' | 'proxy';

export interface TrustedCertificate {
  pem: string;
  metadata?: CertificateMetadata;
}

export interface DirectTrust {
  uid: string;
  name: string;
  type?: DirectTrustType;
  trust_all: boolean;
  trust_allowlist?: string[];
  scope_id?: string;
  additional_node_names?: string[];
  certificates: TrustedCertificate[];
}

export interface AccountTrust {
  account_id: string;
  name?: string;
  trust_all: boolean;
  trust_allowlist?: string[];
}

export interface ExternalTrust {
  trust_relationship_id: string;
  name?: string;
  trust_all: boolean;
  trust_allowlist?: string[];
}

export interface TrustSettings {
  accounts?: AccountTrust[];
  external?: ExternalTrust[];
  direct?: DirectTrust[];
}

type Problems = { message: string; field: string }[];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkKeys(o: Record<string, unknown>, allowed: string[], path: string, problems: Problems): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) problems.push({ field: `${path}.${k}`, message: `Unknown field [${k}]` });
  }
}

function stringArray(v: unknown, path: string, problems: Problems): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
    problems.push({ field: path, message: 'Expected an array of strings' });
    return undefined;
  }
  return v as string[];
}

function requiredBoolean(o: Record<string, unknown>, key: string, path: string, problems: Problems): boolean {
  if (typeof o[key] !== 'boolean') {
    problems.push({ field: `${path}.${key}`, message: `The field [${key}] is required and must be a boolean` });
    return false;
  }
  return o[key] as boolean;
}

function requiredString(o: Record<string, unknown>, key: string, path: string, problems: Problems): string {
  if (typeof o[key] !== 'string' || (o[key] as string).length === 0) {
    problems.push({
      field: `${path}.${key}`,
      message: `The field [${key}] is required and must be a non-empty string`,
    });
    return '';
  }
  return o[key] as string;
}

const SCOPE_ID_RE = /^[a-z0-9]{1,32}$/;
const DIRECT_TYPES: DirectTrustType[] = ['ECE', 'ESS', 'generic', 'proxy'];

function validateDirect(
  entry: unknown,
  path: string,
  problems: Problems,
  newUid: () => string,
): DirectTrust | undefined {
  if (!isObject(entry)) {
    problems.push({ field: path, message: 'Expected an object' });
    return undefined;
  }
  checkKeys(
    entry,
    ['uid', 'name', 'type', 'trust_all', 'trust_allowlist', 'scope_id', 'additional_node_names', 'certificates'],
    path,
    problems,
  );
  const name = requiredString(entry, 'name', path, problems);
  const trustAll = requiredBoolean(entry, 'trust_all', path, problems);
  let type: DirectTrustType | undefined;
  if (entry.type !== undefined) {
    if (typeof entry.type !== 'string' || !DIRECT_TYPES.includes(entry.type as DirectTrustType)) {
      problems.push({ field: `${path}.type`, message: `The type must be one of ${DIRECT_TYPES.join(', ')}` });
    } else type = entry.type as DirectTrustType;
  }
  const effectiveType = type ?? 'generic';
  const allowlist = stringArray(entry.trust_allowlist, `${path}.trust_allowlist`, problems);
  const nodeNames = stringArray(entry.additional_node_names, `${path}.additional_node_names`, problems);
  let scopeId: string | undefined;
  if (entry.scope_id !== undefined && entry.scope_id !== null) {
    if (typeof entry.scope_id !== 'string' || !SCOPE_ID_RE.test(entry.scope_id)) {
      problems.push({
        field: `${path}.scope_id`,
        message: 'The scope_id must be a lowercase alphanumerical string of max 32 characters',
      });
    } else scopeId = entry.scope_id;
  }
  let uid: string | undefined;
  if (entry.uid !== undefined && entry.uid !== null) {
    if (typeof entry.uid !== 'string' || !entry.uid) problems.push({ field: `${path}.uid`, message: 'Invalid uid' });
    else uid = entry.uid;
  }

  const certificates: TrustedCertificate[] = [];
  if (!Array.isArray(entry.certificates) || entry.certificates.length === 0) {
    problems.push({ field: `${path}.certificates`, message: 'At least one certificate is required' });
  } else {
    entry.certificates.forEach((c: unknown, i: number) => {
      const cpath = `${path}.certificates[${i}]`;
      if (!isObject(c) || typeof c.pem !== 'string') {
        problems.push({ field: `${cpath}.pem`, message: 'The field [pem] is required' });
        return;
      }
      // `metadata` is generated by the Cloud service and ignored on write, so a read-back entry can be re-sent as is.
      checkKeys(c, ['pem', 'metadata'], cpath, problems);
      if (/PRIVATE KEY-----/.test(c.pem)) {
        problems.push({ field: `${cpath}.pem`, message: 'The certificate must not contain a private key' });
        return;
      }
      try {
        const blocks = splitPemBundle(c.pem);
        if (blocks.length === 0) throw new Error('no certificate');
        certificates.push({ pem: c.pem });
      } catch {
        problems.push({
          field: `${cpath}.pem`,
          message: 'The certificate is not a valid PEM encoded X.509 certificate',
        });
      }
    });
  }

  if (effectiveType === 'proxy') {
    // Swagger: "If proxy is specified, trust_all should be false and trust_allowlist, scope_id and
    // additional_node_names should be omitted."
    if (trustAll) problems.push({ field: `${path}.trust_all`, message: 'trust_all must be false for type [proxy]' });
    for (const key of ['trust_allowlist', 'scope_id', 'additional_node_names'] as const) {
      if (entry[key] !== undefined && entry[key] !== null) {
        problems.push({ field: `${path}.${key}`, message: `[${key}] must be omitted for type [proxy]` });
      }
    }
  } else {
    if (trustAll && !scopeId) {
      problems.push({ field: `${path}.scope_id`, message: 'scope_id is required when trust_all is true' });
    }
    if (!trustAll && allowlist && allowlist.length > 0 && !scopeId) {
      problems.push({ field: `${path}.scope_id`, message: 'scope_id is required when trust_allowlist is not empty' });
    }
    if (!scopeId && (!nodeNames || nodeNames.length === 0)) {
      problems.push({
        field: `${path}.additional_node_names`,
        message: 'additional_node_names is mandatory when scope_id is not defined',
      });
    }
    nodeNames?.forEach((n, i) => {
      if (n.includes('*')) {
        problems.push({ field: `${path}.additional_node_names[${i}]`, message: `Wildcards are not allowed: [${n}]` });
      }
    });
  }

  return {
    uid: uid ?? newUid(),
    name,
    ...(type ? { type } : {}),
    trust_all: trustAll,
    ...(allowlist ? { trust_allowlist: allowlist } : {}),
    ...(scopeId ? { scope_id: scopeId } : {}),
    ...(nodeNames ? { additional_node_names: nodeNames } : {}),
    certificates,
  };
}

function validateAccountLike<K extends 'account_id' | 'trust_relationship_id'>(
  entry: unknown,
  idKey: K,
  path: string,
  problems: Problems,
): (Record<K, string> & { name?: string; trust_all: boolean; trust_allowlist?: string[] }) | undefined {
  if (!isObject(entry)) {
    problems.push({ field: path, message: 'Expected an object' });
    return undefined;
  }
  checkKeys(entry, [idKey, 'name', 'trust_all', 'trust_allowlist'], path, problems);
  const id = requiredString(entry, idKey, path, problems);
  const trustAll = requiredBoolean(entry, 'trust_all', path, problems);
  const allowlist = stringArray(entry.trust_allowlist, `${path}.trust_allowlist`, problems);
  if (entry.name !== undefined && typeof entry.name !== 'string') {
    problems.push({ field: `${path}.name`, message: 'Expected a string' });
  }
  return {
    [idKey]: id,
    ...(typeof entry.name === 'string' ? { name: entry.name } : {}),
    trust_all: trustAll,
    ...(allowlist ? { trust_allowlist: allowlist } : {}),
  } as Record<K, string> & { name?: string; trust_all: boolean; trust_allowlist?: string[] };
}

/**
 * Validate a `trust` object as sent in a deployment update. The result replaces the stored trust as a whole; direct
 * entries keep the uid they were sent with and get a new one otherwise. Throws CloudValidationError listing every
 * problem.
 */
export function validateTrust(input: unknown, path: string, newUid: () => string = randomUUID): TrustSettings {
  const problems: Problems = [];
  if (!isObject(input)) throw new CloudValidationError([{ field: path, message: 'Expected an object' }]);
  checkKeys(input, ['accounts', 'external', 'direct'], path, problems);
  const out: TrustSettings = {};
  const list = (key: 'accounts' | 'external' | 'direct'): unknown[] | undefined => {
    const v = input[key];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v)) {
      problems.push({ field: `${path}.${key}`, message: 'Expected an array' });
      return undefined;
    }
    return v;
  };
  const accounts = list('accounts');
  if (accounts) {
    out.accounts = accounts
      .map((e, i) => validateAccountLike(e, 'account_id', `${path}.accounts[${i}]`, problems))
      .filter((e): e is AccountTrust => e !== undefined);
  }
  const external = list('external');
  if (external) {
    out.external = external
      .map((e, i) => validateAccountLike(e, 'trust_relationship_id', `${path}.external[${i}]`, problems))
      .filter((e): e is ExternalTrust => e !== undefined);
  }
  const direct = list('direct');
  if (direct) {
    out.direct = direct
      .map((e, i) => validateDirect(e, `${path}.direct[${i}]`, problems, newUid))
      .filter((e): e is DirectTrust => e !== undefined);
    const seen = new Set<string>();
    out.direct.forEach((d, i) => {
      if (seen.has(d.uid)) problems.push({ field: `${path}.direct[${i}].uid`, message: `Duplicate uid [${d.uid}]` });
      seen.add(d.uid);
    });
  }
  if (problems.length) throw new CloudValidationError(problems);
  return out;
}

/** The trust object as the Cloud API returns it: certificates carry generated metadata. */
export function renderTrust(trust: TrustSettings): TrustSettings {
  return {
    ...(trust.accounts ? { accounts: trust.accounts.map((a) => ({ ...a })) } : {}),
    ...(trust.external ? { external: trust.external.map((e) => ({ ...e })) } : {}),
    ...(trust.direct
      ? {
          direct: trust.direct.map((d) => ({
            ...d,
            certificates: d.certificates.map((c) => ({ pem: c.pem, metadata: certificateMetadata(c.pem) })),
          })),
        }
      : {}),
  };
}

/** Structural equality ignoring certificate metadata (which is generated, never stored). */
export function sameTrust(a: TrustSettings, b: TrustSettings): boolean {
  const strip = (t: TrustSettings) =>
    JSON.stringify({
      accounts: t.accounts ?? [],
      external: t.external ?? [],
      direct: (t.direct ?? []).map((d) => ({ ...d, certificates: d.certificates.map((c) => c.pem) })),
    });
  return strip(a) === strip(b);
}

/** The Cloud naming pattern of ECH/ECE node certificates (`otherName`): `<node>.node.<cluster>.cluster.<scope>.account`. */
export function nodeNamePattern(clusterId: string, scopeId: string): string {
  return `*.node.${clusterId}.cluster.${scopeId}.account`;
}

/**
 * What the ECH nodes trust after a trust plan: the CAs of every direct entry, and for entries that identify nodes
 * (every type but `proxy`) the node names / patterns the entry allows.
 */
export function trustForCluster(trust: TrustSettings): { cas: string[]; transportNodeNamePatterns: string[] } {
  const cas: string[] = [];
  const patterns: string[] = [];
  for (const d of trust.direct ?? []) {
    for (const c of d.certificates) cas.push(...splitPemBundle(c.pem));
    if ((d.type ?? 'generic') === 'proxy') continue;
    patterns.push(...(d.additional_node_names ?? []));
    if (d.scope_id) {
      if (d.trust_all) patterns.push(nodeNamePattern('*', d.scope_id));
      else for (const id of d.trust_allowlist ?? []) patterns.push(nodeNamePattern(id, d.scope_id));
    }
  }
  return { cas: [...new Set(cas)], transportNodeNamePatterns: [...new Set(patterns)] };
}
