/** Temporal connection settings from @temporalio/envconfig (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, profiles). */
import { Client, Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { loadDataConverter } from '../codec';
import { DEFAULT_TASK_QUEUE } from '../contract/steps';

export function temporalConnectConfig() {
  const config = loadClientConnectConfig();
  return {
    connectionOptions: { address: 'localhost:7233', ...config.connectionOptions },
    namespace: config.namespace ?? 'default',
  };
}

export function taskQueue(): string {
  return process.env.ECH_REMOTE_TASK_QUEUE || DEFAULT_TASK_QUEUE;
}

/**
 * The one place a Temporal client is made (the CLI, scripts, tests), so every client gets the same connection and
 * payload settings: payloads encrypted with ECH_REMOTE_ENCRYPTION_KEYS (a client never falls back to plaintext).
 */
export async function connectClient(opts: { dataConverter?: DataConverter } = {}): Promise<Client> {
  const { connectionOptions, namespace } = temporalConnectConfig();
  const dataConverter = opts.dataConverter ?? loadDataConverter();
  const connection = await Connection.connect(connectionOptions);
  return new Client({ connection, namespace, dataConverter });
}
