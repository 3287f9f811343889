/** The payload codec and its keys, without a server: what a user sees when keys are wrong, rotated or data altered. */
import assert from 'node:assert/strict';
import { createDecipheriv } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  ApplicationFailure,
  defaultPayloadConverter,
  type Payload,
  type SerializationContext,
} from '@temporalio/common';
import {
  AesGcmPayloadCodec,
  ENCRYPTED_ENCODING,
  EncryptionKeyError,
  generateEncryptionKey,
  loadDataConverter,
  loadEncryptionKeys,
  loadOrCreateKeyFile,
  parseEncryptionKeys,
} from '../../src/codec';

const k1 = generateEncryptionKey('k1');
const k2 = generateEncryptionKey('k2');
const secret = { encoded: 'VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==' };

const codec = (line: string) => new AesGcmPayloadCodec(parseEncryptionKeys(line));
const encodingOf = (p: Payload) => Buffer.from(p.metadata!.encoding!).toString();
const keyIdOf = (p: Payload) => Buffer.from(p.metadata!['encryption-key-id']!).toString();

async function encrypt(line: string, value: unknown): Promise<Payload> {
  const [p] = await codec(line).encode([defaultPayloadConverter.toPayload(value)]);
  return p!;
}

async function rejects(promise: Promise<unknown>, type: string, message: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.type, type);
    assert.match(err.message, message);
    return true;
  });
}

describe('AES-256-GCM payload codec', () => {
  it('round trip: the stored bytes hide the value, decode gives it back with its original encoding', async () => {
    const stored = await encrypt(k1, secret);
    assert.equal(encodingOf(stored), ENCRYPTED_ENCODING);
    assert.equal(keyIdOf(stored), 'k1');
    assert.ok(!Buffer.from(stored.data!).toString('latin1').includes(secret.encoded));
    const [plain] = await codec(k1).decode([stored]);
    assert.equal(encodingOf(plain!), 'json/plain');
    assert.deepEqual(defaultPayloadConverter.fromPayload(plain!), secret);
  });

  it('a random IV per payload: the same value never encrypts to the same bytes', async () => {
    const [a, b] = await codec(k1).encode([
      defaultPayloadConverter.toPayload('same'),
      defaultPayloadConverter.toPayload('same'),
    ]);
    assert.notDeepEqual(Buffer.from(a!.data!), Buffer.from(b!.data!));
  });

  it('tamper: one flipped byte of a stored payload makes decode fail loudly', async () => {
    const stored = await encrypt(k1, secret);
    for (const at of [0, 20, stored.data!.length - 1]) {
      const data = Buffer.from(stored.data!);
      data[at]! ^= 0x01;
      await rejects(codec(k1).decode([{ ...stored, data }]), 'PayloadDecryptionFailed', /altered after encryption/);
    }
  });

  it('tamper: relabelling a payload with another known key id fails too (the id is authenticated)', async () => {
    const stored = await encrypt(k1, secret);
    const relabelled = { ...stored, metadata: { ...stored.metadata, 'encryption-key-id': Buffer.from('k2') } };
    await rejects(codec(`${k2},${k1}`).decode([relabelled]), 'PayloadDecryptionFailed', /key "k2"/);
  });

  it('rotation: after `k2=…,k1=…` old payloads still decode and new ones use k2', async () => {
    const old = await encrypt(k1, secret);
    const rotated = codec(`${k2},${k1}`);
    assert.deepEqual(defaultPayloadConverter.fromPayload((await rotated.decode([old]))[0]!), secret);
    const [fresh] = await rotated.encode([defaultPayloadConverter.toPayload(secret)]);
    assert.equal(keyIdOf(fresh!), 'k2');
    // Once k1 is dropped, what it wrote no longer decodes, and the error names the missing key.
    await rejects(codec(k2).decode([old]), 'UnknownEncryptionKey', /key "k1".*\(k2\)/);
  });

  it('the associated data binds encoding, key id and cipher: binary/encrypted|k1|AES256-GCM', async () => {
    const stored = await encrypt(k1, secret);
    const data = Buffer.from(stored.data!);
    const key = parseEncryptionKeys(k1).current.key;
    const open = (aad: string) => {
      const d = createDecipheriv('aes-256-gcm', key, data.subarray(0, 12), { authTagLength: 16 });
      d.setAAD(Buffer.from(aad));
      d.setAuthTag(data.subarray(data.length - 16));
      return Buffer.concat([d.update(data.subarray(12, data.length - 16)), d.final()]);
    };
    assert.ok(open('binary/encrypted|k1|AES256-GCM').length > 0);
    assert.throws(() => open('k1'));
  });

  it('an unknown encryption-cipher is refused, naming it; a missing one too', async () => {
    const stored = await encrypt(k1, secret);
    for (const cipher of ['AES128-CBC', undefined]) {
      const metadata = { ...stored.metadata };
      if (cipher) metadata['encryption-cipher'] = Buffer.from(cipher);
      else delete metadata['encryption-cipher'];
      await rejects(
        codec(k1).decode([{ ...stored, metadata }]),
        'UnsupportedEncryptionCipher',
        new RegExp(`cipher "${cipher ?? ''}"; only AES256-GCM is supported`),
      );
    }
  });
});

describe('payloads that are not encrypted', () => {
  const plain = defaultPayloadConverter.toPayload({ step: 'approve-local-changes' });
  const ofWorkflow: SerializationContext = { type: 'workflow', namespace: 'default', workflowId: 'wf-42' };
  const ofActivity: SerializationContext = {
    type: 'activity',
    namespace: 'default',
    workflowId: 'wf-42',
    activityId: '3',
    isLocal: false,
  };

  it('are refused by default (clients), naming the workflow and the encoding', async () => {
    await rejects(
      codec(k1).decode([plain], ofWorkflow),
      'UnencryptedPayload',
      /workflow "wf-42" is not encrypted \(encoding "json\/plain"\).*written without the codec/,
    );
    await rejects(codec(k1).decode([plain]), 'UnencryptedPayload', /not encrypted/);
    await rejects(loadDataConverter().payloadCodecs![0]!.decode([plain], ofWorkflow), 'UnencryptedPayload', /wf-42/);
  });

  it("the worker's policy lets a workflow's plaintext signal through with a warning, never an activity's", async () => {
    const warnings: string[] = [];
    const worker = new AesGcmPayloadCodec(parseEncryptionKeys(k1), {
      plaintext: 'warn',
      warn: (m, meta) => void warnings.push(`${m} ${JSON.stringify(meta)}`),
    });
    assert.deepEqual(await worker.decode([plain], ofWorkflow), [plain]);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /workflow "wf-42" is not encrypted \(encoding "json\/plain"\): accepted/);
    await rejects(worker.decode([plain], ofActivity), 'UnencryptedPayload', /activity "3" of workflow "wf-42"/);
  });

  it("the codec server's policy shows them as they are", async () => {
    const server = new AesGcmPayloadCodec(parseEncryptionKeys(k1), { plaintext: 'allow' });
    assert.deepEqual(await server.decode([plain]), [plain]);
  });
});

describe('encryption keys', () => {
  it('rejects malformed key lines naming the entry by position, without echoing key material', () => {
    const material = 'c2hvcnQ='; // "short": 5 bytes
    for (const [line, message] of [
      ['', /empty/],
      [`k1=${material}`, /entry 1 of 1: the key must be 32 random bytes/],
      ['no-equals-sign', /entry 1 of 1 is not keyId=base64/],
      ['k1=', /entry 1 of 1 is not keyId=base64/],
      [`${k1},k2=`, /entry 2 of 2 is not keyId=base64/],
      [`${k1},${k1}`, /entry 2 of 2 has the same key id as entry 1/],
      ['bad id!=' + Buffer.alloc(32).toString('base64'), /entry 1 of 1 is not/],
    ] as const) {
      assert.throws(
        () => parseEncryptionKeys(line),
        (err: unknown) =>
          err instanceof EncryptionKeyError &&
          message.test(err.message) &&
          !err.message.includes(material) &&
          !err.message.includes(k1.slice(3)),
      );
    }
  });

  it('a bare key (`openssl rand -base64 32`, no id) is refused as such, and never printed', () => {
    // Its trailing "=" used to split it into an "id" (the key itself, printed in the error) and empty material.
    for (let i = 0; i < 50; i++) {
      const bare = generateEncryptionKey('x').slice(2);
      for (const line of [bare, `${k1},${bare}`]) {
        assert.throws(
          () => parseEncryptionKeys(line),
          (err: unknown) =>
            err instanceof EncryptionKeyError &&
            /entry \d of \d is a bare key without an id: write it as keyId=<key>/.test(err.message) &&
            !err.message.includes(bare.slice(0, 16)),
          line,
        );
      }
    }
  });

  it('ECH_REMOTE_ENCRYPTION_KEYS_FILE holds the same line as the variable', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keys-'));
    const file = path.join(dir, 'keys');
    fs.writeFileSync(file, `${k2},${k1}\n`);
    const ring = loadEncryptionKeys({ ECH_REMOTE_ENCRYPTION_KEYS_FILE: file })!;
    assert.equal(ring.current.id, 'k2');
    assert.deepEqual([...ring.byId.keys()], ['k2', 'k1']);
    assert.throws(
      () => loadEncryptionKeys({ ECH_REMOTE_ENCRYPTION_KEYS_FILE: path.join(dir, 'missing') }),
      /cannot be read: ENOENT/,
    );
  });

  it('without a key, the data converter refuses unless plaintext is asked for by name', () => {
    assert.throws(() => loadDataConverter({ env: {} }), /No payload encryption key.*--insecure-plaintext-payloads/s);
    assert.equal(loadDataConverter({ env: {}, insecurePlaintextPayloads: true }).payloadCodecs, undefined);
    assert.equal(loadDataConverter({ env: { ECH_REMOTE_ENCRYPTION_KEYS: k1 } }).payloadCodecs?.length, 1);
  });

  it('the dev key file is made once, private to the user, and reused', () => {
    const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dev-home-')), 'dev');
    const file = loadOrCreateKeyFile(dir);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    const first = fs.readFileSync(file, 'utf8');
    assert.equal(loadOrCreateKeyFile(dir), file);
    assert.equal(fs.readFileSync(file, 'utf8'), first);
    assert.equal(loadEncryptionKeys({ ECH_REMOTE_ENCRYPTION_KEYS_FILE: file })!.current.id, 'dev1');
  });
});
