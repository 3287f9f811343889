/**
 * The built `ech-remote connect` refuses a 10 MB request fast, naming the field that crosses the request limit, and
 * sends nothing (an unreachable Temporal: trying to send would exit 1, not 2).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { LIMITS, validateConnectRequest } from '../../src/contract/request';
import { runCli } from '../helpers/cli';
import { bases } from './requests';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ech-remote-limits-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const offline = { TEMPORAL_ADDRESS: '127.0.0.1:9' };

function tenMegabyteRequest(): string {
  const r = bases.apiKeyPrivate();
  r.remote.serverName = 'a'.repeat(10 * 1024 * 1024);
  const file = path.join(dir, 'ten-mb.json');
  fs.writeFileSync(file, JSON.stringify(r));
  return file;
}

describe('ech-remote connect with an oversize request', () => {
  it('reading, parsing and validating a 10 MB request takes well under 1 s', (t) => {
    const file = tenMegabyteRequest();
    const t0 = performance.now();
    const v = validateConnectRequest(JSON.parse(fs.readFileSync(file, 'utf8')));
    const ms = performance.now() - t0;
    t.diagnostic(`read + parse + validate: ${ms.toFixed(1)} ms`);
    assert.equal(v.ok, false);
    assert.ok(ms < 1000, `${ms} ms`);
  });

  it('exits 2 within seconds of start, naming the field and the limit, in text and --json', async (t) => {
    const file = tenMegabyteRequest();
    const baseline = performance.now();
    const help = await runCli(['connect', '--help']); // the same process start, no request
    const startupMs = performance.now() - baseline;
    assert.equal(help.code, 0);

    const t0 = performance.now();
    const text = await runCli(['connect', '--request', file], offline);
    const totalMs = performance.now() - t0;
    t.diagnostic(
      `10 MB request: exit ${text.code} after ${totalMs.toFixed(0)} ms (--help alone: ${startupMs.toFixed(0)} ms)`,
    );
    assert.equal(text.code, 2, text.stderr);
    // Bounds that catch a validator that reads the whole value or backtracks over it (seconds to minutes on 10 MB),
    // wide enough for a loaded CI host where two process starts differ by a second: this is no benchmark.
    assert.ok(totalMs < 10_000, `${totalMs} ms`);
    assert.ok(totalMs - startupMs < 3000, `validation adds ${totalMs - startupMs} ms to the process start`);
    assert.match(
      text.stderr,
      new RegExp(`\\$\\.remote\\.serverName: the request is larger than ${LIMITS.requestChars}`),
    );
    assert.match(text.stderr, /nothing was sent/);

    const json = await runCli(['connect', '--request', file, '--json'], offline);
    assert.equal(json.code, 2, json.stderr);
    const report = JSON.parse(json.stdout);
    assert.equal(report.outcome, 'invalid');
    assert.deepEqual(
      report.problems.map((p: { path: string }) => p.path),
      ['$.remote.serverName'],
    );
  });

  it('a file over 64 times the limit is refused by its size, without being read', async () => {
    const file = path.join(dir, 'huge.json');
    fs.writeFileSync(file, '');
    fs.truncateSync(file, 64 * LIMITS.requestChars + 1); // sparse: nothing to read but its size
    const res = await runCli(['connect', '--request', file, '--json'], offline);
    assert.equal(res.code, 2, res.stderr);
    const report = JSON.parse(res.stdout);
    assert.deepEqual(
      report.problems.map((p: { path: string }) => p.path),
      ['$'],
    );
    assert.match(report.problems[0].message, new RegExp(`at most ${LIMITS.requestChars} characters`));
  });
});
