/**
 * The sandbox's Elasticsearch responses against the shapes of the official response examples
 * (spec/elasticsearch/<namespace>/<api>/examples/*response*\/*.yaml, vendored from elastic/elasticsearch-specification).
 * Shape rule: every key path in an example exists in our response with the same JSON type; arrays compare their first
 * elements; objects keyed by dynamic names (cluster aliases, node ids, role names) compare one entry to one entry;
 * free-form user metadata is only checked to be an object.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import { start, type Sandbox } from '../../src/sandbox';
import { httpsJson } from './cloud-helpers';

const SPECS = path.resolve(__dirname, '../../spec/elasticsearch');

/** Parents whose keys are names chosen at runtime (`*` matches one such key, `[]` an array element). */
const DYNAMIC = [
  'nodes', // reload_secure_settings: keyed by node id
  'api_keys[].role_descriptors', // keyed by role name
  'api_keys[].limited_by[]', // keyed by role name
];
/** User-supplied metadata: any keys, only the object type is checked. */
const FREE_FORM = new Set(['metadata', 'api_keys[].metadata']);

function jsonType(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

interface ShapeOptions {
  /** Example key paths our response may lack (or report as null). */
  optional?: string[];
  /** Extra dynamic-key parents ('' is the root). */
  dynamic?: string[];
}

/** Mismatches between the example's shape and ours, as `path: reason`. */
export function shapeDiff(example: unknown, actual: unknown, opts: ShapeOptions = {}, at = ''): string[] {
  const out: string[] = [];
  const label = at || '(root)';
  const optional = opts.optional ?? [];
  // A null in the example carries no type: only presence is required (checked by the caller).
  if (example === null) return out;
  if (actual === null && optional.includes(at)) return out;
  if (jsonType(example) !== jsonType(actual)) {
    return [`${label}: expected ${jsonType(example)}, got ${jsonType(actual)}`];
  }
  if (Array.isArray(example)) {
    const a = actual as unknown[];
    if (example.length > 0 && a.length > 0) out.push(...shapeDiff(example[0], a[0], opts, `${at}[]`));
    return out;
  }
  if (typeof example !== 'object' || FREE_FORM.has(at)) return out;
  const ex = example as Record<string, unknown>;
  const ac = actual as Record<string, unknown>;
  if (DYNAMIC.includes(at) || opts.dynamic?.includes(at)) {
    const e = Object.values(ex);
    const a = Object.values(ac);
    const p = at ? `${at}.*` : '*';
    if (e.length > 0 && a.length === 0 && !optional.includes(p)) out.push(`${p}: no entries`);
    if (e.length > 0 && a.length > 0) out.push(...shapeDiff(e[0], a[0], opts, p));
    return out;
  }
  for (const [k, v] of Object.entries(ex)) {
    const p = at ? `${at}.${k}` : k;
    if (!(k in ac)) {
      if (!optional.includes(p)) out.push(`${p}: missing`);
      continue;
    }
    out.push(...shapeDiff(v, ac[k], opts, p));
  }
  return out;
}

function loadExample(file: string): unknown {
  const doc = yaml.load(fs.readFileSync(file, 'utf8'), { schema: yaml.JSON_SCHEMA }) as { value: unknown };
  const value: any = typeof doc.value === 'string' ? JSON.parse(doc.value) : doc.value;
  // RootNodeInfoResponseExample1 is YAML, not a JSON string: its `build_hash: 00000000` reads as a number; ES sends a string.
  if (typeof value?.version?.build_hash === 'number') value.version.build_hash = '00000000';
  return value;
}

let sandbox: Sandbox;
const basic = (cred: string) => `Basic ${Buffer.from(cred).toString('base64')}`;
async function es(side: 'ech' | 'selfManaged', method: string, p: string, body?: unknown): Promise<any> {
  const { info } = sandbox;
  const c =
    side === 'ech'
      ? { url: info.ech.url, ca: info.ca.publicRoot, cred: `${info.ech.username}:${info.ech.password}` }
      : {
          url: info.selfManaged.url,
          ca: info.selfManaged.httpCa,
          cred: `${info.selfManaged.username}:${info.selfManaged.password}`,
        };
  const res = await httpsJson(`${c.url}${p}`, { method, body, ca: c.ca, headers: { authorization: basic(c.cred) } });
  assert.equal(res.status, 200, `${method} ${p}: ${res.status} ${res.text}`);
  return res.body;
}

/** Fixtures the requests need, made once. */
const fx: { ccKey?: any; restKeyId?: string; alias: string } = { alias: 'onprem-ex' };

interface Case {
  request: () => Promise<any>;
  /** Example key paths our response may lack, each with its reason. */
  optional?: string[];
  dynamic?: string[];
  skip?: string;
}

const CASES: Record<string, Case> = {
  'RootNodeInfoResponseExample1.yaml': { request: () => es('ech', 'GET', '/') },
  'RootNodeInfoResponseExample2.yaml': { request: () => es('ech', 'GET', '/') },
  'GetLicenseResponseExample1.yaml': {
    request: () => es('ech', 'GET', '/_license'),
    // The example is a trial license; an enterprise license (what ECH runs) reports `max_nodes: null` and counts
    // `max_resource_units` instead (estypes: `max_nodes: long | null`).
    optional: ['license.max_nodes'],
  },
  'SecurityAuthenticateResponseExample1.yaml': { request: () => es('ech', 'GET', '/_security/_authenticate') },
  'SecurityAuthenticateResponseExample2.yaml': {
    request: () => es('ech', 'GET', '/_security/_authenticate'),
    // `token` is only present for token authentication; we authenticate with Basic (realm). The reserved `elastic`
    // user has no full name or email: both are null (estypes: `string | null`).
    optional: ['token', 'full_name', 'email'],
  },
  'SecurityAuthenticateResponseExample3.yaml': {
    request: () => es('ech', 'GET', '/_security/_authenticate'),
    // `token` is only present for (service account) token authentication; we authenticate with Basic (realm). The
    // reserved `elastic` user has no full name: null (estypes: `string | null`).
    optional: ['token', 'full_name'],
  },
  'SecurityGetApiKeyResponseExample1.yaml': {
    request: () => es('selfManaged', 'GET', `/_security/api_key?id=${fx.restKeyId}&with_limited_by=true`),
  },
  'SecurityGetApiKeyResponseExample2.yaml': {
    request: () => es('selfManaged', 'GET', `/_security/api_key?id=${fx.restKeyId}`),
  },
  'SecurityInvalidateApiKeyResponseExample1.yaml': {
    request: () => es('selfManaged', 'DELETE', '/_security/api_key', { ids: [fx.restKeyId] }),
    // `error_details` is only present when error_count > 0; this invalidation succeeds.
    optional: ['error_details'],
  },
  'SecurityPutRoleResponseExample1.yaml': {
    request: () => es('ech', 'PUT', '/_security/role/x', { cluster: ['monitor'] }),
  },
  'SecurityPutUserResponseExample1.yaml': {
    request: () => es('ech', 'PUT', '/_security/user/x', { password: 'x-password-123', roles: ['x'] }),
  },
  'CreateCrossClusterApiKeyResponseExample1.yaml': {
    request: async () => fx.ccKey,
    // Known defect (spec/README.md): this example is a service-token response. The real response shape is
    // checked in the 'create_cross_cluster_api_key' test below instead.
    skip: 'known defect in the spec: the example is a service-token response',
  },
  'UpdateCrossClusterApiKeyResponseExample1.yaml': {
    request: () =>
      es('selfManaged', 'PUT', `/_security/cross_cluster/api_key/${fx.ccKey.id}`, { metadata: { purpose: 'x' } }),
  },
  'GetCertificatesResponseExample1.yaml': {
    request: () => es('selfManaged', 'GET', '/_ssl/certificates'),
    // The example lists a PKCS#12 keystore; our node uses PEM files, which have no alias: null (estypes: `string | null`).
    optional: ['[].alias'],
  },
  'ReloadSecureSettingsResponseExample1.yaml': {
    request: () => es('ech', 'POST', '/_nodes/reload_secure_settings', {}),
  },
  'ResolveClusterResponseExample1.yaml': {
    request: () => es('ech', 'GET', `/_resolve/cluster/${fx.alias}:logs-*`),
    dynamic: [''], // keyed by cluster alias
  },
  'ResolveClusterResponseExample2.yaml': {
    request: () => es('ech', 'GET', `/_resolve/cluster/${fx.alias}:logs-*`),
    dynamic: [''], // keyed by cluster alias
    // The example's first entry is a local cluster with `error` (no such index); ours is a connected remote, which
    // carries no `error`.
    optional: ['*.error'],
  },
};

function exampleFiles(dir: string): string[] {
  const out: string[] = [];
  for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, ent.name);
    if (ent.isDirectory()) out.push(...exampleFiles(p));
    else if (/\/examples\/[^/]*response[^/]*\/[^/]+\.yaml$/.test(p)) out.push(p);
  }
  return out.sort();
}
const FILES = exampleFiles(SPECS);

before(async () => {
  sandbox = await start({ planPendingMs: 50 });
  const { info } = sandbox;
  fx.ccKey = await es('selfManaged', 'POST', '/_security/cross_cluster/api_key', {
    name: 'ex-link',
    access: { search: [{ names: ['logs-*'] }] },
  });
  fx.restKeyId = (
    await es('selfManaged', 'POST', '/_security/api_key', {
      name: 'ex-rest',
      expiration: '1d',
      role_descriptors: { 'role-a': { cluster: ['monitor'], indices: [{ names: ['index-a'], privileges: ['read'] }] } },
    })
  ).id;
  const patch = await httpsJson(
    `${info.cloud.endpoint}/api/v1/deployments/${info.cloud.deploymentId}/elasticsearch/${info.cloud.refId}/keystore`,
    {
      method: 'PATCH',
      body: { secrets: { [`cluster.remote.${fx.alias}.credentials`]: { value: fx.ccKey.encoded, as_file: false } } },
      ca: info.ca.publicRoot,
      headers: { authorization: `ApiKey ${info.cloud.apiKey}` },
    },
  );
  assert.equal(patch.status, 200, patch.text);
  await es('ech', 'PUT', '/_cluster/settings', {
    persistent: {
      cluster: {
        remote: {
          [fx.alias]: {
            mode: 'proxy',
            proxy_address: info.selfManaged.remoteClusterServer,
            server_name: info.selfManaged.serverName,
          },
        },
      },
    },
  });
});

after(async () => {
  await sandbox?.stop();
});

describe('Elasticsearch responses match the official response examples', () => {
  it('finds the example files, and every one has a case', () => {
    assert.ok(FILES.length >= 17, `found ${FILES.length} examples under ${SPECS}`);
    assert.deepEqual(
      FILES.map((f) => path.basename(f)).filter((b) => !CASES[b]),
      [],
    );
  });

  it('the comparator fails on a wrong shape', () => {
    const ex = { a: 1, b: { c: 'x' }, d: [{ e: true }], nodes: { id1: { name: 'n' } } };
    assert.deepEqual(shapeDiff(ex, ex), []);
    assert.deepEqual(shapeDiff(ex, { a: '1', b: {}, d: [{ e: 'yes' }], nodes: { id2: { name: 1 } } }), [
      'a: expected number, got string',
      'b.c: missing',
      'd[].e: expected boolean, got string',
      'nodes.*.name: expected string, got number',
    ]);
    assert.deepEqual(shapeDiff(ex, { ...ex, nodes: {} }), ['nodes.*: no entries']);
    assert.deepEqual(shapeDiff([{ a: 1 }], {}), ['(root): expected array, got object']);
  });

  for (const file of FILES) {
    const name = path.basename(file);
    const c = CASES[name];
    // The defective example is not compared (its own case documents why); the real response is checked separately.
    if (c?.skip) continue;
    it(path.relative(SPECS, file), async () => {
      assert.ok(c, `no case for ${name}`);
      const body = await c.request();
      assert.deepEqual(shapeDiff(loadExample(file), body, c), [], JSON.stringify(body));
    });
  }

  it('create_cross_cluster_api_key returns {id, name, api_key, encoded, expiration?}', () => {
    const real = { id: 'VuaCfGcBCdbkQm-e5aOx', name: 'n', api_key: 'ui2lp2axTNmsyakw9tvNnw', encoded: 'VnVhQ2ZH' };
    assert.deepEqual(shapeDiff(real, fx.ccKey), []);
    assert.deepEqual(
      Object.keys(fx.ccKey)
        .filter((k) => k !== 'expiration')
        .sort(),
      ['api_key', 'encoded', 'id', 'name'],
    );
    if ('expiration' in fx.ccKey) assert.equal(typeof fx.ccKey.expiration, 'number');
    assert.equal(Buffer.from(fx.ccKey.encoded, 'base64').toString(), `${fx.ccKey.id}:${fx.ccKey.api_key}`);
  });
});
