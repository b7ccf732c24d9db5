/**
 * The consensus log on files: what a member wrote (entries, joined terms, the candidate term,
 * truncations and dropped terms) is what it reads back after a restart; a torn last entry is cut
 * off on open; a term joined beyond what survived is dropped; a failing disk is a clear
 * STORAGE_FAILED naming the file; the same operations give the same log as the in-memory one
 * (property test); and it works on the real file system.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { MemoryFiles } from '../../../src/env/memory-files.js';
import { nodeFiles } from '../../../src/env/files.js';
import { CONTIGUOUS_LAYOUT, MemoryConsensusLog, type ConsensusLog } from '../../../src/cluster/consensus/consensus-log.js';
import { CONSENSUS_LOG_FILE, CONSENSUS_STATE_FILE, FileConsensusLog } from '../../../src/cluster/consensus/file-consensus-log.js';
import { ErrorCode, SkeinError } from '../../../src/util/errors.js';

const DIR = '/cluster/member-1';
const bytes = (n: number, fill = n): Uint8Array => new Uint8Array(n).fill(fill);

function summary(log: ConsensusLog) {
  const terms: [number, number][] = [];
  for (let t = log.nextTerm(-1); t !== undefined; t = log.nextTerm(t.termId)) terms.push([t.termId, t.base]);
  return { end: log.appendPosition, logTermId: log.logTermId, candidate: log.candidateTermId, terms, entries: log.entriesFrom(0, Infinity).map((e) => [e.termId, e.position, [...e.data]]) };
}

test('entries, terms and the candidate term survive a restart; truncation and a dropped term too', () => {
  const files = new MemoryFiles();
  // A temporary state file a crash left behind does not stand in the way.
  files.mkdirs(DIR);
  files.open(`${DIR}/${CONSENSUS_STATE_FILE}.tmp`, 'create').close();
  const log = new FileConsensusLog({ files, dir: DIR });
  log.candidateTermId = 3;
  log.joinTerm(1, 0);
  log.append(1, bytes(5));
  log.append(1, bytes(40));
  log.joinTerm(3, 160);
  log.append(3, bytes(1));
  log.close();
  const again = new FileConsensusLog({ files, dir: DIR });
  assert.deepEqual(summary(again), summary(log));
  assert.deepEqual(summary(again).terms, [[1, 0], [3, 160]]);
  assert.equal(again.candidateTermId, 3);
  assert.equal(again.tornBytesDropped, 0);
  again.truncate(160);
  again.forgetTerm(3);
  again.close();
  const third = new FileConsensusLog({ files, dir: DIR });
  assert.deepEqual(summary(third), { end: 160, logTermId: 1, candidate: 3, terms: [[1, 0]], entries: [[1, 0, [...bytes(5)]], [1, 64, [...bytes(40)]]] });
  assert.throws(() => third.entryFrom(0) && (third.close(), third.append(1, bytes(1))), (e: unknown) => e instanceof SkeinError && /consensus-log.dat is closed/.test(e.message));
});

test('a torn last entry is cut off on open, and a term joined after it is dropped', () => {
  const files = new MemoryFiles();
  const log = new FileConsensusLog({ files, dir: DIR });
  log.joinTerm(0, 0);
  log.append(0, bytes(8));
  log.append(0, bytes(8));
  log.joinTerm(2, 128);
  log.close();
  // The second entry's data is damaged (a write that did not finish).
  const path = `${DIR}/${CONSENSUS_LOG_FILE}`;
  const content = files.contentOf(path)!;
  const file = files.open(path, 'write');
  file.write(Uint8Array.of(content[64 + 32]! ^ 0xff), 0, 1, 64 + 32);
  file.close();
  const again = new FileConsensusLog({ files, dir: DIR });
  assert.equal(again.appendPosition, 64);
  assert.equal(again.tornBytesDropped, 128 - 64);
  assert.deepEqual(summary(again).terms, [[0, 0]], 'term 2 began past what survived');
  assert.equal(files.contentOf(path)!.length, 64, 'the file is cut where the log ends');
  assert.equal(content.length, 128, 'entries are padded to their aligned length: file offsets are log positions');
  again.close();
  assert.deepEqual(summary(new FileConsensusLog({ files, dir: DIR })).terms, [[0, 0]], 'and that is written down');
});

test('a failing disk is STORAGE_FAILED naming the file and position; nothing half-applied in memory', () => {
  const files = new MemoryFiles();
  const log = new FileConsensusLog({ files, dir: DIR });
  log.joinTerm(0, 0);
  log.append(0, bytes(8));
  files.failWrites('EIO');
  assert.throws(() => log.append(0, bytes(8)), (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.STORAGE_FAILED && /cannot append to \/cluster\/member-1\/consensus-log.dat at 64/.test(e.message));
  assert.equal(log.appendPosition, 64);
  assert.throws(() => { log.candidateTermId = 9; }, (e: unknown) => e instanceof SkeinError && /cannot write \/cluster\/member-1\/consensus-state.dat/.test(e.message));
  assert.equal(log.candidateTermId, -1);
  files.failWrites(null);
  const state = files.open(`${DIR}/${CONSENSUS_STATE_FILE}`, 'write');
  state.write(bytes(4, 0), 0, 4, 0);
  state.close();
  assert.throws(() => new FileConsensusLog({ files, dir: DIR }), /consensus-state.dat is not a consensus state file: 52 bytes, no magic/);
});

type Op = { op: 'append'; termId: number; length: number } | { op: 'join'; termId: number } | { op: 'truncate'; entries: number } | { op: 'forget' } | { op: 'vote'; termId: number } | { op: 'restart' } | { op: 'release' };

test('any sequence of operations with restarts between them leaves the log the in-memory log would hold', () => {
  const ops: fc.Arbitrary<Op> = fc.oneof(
    { weight: 5, arbitrary: fc.record({ op: fc.constant('append' as const), termId: fc.integer({ min: 0, max: 6 }), length: fc.integer({ min: 0, max: 300 }) }) },
    fc.record({ op: fc.constant('join' as const), termId: fc.integer({ min: 0, max: 6 }) }),
    fc.record({ op: fc.constant('truncate' as const), entries: fc.integer({ min: 0, max: 4 }) }),
    fc.record({ op: fc.constant('forget' as const) }),
    fc.record({ op: fc.constant('vote' as const), termId: fc.integer({ min: 0, max: 9 }) }),
    fc.record({ op: fc.constant('restart' as const) }),
    fc.record({ op: fc.constant('release' as const) }),
  );
  // Contiguous, and as a stream of small terms and frames (entries padded at term ends, large ones fragmented).
  const layouts = fc.constantFrom(CONTIGUOUS_LAYOUT, { termLength: 1024, maxPayloadLength: 96 });
  // Everything in memory, or (read back from the file) none or a little of it.
  const retained = fc.constantFrom(undefined, 0, 200);
  fc.assert(fc.property(fc.array(ops, { maxLength: 40 }), layouts, retained, (list, layout, retainedBytes) => {
    const files = new MemoryFiles();
    const open = (): FileConsensusLog => new FileConsensusLog({ files, dir: DIR, layout, ...(retainedBytes === undefined ? {} : { retainedBytes }) });
    let file = open();
    const memory = new MemoryConsensusLog(layout);
    for (const o of list) {
      switch (o.op) {
        case 'append':
          // As the core does: terms only grow along the log.
          if (o.termId < memory.logTermId) break;
          file.append(o.termId, bytes(o.length));
          memory.append(o.termId, bytes(o.length));
          break;
        case 'join':
          if (o.termId <= memory.logTermId) break;
          file.joinTerm(o.termId, file.appendPosition);
          memory.joinTerm(o.termId, memory.appendPosition);
          break;
        case 'truncate': {
          const all = memory.entriesFrom(0, Infinity);
          const cut = all.length - o.entries;
          const at = cut <= 0 ? 0 : all[cut - 1]!.position + all[cut - 1]!.length;
          file.truncate(at);
          memory.truncate(at);
          break;
        }
        case 'forget': {
          const term = memory.logTermId;
          if (term < 0 || memory.termBase(term) !== memory.appendPosition) break;
          file.forgetTerm(term);
          memory.forgetTerm(term);
          break;
        }
        case 'vote':
          file.candidateTermId = o.termId;
          memory.candidateTermId = o.termId;
          break;
        case 'restart':
          file.close();
          file = open();
          break;
        case 'release':
          file.releaseBefore(file.appendPosition);
          break;
      }
      assert.deepEqual(summary(file), summary(memory));
    }
    file.close();
  }), { numRuns: 300 });
});

test('on the real file system, with a sync on every append', () => {
  const dir = mkdtempSync(join(tmpdir(), 'skein-consensus-log-'));
  try {
    const log = new FileConsensusLog({ files: nodeFiles, dir, syncEachAppend: true });
    log.joinTerm(0, 0);
    for (let i = 0; i < 100; i++) log.append(0, bytes(i % 50, i));
    log.candidateTermId = 0;
    log.close();
    const again = new FileConsensusLog({ files: nodeFiles, dir });
    assert.deepEqual(summary(again), summary(log));
    assert.equal(again.entryFrom(again.entriesFrom(0, Infinity)[7]!.position)!.data[0], 7);
    again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('entries applied long ago leave memory and are read back from the file, across terms, padding and fragments, and after a restart', () => {
  const files = new MemoryFiles();
  const layout = { termLength: 4096, maxPayloadLength: 480 };
  const log = new FileConsensusLog({ files, dir: DIR, layout, retainedBytes: 1024 });
  log.joinTerm(1, 0);
  for (let i = 0; i < 60; i++) log.append(1, bytes(i % 7 === 0 ? 900 : 20 + i, i));
  log.joinTerm(2, log.appendPosition);
  for (let i = 60; i < 120; i++) log.append(2, bytes(i % 7 === 0 ? 900 : 20 + i, i));
  const whole = summary(log);
  const batches = (l: ConsensusLog) => {
    const out: unknown[] = [];
    for (let at = 0, e = l.entriesFrom(0, 700); e.length > 0; at = e[e.length - 1]!.position + e[e.length - 1]!.length, e = l.entriesFrom(at, 700)) out.push(...e.map((x) => [x.termId, x.position, [...x.data]]));
    return out;
  };
  log.releaseBefore(log.appendPosition);
  assert.ok(log.releasedPosition > log.appendPosition / 2, `most of the log left memory (released to ${log.releasedPosition} of ${log.appendPosition})`);
  assert.ok(log.heldEntries < 40, `${log.heldEntries} entries held`);
  assert.deepEqual(summary(log), whole, 'read back whole from the file');
  assert.deepEqual(batches(log), whole.entries, 'and in batches, as a leader streams to a follower far behind');
  for (const [, position] of whole.entries as [number, number][]) assert.equal(log.entryFrom(position)!.position, position);
  // A truncation below what memory holds, then appends: the file and the log agree after a restart.
  const cut = (whole.entries[10] as [number, number, number[]])[1];
  log.truncate(cut);
  log.append(1, bytes(33, 7));
  const after = summary(log);
  log.close();
  const again = new FileConsensusLog({ files, dir: DIR, layout });
  assert.deepEqual(summary(again), after);
  again.close();
});
