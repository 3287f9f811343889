/**
 * The sandbox control API, served under `/_sandbox` on the Cloud endpoint with the same `Authorization: ApiKey …`.
 * It is never subject to fault injection. Errors use the Cloud envelope `{"errors":[{"code","message","fields"?}]}`
 * with codes `sandbox.*`. Bodies are JSON.
 *
 * | Method + path                        | Body                                                       | Answer |
 * |--------------------------------------|------------------------------------------------------------|--------|
 * | `GET /_sandbox`                      | –                                                          | summary: scenario, versions, endpoints, ids, plan settings, fault rules, this table |
 * | `GET /_sandbox/info`                 | –                                                          | the sandbox.json object (`SandboxInfo`) |
 * | `GET /_sandbox/state`                | –                                                          | everything for assertions: Cloud deployment (trust, applied trust, keystore keys, plan history, resource version), `ech` and `selfManaged` cluster snapshots, `lastRemoteConnection` (key id that authenticated it), fault history |
 * | `GET /_sandbox/scenarios`            | –                                                          | the scenario catalogue with descriptions |
 * | `POST /_sandbox/scenario`            | `{ name, versions?: { ech?, selfManaged? } }`              | rebuilds the estate in place (same ports, CAs, credentials, deployment id); resets trust, keystore, plans, faults; answers the summary |
 * | `POST /_sandbox/reset`               | –                                                          | the same as re-selecting the current scenario with its versions |
 * | `GET /_sandbox/self-managed/config`  | –                                                          | `{ effective, pending, files, pendingRestart }` (elasticsearch.yml view) |
 * | `POST /_sandbox/self-managed/apply`  | `{ settings?: {key: value\|null}, files?: {name: content\|null}, restart?: boolean }` | applies a step's `artifacts` (or one of its `phases`, in order) as the admin would; `{ restarted, pendingRestart, effective, pending, files }`; a node that refuses to start → 409 `sandbox.node_startup_failed` with Elasticsearch's message |
 * | `POST /_sandbox/self-managed/restart`| –                                                          | restarts the self-managed node (pending settings take effect); as apply |
 * | `POST /_sandbox/self-managed/certutil` | `{ instances: "<instances.yml>", certificate, key }`     | plays `elasticsearch-certutil cert --in instances.yml` with the self-managed transport CA and copies node-1's certificate and key to the given config paths, every other node's from its own entry (none: it keeps its own); takes effect at restart; `{ name, otherNames, certificate, key, otherNodes?, notIssued? }` |
 *
 * The `/_sandbox/self-managed/*` endpoints act on the scenario's self-managed cluster (`onprem-logs`), or on the one
 * `?cluster=<alias>` names (`onprem-metrics`, `onprem-legacy` in an `every-path` estate; unknown: 404).
 * | `GET /_sandbox/faults`               | –                                                          | `{ seed, rules, history }` (history: every request a rule matched, in order, with its outcome) |
 * | `POST /_sandbox/faults`              | `{ seed?: number, rules: FaultRule[] }`                    | replaces the rules and restarts the seeded PRNG; `{ seed, rules }` |
 * | `DELETE /_sandbox/faults`            | –                                                          | removes all rules (held requests are dropped); answers the history recorded until then |
 * | `GET /_sandbox/faults/held`          | –                                                          | `{ held: HeldRequest[] }`: requests a `hold` rule holds now (`id, target, method, path, when, since, clientConnected`) |
 * | `POST /_sandbox/faults/release`      | `{ id?: number, action?: 'continue'\|'drop' }`              | releases one held request (all without `id`): `continue` goes on as if never held, `drop` closes the connection unanswered; `{ released }` |
 * | `GET /_sandbox/plans`                | –                                                          | `{ pendingMs, failNext, failureMessage, pending, history }` |
 * | `POST /_sandbox/plans`               | `{ pendingMs?: number, failNext?: number, failureMessage?: string }` | plan behaviour from now on (failNext: the next n plans fail) |
 *
 * `FaultRule` (src/sandbox/faults.ts): `{ target: 'cloud'|'ech'|'self-managed', method?, path? (regex source),
 * latencyMs?, jitterMs?, statusRates?: { "429": 0.2, "503": 0.1 }, resetRate?, hangRate?, times?, when?: 'before'|'after',
 * hold?: boolean }`. `when: 'after'`: the request is applied, then the fault happens to its answer (reset = a lost
 * response). `hold: true`: the request waits (before or after being applied) until released. Targets
 * 'remote-cluster-server'|'transport' act on the self-managed TLS listeners' sockets at accept (no statusRates).
 */
import type { Reply, Request } from './http';
import {
  SOCKET_FAULT_TARGETS,
  type FaultInjector,
  type FaultRule,
  type FaultTarget,
  type ReleaseAction,
  type SocketFaultTarget,
} from './faults';
import { CloudError, cloudErrorReply } from './cloud/errors';
import type { PlanSettings } from './cloud';
import { SCENARIOS, isScenarioName, scenarioSpec, validVersion, type ScenarioName, type Versions } from './scenarios';
import { BadJson, Router } from './http';

/** What the control API drives; the Sandbox implements it. */
export interface ControlTarget {
  summary(): Record<string, unknown>;
  sandboxInfo(): unknown;
  state(): Promise<Record<string, unknown>> | Record<string, unknown>;
  switchScenario(name: ScenarioName, versions: Partial<Versions>): Promise<void>;
  readonly scenario: ScenarioName;
  readonly versions: Versions;
  readonly faults: FaultInjector;
  faultSeed: number;
  plans(): PlanSettings & { pending: string | null; history: unknown[] };
  setPlans(settings: Partial<PlanSettings>): void;
  /** `cluster`: the alias of a self-managed cluster of the estate (`?cluster=`); default the scenario's. */
  selfManagedConfig(cluster?: string): Record<string, unknown>;
  selfManagedApply(
    input: {
      settings?: Record<string, unknown>;
      files?: Record<string, string | null>;
      restart?: boolean;
    },
    cluster?: string,
  ): Promise<Record<string, unknown>>;
  selfManagedRestart(cluster?: string): Promise<Record<string, unknown>>;
  /** ECH transport CA rotation: an inactive CA beside the active one, still valid or already expired. */
  echCaRotation(inactive: 'valid' | 'expired'): Promise<Record<string, unknown>>;
  selfManagedCertutil(
    input: { instances: string; certificate: string; key: string },
    cluster?: string,
  ): Promise<Record<string, unknown>>;
}

/** `?cluster=<alias>` of the `/_sandbox/self-managed/*` endpoints. */
function clusterParam(req: Request): string | undefined {
  return req.query.get('cluster') ?? undefined;
}

export const CONTROL_ENDPOINTS = [
  'GET /_sandbox',
  'GET /_sandbox/info',
  'GET /_sandbox/state',
  'GET /_sandbox/scenarios',
  'POST /_sandbox/scenario {name, versions?}',
  'POST /_sandbox/reset',
  'GET /_sandbox/self-managed/config[?cluster=ALIAS]',
  'POST /_sandbox/self-managed/apply[?cluster=ALIAS] {settings?, files?, restart?}',
  'POST /_sandbox/self-managed/restart[?cluster=ALIAS]',
  'POST /_sandbox/self-managed/certutil[?cluster=ALIAS] {instances, certificate, key}',
  'GET /_sandbox/faults',
  'POST /_sandbox/faults {seed?, rules}',
  'DELETE /_sandbox/faults',
  'GET /_sandbox/faults/held',
  'POST /_sandbox/faults/release {id?, action?}',
  'GET /_sandbox/plans',
  'POST /_sandbox/plans {pendingMs?, failNext?, failureMessage?}',
  "POST /_sandbox/ech/certificate-authority {inactive: 'valid' | 'expired'} (an inactive ECH transport CA beside the active one)",
];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const invalid = (message: string, field?: string) =>
  new CloudError(400, 'sandbox.invalid_request', message, field ? [field] : undefined);

const TARGETS: FaultTarget[] = ['cloud', 'ech', 'self-managed', ...SOCKET_FAULT_TARGETS];

/** Validate fault rules strictly: a typo in a rule would otherwise silently inject nothing. */
export function parseFaultRules(input: unknown): FaultRule[] {
  if (!Array.isArray(input)) throw invalid('rules must be an array of fault rules', 'rules');
  return input.map((r: unknown, i) => {
    const at = `rules[${i}]`;
    if (!isObject(r)) throw invalid('a rule must be an object', at);
    const known = [
      'target',
      'method',
      'path',
      'latencyMs',
      'jitterMs',
      'statusRates',
      'resetRate',
      'hangRate',
      'times',
      'when',
      'hold',
    ];
    for (const k of Object.keys(r)) if (!known.includes(k)) throw invalid(`unknown field [${k}]`, `${at}.${k}`);
    if (!TARGETS.includes(r.target as FaultTarget))
      throw invalid(`target must be one of ${TARGETS.join(', ')}`, `${at}.target`);
    if (r.method !== undefined && typeof r.method !== 'string')
      throw invalid('method must be a string', `${at}.method`);
    if (r.path !== undefined) {
      if (typeof r.path !== 'string') throw invalid('path must be a regular expression source', `${at}.path`);
      try {
        new RegExp(r.path);
      } catch (e) {
        throw invalid(`path is not a valid regular expression: ${(e as Error).message}`, `${at}.path`);
      }
    }
    for (const k of ['latencyMs', 'jitterMs', 'times'] as const) {
      if (r[k] !== undefined && (typeof r[k] !== 'number' || (r[k] as number) < 0)) {
        throw invalid(`${k} must be a non-negative number`, `${at}.${k}`);
      }
    }
    if (r.when !== undefined && r.when !== 'before' && r.when !== 'after')
      throw invalid("when must be 'before' or 'after'", `${at}.when`);
    if (r.hold !== undefined && typeof r.hold !== 'boolean') throw invalid('hold must be a boolean', `${at}.hold`);
    let total = 0;
    for (const k of ['resetRate', 'hangRate'] as const) {
      if (r[k] !== undefined) {
        if (typeof r[k] !== 'number' || (r[k] as number) < 0 || (r[k] as number) > 1) {
          throw invalid(`${k} must be between 0 and 1`, `${at}.${k}`);
        }
        total += r[k] as number;
      }
    }
    if (r.statusRates !== undefined && SOCKET_FAULT_TARGETS.includes(r.target as SocketFaultTarget)) {
      throw invalid(`statusRates do not apply to the socket-level target ${String(r.target)}`, `${at}.statusRates`);
    }
    if (r.statusRates !== undefined) {
      if (!isObject(r.statusRates)) throw invalid('statusRates must map status codes to rates', `${at}.statusRates`);
      for (const [status, rate] of Object.entries(r.statusRates)) {
        if (!/^[1-5]\d\d$/.test(status)) throw invalid(`[${status}] is not an HTTP status`, `${at}.statusRates`);
        if (typeof rate !== 'number' || rate < 0 || rate > 1) {
          throw invalid(`rate of ${status} must be between 0 and 1`, `${at}.statusRates.${status}`);
        }
        total += rate;
      }
    }
    if (total > 1 + 1e-9) throw invalid('the rates of a rule add up to more than 1', at);
    return r as unknown as FaultRule;
  });
}

function body(req: Request): Record<string, unknown> {
  const b = req.json();
  if (b === undefined) return {};
  if (!isObject(b)) throw invalid('the body must be a JSON object');
  return b;
}

export function createControlHandler(target: ControlTarget): (req: Request) => Promise<Reply> {
  const ok = (b: unknown, status = 200): Reply => ({ status, body: b });
  const router = new Router()
    .on('GET', '/_sandbox', () => ok({ ...target.summary(), controlEndpoints: CONTROL_ENDPOINTS }))
    .on('GET', '/_sandbox/info', () => ok(target.sandboxInfo()))
    .on('GET', '/_sandbox/state', async () => ok(await target.state()))
    .on('GET', '/_sandbox/scenarios', () =>
      ok({
        current: target.scenario,
        scenarios: SCENARIOS.map((name) => {
          const spec = scenarioSpec(name);
          return {
            name,
            description: spec.description,
            request: spec.request,
            defaults: spec.versions,
            selfManaged: spec.selfManaged,
          };
        }),
      }),
    )
    .on('POST', '/_sandbox/scenario', async (req) => {
      const b = body(req);
      if (!isScenarioName(b.name)) throw invalid(`name must be one of ${SCENARIOS.join(', ')}`, 'name');
      const versions: Partial<Versions> = {};
      if (b.versions !== undefined) {
        if (!isObject(b.versions)) throw invalid('versions must be an object', 'versions');
        for (const side of ['ech', 'selfManaged'] as const) {
          const v = b.versions[side];
          if (v === undefined) continue;
          if (!validVersion(v))
            throw invalid('a version is major.minor.patch between 7.17 and 9.x', `versions.${side}`);
          versions[side] = v;
        }
      }
      await target.switchScenario(b.name, versions);
      return ok(target.summary());
    })
    .on('POST', '/_sandbox/reset', async () => {
      await target.switchScenario(target.scenario, target.versions);
      return ok(target.summary());
    })
    .on('GET', '/_sandbox/self-managed/config', (req) => ok(target.selfManagedConfig(clusterParam(req))))
    .on('POST', '/_sandbox/self-managed/apply', async (req) => {
      const b = body(req);
      for (const k of Object.keys(b)) {
        // An artifacts object, or one of its `phases` (with its `title`), may be posted as is.
        if (!['settings', 'files', 'restart', 'restartRequired', 'requests', 'title'].includes(k))
          throw invalid(`unknown field [${k}]`, k);
      }
      if (b.settings !== undefined && !isObject(b.settings)) throw invalid('settings must be an object', 'settings');
      if (b.files !== undefined) {
        if (!isObject(b.files)) throw invalid('files must map file names to contents', 'files');
        for (const [name, content] of Object.entries(b.files)) {
          if (content !== null && typeof content !== 'string')
            throw invalid('a file content must be a string or null', `files.${name}`);
        }
      }
      if (b.restart !== undefined && typeof b.restart !== 'boolean')
        throw invalid('restart must be a boolean', 'restart');
      // An artifacts object may be posted as is: `restartRequired` then means restart (its `requests` are for an API).
      const restart = (b.restart as boolean | undefined) ?? b.restartRequired === true;
      return ok(
        await target.selfManagedApply(
          {
            ...(b.settings ? { settings: b.settings } : {}),
            ...(b.files ? { files: b.files as Record<string, string | null> } : {}),
            restart,
          },
          clusterParam(req),
        ),
      );
    })
    .on('POST', '/_sandbox/self-managed/restart', async (req) => ok(await target.selfManagedRestart(clusterParam(req))))
    .on('POST', '/_sandbox/self-managed/certutil', async (req) => {
      const b = body(req);
      for (const k of ['instances', 'certificate', 'key'] as const) {
        if (typeof b[k] !== 'string' || !b[k]) throw invalid(`${k} must be a non-empty string`, k);
      }
      return ok(
        await target.selfManagedCertutil(
          {
            instances: b.instances as string,
            certificate: b.certificate as string,
            key: b.key as string,
          },
          clusterParam(req),
        ),
      );
    })
    .on('GET', '/_sandbox/faults', () =>
      ok({ seed: target.faultSeed, rules: target.faults.activeRules, history: target.faults.history }),
    )
    .on('POST', '/_sandbox/faults', (req) => {
      const b = body(req);
      const rules = parseFaultRules(b.rules);
      let seed = target.faultSeed;
      if (b.seed !== undefined) {
        if (typeof b.seed !== 'number' || !Number.isInteger(b.seed)) throw invalid('seed must be an integer', 'seed');
        seed = b.seed;
      }
      target.faultSeed = seed;
      target.faults.configure(rules, seed);
      return ok({ seed, rules });
    })
    .on('DELETE', '/_sandbox/faults', () => {
      const history = [...target.faults.history];
      target.faults.clear();
      return ok({ seed: target.faultSeed, history });
    })
    .on('GET', '/_sandbox/faults/held', () => ok({ held: target.faults.heldRequests() }))
    .on('POST', '/_sandbox/faults/release', (req) => {
      const b = body(req);
      for (const k of Object.keys(b)) if (!['id', 'action'].includes(k)) throw invalid(`unknown field [${k}]`, k);
      if (b.id !== undefined && (typeof b.id !== 'number' || !Number.isInteger(b.id)))
        throw invalid('id must be the integer id of a held request', 'id');
      if (b.action !== undefined && b.action !== 'continue' && b.action !== 'drop')
        throw invalid("action must be 'continue' or 'drop'", 'action');
      const released = target.faults.release(b.id as number | undefined, (b.action as ReleaseAction) ?? 'continue');
      if (b.id !== undefined && released.length === 0)
        throw new CloudError(404, 'sandbox.not_found', `No held request with id ${String(b.id)}`);
      return ok({ released });
    })
    .on('POST', '/_sandbox/ech/certificate-authority', async (req) => {
      const b = body(req);
      if (b.inactive !== 'valid' && b.inactive !== 'expired')
        throw invalid("inactive must be 'valid' or 'expired'", 'inactive');
      return ok(await target.echCaRotation(b.inactive));
    })
    .on('GET', '/_sandbox/plans', () => ok(target.plans()))
    .on('POST', '/_sandbox/plans', (req) => {
      const b = body(req);
      const settings: Partial<PlanSettings> = {};
      if (b.pendingMs !== undefined) {
        if (typeof b.pendingMs !== 'number' || b.pendingMs < 0) throw invalid('pendingMs must be >= 0', 'pendingMs');
        settings.pendingMs = b.pendingMs;
      }
      if (b.failNext !== undefined) {
        if (typeof b.failNext !== 'number' || !Number.isInteger(b.failNext) || b.failNext < 0) {
          throw invalid('failNext must be a non-negative integer', 'failNext');
        }
        settings.failNext = b.failNext;
      }
      if (b.failureMessage !== undefined) {
        if (typeof b.failureMessage !== 'string') throw invalid('failureMessage must be a string', 'failureMessage');
        settings.failureMessage = b.failureMessage;
      }
      target.setPlans(settings);
      return ok(target.plans());
    });

  return async (req) => {
    try {
      const match = router.match(req.method, req.path.replace(/\/+$/, '') || '/');
      if (!match) return cloudErrorReply(404, 'sandbox.not_found', `No control endpoint ${req.method} ${req.path}`);
      if (match === 'method') {
        return cloudErrorReply(405, 'sandbox.method_not_allowed', `Method ${req.method} is not allowed on ${req.path}`);
      }
      req.params = match.params;
      return await match.handler(req);
    } catch (e) {
      if (e instanceof CloudError) return cloudErrorReply(e.status, e.code, e.message, e.fields);
      const err = e as Error;
      // The node refused to start (NodeStartupError): the admin's change was wrong, as Elasticsearch would say.
      if (err?.name === 'NodeStartupError') return cloudErrorReply(409, 'sandbox.node_startup_failed', err.message);
      if (e instanceof BadJson) return cloudErrorReply(400, 'sandbox.invalid_json', err.message);
      return cloudErrorReply(500, 'sandbox.internal_error', err?.message ?? String(e));
    }
  };
}
