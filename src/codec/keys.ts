/**
 * Payload encryption keys (contract): `ECH_REMOTE_ENCRYPTION_KEYS` = comma-separated `keyId=base64(32 bytes)`, the
 * first encrypts, all decrypt; or `ECH_REMOTE_ENCRYPTION_KEYS_FILE` naming a file that holds the same line.
 * Errors name the variable and the entry's position, never the key material (nor an id that could be key material).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export const ENCRYPTION_KEYS_ENV = 'ECH_REMOTE_ENCRYPTION_KEYS';
export const ENCRYPTION_KEYS_FILE_ENV = 'ECH_REMOTE_ENCRYPTION_KEYS_FILE';

export interface KeyRing {
  /** The key new payloads are encrypted with (the first one listed). */
  current: { id: string; key: Buffer };
  /** Every key that may decrypt, by id. */
  byId: ReadonlyMap<string, Buffer>;
}

export class EncryptionKeyError extends Error {
  override name = 'EncryptionKeyError';
}

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Parses `k2=…,k1=…`; `source` names where the line came from, for the error messages. */
export function parseEncryptionKeys(line: string, source = ENCRYPTION_KEYS_ENV): KeyRing {
  const byId = new Map<string, Buffer>();
  let current: KeyRing['current'] | undefined;
  const entries = line
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  if (entries.length === 0) throw new EncryptionKeyError(`${source} is empty: expected keyId=base64(32 bytes),…`);
  const positions = new Map<string, number>();
  for (const [i, entry] of entries.entries()) {
    // Errors name the entry by its position only: before an entry is proven to be `id=32 bytes`, whatever precedes
    // its "=" may be key material (a bare `openssl rand -base64 32` ends with "=").
    const at = `${source}: entry ${i + 1} of ${entries.length}`;
    const eq = entry.indexOf('=');
    const id = eq > 0 ? entry.slice(0, eq) : '';
    const material = eq > 0 ? entry.slice(eq + 1) : '';
    if (BASE64.test(entry) && Buffer.from(entry, 'base64').length === 32) {
      throw new EncryptionKeyError(
        `${at} is a bare key without an id: write it as keyId=<key>, e.g. "k1=$(openssl rand -base64 32)"`,
      );
    }
    if (!KEY_ID.test(id) || material === '') {
      throw new EncryptionKeyError(
        `${at} is not keyId=base64(32 bytes) (key ids: letters, digits, ".", "_", "-", at most 64)`,
      );
    }
    const key = BASE64.test(material) ? Buffer.from(material, 'base64') : Buffer.alloc(0);
    if (key.length !== 32) {
      throw new EncryptionKeyError(
        `${at}: the key must be 32 random bytes in base64 (AES-256), e.g. from \`openssl rand -base64 32\``,
      );
    }
    const first = positions.get(id);
    if (first !== undefined) throw new EncryptionKeyError(`${at} has the same key id as entry ${first}`);
    positions.set(id, i + 1);
    byId.set(id, key);
    current ??= { id, key };
  }
  return { current: current!, byId };
}

/** The key ring from the environment (or the file it names); undefined when neither is set. */
export function loadEncryptionKeys(env: NodeJS.ProcessEnv = process.env): KeyRing | undefined {
  const inline = env[ENCRYPTION_KEYS_ENV];
  if (inline) return parseEncryptionKeys(inline, ENCRYPTION_KEYS_ENV);
  const file = env[ENCRYPTION_KEYS_FILE_ENV];
  if (!file) return undefined;
  let line: string;
  try {
    line = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new EncryptionKeyError(
      `${ENCRYPTION_KEYS_FILE_ENV}=${file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
  return parseEncryptionKeys(line, `${ENCRYPTION_KEYS_FILE_ENV} (${file})`);
}

/** A fresh `keyId=base64` entry; the id carries the creation date so rotations read in order. */
export function generateEncryptionKey(id = `k${new Date().toISOString().slice(0, 10).replaceAll('-', '')}`): string {
  return `${id}=${randomBytes(32).toString('base64')}`;
}

/**
 * The dev environment's key file: created on first use (mode 0600, in a folder outside the repository), reused
 * afterwards so that histories of earlier dev runs still decode.
 */
export function loadOrCreateKeyFile(dir: string): string {
  const file = createPrivateFileOnce(path.join(dir, 'encryption-keys'), () => generateEncryptionKey('dev1'));
  parseEncryptionKeys(fs.readFileSync(file, 'utf8'), file); // fail now, not at the first payload
  return file;
}

/** Writes `make()` to `file` (mode 0600, folder 0700) unless the file exists; never overwrites. Returns `file`. */
export function createPrivateFileOnce(file: string, make: () => string): string {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  try {
    fs.writeFileSync(file, make() + '\n', { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return file;
}
