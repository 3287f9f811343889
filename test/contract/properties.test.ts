/**
 * Properties of request validation and of the instructions built from a request, with fast-check: validation never
 * throws and names a field that is there; whatever serverName or node name reaches a command line is one shell word
 * there; generated valid requests are not refused.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { validateConnectRequest, type ConnectRequest } from '../../src/contract/request';
import { remoteClusterServerInstructions } from '../../src/domain/instructions';
import { reissueCommands, shellQuote } from '../../src/domain/tlsCertificate';
import { allPaths, bases, exists, parsePath, setAt, type BaseName } from './requests';

type Token = { op: string } | { word: string; expands: boolean };

/**
 * A small POSIX shell lexer, enough to see what a shell would run: words (after quote removal, flagged when an
 * unquoted or double-quoted expansion or glob is in them), operators and newlines; `#` comments dropped.
 */
function lex(text: string): Token[] {
  const out: Token[] = [];
  let word: string | undefined;
  let expands = false;
  const end = () => {
    if (word !== undefined) out.push({ word, expands });
    word = undefined;
    expands = false;
  };
  for (let i = 0; i < text.length;) {
    const c = text[i]!;
    if (c === "'") {
      const j = text.indexOf("'", i + 1);
      if (j < 0) throw new Error('unterminated single quote');
      word = (word ?? '') + text.slice(i + 1, j);
      i = j + 1;
    } else if (c === '"') {
      let j = i + 1;
      let v = '';
      for (; j < text.length && text[j] !== '"'; j++) {
        if (text[j] === '$' || text[j] === '`') expands = true;
        if (text[j] === '\\' && '$`"\\\n'.includes(text[j + 1] ?? '')) j++;
        v += text[j];
      }
      if (j >= text.length) throw new Error('unterminated double quote');
      word = (word ?? '') + v;
      i = j + 1;
    } else if (c === '\\') {
      word = (word ?? '') + (text[i + 1] ?? '');
      i += 2;
    } else if (c === '#' && word === undefined) {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === ' ' || c === '\t') {
      end();
      i++;
    } else if ('\n;&|<>()'.includes(c)) {
      end();
      const two = text.slice(i, i + 2);
      const op = ['&&', '||', '>>', ';;'].includes(two) ? two : c;
      out.push({ op });
      i += op.length;
    } else {
      if ('$`*?[{~!'.includes(c) || (c === '=' && word === undefined)) expands = true;
      word = (word ?? '') + c;
      i++;
    }
  }
  end();
  return out;
}

/** The sh block of the remote-cluster-server step (up to the constant text that follows it). */
function shBlock(instructions: string): string {
  const start = instructions.indexOf('```sh\n');
  const end = instructions.indexOf('\n```\nIf the key has a passphrase');
  assert.ok(start >= 0 && end > start, 'the sh block is where it belongs');
  return instructions.slice(start + 6, end);
}

const parsed = (base: BaseName): ConnectRequest => {
  const v = validateConnectRequest(bases[base]());
  assert.ok(v.ok);
  return v.request;
};

/** Strings a shell or a terminal would care about, mixed into host-name-like text. */
const hostile = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({
    unit: fc.constantFrom(...'$`\'"\\;&|<>(){}[]*?~!#= \n\t\r\u0000\u202e.-aZ09:'.split('')),
    maxLength: 30,
  }),
  fc
    .tuple(fc.domain(), fc.constantFrom('$(touch ./pwned)', '`id`', "'; id; '", '\n\nid', '\\', '"$HOME"', ' -x', '#'))
    .map(([d, p]) => d + p),
  fc.domain(),
);

describe('properties of validation (fast-check)', () => {
  it('(a) random mutations at random paths never throw, and problems name a path of the input or its parent', () => {
    const baseNames = Object.keys(bases) as BaseName[];
    fc.assert(
      fc.property(
        fc.constantFrom(...baseNames),
        fc.nat(),
        fc.oneof(
          fc.anything({ maxDepth: 4 }),
          hostile,
          fc.constant(undefined), // delete the field
          fc.integer(),
          fc.constantFrom('', '.', '..', '0s', '99999999999999d', '__proto__'),
        ),
        fc.boolean(),
        (baseName, pick, value, asNewKey) => {
          const input = bases[baseName]();
          const paths = allPaths(input).filter((p) => p.length > 0);
          const at = paths[pick % paths.length]!;
          // Either replace what is at a path, or add a key beside it.
          const target = asNewKey ? [...at.slice(0, -1), `x${pick % 7}`] : at;
          setAt(input, target, value);
          const v = validateConnectRequest(input);
          if (v.ok) return;
          assert.ok(v.problems.length > 0);
          for (const p of v.problems) {
            const segments = parsePath(p.path);
            assert.ok(
              exists(input, segments) || exists(input, segments.slice(0, -1)),
              `${p.path} (${p.message}) is in the input or names a missing field of an existing object`,
            );
          }
        },
      ),
      { numRuns: 600 },
    );
  });

  it('(b) any serverName is refused, or is exactly one shell word of the certutil command', () => {
    const reference = shBlock(remoteClusterServerInstructions(parsed('apiKeyPrivate'), 'wf', 'why').instructions);
    const expected = lex(reference);
    const certutilArg = (t: Token) => 'word' in t && /^--(dns|ip)=/.test(t.word);
    fc.assert(
      fc.property(hostile, fc.boolean(), (serverName, checkValidation) => {
        const input = bases.apiKeyPrivate();
        input.remote.serverName = serverName;
        const v = validateConnectRequest(input);
        // Refused: fine. Accepted: the published command must be safe. Defence in depth: even an unvalidated value
        // (a request built without the schema) must come out as one word.
        if (checkValidation && !v.ok) return;
        const r = { ...parsed('apiKeyPrivate'), remote: { ...parsed('apiKeyPrivate').remote, serverName } };
        const tokens = lex(shBlock(remoteClusterServerInstructions(r, 'wf', 'why').instructions));
        assert.equal(tokens.length, expected.length, `the same commands: ${JSON.stringify(tokens)}`);
        tokens.forEach((t, i) => {
          if (certutilArg(expected[i]!)) {
            assert.ok('word' in t && !t.expands, 'one word, nothing expanded');
            assert.equal(t.word.replace(/^--(dns|ip)=/, ''), serverName);
          } else assert.deepEqual(t, expected[i]);
        });
        // With a public CA the name is in a comment only: it stays on the comment's line.
        const pub = { ...r, remote: { ...r.remote, ca: { kind: 'public' as const } } };
        const comment = shBlock(remoteClusterServerInstructions(pub, 'wf', 'why').instructions);
        assert.deepEqual(lex(comment), [], 'a comment and nothing else');
      }),
      { numRuns: 800 },
    );
  });

  it('(b) node names of the re-issue copy lines, from a certificate or a request, stay arguments', () => {
    fc.assert(
      fc.property(hostile, (name) => {
        const line = reissueCommands([{ name, cn: ['x'] }]).perNode[0]!.command;
        const words = lex(line).filter((t): t is { word: string; expands: boolean } => 'word' in t);
        const ops = lex(line).filter((t) => 'op' in t);
        assert.deepEqual(ops, [{ op: '&&' }, { op: '&&' }, { op: '&&' }], 'four commands, nothing else');
        assert.deepEqual(words[3], { word: `${name}/*`, expands: false });
        assert.deepEqual(words[10], { word: `transport-certs/${name}/${name}.crt`, expands: false });
      }),
      { numRuns: 500 },
    );
  });

  it('shellQuote: the shell reads back exactly the value, as one word', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const tokens = lex(`x ${shellQuote(s)}`);
        assert.deepEqual(tokens, [
          { word: 'x', expands: false },
          { word: s, expands: false },
        ]);
      }),
      { numRuns: 2000 },
    );
    assert.equal(shellQuote('es.corp.example'), 'es.corp.example', 'plain values stay readable');
    assert.equal(shellQuote("it's"), `'it'\\''s'`);
    assert.equal(shellQuote(''), "''");
    assert.equal(shellQuote('=cmd'), "'=cmd'", 'zsh expands a leading =');
  });

  it('(c) generated valid host names, addresses, names, patterns and durations are accepted', () => {
    const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/);
    const hostname = fc
      .tuple(fc.array(label, { maxLength: 3 }), fc.stringMatching(/^[a-zA-Z]([a-zA-Z0-9-]{0,20}[a-zA-Z0-9])?$/))
      .map(([ls, tld]) => [...ls, tld].join('.'))
      // `xn--` labels are IDNA A-labels: a URL parser refuses those that do not decode (`xn--a`), rightly.
      .filter((h) => h.length <= 253 && !/(^|\.)xn--/.test(h));
    const name = fc
      .stringMatching(/^[A-Za-z0-9_@.-]{1,60}$/)
      .filter((n) => n !== '.' && n !== '..' && !['superuser', 'viewer', 'editor', 'elastic', 'kibana'].includes(n));
    const index = fc.stringMatching(/^[a-z0-9.*][a-z0-9._*-]{0,60}$/).filter((n) => n !== '.' && n !== '..');
    const within = (min: number, max: number, unit: string) => fc.integer({ min, max }).map((n) => `${n}${unit}`);
    fc.assert(
      fc.property(
        fc.oneof(hostname, fc.domain(), fc.ipV4()),
        fc.oneof(
          hostname,
          fc.domain(),
          fc.ipV4(),
          fc.ipV6().map((a) => `[${a}]`),
        ),
        fc.integer({ min: 1, max: 65535 }),
        name,
        name,
        index,
        fc.oneof(within(1, 720, 'h'), within(1, 30, 'd'), within(60, 2_592_000, 's')),
        fc.oneof(within(5, 3600, 's'), within(1, 60, 'm'), within(5000, 3_600_000, 'ms')),
        fc.oneof(within(1, 87_600, 'h'), within(1, 3650, 'd')),
        (serverName, host, port, roleName, username, pattern, approval, verify, expiration) => {
          const r = bases.apiKeyPrivate();
          r.remote.serverName = serverName;
          r.remote.proxyAddress = `${host}:${port}`;
          r.remote.elasticsearch.url = `https://${host}:${port}/prefix`;
          r.roles[0].name = roleName;
          r.users[0].roles = [roleName];
          r.users[0].username = username;
          r.access.search[0].names = [pattern];
          r.roles[0].remoteIndices[0].names = [pattern];
          r.verify = { searchIndex: pattern, timeout: verify };
          r.approvals.timeout = approval;
          r.humanStepTimeout = approval;
          r.keyExpiration = expiration;
          const v = validateConnectRequest(r);
          assert.ok(v.ok, JSON.stringify(!v.ok && v.problems));
        },
      ),
      { numRuns: 800 },
    );
  });

  it('(c) generated node names (the allowed set) are accepted for the TLS model', () => {
    const node = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,80}$/).filter((n) => n !== '.' && n !== '..');
    fc.assert(
      fc.property(fc.array(node, { minLength: 1, maxLength: 100 }), (nodeNames) => {
        const r = bases.tls();
        r.remote.nodeNames = nodeNames;
        const v = validateConnectRequest(r);
        assert.ok(v.ok, JSON.stringify(!v.ok && v.problems));
      }),
      { numRuns: 200 },
    );
  });
});
