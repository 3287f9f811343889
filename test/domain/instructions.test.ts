/**
 * How the instructions of the human steps tell people to answer: `ech-remote` first (it checks what it sends and
 * encrypts it with the workers' key), and every raw `temporal workflow signal` through the codec server, so that a key
 * handed over that way is never stored in plaintext.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { validateConnectRequest, type ConnectRequest } from '../../src/contract/request';
import {
  approvalInstructions,
  crossClusterApiKeyInstructions,
  remoteCaCertificateInstructions,
  remoteClusterServerInstructions,
} from '../../src/domain/instructions';
import { bases } from '../contract/requests';

const workflowId = 'connect-0123456789abcdef0123456789abcdef-onprem-logs';

function request(): ConnectRequest {
  const v = validateConnectRequest(bases.apiKeyPublic());
  assert.ok(v.ok);
  return v.request;
}

const texts = () => ({
  'remote-cluster-server': remoteClusterServerInstructions(request(), workflowId, 'The probe could not prove it.')
    .instructions,
  'cross-cluster-api-key': crossClusterApiKeyInstructions(request(), workflowId).instructions,
  'approve-local-changes': approvalInstructions(request(), workflowId, [{ action: 'Add the remote cluster' }])
    .instructions,
  'remote-ca-certificate': remoteCaCertificateInstructions(workflowId).instructions,
});

/** The answer bullets after the "answer"/"hand over"/"approve" heading, in order. */
function answers(text: string): string[] {
  const from = text.search(/^\*\*(When done|Approve or reject)/m);
  assert.ok(from >= 0, text);
  return text
    .slice(from)
    .split('\n')
    .filter((l) => l.startsWith('- '));
}

/** The inline code of a markdown line (the command a person copies). */
const codeOf = (line: string) => /`([^`]*(?:temporal|ech-remote) [^`]*)`/.exec(line)?.[1];

describe('answering a human step', () => {
  it('the key hand-over leads with ech-remote provide-key, which encrypts the key', () => {
    const text = texts()['cross-cluster-api-key'];
    const [first, ...rest] = answers(text);
    assert.match(codeOf(first!)!, /ech-remote provide-key connect-\S+ --from-env ECH_REMOTE_KEY$/);
    // The key is read without echo, never typed into the command line (shell history).
    assert.match(codeOf(first!)!, /^read -rs ECH_REMOTE_KEY && export ECH_REMOTE_KEY && /);
    assert.ok(!/ECH_REMOTE_KEY=</.test(text), 'no "VAR=<key> command" in the instructions');
    assert.ok(rest.some((l) => /Temporal UI/.test(l)));
  });

  for (const [step, text] of Object.entries(texts())) {
    it(`${step}: ech-remote comes first, and every raw temporal signal goes through the codec server`, () => {
      const lines = answers(text);
      assert.match(lines[0]!, /^- ech-remote/);
      const signals = lines.map(codeOf).filter((c): c is string => !!c && c.startsWith('temporal workflow signal'));
      assert.equal(signals.length, 1, text);
      assert.match(signals[0]!, / --codec-endpoint "\$TEMPORAL_CODEC_ENDPOINT" --codec-auth "\$TEMPORAL_CODEC_AUTH"$/);
    });
  }

  it('the raw temporal command for the key, run in a shell, sends {"encoded": key} through the codec server', () => {
    const command = answers(texts()['cross-cluster-api-key'])
      .map(codeOf)
      .find((c) => c?.startsWith('temporal workflow signal'));
    assert.ok(command);
    // A `temporal` that records its arguments, first on PATH.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-temporal-'));
    try {
      const fake = path.join(dir, 'temporal');
      fs.writeFileSync(fake, `#!/usr/bin/env node\nconsole.log(JSON.stringify(process.argv.slice(2)));\n`, {
        mode: 0o755,
      });
      const key = Buffer.from('VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw').toString('base64');
      const argv: string[] = JSON.parse(
        execFileSync('bash', ['-c', command], {
          encoding: 'utf8',
          env: {
            PATH: `${dir}:${process.env.PATH}`,
            ECH_REMOTE_KEY: key,
            TEMPORAL_CODEC_ENDPOINT: 'http://127.0.0.1:8888',
            TEMPORAL_CODEC_AUTH: 'Bearer t0ken',
          },
        }),
      );
      const flag = (name: string) => argv[argv.indexOf(name) + 1];
      assert.equal(flag('--name'), 'provideCrossClusterApiKey');
      assert.equal(flag('--workflow-id'), workflowId);
      assert.deepEqual(JSON.parse(flag('--input')!), { encoded: key });
      assert.equal(flag('--codec-endpoint'), 'http://127.0.0.1:8888');
      assert.equal(flag('--codec-auth'), 'Bearer t0ken');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
