/**
 * Worker operations: Prometheus metrics from the SDK's own telemetry (ECH_REMOTE_METRICS_ADDRESS) and one JSON object
 * per log line on stderr (ECH_REMOTE_LOG_LEVEL), with the SDK's workflow/activity context. Every string goes through
 * redact(), so a secret the worker resolved can never reach the logs. Installed once, before any connection is made.
 */
import net from 'node:net';
import { DefaultLogger, Runtime, type LogEntry, type Logger } from '@temporalio/worker';
import { z } from 'zod';
import { redact } from './activities/secrets';

/**
 * The Prometheus bind address as the Temporal runtime takes it: an IP literal and a port (it does not resolve names,
 * so "localhost:9464" would crash the worker at start-up).
 */
const METRICS_ADDRESS_MESSAGE = 'must be IPv4:port or [IPv6]:port, e.g. 0.0.0.0:9464 (not a host name)';
export const metricsAddress = z.string().refine((v) => {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(v);
  if (!m) return false;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return false;
  return m[1] !== undefined ? net.isIPv6(m[1]) : net.isIPv4(m[2] as string);
}, METRICS_ADDRESS_MESSAGE);

const operationsEnv = z.object({
  ECH_REMOTE_LOG_LEVEL: z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR']).default('INFO'),
  ECH_REMOTE_METRICS_ADDRESS: metricsAddress.optional(),
});
export type OperationsSettings = z.output<typeof operationsEnv>;

export function operationsSettings(env: NodeJS.ProcessEnv = process.env): OperationsSettings {
  const parsed = operationsEnv.safeParse({
    ECH_REMOTE_LOG_LEVEL: env.ECH_REMOTE_LOG_LEVEL?.toUpperCase() || undefined,
    ECH_REMOTE_METRICS_ADDRESS: env.ECH_REMOTE_METRICS_ADDRESS || undefined,
  });
  if (!parsed.success) {
    throw new Error(
      `Invalid worker settings:\n${parsed.error.issues.map((i) => `- ${String(i.path[0])}: ${i.message}`).join('\n')}`,
    );
  }
  return parsed.data;
}

/** Strings redacted, errors as {name, message, stack}, bigints as strings: always serialisable, never a secret. */
function safe(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redact(value);
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) {
    return { name: value.name, message: redact(value.message), ...(value.stack ? { stack: redact(value.stack) } : {}) };
  }
  if (value === null || typeof value !== 'object') return value;
  if (depth > 5) return '[…]';
  if (Array.isArray(value)) return value.map((v) => safe(v, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, safe(v, depth + 1)]));
}

/** One log line: time, level, message, then the SDK's meta (workflowId, runId, activityId, activityType, taskQueue…). */
export function jsonLogLine(entry: LogEntry): string {
  const time = new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString();
  const line: Record<string, unknown> = { time, level: entry.level, message: redact(entry.message) };
  for (const [k, v] of Object.entries(entry.meta ?? {})) if (!(k in line)) line[k] = safe(v);
  return JSON.stringify(line);
}

/** Runtime.install with the JSON logger (the SDK's native logs forwarded to it) and, when configured, Prometheus. */
export function installTelemetry(env: NodeJS.ProcessEnv = process.env): Logger {
  const settings = operationsSettings(env);
  const logger = new DefaultLogger(settings.ECH_REMOTE_LOG_LEVEL, (entry) => {
    process.stderr.write(`${jsonLogLine(entry)}\n`);
  });
  Runtime.install({
    logger,
    telemetryOptions: {
      logging: { filter: { core: settings.ECH_REMOTE_LOG_LEVEL === 'DEBUG' ? 'INFO' : 'WARN' }, forward: {} },
      ...(settings.ECH_REMOTE_METRICS_ADDRESS
        ? { metrics: { prometheus: { bindAddress: settings.ECH_REMOTE_METRICS_ADDRESS } } }
        : {}),
    },
  });
  return logger;
}
