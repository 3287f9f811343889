/**
 * The logs of ech-remote's long-running commands (worker, dev, sandbox, codec server) and the CLI's diagnostics: pino,
 * on stderr. Human-readable lines when stderr is a terminal, one JSON object per line otherwise; ECH_REMOTE_LOG_FORMAT
 * (pretty | json) forces either, ECH_REMOTE_LOG_LEVEL (debug | info | warn | error) sets the level.
 *
 * What a line may carry is decided here, once, for every logger of the process (the Temporal SDK's included, through
 * TemporalLogger): every string goes through redact(), so a secret the worker resolved never reaches a log; Temporal's
 * task tokens and other opaque internals are dropped; an attempt is a number; an error is summarised. A failure the
 * project raises on purpose (an ApplicationFailure: preflight findings, an invalid request, a rejection, a connection
 * busy…) is ONE line with its type and codes and no stack: it is an outcome, told in full by the run's status. Anything
 * else is a bug or an outage nobody planned for, and keeps its stack.
 */
import { LogTimestamp, type Logger, type LogLevel as TemporalLogLevel, type LogMetadata } from '@temporalio/worker';
import pino, { type DestinationStream, type Logger as PinoLogger } from 'pino';
import type * as PinoPretty from 'pino-pretty';
import { z } from 'zod';
import { redact } from './activities/secrets';

export const LOG_LEVEL_ENV = 'ECH_REMOTE_LOG_LEVEL';
export const LOG_FORMAT_ENV = 'ECH_REMOTE_LOG_FORMAT';
export const logLevel = z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR']);
export const logFormat = z.enum(['json', 'pretty']);
export type LogFormat = z.output<typeof logFormat>;

/** A setting from the environment or the command line is invalid (the message names it). */
export class SettingsError extends Error {
  override name = 'SettingsError';
}

/** The level (default INFO) and the forced format (undefined: decided by whether the stream is a terminal). */
export function logSettings(env: NodeJS.ProcessEnv = process.env): {
  level: z.output<typeof logLevel>;
  format?: LogFormat;
} {
  const level = logLevel.safeParse(env[LOG_LEVEL_ENV]?.toUpperCase() || 'INFO');
  const format = logFormat.optional().safeParse(env[LOG_FORMAT_ENV]?.toLowerCase() || undefined);
  const problems = [
    ...(level.success ? [] : [`${LOG_LEVEL_ENV}: must be one of debug, info, warn, error`]),
    ...(format.success ? [] : [`${LOG_FORMAT_ENV}: must be json or pretty`]),
  ];
  if (problems.length) throw new SettingsError(`Invalid log settings:\n${problems.map((p) => `- ${p}`).join('\n')}`);
  return { level: level.data!, ...(format.data ? { format: format.data } : {}) };
}

// ---------------------------------------------------------------- what a line may carry

/** Keys never logged: a task token completes someone else's activity; span contexts are empty noise. */
const DROPPED_KEYS = new Set(['taskToken', 'spanContexts']);
const MAX_DEPTH = 4;
const MAX_STRING = 4000;

/** Temporal failures that are outcomes, not bugs: what happened is in their message and cause. */
const TEMPORAL_OUTCOMES = new Set([
  'ApplicationFailure',
  'ActivityFailure',
  'ChildWorkflowFailure',
  'CancelledFailure',
  'TimeoutFailure',
  'TerminatedFailure',
]);

/** This project's errors for an operator's mistake or an unreachable service: the message says what to do. */
const OPERATOR_ERRORS = new Set([
  'SettingsError',
  'TemporalConnectionError',
  'EncryptionKeyError',
  'CodecServerConfigError',
  'StaleWorkflowBundleError',
]);

export interface ErrorSummary {
  /** Raised on purpose (an ApplicationFailure or another Temporal outcome): one line, no stack. */
  expected: boolean;
  /** One line: `Type: first line of the message [codes]`. */
  line: string;
  type?: string;
  codes?: string[];
  /** Only for unexpected errors. */
  stack?: string;
}

function errorName(err: Error): string {
  // Workflow errors reach the worker's thread by structured clone, which keeps message and stack but names every
  // Error subclass "Error": the stack's first line still says what it was.
  if (err.name !== 'Error') return err.name;
  return /^(\w+):/.exec(err.stack ?? '')?.[1] ?? err.name;
}

/** Codes a failure carries: preflight findings and validation problems in its details, else `- [code]` lines. */
function failureCodes(err: Error): string[] {
  const details = (err as { details?: unknown }).details;
  const first = Array.isArray(details) ? details[0] : undefined;
  const codes: string[] = [];
  if (Array.isArray(first)) {
    for (const f of first) {
      const code = (f as { code?: unknown; path?: unknown; field?: unknown } | null) ?? {};
      const c = code.code ?? code.path ?? code.field;
      if (typeof c === 'string') codes.push(c);
    }
  } else if (first && typeof first === 'object' && Array.isArray((first as { codes?: unknown }).codes)) {
    codes.push(...((first as { codes: unknown[] }).codes.filter((c) => typeof c === 'string') as string[]));
  }
  if (codes.length) return codes;
  // src/domain/preflight.ts formatFindings: one finding per line, `- [code] message`.
  for (const m of err.message.matchAll(/^- \[([\w.:-]+)\]/gm)) codes.push(m[1] as string);
  return codes;
}

function oneLine(text: string): string {
  const line = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join(' ');
  return line.length > 1000 ? `${line.slice(0, 1000)}…` : line;
}

export function summarizeError(err: unknown): ErrorSummary {
  if (!(err instanceof Error)) return { expected: false, line: redact(String(err)).slice(0, MAX_STRING) };
  const name = errorName(err);
  if (OPERATOR_ERRORS.has(name)) {
    return { expected: true, line: `${name}: ${oneLine(redact(err.message))}`, type: name };
  }
  if (!TEMPORAL_OUTCOMES.has(name)) {
    return {
      expected: false,
      line: redact(`${name}: ${err.message}`).slice(0, MAX_STRING),
      ...(err.stack ? { stack: redact(err.stack) } : {}),
    };
  }
  // An activity's or child's failure: what matters is its cause.
  if ((name === 'ActivityFailure' || name === 'ChildWorkflowFailure') && err.cause instanceof Error) {
    const cause = summarizeError(err.cause);
    return { ...cause, line: `${redact(err.message)}: ${cause.line}` };
  }
  const type = (err as { type?: unknown }).type;
  const codes = failureCodes(err);
  // With codes, the first line and the codes say it all; without, the lines are joined (an invalid request's fields).
  const message = redact(err.message);
  const text = codes.length ? oneLine(message.split('\n')[0] ?? '') : oneLine(message);
  const label = typeof type === 'string' && type ? type : name;
  return {
    expected: true,
    line: `${label}: ${text}${codes.length ? ` [${codes.join(', ')}]` : ''}`,
    ...(typeof type === 'string' && type ? { type } : {}),
    ...(codes.length ? { codes } : {}),
  };
}

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** A value as a log line may carry it: redacted, bounded, serialisable, no internals. */
function clean(value: unknown, key: string, depth: number): unknown {
  if (typeof value === 'string') {
    const s = redact(value);
    return s.length > MAX_STRING ? `${s.slice(0, MAX_STRING)}…` : s;
  }
  if (key === 'attempt' && (typeof value === 'bigint' || typeof value === 'string')) return Number(value);
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (typeof value === 'function' || typeof value === 'symbol') return undefined;
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Error) {
    const s = summarizeError(value);
    return s.expected
      ? { summary: s.line, ...(s.type ? { type: s.type } : {}), ...(s.codes ? { codes: s.codes } : {}) }
      : { summary: s.line, ...(s.stack ? { stack: s.stack } : {}) };
  }
  if (value instanceof Date) return value.toISOString();
  if (ArrayBuffer.isView(value)) return `[${value.byteLength} bytes]`;
  if (depth >= MAX_DEPTH) return '[…]';
  if (Array.isArray(value)) {
    const items = value.slice(0, 50).map((v) => clean(v, '', depth + 1));
    return value.length > 50 ? [...items, `… ${value.length - 50} more`] : items;
  }
  // Class instances (connections, contexts, SDK internals) are named, never dumped.
  if (!isPlainObject(value)) return `[${value.constructor?.name ?? 'object'}]`;
  return cleanFields(value as Record<string, unknown>, depth + 1);
}

function cleanFields(fields: Record<string, unknown>, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (DROPPED_KEYS.has(k)) continue;
    const c = clean(v, k, depth);
    if (c !== undefined) out[k] = c;
  }
  return out;
}

/**
 * The message and fields of one line: the error under `error`/`err`/`failure` summarised; an expected one joins the
 * message (`Workflow failed: PreflightFailed: Preflight found 1 problem(s)… [license-remote]`) as `failure`.
 */
export function prepareLine(message: string, meta: Record<string, unknown> = {}): [Record<string, unknown>, string] {
  const { error, err, ...rest } = meta;
  const fields = cleanFields(rest);
  let text = redact(message);
  const e = error ?? err;
  if (e !== undefined) {
    const s = summarizeError(e);
    if (s.expected) {
      text = `${text}: ${s.line}`;
      fields.failure = { ...(s.type ? { type: s.type } : {}), ...(s.codes ? { codes: s.codes } : {}) };
    } else {
      fields.error = { summary: s.line, ...(s.stack ? { stack: s.stack } : {}) };
    }
  }
  return [fields, text];
}

// ---------------------------------------------------------------- the logger

/** Set for the duration of one call: the time the SDK says a message was emitted (workflow logs arrive buffered). */
let emittedAtMs: number | undefined;

/** Human lines: `12:00:01.234 INFO  message  [activity#attempt workflowId] key=value …`, stack for the unexpected. */
function prettyLine(log: Record<string, unknown>, messageKey: string): string {
  const {
    [messageKey]: message,
    time: _time,
    level: _level,
    sdkComponent: _c,
    taskQueue: _q,
    namespace: _n,
    runId: _r,
    workflowRunId: _wr,
    workflowType: _wt,
    isLocal: _l,
    workflowId,
    activityType,
    activityId: _a,
    attempt,
    error,
    failure: _f, // its type and codes are in the message already
    ...rest
  } = log;
  const where = [
    activityType ? `${String(activityType)}${attempt !== undefined ? `#${String(attempt)}` : ''}` : '',
    workflowId ? String(workflowId) : '',
  ].filter(Boolean);
  const kv = Object.entries(rest).map(([k, v]) => {
    const s = typeof v === 'string' ? v : JSON.stringify(v);
    return `${k}=${typeof v === 'string' && /\s/.test(s) ? JSON.stringify(s) : s}`;
  });
  const err = error as { summary?: string; stack?: string } | undefined;
  return [
    String(message ?? ''),
    where.length ? `  [${where.join(' ')}]` : '',
    kv.length ? `  ${kv.join(' ')}` : '',
    err ? `\n    ${(err.stack ?? err.summary ?? '').split('\n').join('\n    ')}` : '',
  ].join('');
}

export interface LogStream {
  write(line: string): unknown;
  isTTY?: boolean;
}

export interface CreateLoggerOptions {
  env?: NodeJS.ProcessEnv;
  /** Default process.stderr. Its isTTY decides the format unless ECH_REMOTE_LOG_FORMAT says. */
  stream?: LogStream;
}

export function createLogger(opts: CreateLoggerOptions = {}): PinoLogger {
  const env = opts.env ?? process.env;
  const stream = opts.stream ?? process.stderr;
  const settings = logSettings(env);
  const format = settings.format ?? (stream.isTTY ? 'pretty' : 'json');
  let destination: DestinationStream = stream;
  if (format === 'pretty') {
    // Loaded only for human lines: a worker logging JSON (containers, CI) starts without it.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { prettyFactory } = require('pino-pretty') as typeof PinoPretty;
    const prettify = prettyFactory({
      messageKey: 'message',
      translateTime: 'SYS:HH:MM:ss.l',
      colorize: stream.isTTY === true && !env.NO_COLOR,
      hideObject: true,
      messageFormat: (log, messageKey) => prettyLine(log, messageKey),
    });
    // Synchronous, unlike pino-pretty's stream: nothing is lost when the process exits right after a line.
    destination = { write: (line: string) => stream.write(prettify(line)) };
  }
  return pino(
    {
      level: settings.level.toLowerCase(),
      base: undefined,
      messageKey: 'message',
      timestamp: () => `,"time":"${new Date(emittedAtMs ?? Date.now()).toISOString()}"`,
      // JSON lines say WARN, not 40; pino-pretty reads the numeric level.
      ...(format === 'json' ? { formatters: { level: (label: string) => ({ level: label.toUpperCase() }) } } : {}),
      hooks: {
        // Every call, whatever its shape, goes through prepareLine: redaction cannot be forgotten by a caller.
        logMethod(args, method) {
          const [first, second, ...more] = args as unknown[];
          if (first !== null && typeof first === 'object' && !(first instanceof Error)) {
            return method.apply(this, prepareLine(String(second ?? ''), first as Record<string, unknown>));
          }
          if (first instanceof Error) {
            return method.apply(this, prepareLine(String(second ?? ''), { error: first }));
          }
          return method.apply(this, [redact(String(first)), ...more] as [string]);
        },
      },
    },
    destination,
  );
}

let root: PinoLogger | undefined;

/** The process's logger (stderr, settings from the environment), made on first use. */
export function log(): PinoLogger {
  root ??= createLogger();
  return root;
}

const PINO_LEVEL = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' } as const;

/** Temporal's Logger interface over a pino logger: what Runtime.install takes, for the SDK's and core's logs. */
export class TemporalLogger implements Logger {
  constructor(readonly pino: PinoLogger = log()) {}

  log(level: TemporalLogLevel, message: string, meta: LogMetadata = {}): void {
    const at = meta[LogTimestamp] as bigint | undefined;
    emittedAtMs = typeof at === 'bigint' ? Number(at / 1_000_000n) : undefined;
    try {
      this.pino[PINO_LEVEL[level] ?? 'info'](meta as Record<string, unknown>, message);
    } finally {
      emittedAtMs = undefined;
    }
  }
  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}

/** For a command that cannot go on: one fatal line, or plain stderr if even the log settings are broken. */
export function logFatal(err: unknown, message: string): void {
  try {
    log().fatal(err instanceof Error ? err : { error: err }, message);
  } catch {
    process.stderr.write(`${message}: ${redact(err instanceof Error ? err.message : String(err))}\n`);
  }
}
