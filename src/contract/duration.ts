/**
 * Durations as Elasticsearch writes them ("90d", "12h", "30m", "45s", "500ms"). Used for `keyExpiration` (sent to
 * Elasticsearch as-is) and for approval/verification timeouts (converted to milliseconds for Temporal timers).
 * At most 9 digits: "99999999999999d" would overflow what a timer or Elasticsearch accepts long before any bound
 * below is checked, and a number that long is a typo, not a duration.
 */
export const DURATION_RE = /^(\d{1,9})(d|h|m|s|ms)$/;

const UNIT_MS: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000, ms: 1 };

export function durationToMs(value: string): number {
  const m = DURATION_RE.exec(value);
  if (!m) throw new Error(`not a duration: ${value}`);
  return Number(m[1]) * (UNIT_MS[m[2] as string] as number);
}

/** Inclusive bounds of a duration field, written as durations themselves (they appear in messages as written). */
export interface DurationBounds {
  min: string;
  max: string;
}

/**
 * Per-field bounds:
 * - approvals.timeout, humanStepTimeout: "0s" would end the run before anyone could answer, so at least 1s (short
 *   waits are legitimate in pipelines that answer at once, and in tests); over 30 days keeps a Temporal run (and its
 *   history) open for a step nobody will answer.
 * - verify.timeout: the connection settles in seconds; 5s is the least that survives a slow handshake, 1h the most a
 *   run should poll a connection that does not come up before failing (and rolling back).
 * - gracePeriod (rotate): how long the old key stays valid after the new one is in use (a durable timer); 0s is
 *   allowed (invalidate at once after the verify), 30 days as for a human step.
 * - keyExpiration: a cross-cluster API key that expires within the hour breaks the connection before anyone notices
 *   it works; 10 years (3650d) is far beyond any rotation policy, while Elasticsearch would take any number.
 */
export const DURATION_BOUNDS = {
  approvalTimeout: { min: '1s', max: '30d' },
  humanStepTimeout: { min: '1s', max: '30d' },
  verifyTimeout: { min: '5s', max: '1h' },
  keyExpiration: { min: '1h', max: '3650d' },
  gracePeriod: { min: '0s', max: '30d' },
  expiryWarning: { min: '1h', max: '3650d' },
} as const satisfies Record<string, DurationBounds>;

/** Why `value` is not a duration between the bounds, or undefined when it is. */
export function durationProblem(value: string, bounds: DurationBounds): string | undefined {
  const between = `between ${bounds.min} and ${bounds.max}`;
  if (!DURATION_RE.test(value)) {
    return `must be a duration such as "90d", "12h", "30m" or "45s" (at most 9 digits), ${between}`;
  }
  const ms = durationToMs(value);
  if (ms < durationToMs(bounds.min) || ms > durationToMs(bounds.max)) return `must be ${between}`;
  return undefined;
}
