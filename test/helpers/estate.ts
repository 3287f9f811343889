/**
 * The sandbox as the workflow tests use it: started once per test file with the run's shared public root (which
 * this process already trusts through NODE_EXTRA_CA_CERTS), the worker's secrets in the environment as a real worker
 * has them, and read-backs through the public APIs (Cloud API, Elasticsearch), the way a user would check the result.
 */
import type { SecretBinding } from '../../src/activities/secretBindings';
import { start, type Sandbox, type ScenarioName } from '../../src/sandbox';
import type { FaultRule } from '../../src/sandbox/faults';
import { httpsJson } from '../sandbox/cloud-helpers';

export interface EstateView {
  keystore: string[];
  trustDirect: string[];
  echRemoteSettings: Record<string, unknown>;
  activeCrossClusterKeys: string[];
  echRoles: string[];
  echUsers: string[];
  selfManagedRoles: string[];
}

/**
 * Bind one more secret for the worker of this test process (ECH_REMOTE_SECRET_BINDINGS, merged into what is there);
 * `Estate.scenario` resets the bindings to the sandbox's own.
 */
export function bindSecret(name: string, binding: SecretBinding): void {
  const current = JSON.parse(process.env.ECH_REMOTE_SECRET_BINDINGS ?? '{}') as Record<string, SecretBinding>;
  process.env.ECH_REMOTE_SECRET_BINDINGS = JSON.stringify({ ...current, [name]: binding });
}

export class Estate {
  private constructor(readonly sandbox: Sandbox) {}

  static async start(scenario: ScenarioName = 'api-key-public'): Promise<Estate> {
    // start() reuses the run's shared public root, which this process trusts through NODE_EXTRA_CA_CERTS.
    if (!process.env.ECH_REMOTE_TEST_PUBLIC_ROOT_DIR) throw new Error('run the workflow tests with `npm test`');
    const sandbox = await start({ scenario, planPendingMs: 150 });
    for (const [k, v] of Object.entries(sandbox.info.env)) if (k !== 'NODE_EXTRA_CA_CERTS') process.env[k] = String(v);
    return new Estate(sandbox);
  }

  get info() {
    return this.sandbox.info;
  }

  async scenario(name: ScenarioName, versions?: { ech?: string; selfManaged?: string }): Promise<void> {
    await this.control('POST', '/scenario', { name, ...(versions ? { versions } : {}) });
    await this.control('POST', '/plans', { pendingMs: 150 });
    for (const [k, v] of Object.entries(this.info.env)) if (k !== 'NODE_EXTRA_CA_CERTS') process.env[k] = String(v);
  }

  async control(method: string, p: string, body?: unknown): Promise<any> {
    const res = await httpsJson(`${this.info.control}${p}`, {
      method,
      body,
      ca: this.info.ca.publicRoot,
      headers: { authorization: `ApiKey ${this.info.cloud.apiKey}` },
    });
    if (res.status !== 200) throw new Error(`${method} /_sandbox${p}: ${res.status} ${res.text}`);
    return res.body;
  }

  async faults(rules: FaultRule[], seed = 7): Promise<void> {
    await this.control('POST', '/faults', { seed, rules });
  }

  /** An Elasticsearch call as the given user (default: the cluster's `elastic`). */
  async es(side: 'ech' | 'self-managed', method: string, p: string, body?: unknown, auth?: string): Promise<any> {
    const c = side === 'ech' ? this.info.ech : this.info.selfManaged;
    const res = await httpsJson(`${c.url}${p}`, {
      method,
      body,
      ca: side === 'ech' ? this.info.ca.publicRoot : this.info.selfManaged.httpCa,
      headers: { authorization: `Basic ${Buffer.from(auth ?? `${c.username}:${c.password}`).toString('base64')}` },
    });
    return { status: res.status, body: res.body };
  }

  async cloud(method: string, p: string, body?: unknown): Promise<any> {
    const res = await httpsJson(`${this.info.cloud.endpoint}/api/v1${p}`, {
      method,
      body,
      ca: this.info.ca.publicRoot,
      headers: { authorization: `ApiKey ${this.info.cloud.apiKey}` },
    });
    return res.body;
  }

  /** Everything a run could change, read back through the public APIs. */
  async view(): Promise<EstateView> {
    const { deploymentId, refId } = this.info.cloud;
    const keystore = await this.cloud('GET', `/deployments/${deploymentId}/elasticsearch/${refId}/keystore`);
    const dep = await this.cloud('GET', `/deployments/${deploymentId}?show_settings=true`);
    const settings = await this.es('ech', 'GET', '/_cluster/settings?flat_settings=true');
    const keys = await this.es('self-managed', 'GET', '/_security/api_key?active_only=true');
    const roles = await this.es('ech', 'GET', '/_security/role');
    const users = await this.es('ech', 'GET', '/_security/user');
    const remoteRoles = await this.es('self-managed', 'GET', '/_security/role');
    const persistent = settings.body.persistent as Record<string, unknown>;
    return {
      keystore: Object.keys(keystore.secrets ?? {}).sort(),
      trustDirect: ((dep.resources.elasticsearch[0].info.settings?.trust?.direct ?? []) as { name: string }[])
        .map((d) => d.name)
        .sort(),
      echRemoteSettings: Object.fromEntries(
        Object.entries(persistent).filter(([k]) => /^cluster\.(remote|metadata)\./.test(k)),
      ),
      activeCrossClusterKeys: (keys.body.api_keys as { id: string; type: string }[])
        .filter((k) => k.type === 'cross_cluster')
        .map((k) => k.id)
        .sort(),
      echRoles: Object.keys(roles.body).sort(),
      echUsers: Object.keys(users.body).sort(),
      selfManagedRoles: Object.keys(remoteRoles.body).sort(),
    };
  }

  async stop(): Promise<void> {
    await this.sandbox.stop();
  }
}
