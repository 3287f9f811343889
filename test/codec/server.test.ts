/**
 * The codec server as its users meet it: the `temporal` CLI with --codec-endpoint shows decrypted input (and without
 * it does not), callers without the token get 401, and only the configured UI origin gets CORS answers.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { AesGcmPayloadCodec, loadEncryptionKeys } from '../../src/codec';
import { codecServerSettingsFromEnv, MAX_BODY_BYTES, startCodecServer, type CodecServer } from '../../src/codec/server';
import { testClient } from '../helpers/temporal';

const UI_ORIGIN = 'http://127.0.0.1:8233';
const token = randomBytes(24).toString('hex');
const codec = new AesGcmPayloadCodec(loadEncryptionKeys()!);
let server: CodecServer;
let client: Client;

before(async () => {
  server = await startCodecServer({ codec, token, corsOrigins: [UI_ORIGIN] });
  client = await testClient();
});
after(async () => {
  await server?.close();
  await client?.connection.close();
});

async function encryptedBody(value: unknown) {
  const [p] = await codec.encode([defaultPayloadConverter.toPayload(value)]);
  return {
    payloads: [
      {
        metadata: Object.fromEntries(
          Object.entries(p!.metadata!).map(([k, v]) => [k, Buffer.from(v!).toString('base64')]),
        ),
        data: Buffer.from(p!.data!).toString('base64'),
      },
    ],
  };
}

function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-namespace': 'default', ...headers },
    body: JSON.stringify(body),
  });
}

describe('codec server protocol and authentication', () => {
  it('decodes for a caller with the bearer token, and for the UI with the token in the endpoint path', async () => {
    const body = await encryptedBody({ hello: 'codec' });
    for (const res of [
      await post(`${server.url}/decode`, body, { authorization: `Bearer ${token}` }),
      await post(`${server.browserUrl}/decode`, body),
    ]) {
      assert.equal(res.status, 200);
      const [p] = ((await res.json()) as any).payloads;
      assert.equal(Buffer.from(p.metadata.encoding, 'base64').toString(), 'json/plain');
      assert.deepEqual(JSON.parse(Buffer.from(p.data, 'base64').toString()), { hello: 'codec' });
    }
  });

  it('encode gives a payload only the key opens', async () => {
    const plain = {
      payloads: [
        {
          metadata: { encoding: Buffer.from('json/plain').toString('base64') },
          data: Buffer.from('"x"').toString('base64'),
        },
      ],
    };
    const res = await post(`${server.url}/encode`, plain, { authorization: `Bearer ${token}` });
    assert.equal(res.status, 200);
    const [p] = ((await res.json()) as any).payloads;
    assert.equal(Buffer.from(p.metadata.encoding, 'base64').toString(), 'binary/encrypted');
  });

  it('rejects requests without the token or with a wrong one (401), and never decodes for them', async () => {
    const body = await encryptedBody({ secret: 'no' });
    for (const headers of [
      {} as Record<string, string>,
      { authorization: `Bearer ${token.slice(1)}x` },
      { authorization: `Basic ${token}` },
    ]) {
      const res = await post(`${server.url}/decode`, body, headers);
      assert.equal(res.status, 401);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer');
      assert.doesNotMatch(await res.text(), /secret/);
    }
    assert.equal((await post(`${server.url}/not-the-token/decode`, body)).status, 401);
  });

  it('a tampered payload is refused loudly (422), not passed through', async () => {
    const body = await encryptedBody('tamper me');
    const data = Buffer.from(body.payloads[0]!.data, 'base64');
    data[data.length - 1]! ^= 1;
    body.payloads[0]!.data = data.toString('base64');
    const res = await post(`${server.url}/decode`, body, { authorization: `Bearer ${token}` });
    assert.equal(res.status, 422);
    assert.match(((await res.json()) as any).error, /altered after encryption/);
  });

  it('answers CORS preflight for the configured UI origin only', async () => {
    const preflight = (origin: string) =>
      fetch(`${server.browserUrl}/decode`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type,x-namespace',
        },
      });
    const allowed = await preflight(UI_ORIGIN);
    assert.equal(allowed.status, 204);
    assert.equal(allowed.headers.get('access-control-allow-origin'), UI_ORIGIN);
    assert.match(allowed.headers.get('access-control-allow-headers') ?? '', /x-namespace/);
    const other = await preflight('https://evil.example');
    assert.equal(other.status, 403);
    assert.equal(other.headers.get('access-control-allow-origin'), null);
    // Even with the token, a page from another origin is refused.
    const body = await encryptedBody('x');
    assert.equal((await post(`${server.browserUrl}/decode`, body, { origin: 'https://evil.example' })).status, 403);
    const fromUi = await post(`${server.browserUrl}/decode`, body, { origin: UI_ORIGIN });
    assert.equal(fromUi.status, 200);
    assert.equal(fromUi.headers.get('access-control-allow-origin'), UI_ORIGIN);
  });
});

/** A raw HTTP request (fetch would normalise the path); resolves with the status as soon as the response starts. */
function rawRequest(
  url: string,
  opts: { path: string; headers?: Record<string, string>; body?: (req: http.ClientRequest) => void },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url + opts.path, { method: 'POST', headers: opts.headers ?? {} }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
      res.on('error', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    if (opts.body) opts.body(req);
    else req.end();
  });
}

describe('malformed and oversized requests', () => {
  const auth = () => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });

  it('a malformed percent-escape in the path gets 400, and the server keeps serving', async () => {
    for (const p of ['/%E0%A4%A/decode', '/%/decode', `/%E0%A4%A/decode?x=%`]) {
      const res = await rawRequest(server.url, { path: p, headers: auth() });
      assert.equal(res.status, 400, p);
      assert.match(res.body, /malformed request path/);
    }
    const ok = await post(`${server.url}/decode`, await encryptedBody('alive'), { authorization: `Bearer ${token}` });
    assert.equal(ok.status, 200);
  });

  it('a body over 8 MiB is refused with 413 at once, before the client has finished sending', async () => {
    // Declared too large: refused without reading.
    const declared = await rawRequest(server.url, {
      path: '/decode',
      headers: { ...auth(), 'content-length': String(MAX_BODY_BYTES + 1) },
      body: (req) => req.write('{'),
    });
    assert.equal(declared.status, 413);
    // Streamed (chunked, no length): the answer comes while the request is still open.
    let ended = false;
    const streamed = await rawRequest(server.url, {
      path: '/decode',
      headers: auth(),
      body: (req) => {
        req.on('error', () => undefined); // the server closes the connection after its 413
        const chunk = Buffer.alloc(1024 * 1024, 'a');
        for (let i = 0; i < 9; i++) req.write(chunk);
        setTimeout(() => {
          ended = true;
          req.destroy();
        }, 10_000).unref();
      },
    });
    assert.equal(streamed.status, 413);
    assert.equal(ended, false, 'the 413 came only after the client gave up');
    assert.equal((await post(`${server.url}/decode`, await encryptedBody('x'), auth())).status, 200);
  });

  it('with ECH_REMOTE_CODEC_NAMESPACES, serves only the namespaces listed', async () => {
    const scoped = await startCodecServer({ codec, token, corsOrigins: [], namespaces: ['prod'] });
    try {
      const body = await encryptedBody('ns');
      assert.equal((await post(`${scoped.url}/decode`, body, { ...auth(), 'x-namespace': 'prod' })).status, 200);
      const other = await post(`${scoped.url}/decode`, body, { ...auth(), 'x-namespace': 'default' });
      assert.equal(other.status, 403);
      assert.match(((await other.json()) as any).error, /X-Namespace must be one of .*prod/);
    } finally {
      await scoped.close();
    }
    // Without the setting the header is ignored (one key ring for every namespace).
    const body = await encryptedBody('any');
    assert.equal((await post(`${server.url}/decode`, body, { ...auth(), 'x-namespace': 'anything' })).status, 200);
  });
});

describe('the temporal CLI with --codec-endpoint', () => {
  it('shows the decrypted input with the codec endpoint and token, and not without', async () => {
    const marker = `codec-cli-${Date.now()}`;
    const handle = await client.workflow.start('connectRemoteCluster', {
      taskQueue: `no-worker-${marker}`,
      workflowId: marker,
      args: [{ alias: marker }],
    });
    try {
      const cli = process.env.TEMPORAL_CLI_PATH!;
      const show = async (...extra: string[]) =>
        (
          await promisify(execFile)(cli, [
            'workflow',
            'show',
            '--workflow-id',
            marker,
            '--address',
            process.env.TEMPORAL_ADDRESS!,
            '--output',
            'json',
            ...extra,
          ])
        ).stdout;
      // `--output json` prints payloads as stored after the codec: base64 data with its metadata.
      const input = async (...extra: string[]) => {
        const history = JSON.parse(await show(...extra));
        const p = history.events[0].workflowExecutionStartedEventAttributes.input.payloads[0];
        return { encoding: Buffer.from(p.metadata.encoding, 'base64').toString(), data: Buffer.from(p.data, 'base64') };
      };
      const decoded = await input('--codec-endpoint', server.url, '--codec-auth', `Bearer ${token}`);
      assert.equal(decoded.encoding, 'json/plain');
      assert.deepEqual(JSON.parse(decoded.data.toString()), { alias: marker });
      const raw = await input();
      assert.equal(raw.encoding, 'binary/encrypted');
      assert.ok(!raw.data.toString('latin1').includes(marker));
    } finally {
      await handle.terminate();
    }
  });
});

describe('codec server settings', () => {
  it('refuses to run without a token, and reads listen address, token file and UI origins from the environment', () => {
    assert.throws(() => codecServerSettingsFromEnv({}), /decrypts for whoever calls it: set ECH_REMOTE_CODEC_TOKEN/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'codec-token-'));
    fs.writeFileSync(path.join(dir, 'token'), `${token}\n`);
    assert.deepEqual(
      codecServerSettingsFromEnv({
        ECH_REMOTE_CODEC_LISTEN: '0.0.0.0:9999',
        ECH_REMOTE_CODEC_TOKEN_FILE: path.join(dir, 'token'),
        ECH_REMOTE_CODEC_CORS_ORIGINS: 'http://localhost:8233, https://temporal.corp.example',
        ECH_REMOTE_CODEC_NAMESPACES: 'prod, staging',
      }),
      {
        host: '0.0.0.0',
        port: 9999,
        token,
        corsOrigins: ['http://localhost:8233', 'https://temporal.corp.example'],
        namespaces: ['prod', 'staging'],
      },
    );
    assert.equal(codecServerSettingsFromEnv({ ECH_REMOTE_CODEC_TOKEN: token }).port, 8888);
  });
});
