#!/usr/bin/env node
// Entry of `npm run fuzz` (after the build): runs the fuzz targets compiled into dist/test/fuzz.
// Usage: npm run fuzz -- [--minutes N] [--seed S] [--target NAME[,NAME...]] [--runs R] [--list]
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const main = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'test', 'fuzz', 'fuzz-main.js');
if (!existsSync(main)) {
  console.error(`${main} not found: build first (npm run build)`);
  process.exit(2);
}
const { fuzzMain } = await import(pathToFileURL(main).href);
process.exitCode = await fuzzMain(process.argv.slice(2));
