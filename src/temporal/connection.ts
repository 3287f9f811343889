/** Temporal connection settings from @temporalio/envconfig (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, profiles). */
import { Client, Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { loadDataConverter } from '../codec';
import { DEFAULT_TASK_QUEUE } from '../contract/steps';

export function temporalConnectConfig() {
  const config = loadClientConnectConfig();
  return {
    connectionOptions: { ...config.connectionOptions, address: config.connectionOptions.address ?? 'localhost:7233' },
    namespace: config.namespace ?? 'default',
  };
}

export function taskQueue(): string {
  return process.env.ECH_REMOTE_TASK_QUEUE || DEFAULT_TASK_QUEUE;
}

export class TemporalConnectionError extends Error {
  override name = 'TemporalConnectionError';
}

/** The SDKs' connection errors in a person's words: the client's says only "Failed to connect before the deadline". */
function connectReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (/dns error|failed to lookup address/i.test(message)) return 'the host name does not resolve';
  // The worker's (Rust) error: `… Os { code: 111, kind: ConnectionRefused, message: "Connection refused" } …`
  const os = /message: \\?"([^"\\]+)\\?"/.exec(message)?.[1];
  if (os) return os.toLowerCase();
  if (/before the deadline/i.test(message)) return 'no answer before the connection deadline';
  return message;
}

/**
 * Why a Temporal connection failed, naming the address tried and where that address comes from: an unreachable or
 * mistyped frontend is the common case, and the SDK's own message does not say which address it was.
 */
export function temporalConnectionError(address: string, err: unknown): TemporalConnectionError {
  return new TemporalConnectionError(
    `Cannot connect to the Temporal frontend at ${address}: ${connectReason(err)}. Is the Temporal server running ` +
      'there? The address comes from TEMPORAL_ADDRESS or the Temporal config profile (default localhost:7233).',
    { cause: err },
  );
}

/**
 * The one place a Temporal client is made (the CLI, scripts, tests), so every client gets the same connection and
 * payload settings: payloads encrypted with ECH_REMOTE_ENCRYPTION_KEYS (a client never falls back to plaintext).
 */
export async function connectClient(opts: { dataConverter?: DataConverter } = {}): Promise<Client> {
  const { connectionOptions, namespace } = temporalConnectConfig();
  const dataConverter = opts.dataConverter ?? loadDataConverter();
  const connection = await Connection.connect(connectionOptions).catch((err: unknown) => {
    throw temporalConnectionError(connectionOptions.address, err);
  });
  return new Client({ connection, namespace, dataConverter });
}
