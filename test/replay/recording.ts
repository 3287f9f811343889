/**
 * Histories for the replay test (test/replay/replay.test.ts) are recorded by scripts/record-histories.ts with the
 * production data converter (AES-GCM payload codec, encrypted failure attributes) under a fixed key committed in
 * test/replay/recording-key. That key is test-only and protects nothing real: the histories hold the sandbox's
 * throwaway credentials. Recording encrypted rather than in plaintext keeps the histories exactly as a production
 * worker writes them (encoded payloads and failures, the codec's metadata), and the replay decodes them with the same
 * converter a worker uses, so a change to the codec that would break existing histories fails here too.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { DataConverter } from '@temporalio/common';
import { loadDataConverter } from '../../src/codec';

export const HISTORIES_DIR = path.join(__dirname, 'histories');
export const RECORDING_KEY_FILE = path.join(__dirname, 'recording-key');

/** The workers' data converter with the committed recording key (never the key of the test run). */
export function recordingDataConverter(): DataConverter {
  const key = fs.readFileSync(RECORDING_KEY_FILE, 'utf8').trim();
  return loadDataConverter({ env: { ECH_REMOTE_ENCRYPTION_KEYS: key } });
}
