/** Finds the Temporal CLI, installing it into a cache outside the repo when missing (scripts/install-temporal-cli.sh). */
import { execFileSync } from 'node:child_process';
import path from 'node:path';

export function ensureTemporalCli(): string {
  const script = path.resolve(__dirname, '../../scripts/install-temporal-cli.sh');
  const out = execFileSync('bash', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = out.trim().split('\n');
  return lines[lines.length - 1] as string;
}
