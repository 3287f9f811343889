/**
 * A module loaded only by the command that runs it (`--help` and the client commands never load the worker, the
 * sandbox…; `--help` never loads the Temporal client, the contract's zod schemas or the codec). `require`, not
 * `import()`: from the sources the CLI runs under tsx's CommonJS hook, which a dynamic import bypasses; built, both are
 * CommonJS. Ids are relative to src/cli.
 */
export function load<T>(id: string): T {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(id) as T;
}
