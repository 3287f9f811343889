/**
 * What the CLI prints: exactly one JSON object on stdout with --json; otherwise a human summary on stdout and, while
 * waiting, progress on stderr (each step as it ends, who must act next, how, and the Temporal UI link).
 */
import { STEP_STATE_ICON, type ConnectStatus, type WaitingFor } from '../contract/status';
import { HUMAN_STEPS } from '../contract/steps';
import { CliError, EXIT, type ExitCode } from './exitCodes';

/** ECH_REMOTE_UI_URL (default the dev server's UI): where people open a run. */
export function workflowUiUrl(namespace: string, workflowId: string, runId?: string): string {
  const base = (process.env.ECH_REMOTE_UI_URL || 'http://localhost:8233').replace(/\/+$/, '');
  const run = runId ? `/${encodeURIComponent(runId)}/history` : '';
  return `${base}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}${run}`;
}

/** Write, let stdout drain, exit: the open Temporal connection must not keep the process alive. */
export async function exitWith(code: ExitCode, stdout?: string): Promise<never> {
  if (stdout !== undefined) await new Promise<void>((resolve) => process.stdout.write(stdout, () => resolve()));
  process.exit(code);
}

export function printJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** Runs a command; a CliError (or any error) becomes its exit code, printed as JSON with --json. */
export async function runCommand(json: boolean, body: () => Promise<never>): Promise<never> {
  try {
    return await body();
  } catch (err) {
    const e =
      err instanceof CliError ? err : new CliError(err instanceof Error ? err.message : String(err), EXIT.error);
    if (json) {
      const error = { type: e.type, message: e.message };
      return exitWith(e.exitCode, printJson({ outcome: 'error', exitCode: e.exitCode, error }));
    }
    process.stderr.write(`ech-remote: ${e.message}\n`);
    return exitWith(e.exitCode);
  }
}

/** The command that answers a human step, for the "what next" line. */
export function nextActions(workflowId: string, step: WaitingFor['step']): string[] {
  const id = /^[\w.-]+$/.test(workflowId) ? workflowId : `'${workflowId}'`;
  switch (step) {
    case HUMAN_STEPS.approveLocalChanges:
      return [
        `ech-remote approve ${id} --step ${step} --as YOUR_NAME [--comment TEXT]`,
        `ech-remote reject ${id} --step ${step} --as YOUR_NAME --reason TEXT`,
      ];
    case HUMAN_STEPS.crossClusterApiKey:
      return [`ech-remote provide-key ${id} --from-env VAR   (VAR holds the key's "encoded" value)`];
    case HUMAN_STEPS.remoteClusterServer:
    case HUMAN_STEPS.remoteTrust:
    case HUMAN_STEPS.invalidateOldKey:
    case HUMAN_STEPS.updateRemoteKey:
    case HUMAN_STEPS.invalidateRemoteKey:
      return [`ech-remote confirm ${id} --step ${step} --as YOUR_NAME`];
    case HUMAN_STEPS.pauseOperations:
      return [
        `pause them on ECH as the instructions say; the run re-reads ECH and goes on by itself (ech-remote status ${id})`,
      ];
    case HUMAN_STEPS.remoteCaCertificate:
      return ['Temporal UI: Send a Signal › provideRemoteCaCertificate with {"pem":"-----BEGIN CERTIFICATE-----…"}'];
  }
}

/** Prints each step once as it ends, and each wait for a person once, as status snapshots arrive. */
export class Progress {
  private readonly seen = new Set<string>();

  constructor(
    private readonly workflowId: string,
    private readonly uiUrl: string,
    private readonly write: (text: string) => void = (t) => process.stderr.write(t),
  ) {}

  update(status: ConnectStatus): void {
    for (const s of status.steps) {
      if (s.state === 'pending' || s.state === 'running' || s.state === 'waiting') continue;
      this.once(
        `${s.id}:${s.state}`,
        () => `${STEP_STATE_ICON[s.state]} ${s.id} ${s.state}${s.detail ? ` — ${s.detail}` : ''}\n`,
      );
    }
    const w = status.waitingFor;
    if (w) this.once(`wait:${w.step}:${w.since}`, () => this.waiting(w));
  }

  private waiting(w: WaitingFor): string {
    const indent = (t: string) =>
      t
        .split('\n')
        .map((l) => `    ${l}`)
        .join('\n');
    return [
      `${STEP_STATE_ICON.waiting} ${w.step}: waiting for ${w.who} since ${w.since}`,
      `  Next (${w.who}):`,
      ...nextActions(this.workflowId, w.step).map((a) => `    ${a}`),
      `  Temporal UI: ${this.uiUrl}`,
      '  Instructions:',
      indent(w.instructions),
      '',
    ].join('\n');
  }

  private once(key: string, text: () => string): void {
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.write(text());
  }
}

/** A plain-text table: the header and one line per row, each column as wide as its widest cell. */
export function textTable(head: string[], rows: string[][]): { header: string; lines: string[] } {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] as number))
      .join('  ')
      .trimEnd();
  return { header: fmt(head), lines: rows.map(fmt) };
}
