/**
 * Loaded once per workflow worker thread and shared by every cached run (src/workflowBundle.ts
 * sharedWorkflowModules): zod. Named here, not as 'zod' itself, because zod's package.json says "sideEffects": false,
 * so the bundler drops a bare `require('zod')` whose result is unused; this module's export keeps it.
 */
import { z } from 'zod';

// Each workflow execution still builds its own schemas (the contract modules are evaluated per execution) and parses
// with each only a few times: zod's default compiles a fast parser per object schema on its first parse (`new
// Function`), a compile every execution would pay and that costs more than it saves here. jitless parses with the
// same rules without compiling. Set here, once per thread, before the SDK freezes the shared module.
z.config({ jitless: true });

// The SDK deep-freezes a shared module once it is loaded. zod writes to its own module state twice, lazily: it installs
// its default (English) messages when the first schema is built, and tests once whether it may compile parsers with
// `new Function`. Both happen here, before the freeze; after it, such a write would throw in a run (the workflow
// tests would fail), never leak anything between runs.
z.object({ probe: z.string().min(1) })
  .strict()
  .safeParse({ probe: '', extra: true });

export const sharedZod = z;
