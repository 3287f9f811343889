/**
 * A tiny document store: enough index and search to seed data and prove a cross-cluster search returns the right
 * hits. Queries: match_all, match_none, term, terms, match, ids, exists, range, bool (must/filter/should/must_not).
 */
import { randomBytes } from 'node:crypto';
import { EsError, badRequest, indexNotFound } from './errors';
import { wildcardMatch } from './security';

export interface StoredIndex {
  name: string;
  uuid: string;
  creationDate: number;
  docs: Map<string, Record<string, unknown>>;
  mappings: Record<string, unknown>;
}

export interface Hit {
  _index: string;
  _id: string;
  _score: number;
  _source: Record<string, unknown>;
}

function getPath(doc: Record<string, unknown>, path: string): unknown {
  if (path in doc) return doc[path];
  let node: unknown = doc;
  for (const p of path.split('.')) {
    if (!node || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[p];
  }
  return node;
}

function values(v: unknown): unknown[] {
  return Array.isArray(v) ? v : v === undefined || v === null ? [] : [v];
}

function fieldAndValue(clause: unknown, valueKey: string): [string, unknown] {
  const entries = Object.entries((clause ?? {}) as Record<string, unknown>);
  const [field, spec] = entries[0] ?? ['', undefined];
  if (spec && typeof spec === 'object' && !Array.isArray(spec) && valueKey in (spec as object)) {
    return [field, (spec as Record<string, unknown>)[valueKey]];
  }
  return [field, spec];
}

/** Evaluate a query DSL subset against one document. */
export function matches(query: unknown, doc: Record<string, unknown>, id: string): boolean {
  if (query === undefined || query === null) return true;
  if (typeof query === 'string') {
    try {
      return matches(JSON.parse(query), doc, id);
    } catch {
      throw badRequest(`failed to parse query [${query}]`, 'parsing_exception');
    }
  }
  const entries = Object.entries(query as Record<string, unknown>);
  if (entries.length !== 1)
    throw new EsError(400, 'parsing_exception', '[_na] query malformed, must start with start_object');
  const [kind, clause] = entries[0]!;
  switch (kind) {
    case 'match_all':
      return true;
    case 'match_none':
      return false;
    case 'term': {
      const [field, value] = fieldAndValue(clause, 'value');
      return values(getPath(doc, field)).some((v) => v === value || String(v) === String(value));
    }
    case 'terms': {
      const [field, list] = fieldAndValue(clause, 'value');
      return values(getPath(doc, field)).some((v) => values(list).some((x) => String(x) === String(v)));
    }
    case 'match': {
      const [field, value] = fieldAndValue(clause, 'query');
      const wanted = String(value).toLowerCase().split(/\s+/);
      return values(getPath(doc, field)).some((v) => {
        const tokens = String(v).toLowerCase().split(/\W+/);
        return wanted.some((w) => tokens.includes(w));
      });
    }
    case 'ids':
      return values((clause as { values?: unknown }).values).includes(id);
    case 'exists':
      return values(getPath(doc, String((clause as { field?: unknown }).field))).length > 0;
    case 'range': {
      const [field, spec] = Object.entries(clause as Record<string, Record<string, unknown>>)[0] ?? ['', {}];
      return values(getPath(doc, field)).some((v) => {
        const x = typeof v === 'number' ? v : Date.parse(String(v));
        const cmp = (b: unknown) => (typeof b === 'number' ? b : Date.parse(String(b)));
        return (
          (spec.gte === undefined || x >= cmp(spec.gte)) &&
          (spec.gt === undefined || x > cmp(spec.gt)) &&
          (spec.lte === undefined || x <= cmp(spec.lte)) &&
          (spec.lt === undefined || x < cmp(spec.lt))
        );
      });
    }
    case 'bool': {
      const b = clause as Record<string, unknown>;
      const all = (k: string) => values(b[k]).every((q) => matches(q, doc, id));
      const should = values(b.should);
      const minShould = b.minimum_should_match ?? (b.must || b.filter ? 0 : should.length ? 1 : 0);
      const shouldOk = should.filter((q) => matches(q, doc, id)).length >= Number(minShould);
      return all('must') && all('filter') && values(b.must_not).every((q) => !matches(q, doc, id)) && shouldOk;
    }
    default:
      throw new EsError(400, 'parsing_exception', `unknown query [${kind}]`, { line: 1, col: 1 });
  }
}

/** Index names an expression entry resolves to (wildcards expand; exclusions handled by the caller). */
export function expandIndexPattern(pattern: string, names: string[]): string[] {
  return pattern.includes('*') || pattern.includes('?')
    ? names.filter((n) => !n.startsWith('.') && wildcardMatch(pattern, n))
    : names.filter((n) => n === pattern);
}

/** Split a multi-target expression into local entries and remote entries per cluster alias pattern. */
export function splitExpression(expression: string): {
  local: string[];
  remote: { clusterPattern: string; index: string }[];
} {
  const local: string[] = [];
  const remote: { clusterPattern: string; index: string }[] = [];
  for (const raw of expression
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const colon = raw.indexOf(':');
    if (colon > 0) remote.push({ clusterPattern: raw.slice(0, colon), index: raw.slice(colon + 1) });
    else local.push(raw);
  }
  return { local, remote };
}

export class IndexStore {
  readonly indices = new Map<string, StoredIndex>();

  static validateName(name: string): void {
    if (name !== name.toLowerCase()) {
      throw new EsError(400, 'invalid_index_name_exception', `Invalid index name [${name}], must be lowercase`, {
        index: name,
        index_uuid: '_na_',
      });
    }
    if (name.startsWith('_') || name.startsWith('-') || name.startsWith('+')) {
      throw new EsError(
        400,
        'invalid_index_name_exception',
        `Invalid index name [${name}], must not start with '_', '-', or '+'`,
        {
          index: name,
          index_uuid: '_na_',
        },
      );
    }
  }

  create(name: string, body?: Record<string, unknown>): StoredIndex {
    IndexStore.validateName(name);
    if (this.indices.has(name)) {
      const idx = this.indices.get(name)!;
      throw new EsError(400, 'resource_already_exists_exception', `index [${name}/${idx.uuid}] already exists`, {
        index_uuid: idx.uuid,
        index: name,
      });
    }
    const idx: StoredIndex = {
      name,
      uuid: randomBytes(16).toString('base64url').slice(0, 22),
      creationDate: Date.now(),
      docs: new Map(),
      mappings: (body?.mappings as Record<string, unknown> | undefined) ?? {},
    };
    this.indices.set(name, idx);
    return idx;
  }

  /** Index a document, auto-creating the index as Elasticsearch does by default. */
  put(
    index: string,
    id: string | undefined,
    source: Record<string, unknown>,
  ): { result: 'created' | 'updated'; id: string; version: number } {
    const idx = this.indices.get(index) ?? this.create(index);
    const docId = id ?? randomBytes(15).toString('base64url').slice(0, 20);
    const existed = idx.docs.has(docId);
    idx.docs.set(docId, source);
    return { result: existed ? 'updated' : 'created', id: docId, version: 1 };
  }

  /**
   * Resolve local expression entries (comma list already split). Concrete names that do not exist raise
   * index_not_found_exception unless ignoreUnavailable; `-pattern` excludes.
   */
  resolve(entries: string[], ignoreUnavailable = false): string[] {
    const names = [...this.indices.keys()].sort();
    const result = new Set<string>();
    for (const entry of entries) {
      if (entry.startsWith('-') && result.size > 0) {
        for (const n of expandIndexPattern(entry.slice(1), names)) result.delete(n);
        continue;
      }
      if (entry === '_all') {
        names.filter((n) => !n.startsWith('.')).forEach((n) => result.add(n));
        continue;
      }
      const found = expandIndexPattern(entry, names);
      if (found.length === 0 && !entry.includes('*') && !ignoreUnavailable) throw indexNotFound(entry);
      found.forEach((n) => result.add(n));
    }
    return [...result];
  }

  /** Run a search over concrete indices; `filters` are extra queries every hit must match (DLS). */
  search(
    indices: string[],
    body: Record<string, unknown> | undefined,
    filters: unknown[] = [],
    indexPrefix = '',
  ): { total: number; hits: Hit[] } {
    const query = body?.query;
    const all: Hit[] = [];
    for (const name of indices) {
      const idx = this.indices.get(name);
      if (!idx) continue;
      for (const [id, source] of idx.docs) {
        if (!matches(query, source, id)) continue;
        if (!filters.every((f) => matches(f, source, id))) continue;
        all.push({ _index: indexPrefix + name, _id: id, _score: 1.0, _source: source });
      }
    }
    const from = Number(body?.from ?? 0);
    const size = Number(body?.size ?? 10);
    return { total: all.length, hits: all.slice(from, from + size) };
  }
}
