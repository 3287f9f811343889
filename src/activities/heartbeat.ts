/**
 * Heartbeats for every activity, so that a worker that dies mid-activity costs the heartbeat timeout (seconds), not
 * the start-to-close timeout (minutes): an activity inbound interceptor heartbeats every few seconds while the
 * activity runs.
 *
 * Some activities store details in their heartbeat that a retried attempt reads back (restartElasticsearch's
 * `restartRequested`, waitForPlan's poll count). A keep-alive must never clobber them, so activities heartbeat through
 * `heartbeat(details)`, which records the latest details, and the keep-alive repeats exactly those. Before the activity
 * heartbeats itself, the keep-alive repeats the previous attempt's details (Temporal keeps only the last heartbeat).
 */
import { Context } from '@temporalio/activity';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';

/** Keep-alive period: well below the workflows' heartbeatTimeout (src/workflows/activity.ts). */
export const HEARTBEAT_INTERVAL_MS = 3_000;

const latest = new WeakMap<Context, { details: unknown }>();

function currentContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined; // outside an activity (scripts, unit tests without the mock environment)
  }
}

/** Heartbeat with `details`, which the keep-alive then repeats (instead of sending none). */
export function heartbeat(details?: unknown): void {
  const ctx = currentContext();
  if (!ctx) return;
  latest.set(ctx, { details });
  ctx.heartbeat(details);
}

/** The latest details this attempt heartbeated, else the previous attempt's. */
export function latestHeartbeatDetails(ctx: Context): unknown {
  return latest.has(ctx) ? latest.get(ctx)!.details : ctx.info.heartbeatDetails;
}

/** The worker's keep-alive: heartbeats every `intervalMs` while an activity runs, repeating its latest details. */
export function keepAliveHeartbeats(intervalMs = HEARTBEAT_INTERVAL_MS): ActivityInterceptorsFactory {
  return (ctx) => ({
    inbound: {
      async execute(input, next) {
        const beat = () => ctx.heartbeat(latestHeartbeatDetails(ctx));
        const timer = setInterval(beat, intervalMs);
        timer.unref();
        try {
          return await next(input);
        } finally {
          clearInterval(timer);
          latest.delete(ctx);
        }
      },
    },
  });
}
