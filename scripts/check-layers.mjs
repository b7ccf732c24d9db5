#!/usr/bin/env node
// Keeps the layering of src/ one-way: a layer imports only from the layers listed before it.
// Also keeps raw I/O, clocks and randomness inside env/ and sim/.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, dirname, resolve } from 'node:path';

const ORDER = {
  util: [],
  env: ['util'],
  protocol: ['util', 'env'],
  logbuffer: ['util', 'env', 'protocol'],
  agent: ['util', 'env', 'protocol', 'logbuffer'],
  command: ['util', 'env', 'protocol', 'logbuffer', 'agent'],
  driver: ['util', 'env', 'protocol', 'logbuffer', 'agent', 'command'],
  client: ['util', 'env', 'protocol', 'logbuffer', 'agent', 'command'],
  sim: ['util', 'env', 'protocol', 'logbuffer', 'agent'],
  response: ['util', 'env', 'protocol', 'logbuffer', 'agent', 'command', 'client'],
  archive: ['util', 'env', 'protocol', 'logbuffer', 'agent', 'command', 'client', 'response'],
  cluster: ['util', 'env', 'protocol', 'logbuffer', 'agent', 'command', 'client', 'response', 'archive'],
  rpc: ['util', 'env', 'protocol', 'logbuffer', 'agent', 'command', 'client', 'response', 'archive', 'cluster'],
  api: ['util', 'env', 'protocol', 'logbuffer', 'agent', 'command', 'driver', 'client', 'response', 'archive', 'cluster', 'rpc'],
  cli: ['*'],
};
const RAW_IO = [/from 'node:dgram'/, /from 'node:fs/, /\bDate\.now\(/, /\bperformance\.now\(/, /\bMath\.random\(/, /\bsetTimeout\(/, /\bsetInterval\(/, /\bsetImmediate\(/];
const RAW_IO_ALLOWED = new Set(['env', 'sim', 'cli', 'api']);

const srcRoot = resolve('src');
const problems = [];

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

function layerOf(file) {
  const rel = relative(srcRoot, file);
  const top = rel.split(/[\\/]/)[0];
  return top.endsWith('.ts') ? 'api' : top;
}

for (const file of walk(srcRoot)) {
  const layer = layerOf(file);
  const allowed = ORDER[layer];
  if (allowed === undefined) {
    problems.push(`${relative('.', file)}: directory '${layer}' is not a known layer`);
    continue;
  }
  const text = readFileSync(file, 'utf8');
  for (const m of text.matchAll(/(?:import|export)[^'";]*?from\s+'([^']+)'/g)) {
    const spec = m[1];
    if (!spec.startsWith('.')) continue;
    const target = resolve(dirname(file), spec);
    if (!target.startsWith(srcRoot)) continue;
    const targetLayer = layerOf(target.replace(/\.js$/, '.ts'));
    if (targetLayer === layer || allowed.includes('*')) continue;
    if (!allowed.includes(targetLayer)) {
      problems.push(`${relative('.', file)}: layer '${layer}' must not import from '${targetLayer}' (${spec})`);
    }
  }
  if (!RAW_IO_ALLOWED.has(layer)) {
    const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    for (const re of RAW_IO) {
      if (re.test(code)) problems.push(`${relative('.', file)}: raw I/O, clock, timer or randomness (${re.source}) outside env/ and sim/`);
    }
  }
}

if (problems.length > 0) {
  console.error(`layer check failed:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  process.exit(1);
}
console.log('layer check passed');
