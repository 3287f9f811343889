#!/usr/bin/env node
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
