/**
 * Worker operations: Prometheus metrics from the SDK's own telemetry (ECH_REMOTE_METRICS_ADDRESS) and the worker's
 * logs (src/log.ts: human lines on a terminal, JSON lines otherwise, ECH_REMOTE_LOG_LEVEL / ECH_REMOTE_LOG_FORMAT),
 * the SDK's workflow, activity and core logs included, with their workflow/activity context. Installed once, before
 * any connection is made.
 */
import net from 'node:net';
import { Runtime } from '@temporalio/worker';
import { z } from 'zod';
import {
  LOG_FORMAT_ENV,
  LOG_LEVEL_ENV,
  SettingsError,
  TemporalLogger,
  createLogger,
  log,
  logFormat,
  logLevel,
  type LogStream,
} from './log';

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
  ECH_REMOTE_LOG_LEVEL: logLevel.default('INFO'),
  ECH_REMOTE_LOG_FORMAT: logFormat.optional(),
  ECH_REMOTE_METRICS_ADDRESS: metricsAddress.optional(),
});
export type OperationsSettings = z.output<typeof operationsEnv>;

export function operationsSettings(env: NodeJS.ProcessEnv = process.env): OperationsSettings {
  const parsed = operationsEnv.safeParse({
    ECH_REMOTE_LOG_LEVEL: env[LOG_LEVEL_ENV]?.toUpperCase() || undefined,
    ECH_REMOTE_LOG_FORMAT: env[LOG_FORMAT_ENV]?.toLowerCase() || undefined,
    ECH_REMOTE_METRICS_ADDRESS: env.ECH_REMOTE_METRICS_ADDRESS || undefined,
  });
  if (!parsed.success) {
    throw new SettingsError(
      `Invalid worker settings:\n${parsed.error.issues.map((i) => `- ${String(i.path[0])}: ${i.message}`).join('\n')}`,
    );
  }
  return parsed.data;
}

/**
 * Runtime.install with the process's logger behind Temporal's Logger interface (the SDK's native core logs forwarded
 * to it) and, when configured, Prometheus. `stream` (tests) logs there instead of stderr.
 */
export function installTelemetry(env: NodeJS.ProcessEnv = process.env, stream?: LogStream): TemporalLogger {
  const settings = operationsSettings(env);
  const logger = new TemporalLogger(
    stream || env !== process.env ? createLogger({ env, ...(stream ? { stream } : {}) }) : log(),
  );
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
