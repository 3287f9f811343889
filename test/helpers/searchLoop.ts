/**
 * Searches through a remote cluster alias without pause, from ANOTHER process (as a user's application would issue
 * them while a rotation runs): `GET <ECH>/<alias>:<index>/_search?size=0` one after the other, each answer one JSON
 * line on the child's stdout. `stop()` lets the search in flight finish and returns every search with its outcome.
 */
import { spawn } from 'node:child_process';

export interface SearchOutcome {
  /** When the search was sent and answered (ms since the epoch). */
  sent: number;
  answered: number;
  status: number;
  hits?: number;
  shardsFailed?: number;
  shardsSkipped?: number;
  clustersSkipped?: number;
  clustersFailed?: number;
  error?: string;
}

export interface SearchLoop {
  /** The searches answered so far. */
  count(): number;
  stop(): Promise<SearchOutcome[]>;
}

/** The child: plain Node (no TypeScript), trusting the CAs of this process's environment (NODE_EXTRA_CA_CERTS). */
const CHILD = `
const https = require('node:https');
const url = new URL(process.env.SEARCH_URL);
const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
let stop = false;
process.on('SIGTERM', () => (stop = true));
function once() {
  return new Promise((resolve) => {
    const req = https.request(url, { method: 'GET', agent, headers: { authorization: process.env.SEARCH_AUTH } }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, body }));
      res.on('error', (e) => resolve({ status: 0, body: String(e) }));
    });
    req.setTimeout(60000, () => req.destroy(new Error('no answer in 60 s')));
    req.on('error', (e) => resolve({ status: 0, body: String(e) }));
    req.end();
  });
}
(async () => {
  while (!stop) {
    const sent = Date.now();
    const r = await once();
    const line = { sent, answered: Date.now(), status: r.status };
    try {
      const b = JSON.parse(r.body);
      Object.assign(line, {
        hits: b.hits && b.hits.total && b.hits.total.value,
        shardsFailed: b._shards && b._shards.failed,
        shardsSkipped: b._shards && b._shards.skipped,
        clustersSkipped: b._clusters && b._clusters.skipped,
        clustersFailed: b._clusters && b._clusters.failed,
      });
      if (r.status !== 200) line.error = r.body.slice(0, 500);
    } catch {
      line.error = r.body.slice(0, 500);
    }
    process.stdout.write(JSON.stringify(line) + '\\n');
  }
  agent.destroy();
  process.exit(0);
})();
`;

/** Starts the searching process; resolves once it has answered its first search (so it is searching for sure). */
export async function startSearchLoop(url: string, authorization: string): Promise<SearchLoop> {
  const child = spawn(process.execPath, ['-e', CHILD], {
    env: { ...process.env, SEARCH_URL: url, SEARCH_AUTH: authorization },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const lines = () => out.split('\n').filter(Boolean);
  const deadline = Date.now() + 30_000;
  while (lines().length === 0) {
    if (child.exitCode !== null) throw new Error(`the searching process exited (${child.exitCode}): ${err}`);
    if (Date.now() > deadline) throw new Error(`the searching process answered nothing in 30 s: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    count: () => lines().length,
    async stop() {
      child.kill('SIGTERM');
      await exited;
      if (err.trim()) throw new Error(`the searching process wrote to stderr: ${err}`);
      return lines().map((l) => JSON.parse(l) as SearchOutcome);
    },
  };
}

/** The searches that failed or skipped a cluster (a skipped remote is a failed cross-cluster search to its user). */
export function failedSearches(searches: SearchOutcome[]): SearchOutcome[] {
  return searches.filter(
    (s) =>
      s.status !== 200 ||
      s.error !== undefined ||
      (s.shardsFailed ?? 0) > 0 ||
      (s.shardsSkipped ?? 0) > 0 ||
      (s.clustersSkipped ?? 0) > 0 ||
      (s.clustersFailed ?? 0) > 0 ||
      s.clustersSkipped === undefined,
  );
}
