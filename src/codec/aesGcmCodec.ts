/**
 * AES-256-GCM payload codec: every payload (serialized whole, metadata included) is encrypted with the current key
 * and a random 12-byte IV; the key id travels in the metadata and is bound to the ciphertext as associated data, so
 * neither the data nor the key id can be altered unnoticed. Payloads that are not encrypted pass through decode
 * unchanged (inputs typed into a UI without a codec, histories written before encryption was enabled).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { ApplicationFailure, type Payload, type PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { KeyRing } from './keys';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
export const CIPHER_METADATA = 'encryption-cipher';
const CIPHER = 'AES256-GCM';
const IV_BYTES = 12;
const TAG_BYTES = 16;

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | null | undefined) => (b ? Buffer.from(b).toString('utf8') : '');

export class AesGcmPayloadCodec implements PayloadCodec {
  constructor(private readonly keys: KeyRing) {}

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const { id, key } = this.keys.current;
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(Buffer.from(id));
      const plain = temporal.api.common.v1.Payload.encode(payload).finish();
      const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: {
          encoding: utf8(ENCRYPTED_ENCODING),
          [KEY_ID_METADATA]: utf8(id),
          [CIPHER_METADATA]: utf8(CIPHER),
        },
        data,
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      if (text(payload.metadata?.encoding) !== ENCRYPTED_ENCODING) return payload;
      const id = text(payload.metadata?.[KEY_ID_METADATA]);
      const key = this.keys.byId.get(id);
      if (!key) {
        throw ApplicationFailure.create({
          type: 'UnknownEncryptionKey',
          nonRetryable: true,
          message:
            `A payload is encrypted with key "${id}", which is not among the configured keys ` +
            `(${[...this.keys.byId.keys()].join(', ')}): add it to ECH_REMOTE_ENCRYPTION_KEYS after the current key.`,
        });
      }
      const data = Buffer.from(payload.data ?? []);
      try {
        if (data.length < IV_BYTES + TAG_BYTES) throw new Error('too short');
        const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES), {
          authTagLength: TAG_BYTES,
        });
        decipher.setAAD(Buffer.from(id));
        decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
        const plain = Buffer.concat([
          decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)),
          decipher.final(),
        ]);
        return temporal.api.common.v1.Payload.decode(plain);
      } catch {
        throw ApplicationFailure.create({
          type: 'PayloadDecryptionFailed',
          nonRetryable: true,
          message:
            `A payload encrypted with key "${id}" failed authentication: it was altered after encryption, ` +
            `or key "${id}" in ECH_REMOTE_ENCRYPTION_KEYS is not the key it was written with.`,
        });
      }
    });
  }
}
