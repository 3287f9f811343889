/**
 * AES-256-GCM payload codec: every payload (serialized whole, metadata included) is encrypted with the current key
 * and a random 12-byte IV; encoding, key id and cipher travel in the metadata and are bound to the ciphertext as
 * associated data (`binary/encrypted|<keyId>|AES256-GCM`), so none of them can be altered unnoticed; an unknown
 * cipher is refused.
 *
 * A payload that is not encrypted is refused on decode by default (`UnencryptedPayload`): whatever this tool writes
 * is encrypted, so plaintext in a history means someone wrote around the codec. Two places relax that, by name:
 * - the worker (`plaintext: 'warn'`), for payloads of a workflow (signal, update and start inputs): the human steps
 *   may be answered with `temporal workflow signal` or the Web UI without the codec endpoint (docs/human-steps.md,
 *   docs/secrets.md), and refusing those would leave a run stuck; each one is logged as a warning naming the workflow
 *   and the payload's encoding, once (not again when a replay decodes it anew). Activity payloads, always written by
 *   the worker itself, stay strict there too.
 * - the codec server (`plaintext: 'allow'`): it only shows payloads to a person, plaintext ones as they are.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { ApplicationFailure, type Payload, type PayloadCodec, type SerializationContext } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { KeyRing } from './keys';

/** What decode does with a payload that is not encrypted: refuse it (default), let it through with a warning, or allow. */
export type PlaintextPolicy = 'reject' | 'warn' | 'allow';

export interface AesGcmPayloadCodecOptions {
  plaintext?: PlaintextPolicy;
  /** Where `warn` reports (the worker passes its logger); default console.warn. */
  warn?: (message: string, meta: Record<string, unknown>) => void;
}

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
export const CIPHER_METADATA = 'encryption-cipher';
const CIPHER = 'AES256-GCM';
const IV_BYTES = 12;
const TAG_BYTES = 16;

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | null | undefined) => (b ? Buffer.from(b).toString('utf8') : '');

/** The associated data: everything in the metadata that decode relies on. */
const aad = (id: string, cipher: string) => Buffer.from(`${ENCRYPTED_ENCODING}|${id}|${cipher}`);

/** The payload's owner as the SDK tells the codec, for messages: `workflow "id"` or `activity "id" of workflow "id"`. */
function owner(context: SerializationContext | undefined): string {
  if (!context) return 'a payload of unknown owner';
  if (context.type === 'workflow') return `workflow "${context.workflowId}"`;
  return `activity "${context.activityId ?? '?'}" of workflow "${context.workflowId ?? '?'}"`;
}

/** How many plaintext payloads the codec remembers having warned about (a bound on memory, not on correctness). */
const WARNED_PAYLOADS_KEPT = 10_000;

export class AesGcmPayloadCodec implements PayloadCodec {
  private readonly plaintext: PlaintextPolicy;
  private readonly warn: NonNullable<AesGcmPayloadCodecOptions['warn']>;
  /**
   * The plaintext payloads already warned about (workflow id and a digest of the bytes): a replay (a query on a run
   * no longer cached, a worker restart's first task) decodes the whole history again, and the same signal must not
   * be reported once per replay.
   */
  private readonly warned = new Set<string>();

  constructor(
    private readonly keys: KeyRing,
    opts: AesGcmPayloadCodecOptions = {},
  ) {
    this.plaintext = opts.plaintext ?? 'reject';
    this.warn = opts.warn ?? ((message, meta) => console.warn(message, meta));
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const { id, key } = this.keys.current;
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(aad(id, CIPHER));
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

  async decode(payloads: Payload[], context?: SerializationContext): Promise<Payload[]> {
    return payloads.map((payload) => {
      const encoding = text(payload.metadata?.encoding);
      if (encoding !== ENCRYPTED_ENCODING) return this.unencrypted(payload, encoding, context);
      const cipherName = text(payload.metadata?.[CIPHER_METADATA]);
      if (cipherName !== CIPHER) {
        throw ApplicationFailure.create({
          type: 'UnsupportedEncryptionCipher',
          nonRetryable: true,
          message:
            `A payload of ${owner(context)} names encryption cipher "${cipherName.slice(0, 32)}"; ` +
            `only ${CIPHER} is supported: it was not written by this tool, or by a newer version of it.`,
        });
      }
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
        decipher.setAAD(aad(id, cipherName));
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

  private unencrypted(payload: Payload, encoding: string, context: SerializationContext | undefined): Payload {
    const what = `${owner(context)} is not encrypted (encoding "${encoding.slice(0, 64) || 'none'}")`;
    if (this.plaintext === 'allow') return payload;
    if (this.plaintext === 'warn' && context?.type !== 'activity') {
      const seen = `${context?.workflowId ?? ''}|${createHash('sha256')
        .update(temporal.api.common.v1.Payload.encode(payload).finish())
        .digest('hex')}`;
      if (this.warned.has(seen)) return payload;
      if (this.warned.size >= WARNED_PAYLOADS_KEPT) this.warned.clear();
      this.warned.add(seen);
      this.warn(
        `A payload of ${what}: accepted (a signal or input sent without the codec, e.g. \`temporal workflow signal\` ` +
          'without --codec-endpoint); it is stored in plaintext in the history.',
        { workflowId: context?.workflowId, encoding },
      );
      return payload;
    }
    throw ApplicationFailure.create({
      type: 'UnencryptedPayload',
      nonRetryable: true,
      message:
        `A payload of ${what}, but every payload of this tool is encrypted: it was written without the codec. ` +
        'Send it through a client configured with ECH_REMOTE_ENCRYPTION_KEYS, or the codec endpoint.',
    });
  }
}
