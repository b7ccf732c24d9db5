import { test } from 'node:test';
import assert from 'node:assert/strict';
import { growthProblems, type SoakRow } from '../../soak/soak-runner.js';

/** The soak's verdict on heap and handle growth, on made-up samples: stable, noisy, leaking. */

const MIB = 1024 * 1024;
const COLUMNS = ['s1 sub', 's1 pub', 's1 restarted pub'];
const OPTIONS = { durationMs: 100_000 };

/** 20 rows 5 s apart; `cell(i)` gives the sample of each column at row i. */
function rows(cell: (column: number, i: number) => { heapUsed: number; handles: number } | null): SoakRow[] {
  return Array.from({ length: 20 }, (_, i) => ({ atMs: i * 5000, cells: COLUMNS.map((_, c) => cell(c, i)) }));
}

test('stable heap with GC saw-tooth and steady handles pass', () => {
  const sawTooth = rows((_, i) => ({ heapUsed: (8 + (i % 3) * 2) * MIB, handles: 3 + (i % 2) }));
  assert.deepEqual(growthProblems(COLUMNS, sawTooth, OPTIONS), []);
});

test('a heap floor that keeps rising is reported with both floors and the allowance', () => {
  const leaking = rows((c, i) => ({ heapUsed: (c === 0 ? 8 + i * 4 : 8) * MIB, handles: 3 }));
  const problems = growthProblems(COLUMNS, leaking, OPTIONS);
  assert.equal(problems.length, 1, problems.join('\n'));
  assert.match(problems[0]!, /^s1 sub: heap floor grew from \d+\.\d MiB to \d+\.\d MiB \(allowed up to \d+\.\d MiB\)$/);
});

test('handles that keep growing are reported; restarted publishers are not judged', () => {
  const growing = rows((c, i) => ({ heapUsed: 8 * MIB, handles: c === 0 ? 3 : 3 + i }));
  const problems = growthProblems(COLUMNS, growing, OPTIONS);
  assert.equal(problems.length, 1, problems.join('\n'));
  assert.match(problems[0]!, /^s1 pub: handles grew from at most \d+ to a median of \d+ \(allowed \+4\)$/);
});

test('too few samples after the warm-up is a problem, not a pass', () => {
  const few = rows(() => ({ heapUsed: 8 * MIB, handles: 3 })).slice(0, 6);
  assert.match(growthProblems(COLUMNS, few, OPTIONS).join('\n'), /only 1 samples after the warm-up/);
});
