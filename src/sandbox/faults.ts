/**
 * Seeded, reproducible fault injection for every simulated endpoint.
 *
 * A rule matches requests by target (`cloud`, `ech`, `self-managed`, or a socket-level target, see SocketFaultTarget),
 * method and a path regular expression, and then
 * adds latency (with jitter), answers with an error status at a given rate, resets the connection, or hangs. All
 * randomness comes from one PRNG seeded by the caller, so the same seed and the same request sequence give the same
 * outcomes.
 */
export type FaultTarget = 'cloud' | 'ech' | 'self-managed' | SocketFaultTarget;

/**
 * Socket-level targets: the self-managed cluster's TLS listeners (the remote cluster server, the transport port),
 * decided when a TCP connection is accepted, before any TLS: `resetRate` resets the socket, `hangRate` holds it and
 * never answers, `latencyMs`/`jitterMs` delay the handshake. Method `ACCEPT`, path `/_remote_cluster` or `/_transport`.
 * Status rates do not apply. (Target `self-managed` still applies to the frames after the handshake.)
 */
export type SocketFaultTarget = 'remote-cluster-server' | 'transport';
export const SOCKET_FAULT_TARGETS: readonly SocketFaultTarget[] = ['remote-cluster-server', 'transport'];

export interface FaultRule {
  target: FaultTarget;
  /** HTTP method, case-insensitive; absent = any. */
  method?: string;
  /** Regular expression source matched against the path (without query string); absent = any path. */
  path?: string;
  latencyMs?: number;
  jitterMs?: number;
  /** Probability (0..1) per status code, e.g. `{ "429": 0.2, "503": 0.1 }`. */
  statusRates?: Record<string, number>;
  /** Probability (0..1) that the connection is destroyed without an answer. */
  resetRate?: number;
  /** Probability (0..1) that the request never gets an answer (until the client gives up). */
  hangRate?: number;
  /** Apply to at most this many matching requests, then the rule is spent. */
  times?: number;
  /**
   * When the fault happens (default `before`): `after` lets the simulated cluster apply the request first, then does
   * the fault to the answer. `after` + reset is a lost response: the change is made, the client never hears of it.
   */
  when?: FaultPhase;
  /**
   * Hold every matching request (before or after it is applied, see `when`) until `release()` (control API:
   * `POST /_sandbox/faults/release`); held requests are listed by `heldRequests` (`GET /_sandbox/faults/held`).
   * HTTP targets only (a socket-level check treats a hold as a pass). Takes precedence over the rates.
   */
  hold?: boolean;
}

export type FaultPhase = 'before' | 'after';

/** What a released request does: `continue` as if never held; `drop` destroys the connection without an answer. */
export type ReleaseAction = 'continue' | 'drop';

export interface HeldRequest {
  id: number;
  target: FaultTarget;
  method: string;
  path: string;
  when: FaultPhase;
  /** ISO time the request was held. */
  since: string;
  /** False once the client closed its connection (e.g. the process that sent it was killed). */
  clientConnected: boolean;
}

export type FaultDecision =
  | { kind: 'pass'; delayMs: number }
  | { kind: 'status'; status: number; delayMs: number }
  | { kind: 'reset'; delayMs: number }
  | { kind: 'hang' }
  | { kind: 'hold'; delayMs: number; id: number };

/** The phase a decision applies in (`before` unless its rule said `after`). */
export function phaseOf(decision: FaultDecision): FaultPhase {
  return (decision as { when?: FaultPhase }).when ?? 'before';
}

export interface FaultEvent {
  seq: number;
  target: FaultTarget;
  method: string;
  path: string;
  decision: FaultDecision['kind'];
  status?: number;
  delayMs?: number;
  /** Present when the fault happened after the request was applied. */
  when?: 'after';
  /** A held request: its id in `heldRequests`/`release`. */
  heldId?: number;
}

/** mulberry32: tiny, fast, good enough for test reproducibility. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class FaultInjector {
  private rules: { rule: FaultRule; used: number; re?: RegExp }[] = [];
  private random: () => number;
  private seq = 0;
  private heldSeq = 0;
  /** Every request that matched a rule, in order, with what was done to it. */
  readonly history: FaultEvent[] = [];

  constructor(private seed = 1) {
    this.random = mulberry32(seed);
  }

  /** Replace all rules and restart the PRNG from `seed` (default: the current seed). */
  configure(rules: FaultRule[], seed: number = this.seed): void {
    this.seed = seed;
    this.random = mulberry32(seed);
    this.seq = 0;
    this.history.length = 0;
    this.rules = rules.map((rule) => ({ rule, used: 0, re: rule.path ? new RegExp(rule.path) : undefined }));
    // Replacing or removing the rules lets go of whatever was held: no request waits on a rule that is gone.
    this.release(undefined, 'drop');
  }

  clear(): void {
    this.configure([], this.seed);
  }

  get activeRules(): FaultRule[] {
    return this.rules.map((r) => r.rule);
  }

  decide(target: FaultTarget, method: string, path: string): FaultDecision {
    const entry = this.rules.find(
      (r) =>
        r.rule.target === target &&
        (!r.rule.method || r.rule.method.toUpperCase() === method.toUpperCase()) &&
        (!r.re || r.re.test(path)) &&
        (r.rule.times === undefined || r.used < r.rule.times),
    );
    let decision: FaultDecision = { kind: 'pass', delayMs: 0 };
    if (entry) {
      entry.used++;
      const { rule } = entry;
      // Draw a fixed number of values per matching request so outcomes depend only on the seed and the sequence.
      const jitterDraw = this.random();
      const outcomeDraw = this.random();
      const delayMs = Math.round((rule.latencyMs ?? 0) + (rule.jitterMs ?? 0) * jitterDraw);
      let acc = 0;
      const outcomes: [FaultDecision, number][] = [
        [{ kind: 'hang' }, rule.hangRate ?? 0],
        [{ kind: 'reset', delayMs }, rule.resetRate ?? 0],
        ...Object.entries(rule.statusRates ?? {}).map(
          ([status, rate]) => [{ kind: 'status', status: Number(status), delayMs }, rate] as [FaultDecision, number],
        ),
      ];
      decision = { kind: 'pass', delayMs };
      for (const [candidate, rate] of outcomes) {
        acc += rate;
        if (outcomeDraw < acc) {
          decision = candidate;
          break;
        }
      }
      if (rule.hold) decision = { kind: 'hold', delayMs, id: ++this.heldSeq };
      if (rule.when === 'after') decision = Object.assign(decision, { when: 'after' as const });
    }
    if (!entry) return decision;
    this.history.push({
      seq: ++this.seq,
      target,
      method,
      path,
      decision: decision.kind,
      ...(decision.kind === 'status' ? { status: decision.status } : {}),
      ...(decision.kind !== 'hang' && decision.delayMs ? { delayMs: decision.delayMs } : {}),
      ...(phaseOf(decision) === 'after' ? { when: 'after' as const } : {}),
      ...(decision.kind === 'hold' ? { heldId: decision.id } : {}),
    });
    return decision;
  }

  private readonly held = new Map<number, { info: HeldRequest; resolve: (action: ReleaseAction) => void }>();

  /**
   * Called by a server for a `hold` decision (the request has arrived whole; with `when: 'after'` it is applied):
   * resolves when a test releases it. `clientGone` reports the client's connection closing meanwhile.
   */
  hold(
    decision: Extract<FaultDecision, { kind: 'hold' }>,
    target: FaultTarget,
    method: string,
    path: string,
  ): { released: Promise<ReleaseAction>; clientGone: () => void } {
    const { id } = decision;
    const when = phaseOf(decision);
    const info: HeldRequest = {
      id,
      target,
      method,
      path,
      when,
      since: new Date().toISOString(),
      clientConnected: true,
    };
    const released = new Promise<ReleaseAction>((resolve) => this.held.set(id, { info, resolve }));
    return {
      released,
      clientGone: () => {
        info.clientConnected = false;
      },
    };
  }

  /** Requests held now, oldest first. */
  heldRequests(): HeldRequest[] {
    return [...this.held.values()].map((h) => ({ ...h.info }));
  }

  /** Release one held request (or all when `id` is absent); returns those released. */
  release(id: number | undefined, action: ReleaseAction = 'continue'): HeldRequest[] {
    const out: HeldRequest[] = [];
    for (const [key, h] of this.held) {
      if (id !== undefined && key !== id) continue;
      this.held.delete(key);
      h.resolve(action);
      out.push({ ...h.info });
    }
    return out;
  }
}
