/**
 * Dynamic cluster settings (`_cluster/settings`) with Elasticsearch's validation of `cluster.remote.<alias>.*`
 * (RemoteConnectionStrategy / ProxyConnectionStrategy / SniffConnectionStrategy messages) and `cluster.metadata.*`.
 * Values are stored as strings, as Elasticsearch returns them.
 */
import { EsError, badRequest } from './errors';

export type FlatSettings = Record<string, string | string[]>;

export interface RemoteClusterSettings {
  alias: string;
  mode: 'proxy' | 'sniff';
  proxyAddress?: string;
  serverName?: string;
  proxySocketConnections: number;
  seeds: string[];
  nodeConnections: number;
  skipUnavailable: boolean;
}

/** Settings of a remote alias that only one mode may use (RemoteConnectionStrategy#validate). */
const PROXY_ONLY = ['proxy_address', 'server_name', 'proxy_socket_connections'];
const SNIFF_ONLY = ['seeds', 'node_connections'];
const REMOTE_KEYS = [
  'mode',
  ...PROXY_ONLY,
  ...SNIFF_ONLY,
  'skip_unavailable',
  'transport.compress',
  'transport.compression_scheme',
  'transport.ping_schedule',
];
/** Dynamic settings outside cluster.remote.* that the simulator accepts without interpreting them. */
const OTHER_DYNAMIC_PREFIXES = [
  'cluster.routing.',
  'cluster.max_shards_per_node',
  'indices.',
  'search.',
  'action.',
  'logger.',
  'xpack.monitoring.',
  'cluster.indices.',
];
const REMOTE_KEY_RE = /^cluster\.remote\.([^.]+)\.(.+)$/;

/** Flatten `{ cluster: { remote: { a: { mode: 'proxy' } } } }` and flat keys alike into `cluster.remote.a.mode`. */
export function flatten(input: unknown, prefix = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  if (input && typeof input === 'object' && !Array.isArray(input)) {
    for (const [k, v] of Object.entries(input as Record<string, unknown>)) {
      const key = prefix ? `${prefix}.${k}` : k;
      if (v && typeof v === 'object' && !Array.isArray(v)) flatten(v, key, out);
      else out[key] = v;
    }
  } else if (prefix) out[prefix] = input;
  return out;
}

/** Nest flat keys for responses (`flat_settings=false`, the default). */
export function nest(flat: FlatSettings): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(flat).sort(([a], [b]) => a.localeCompare(b))) {
    const parts = key.split('.');
    let node = out;
    for (const p of parts.slice(0, -1)) {
      if (typeof node[p] !== 'object' || node[p] === null) node[p] = {};
      node = node[p] as Record<string, unknown>;
    }
    node[parts[parts.length - 1]!] = value;
  }
  return out;
}

/** RemoteConnectionStrategy#parsePort / parseHost: "host:port", IPv6 as "[::1]:9443". */
export function parseHostPort(address: string): { host: string; port: number } {
  const sep = address.lastIndexOf(':');
  if (sep === -1 || sep === address.length) {
    throw badRequest(`remote hosts need to be configured as [host:port], found [${address}] instead`);
  }
  let host = address.slice(0, sep);
  const portText = address.slice(sep + 1);
  if (!/^[+-]?\d+$/.test(portText)) throw badRequest('failed to parse port');
  const port = Number.parseInt(portText, 10);
  if (port <= 0) throw badRequest(`port number must be > 0 but was: [${port}]`);
  if (port > 65535) throw badRequest(`port out of range:${port}`);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { host, port };
}

function toSettingString(key: string, value: unknown): string | string[] {
  if (Array.isArray(value)) return value.map((v) => String(v));
  if (value !== null && typeof value === 'object')
    throw badRequest(`setting [${key}] must be a value, found an object`);
  return String(value);
}

function parseBool(key: string, value: string | string[] | undefined, def: boolean): boolean {
  if (value === undefined) return def;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw badRequest(`Failed to parse value [${String(value)}] as only [true] or [false] are allowed.`);
}

function parseIntSetting(key: string, value: string | string[] | undefined, def: number, min: number): number {
  if (value === undefined) return def;
  const n = Number(value);
  if (!Number.isInteger(n)) throw badRequest(`Failed to parse value [${String(value)}] for setting [${key}]`);
  if (n < min) throw badRequest(`Failed to parse value [${n}] for setting [${key}] must be >= ${min}`);
  return n;
}

function asList(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value)
    ? value
    : value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
}

export class ClusterSettings {
  persistent: FlatSettings = {};
  transient: FlatSettings = {};

  constructor(private readonly skipUnavailableDefault: boolean) {}

  /** Effective settings: transient overrides persistent. */
  effective(): FlatSettings {
    return { ...this.persistent, ...this.transient };
  }

  private static validateKey(key: string): void {
    const m = REMOTE_KEY_RE.exec(key);
    if (m) {
      if (m[2] === 'credentials') {
        throw badRequest(
          `setting [${key}], not dynamically updateable; it is a secure setting, set it in the keystore`,
        );
      }
      if (REMOTE_KEYS.includes(m[2]!)) return;
    }
    if (
      key === 'cluster.remote.initial_connect_timeout' ||
      key === 'cluster.remote.node.attr' ||
      key === 'cluster.remote.connect'
    )
      return;
    if (key.startsWith('cluster.metadata.') && key.length > 'cluster.metadata.'.length) return;
    if (OTHER_DYNAMIC_PREFIXES.some((p) => key.startsWith(p))) return;
    // The scope word is replaced by the caller ("persistent" | "transient").
    throw badRequest(`persistent setting [${key}], not recognized`);
  }

  /**
   * Apply a `PUT /_cluster/settings` body atomically: validate the merged result, then commit. Returns the accepted
   * settings (as the response echoes them) and the aliases whose remote settings changed.
   */
  update(body: unknown): { persistent: FlatSettings; transient: FlatSettings; changedAliases: string[] } {
    const b = (body ?? {}) as Record<string, unknown>;
    for (const k of Object.keys(b)) {
      if (k !== 'persistent' && k !== 'transient') {
        throw new EsError(
          400,
          'x_content_parse_exception',
          `[1:2] [cluster_update_settings_request] unknown field [${k}]`,
        );
      }
    }
    const next: Record<'persistent' | 'transient', FlatSettings> = {
      persistent: { ...this.persistent },
      transient: { ...this.transient },
    };
    const accepted: Record<'persistent' | 'transient', FlatSettings> = { persistent: {}, transient: {} };
    for (const scope of ['persistent', 'transient'] as const) {
      const flat = flatten(b[scope] ?? {});
      for (const [key, value] of Object.entries(flat)) {
        const remove = value === null || value === undefined;
        if (remove && key.endsWith('*')) {
          const prefix = key.slice(0, -1);
          for (const k of Object.keys(next[scope])) if (k.startsWith(prefix)) delete next[scope][k];
          continue;
        }
        try {
          ClusterSettings.validateKey(key);
        } catch (e) {
          if (e instanceof EsError) throw badRequest(e.reason.replace(/^persistent/, scope));
          throw e;
        }
        if (remove) {
          delete next[scope][key];
          continue;
        }
        const v = toSettingString(key, value);
        next[scope][key] = v;
        accepted[scope][key] = v;
      }
    }
    // Validate every alias of the merged result (validation runs on the whole remote group, as in ES).
    const merged = { ...next.persistent, ...next.transient };
    for (const alias of aliasesOf(merged)) remoteSettingsOf(merged, alias, this.skipUnavailableDefault);
    const before = { ...this.persistent, ...this.transient };
    const changed = new Set<string>();
    for (const alias of new Set([...aliasesOf(before), ...aliasesOf(merged)])) {
      if (
        connectionIdentity(before, alias, this.skipUnavailableDefault) !==
        connectionIdentity(merged, alias, this.skipUnavailableDefault)
      )
        changed.add(alias);
    }
    this.persistent = next.persistent;
    this.transient = next.transient;
    return { ...accepted, changedAliases: [...changed] };
  }

  /** Configured remotes that have a connection target (ES drops remotes whose address/seeds are empty). */
  remotes(): RemoteClusterSettings[] {
    const eff = this.effective();
    return aliasesOf(eff)
      .map((alias) => remoteSettingsOf(eff, alias, this.skipUnavailableDefault))
      .filter((r) => (r.mode === 'proxy' ? !!r.proxyAddress : r.seeds.length > 0));
  }

  remote(alias: string): RemoteClusterSettings | undefined {
    return this.remotes().find((r) => r.alias === alias);
  }

  initialConnectTimeout(): string {
    const v = this.effective()['cluster.remote.initial_connect_timeout'];
    return typeof v === 'string' ? v : '30s';
  }
}

/**
 * What an open connection is built from: a change here rebuilds it (RemoteConnectionStrategy.shouldRebuildConnection:
 * another mode, transport.compress / compression_scheme / ping_schedule, or the strategy's own
 * strategyMustBeRebuilt: proxy address, socket count, server name; seeds, node connections). `skip_unavailable` is
 * not in it: ES updates it on the live connection (RemoteClusterService.updateSkipUnavailable).
 */
function connectionIdentity(settings: FlatSettings, alias: string, skipUnavailableDefault: boolean): string {
  if (!aliasesOf(settings).includes(alias)) return '';
  const r = remoteSettingsOf(settings, alias, skipUnavailableDefault);
  const enabled = r.mode === 'proxy' ? !!r.proxyAddress : r.seeds.length > 0;
  if (!enabled) return '';
  const transport = ['transport.compress', 'transport.compression_scheme', 'transport.ping_schedule'].map(
    (k) => settings[`cluster.remote.${alias}.${k}`] ?? null,
  );
  const { skipUnavailable: _live, ...identity } = r;
  return JSON.stringify([identity, transport]);
}

/** Per-alias settings ES refuses for an alias without an address (RemoteConnectionEnabled validator). */
const NEED_ENABLED_CONNECTION = [
  'skip_unavailable',
  'transport.compress',
  'transport.compression_scheme',
  'transport.ping_schedule',
];

export function aliasesOf(settings: FlatSettings): string[] {
  const aliases = new Set<string>();
  for (const k of Object.keys(settings)) {
    const m = REMOTE_KEY_RE.exec(k);
    if (m && REMOTE_KEYS.includes(m[2]!)) aliases.add(m[1]!);
  }
  return [...aliases].sort();
}

/** Parse and validate one alias's settings; throws the 400 Elasticsearch gives on `PUT _cluster/settings`. */
export function remoteSettingsOf(
  settings: FlatSettings,
  alias: string,
  skipUnavailableDefault: boolean,
): RemoteClusterSettings {
  const key = (s: string) => `cluster.remote.${alias}.${s}`;
  const get = (s: string) => settings[key(s)];
  const modeRaw = get('mode');
  const modeText = (typeof modeRaw === 'string' ? modeRaw : 'sniff').toLowerCase();
  if (modeText !== 'proxy' && modeText !== 'sniff') {
    throw badRequest(
      `No enum constant org.elasticsearch.transport.RemoteConnectionStrategy.ConnectionStrategy.${modeText.toUpperCase()}`,
    );
  }
  const mode = modeText;
  const configured = mode.toUpperCase();
  for (const s of mode === 'proxy' ? SNIFF_ONLY : PROXY_ONLY) {
    if (get(s) !== undefined) {
      const required = mode === 'proxy' ? 'SNIFF' : 'PROXY';
      throw badRequest(
        `Setting "${key(s)}" cannot be used with the configured "${key('mode')}" [required=${required}, configured=${configured}]`,
      );
    }
  }
  const proxyAddress = get('proxy_address');
  if (typeof proxyAddress === 'string' && proxyAddress !== '') parseHostPort(proxyAddress);
  const seeds = asList(get('seeds'));
  for (const s of seeds) parseHostPort(s);
  const compress = get('transport.compress');
  if (compress !== undefined && !['true', 'false', 'indexing_data'].includes(String(compress))) {
    throw badRequest(
      `No enum constant org.elasticsearch.transport.Compression.Enabled.${String(compress).toUpperCase()}`,
    );
  }
  // RemoteClusterService's RemoteConnectionEnabled validator: these settings only exist for a connection that has an
  // address (proxy) or seeds (sniff); leaving them behind when the address is removed is refused.
  const enabled = mode === 'proxy' ? typeof proxyAddress === 'string' && proxyAddress !== '' : seeds.length > 0;
  if (!enabled) {
    for (const s of NEED_ENABLED_CONNECTION) {
      if (get(s) !== undefined)
        throw badRequest(`Cannot configure setting [${key(s)}] if remote cluster is not enabled.`);
    }
  }
  return {
    alias,
    mode,
    ...(typeof proxyAddress === 'string' && proxyAddress ? { proxyAddress } : {}),
    ...(typeof get('server_name') === 'string' && get('server_name')
      ? { serverName: get('server_name') as string }
      : {}),
    proxySocketConnections: parseIntSetting(key('proxy_socket_connections'), get('proxy_socket_connections'), 18, 1),
    seeds,
    nodeConnections: parseIntSetting(key('node_connections'), get('node_connections'), 3, 1),
    skipUnavailable: parseBool(key('skip_unavailable'), get('skip_unavailable'), skipUnavailableDefault),
  };
}
