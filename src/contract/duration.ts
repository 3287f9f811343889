/**
 * Durations as Elasticsearch writes them ("90d", "12h", "30m", "45s", "500ms"). Used for `keyExpiration` (sent to
 * Elasticsearch as-is) and for approval/verification timeouts (converted to milliseconds for Temporal timers).
 */
export const DURATION_RE = /^(\d+)(d|h|m|s|ms)$/;

const UNIT_MS: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000, ms: 1 };

export function durationToMs(value: string): number {
  const m = DURATION_RE.exec(value);
  if (!m) throw new Error(`not a duration: ${value}`);
  return Number(m[1]) * (UNIT_MS[m[2] as string] as number);
}
