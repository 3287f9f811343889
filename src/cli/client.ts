/**
 * The CLI's Temporal client: connectClient() with its payload codec. The CLI decrypts the run's status and results and
 * encrypts the key it hands over, so it needs the worker's ECH_REMOTE_ENCRYPTION_KEYS; without them it says so in the
 * CLI's terms (the worker's --insecure-plaintext-payloads does not apply to a client).
 */
import type { Client } from '@temporalio/client';
import { EncryptionKeyError } from '../codec';
import { connectClient } from '../temporal/connection';
import { CliError, EXIT } from './exitCodes';

export const CLI_NO_KEY_MESSAGE =
  'ech-remote needs the payload encryption key of the worker: set ECH_REMOTE_ENCRYPTION_KEYS to the same ' +
  '"keyId=base64(32 bytes)" list the worker has (in CI, from a secret) or ECH_REMOTE_ENCRYPTION_KEYS_FILE to a file ' +
  'holding it. The CLI decrypts the run’s status and results and encrypts the API key it hands over with it.';

export async function cliClient(): Promise<Client> {
  try {
    return await connectClient();
  } catch (err) {
    if (
      err instanceof EncryptionKeyError &&
      !process.env.ECH_REMOTE_ENCRYPTION_KEYS &&
      !process.env.ECH_REMOTE_ENCRYPTION_KEYS_FILE
    ) {
      throw new CliError(CLI_NO_KEY_MESSAGE, EXIT.error, 'EncryptionKeyMissing');
    }
    throw err;
  }
}
