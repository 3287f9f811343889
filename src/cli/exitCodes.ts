/** The contract's exit codes, one meaning each, so a pipeline can branch on them. */
export const EXIT = {
  /** Done (or, without --wait, started / attached; a signal sent; a status reported). */
  done: 0,
  /** Could not do what was asked: Temporal unreachable, no such workflow, a signal refused. */
  error: 1,
  /** The request (or a command's input) is invalid; nothing was sent. */
  invalid: 2,
  /** The run failed; the output says whether its changes were rolled back or kept. */
  failed: 3,
  /** --timeout elapsed while the run still waits (normally for a human; `waitingFor` says who). */
  waiting: 4,
  /** A person rejected the changes; nothing was changed on ECH. */
  rejected: 5,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error the CLI reports as it is (no stack), with its exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = EXIT.error,
    readonly type = 'Error',
  ) {
    super(message);
  }
}
