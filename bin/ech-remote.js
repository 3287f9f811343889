#!/usr/bin/env node
// Node ≥ 22.1 keeps the compiled modules on disk (os.tmpdir()/node-compile-cache, or NODE_COMPILE_CACHE), so every
// start after the first skips most of the parsing of the Temporal SDK, gRPC and the protobufs. Node 20 has no such
// cache: nothing happens there.
const { enableCompileCache } = require('node:module');
if (typeof enableCompileCache === 'function') enableCompileCache();
// The built CLI when present (npm run build), else the TypeScript sources through tsx.
const fs = require('node:fs');
const path = require('node:path');
const built = path.join(__dirname, '..', 'lib', 'cli', 'main.js');
if (fs.existsSync(built)) {
  require(built);
} else {
  require('tsx/cjs');
  require(path.join(__dirname, '..', 'src', 'cli', 'main.ts'));
}
