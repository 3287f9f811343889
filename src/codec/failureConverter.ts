/**
 * Failure messages and stack traces moved into an encoded payload, so the payload codec encrypts them too (the
 * history then shows only "Encoded failure"). Loaded by path: by the worker, the client and the workflow bundle.
 */
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
