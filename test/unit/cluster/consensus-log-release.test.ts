/**
 * The in-memory log lets applied entries go once its storage can serve them: with a backing
 * (here a second log that keeps everything, as the file or the recording does), every read,
 * end check and truncation gives what a log that kept every entry gives, while memory holds
 * only a window behind the end; without a backing nothing is released.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeededPrng } from '../../../src/env/prng.js';
import { MemoryConsensusLog, type LogBacking, type LogEntry, type LogLayout } from '../../../src/cluster/consensus/consensus-log.js';

// Small terms and frames: entries are padded at term ends and fragmented.
const LAYOUT: LogLayout = { termLength: 4096, maxPayloadLength: 480 };
const RETAIN = 2048;

function backed(reference: MemoryConsensusLog, reads: { count: number }): LogBacking {
  return {
    limit: () => reference.appendPosition,
    read: (position, maxBytes) => {
      reads.count++;
      return reference.entriesFrom(position, maxBytes);
    },
    isEntryEnd: (position) => reference.isEntryEnd(position),
  };
}

/** An entry as compared: its place, and its bytes summed by position (so that one byte changed or moved shows). */
const view = (entries: readonly LogEntry[]) => entries.map((e) => [e.termId, e.position, e.length, e.data.length, e.data.reduce((h, b, i) => (h * 31 + b + i) % 1_000_003, 7)]);

/** `size` bytes that differ from one step to the next and along the entry. */
const bytesOf = (step: number, size: number) => Uint8Array.from({ length: size }, (_, i) => (step * 31 + i * 7) & 0xff);

test('a log that releases to its storage reads, checks and truncates as one that keeps everything', () => {
  for (let seed = 1; seed <= 40; seed++) {
    const random = new SeededPrng(seed);
    const int = (n: number) => Math.floor(random.nextDouble() * n);
    const reference = new MemoryConsensusLog(LAYOUT);
    const log = new MemoryConsensusLog(LAYOUT);
    const reads = { count: 0 };
    log.setBacking(backed(reference, reads), RETAIN);
    let term = 1;
    reference.joinTerm(term, 0);
    log.joinTerm(term, 0);
    let released = 0;
    for (let step = 0; step < 400; step++) {
      const op = int(20);
      if (op < 14) {
        const size = int(10) === 0 ? 500 + int(1500) : 1 + int(120);
        const data = bytesOf(step, size);
        assert.deepEqual(view([log.append(term, data)]), view([reference.append(term, data)]), `seed ${seed} step ${step}: append`);
      } else if (op < 17) {
        log.releaseBefore(log.appendPosition);
        released = Math.max(released, log.releasedPosition);
        // What stays is the window behind the end, plus the step a release waits for, plus one entry and the padding before it (at most a term).
        assert.ok(log.appendPosition - log.releasedPosition <= RETAIN + RETAIN / 4 + LAYOUT.termLength, `seed ${seed} step ${step}: ${log.appendPosition - log.releasedPosition} bytes held`);
      } else if (op < 19) {
        // Truncate to an entry end, sometimes below what memory holds.
        const ends = [0, ...reference.entriesFrom(0, Infinity).map((e) => e.position + e.length)];
        const to = ends[ends.length - 1 - int(Math.min(ends.length, 12))]!;
        reference.truncate(to);
        log.truncate(to);
        if (reference.termBase(term) === undefined) {
          term++;
          reference.joinTerm(term, to);
          log.joinTerm(term, to);
        }
      } else {
        term++;
        reference.joinTerm(term, reference.appendPosition);
        log.joinTerm(term, log.appendPosition);
      }
      assert.equal(log.appendPosition, reference.appendPosition);
      assert.equal(log.logTermId, reference.logTermId);
      // Every entry end and start (released or held), and positions inside entries.
      for (const e of reference.entriesFrom(0, Infinity)) {
        for (const at of [e.position, e.position + e.length]) {
          assert.deepEqual(view(log.entriesFrom(at, 600)), view(reference.entriesFrom(at, 600)), `seed ${seed} step ${step}: entriesFrom(${at})`);
          assert.deepEqual(view([log.entryFrom(at)].filter((x) => x !== undefined)), view([reference.entryFrom(at)].filter((x) => x !== undefined)), `seed ${seed} step ${step}: entryFrom(${at})`);
          assert.equal(log.isEntryEnd(at), reference.isEntryEnd(at), `seed ${seed} step ${step}: isEntryEnd(${at})`);
        }
        assert.equal(log.isEntryEnd(e.position + 32), reference.isEntryEnd(e.position + 32));
      }
    }
    assert.ok(released > 0 && reads.count > 0, `seed ${seed}: entries were released (${released}) and read back (${reads.count} reads)`);
  }
});

test('without a backing nothing leaves memory', () => {
  const log = new MemoryConsensusLog(LAYOUT);
  log.joinTerm(1, 0);
  for (let i = 0; i < 500; i++) log.append(1, new Uint8Array(100));
  log.releaseBefore(log.appendPosition);
  assert.equal(log.releasedPosition, 0);
  assert.equal(log.heldEntries, 500);
  assert.equal(log.entriesFrom(0, Infinity).length, 500);
});

test('a release never passes what the storage holds', () => {
  const reference = new MemoryConsensusLog(LAYOUT);
  const log = new MemoryConsensusLog(LAYOUT);
  let limit = 0;
  log.setBacking({ limit: () => limit, read: (p, m) => reference.entriesFrom(p, m), isEntryEnd: (p) => reference.isEntryEnd(p) }, 0);
  reference.joinTerm(1, 0);
  log.joinTerm(1, 0);
  for (let i = 0; i < 100; i++) {
    reference.append(1, new Uint8Array(64));
    log.append(1, new Uint8Array(64));
  }
  log.releaseBefore(log.appendPosition);
  assert.equal(log.releasedPosition, 0, 'storage holds nothing yet');
  limit = 96 * 40;
  log.releaseBefore(log.appendPosition);
  assert.equal(log.releasedPosition, 96 * 40);
  assert.equal(log.heldEntries, 60);
});

test('held entries take no object each: their bytes go into chunks, used again once every entry in them was released', () => {
  const reference = new MemoryConsensusLog(LAYOUT);
  const log = new MemoryConsensusLog(LAYOUT);
  const retain = 64 * 1024;
  log.setBacking(backed(reference, { count: 0 }), retain);
  reference.joinTerm(1, 0);
  log.joinTerm(1, 0);
  const buffers = new Set<ArrayBufferLike>();
  const random = new SeededPrng(7);
  let maxChunkBytes = 0;
  for (let step = 0; step < 100_000; step++) {
    const data = bytesOf(step, 80 + Math.floor(random.nextDouble() * 160));
    reference.append(1, data);
    const entry = log.append(1, data);
    buffers.add(entry.data.buffer);
    // Read as the core does: applied, then released.
    const applied = log.entryFrom(entry.position)!;
    assert.deepEqual(view([applied]), view([entry]));
    log.releaseBefore(log.appendPosition);
    maxChunkBytes = Math.max(maxChunkBytes, log.heldChunkBytes);
    if (step % 10_000 === 9_999) {
      // Everything from a little before the window to the end reads as appended, from memory or storage.
      const from = reference.entriesFrom(0, Infinity).find((e) => e.position >= log.releasedPosition - 4096)!.position;
      assert.deepEqual(view(log.entriesFrom(from, Infinity)), view(reference.entriesFrom(from, Infinity)), `step ${step}`);
    }
  }
  // About 15 MB of log went through 1 MiB chunks: the chunks are few, and memory stayed within the window, two chunks being filled and two spare.
  assert.ok(log.appendPosition > 15 * 1024 * 1024, `log of ${log.appendPosition} bytes`);
  assert.ok(buffers.size <= 12, `${buffers.size} chunks allocated`);
  assert.ok(maxChunkBytes <= 4 * 1024 * 1024 + 64 * 1024, `at most ${maxChunkBytes} bytes of chunks`);
  assert.ok(log.heldEntries < 1000, `${log.heldEntries} entries held`);
});

test('bytes of truncated entries are never written over: a view of one taken before keeps them', () => {
  const reference = new MemoryConsensusLog(LAYOUT);
  const log = new MemoryConsensusLog(LAYOUT);
  log.setBacking(backed(reference, { count: 0 }), 0);
  reference.joinTerm(1, 0);
  log.joinTerm(1, 0);
  // Past the first, smaller chunks: the cut lands in a whole one, which could be used again.
  for (let step = 0; step < 20_000; step++) {
    reference.append(1, bytesOf(step, 200));
    log.append(1, bytesOf(step, 200));
  }
  const [before, cut] = log.entriesFrom(0, Infinity).slice(19_000, 19_002) as [LogEntry, LogEntry];
  const kept = view([cut]);
  const to = before.position + before.length;
  reference.truncate(to);
  log.truncate(to);
  reference.joinTerm(2, to);
  log.joinTerm(2, to);
  // Several chunks' worth of new entries, released as they go (a window of 0), so that spare chunks are filled again.
  for (let step = 100_000; step < 140_000; step++) {
    reference.append(2, bytesOf(step, 200));
    log.append(2, bytesOf(step, 200));
    log.releaseBefore(log.appendPosition);
  }
  assert.ok(log.releasedPosition > 5 * 1024 * 1024, `released to ${log.releasedPosition}`);
  assert.deepEqual(view([cut]), kept);
  assert.deepEqual(view(log.entriesFrom(log.releasedPosition, Infinity)), view(reference.entriesFrom(log.releasedPosition, Infinity)));
});
