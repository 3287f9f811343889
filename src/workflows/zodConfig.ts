/**
 * Imported first by the workflow bundle's entry (src/workflows/index.ts), so it runs before any schema is built.
 *
 * Every workflow execution evaluates the bundle's modules afresh (the SDK isolates module state per execution), so
 * each run, lease and coordinator builds its own zod schemas and parses with each only a few times. zod's default
 * compiles a fast parser per object schema on its first parse (`new Function`): that compile is paid by every
 * execution and costs more than it saves here. jitless parses with the same rules, without compiling.
 */
import { z } from 'zod';

z.config({ jitless: true });
