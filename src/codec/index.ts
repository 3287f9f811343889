/**
 * The one data converter of every Temporal client and worker of this tool: AES-256-GCM payloads (keys.ts) and
 * encrypted failure messages (failureConverter.ts). Without a key it refuses, unless plaintext is asked for by name.
 */
import type { DataConverter } from '@temporalio/common';
import { AesGcmPayloadCodec, type AesGcmPayloadCodecOptions } from './aesGcmCodec';
import { EncryptionKeyError, ENCRYPTION_KEYS_ENV, ENCRYPTION_KEYS_FILE_ENV, loadEncryptionKeys } from './keys';

export const INSECURE_PLAINTEXT_ENV = 'ECH_REMOTE_INSECURE_PLAINTEXT_PAYLOADS';
/** The module the workflow bundle and loadDataConverter load the failure converter from. */
export const FAILURE_CONVERTER_PATH = require.resolve('./failureConverter');

export interface LoadDataConverterOptions {
  env?: NodeJS.ProcessEnv;
  /** Run without encryption when no key is configured: the worker's --insecure-plaintext-payloads only. */
  insecurePlaintextPayloads?: boolean;
  /**
   * Unencrypted payloads on decode: refused by default; the worker passes 'warn' with its logger (see aesGcmCodec.ts
   * for why), the codec server 'allow'.
   */
  plaintext?: AesGcmPayloadCodecOptions['plaintext'];
  warn?: AesGcmPayloadCodecOptions['warn'];
}

/** The worker's opt-out by environment (the flag's twin); clients never fall back to plaintext. */
export function insecurePlaintextRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[INSECURE_PLAINTEXT_ENV] === 'true';
}

export function loadDataConverter(opts: LoadDataConverterOptions = {}): DataConverter {
  const env = opts.env ?? process.env;
  const keys = loadEncryptionKeys(env);
  // The failure converter is the same either way: the prebuilt workflow bundle always contains it.
  if (keys) {
    const codec = new AesGcmPayloadCodec(keys, {
      ...(opts.plaintext ? { plaintext: opts.plaintext } : {}),
      ...(opts.warn ? { warn: opts.warn } : {}),
    });
    return { payloadCodecs: [codec], failureConverterPath: FAILURE_CONVERTER_PATH };
  }
  if (opts.insecurePlaintextPayloads) return { failureConverterPath: FAILURE_CONVERTER_PATH };
  throw new EncryptionKeyError(
    `No payload encryption key: set ${ENCRYPTION_KEYS_ENV}=keyId=base64(32 bytes) (e.g. "k1=$(openssl rand -base64 32)") ` +
      `or ${ENCRYPTION_KEYS_FILE_ENV}=<file>. Without one, Temporal would store credentials handed between steps in ` +
      `plaintext; to accept that anyway, start the worker with --insecure-plaintext-payloads.`,
  );
}

export {
  AesGcmPayloadCodec,
  CIPHER_METADATA,
  ENCRYPTED_ENCODING,
  KEY_ID_METADATA,
  type AesGcmPayloadCodecOptions,
  type PlaintextPolicy,
} from './aesGcmCodec';
export {
  createPrivateFileOnce,
  EncryptionKeyError,
  ENCRYPTION_KEYS_ENV,
  ENCRYPTION_KEYS_FILE_ENV,
  generateEncryptionKey,
  loadEncryptionKeys,
  loadOrCreateKeyFile,
  parseEncryptionKeys,
  type KeyRing,
} from './keys';
