/**
 * Fails when a system counter is shown by `skein stat` but no test shows it moving, or when
 * docs/counters.md does not describe it: every id is in the workload's list (asserted moved by
 * the workload test) or in the list of counters only faults move (each with a focused test that
 * mentions it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { SYSTEM_COUNTER_IDS, SYSTEM_COUNTER_LABELS, SystemCounterId } from '../../../src/agent/counter-types.js';
import { CountersManager } from '../../../src/agent/counters.js';
import { DriverCounters } from '../../../src/driver/driver-components.js';
import { FOCUSED_COUNTERS, WORKLOAD_COUNTERS } from '../../support/counter-coverage.js';

const ROOT = new URL('../../../../', import.meta.url);
const NAMES = new Map<number, string>(Object.entries(SystemCounterId).map(([name, id]) => [id, name]));

function name(id: number): string {
  return NAMES.get(id) ?? `#${id}`;
}

test('every system counter is moved by the workload test or by a focused test, never both', () => {
  const seen = new Map<number, string>();
  const claim = (id: number, where: string): void => {
    assert.ok(!seen.has(id), `${name(id)} is listed twice (${seen.get(id)} and ${where})`);
    seen.set(id, where);
  };
  for (const id of WORKLOAD_COUNTERS) claim(id, 'the workload');
  for (const entry of FOCUSED_COUNTERS) for (const id of entry.ids) claim(id, entry.test);
  const uncovered = SYSTEM_COUNTER_IDS.filter((id) => !seen.has(id)).map(name);
  assert.deepEqual(uncovered, [], 'counters shown by skein stat that no test moves');
  const unknown = [...seen.keys()].filter((id) => !SYSTEM_COUNTER_IDS.includes(id as SystemCounterId));
  assert.deepEqual(unknown, [], 'listed ids that are not system counters');
});

test('each focused test exists and mentions every counter it is listed for', () => {
  for (const entry of FOCUSED_COUNTERS) {
    const path = new URL(entry.test, ROOT);
    assert.ok(existsSync(path), `${entry.test} exists`);
    const source = readFileSync(path, 'utf8');
    for (const id of entry.ids) {
      const accepted = [`SystemCounterId.${name(id)}`, `'${SYSTEM_COUNTER_LABELS[id]}'`, ...(entry.mentions === undefined ? [] : [entry.mentions])];
      assert.ok(
        accepted.some((text) => source.includes(text)),
        `${entry.test} mentions ${name(id)} (one of ${accepted.map((a) => JSON.stringify(a)).join(', ')})`,
      );
    }
  }
});

test('the driver resolves a handle for every system counter it shows', () => {
  // DriverCounters is where the driver's parts find their counters: an id it does not hand out
  // could only be moved by code that looks it up some other way.
  const manager = new CountersManager({ capacity: 256 });
  const driverCounters = new DriverCounters(manager);
  const handed = new Set<number>();
  const visit = (value: unknown): void => {
    if (value === null || typeof value !== 'object') return;
    if ('id' in value && 'manager' in value) {
      handed.add(manager.key((value as { id: number }).id).registrationId as number);
      return;
    }
    for (const inner of Object.values(value)) visit(inner);
  };
  for (const [key, value] of Object.entries(driverCounters)) if (key !== 'system') visit(value);
  assert.deepEqual(SYSTEM_COUNTER_IDS.filter((id) => !handed.has(id)).map(name), []);
  driverCounters.close();
  assert.equal(manager.allocatedCount, 0);
});

test('docs/counters.md describes every system counter, by id and label', () => {
  const doc = readFileSync(new URL('docs/counters.md', ROOT), 'utf8');
  const missing = SYSTEM_COUNTER_IDS.filter((id) => !doc.includes(`| ${id} | ${SYSTEM_COUNTER_LABELS[id]} |`)).map(name);
  assert.deepEqual(missing, [], 'rows `| id | label | …` missing from docs/counters.md');
});
