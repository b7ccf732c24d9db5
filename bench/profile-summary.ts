/**
 * `node dist/bench/profile-summary.js [--top N] <file.cpuprofile ...>`: prints the functions with
 * the most self time over the given profiles (e.g. those `npm run bench -- --profile <dir>` writes)
 * as a Markdown table.
 */
import { selfTimes, selfTimeTable } from './support/cpu-profile-summary.js';

const args = process.argv.slice(2);
let top = 25;
const files: string[] = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--top') top = Number(args[++i]);
  else files.push(args[i]!);
}
if (files.length === 0 || !Number.isInteger(top) || top < 1) {
  process.stderr.write('usage: node dist/bench/profile-summary.js [--top N] <file.cpuprofile ...>\n');
  process.exit(2);
}
process.stdout.write(`${selfTimeTable(selfTimes(files), top)}\n`);
