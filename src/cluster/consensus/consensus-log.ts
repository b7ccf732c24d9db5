/**
 * A member's replicated log as the consensus core sees it (docs/cluster.md, "Consensus core"):
 * entries at byte positions, each tagged with the leadership term whose leader appended it, and
 * the terms the member has joined with the position each began at (what the recording log holds
 * in a full member). Entries written by one leader in one term are identical wherever they are
 * held, and a term's entries begin at the same position in every log that holds the term, so two
 * logs that both hold a term agree up to the end of the shorter run of that term.
 *
 * Positions are those of an Aeron stream carrying one message per entry ({@link LogLayout}): an
 * entry takes its frames (a 32-byte header per fragment, aligned to 32 bytes), and an entry that
 * would cross the end of a term of the stream begins at the next term, after padding. Where an
 * entry lands follows from where the log ends and its length alone, so every member places the
 * leader's entries where the leader did. Positions that matter to the core (term bases, append
 * and commit positions) are entry ends: the end of an entry, or 0.
 *
 * {@link MemoryConsensusLog} keeps it in memory for the simulator; what survives a crash is
 * what it made durable (the simulator keeps the object across a member's restart).
 */

import { assert, failAssertion } from '../../util/assert.js';

/** One entry of the log. */
export interface LogEntry {
  readonly termId: number;
  /** Byte position where the entry's first frame begins. */
  readonly position: number;
  /** Bytes of its frames: the entry ends at position + length. */
  readonly length: number;
  readonly data: Uint8Array;
}

/**
 * A LogEntry as the log, its readers and the LogData codec make one. Every entry is made by this
 * constructor, never as an object literal: entries made by several literal sites (with positions
 * read from typed arrays in some and computed in others) kept a follower's read of
 * `entry.position` missing its inline cache for every new entry (253k misses in a 100k
 * commands/s load), which also kept V8 from optimising the function that read it.
 */
export class LogEntryRecord implements LogEntry {
  constructor(
    readonly termId: number,
    readonly position: number,
    readonly length: number,
    readonly data: Uint8Array,
  ) {}
}

/** A term the log holds and where it began. */
export interface TermStart {
  readonly termId: number;
  readonly base: number;
}

/** Frame header a log entry takes per fragment (an Aeron data frame's 32 bytes). */
export const LOG_ENTRY_HEADER_LENGTH = 32;
/** Frames start at multiples of this, as in an Aeron stream, so log positions are stream positions. */
export const LOG_ENTRY_ALIGNMENT = 32;

/** The stream the log's positions are those of: its term length and the most data one frame carries (MTU - 32). */
export interface LogLayout {
  readonly termLength: number;
  readonly maxPayloadLength: number;
}

/** Entries one after another, never padded or fragmented (the simulator's default). */
export const CONTIGUOUS_LAYOUT: LogLayout = { termLength: Number.POSITIVE_INFINITY, maxPayloadLength: Number.POSITIVE_INFINITY };

const align = (n: number): number => Math.ceil(n / LOG_ENTRY_ALIGNMENT) * LOG_ENTRY_ALIGNMENT;

/** Bytes an entry of `dataLength` bytes takes in the log: its frames, as Aeron fragments a message. */
export function entryLength(dataLength: number, layout: LogLayout = CONTIGUOUS_LAYOUT): number {
  if (dataLength <= layout.maxPayloadLength) return align(LOG_ENTRY_HEADER_LENGTH + dataLength);
  const whole = Math.floor(dataLength / layout.maxPayloadLength);
  const rest = dataLength % layout.maxPayloadLength;
  return whole * (layout.maxPayloadLength + LOG_ENTRY_HEADER_LENGTH) + (rest > 0 ? align(rest + LOG_ENTRY_HEADER_LENGTH) : 0);
}

/** Where an entry of `dataLength` bytes begins in a log that ends at `end`: there, or at the next term after padding. */
export function placeEntry(end: number, dataLength: number, layout: LogLayout = CONTIGUOUS_LAYOUT): number {
  if (!Number.isFinite(layout.termLength)) return end;
  const length = entryLength(dataLength, layout);
  if (length > layout.termLength) failAssertion(`an entry of ${dataLength} bytes (${length} framed) does not fit a term of ${layout.termLength}`);
  const offset = end % layout.termLength;
  return offset + length > layout.termLength ? end - offset + layout.termLength : end;
}

export interface ConsensusLog {
  readonly layout: LogLayout;
  /** End of the last entry (or the base of the last term joined, where it has none). */
  readonly appendPosition: number;
  /**
   * What survives a crash of this member (an entry end, at most appendPosition): what followers
   * acknowledge and the leader counts for itself. Equal to appendPosition where appends are
   * written through.
   */
  readonly durablePosition: number;
  /** The highest term joined (the log's term for canvass and votes), -1 for none. */
  readonly logTermId: number;
  /** The candidate term persisted before voting or nominating (the node state), -1 at first. */
  candidateTermId: number;
  /** Where a joined term began, or undefined. */
  termBase(termId: number): number | undefined;
  /** The first term after `termId` the log holds (the log's first term for -1), or undefined. */
  nextTerm(termId: number): TermStart | undefined;
  /** Records that this member holds the leader's log of `termId` up to `base` and follows it from there. */
  joinTerm(termId: number, base: number): void;
  /** Appends an entry of `termId` (joining that term at the entry when not joined yet), where {@link placeEntry} puts it. */
  append(termId: number, data: Uint8Array): LogEntry;
  /** Drops every entry after `position` (an entry end) and the terms joined beyond it. */
  truncate(position: number): void;
  /** Drops the log's last term, which must hold no entries (truncate to its base first). */
  forgetTerm(termId: number): void;
  /** Entries from the first that begins at or after `position`, at most `maxBytes` of them (at least one when there is one). */
  entriesFrom(position: number, maxBytes: number): LogEntry[];
  /** The first entry that begins at or after `position` (an entry end or start), if any. */
  entryFrom(position: number): LogEntry | undefined;
  /** Whether `position` is 0 or the end of an entry of the log. */
  isEntryEnd(position: number): boolean;
  /**
   * Entries that end at or before `position` (applied, never to be truncated) need not stay in
   * memory: a log with storage behind it may drop them from memory (keeping a recent window) and
   * read them back from storage when asked; one without keeps them.
   */
  releaseBefore?(position: number): void;
}

/**
 * Where a log reads back entries it no longer holds in memory: its own storage, which holds every
 * entry below `limit()`. `read` returns entries from the first that begins at or after
 * `position` (an entry start or end below the limit), up to `maxBytes` of them (at least one);
 * `isEntryEnd` says whether `position` is the end of an entry there.
 */
export interface LogBacking {
  limit(): number;
  read(position: number, maxBytes: number): LogEntry[];
  isEntryEnd(position: number): boolean;
}

/**
 * Log bytes a log with storage behind it keeps in memory behind what it may release: 4 MiB, about
 * a third of a second of log at 100k commands/s. A follower further behind is sent entries read
 * back from storage.
 */
export const DEFAULT_RETAINED_LOG_BYTES = 4 * 1024 * 1024;

/** Entry bytes go into chunks of this size at most (the first chunks are smaller; a larger entry gets a chunk of its own). */
const MAX_CHUNK_BYTES = 1024 * 1024;
const FIRST_CHUNK_BYTES = 16 * 1024;
/** The newest entries' objects are kept for reads (an entry is read to be applied and to be sent to each follower soon after its append). */
const RECENT_ENTRIES = 4096;

/**
 * Entries held without an object per entry: their terms, start and end positions, and where their
 * bytes are in typed arrays, the bytes copied into chunks of memory that are used again once every
 * entry in them was released. A held entry is thus no work for the garbage collector (an object
 * per entry, kept for a window of seconds at a high rate, outlives young collections, fills the old
 * generation and brings full collections: at 100k commands/s, 4 MiB of entries as objects made
 * each member run a full collection about every 0.6 s). The objects of the newest few thousand
 * entries are kept for the reads that soon follow an append; other reads make entry objects
 * afresh, each a view of its bytes. A view stays valid while its entry is held and until a chunk
 * of released entries is filled again (at least `retainBytes` of log later); bytes of truncated
 * entries are never written over.
 *
 * Lookups by position are binary searches over the start or end positions (both increase along the
 * log) that try the last one found and its neighbour first (the core reads the log in order).
 *
 * With a {@link LogBacking} (a log on files or in a recording), {@link releaseBefore} drops the
 * oldest entries from memory, keeping at least `retainBytes` of the log behind its end, and reads
 * of positions before what it holds go to the backing: memory stays bounded however long the
 * log grows. Without one (the simulator) it keeps everything.
 */
export class MemoryConsensusLog implements ConsensusLog {
  readonly layout: LogLayout;
  /** Entries [head, count) are held; those before head were released. */
  private count = 0;
  private head = 0;
  private termIds = new Float64Array(1024);
  private starts = new Float64Array(1024);
  private ends = new Float64Array(1024);
  /** Each entry's chunk (a sequence number: chunks[seq - firstChunk]) and offset and length there. */
  private chunkSeqs = new Float64Array(1024);
  private offsets = new Int32Array(1024);
  private lengths = new Int32Array(1024);
  /** Chunks in use, oldest first; the last takes new bytes from `fill` on. */
  private chunks: Uint8Array[] = [];
  private firstChunk = 0;
  private fill = 0;
  /** Whole chunks every entry of which was released, to take new bytes again. */
  private spare: Uint8Array[] = [];
  /** Chunks before this sequence number may hold bytes of truncated entries: never filled again. */
  private reuseFrom = 0;
  /** The end of the last entry released (0 when none was). */
  private releasedTo = 0;
  /** Index of the last entry a lookup found. */
  private hint = 0;
  /** Objects of recently appended entries, by position / LOG_ENTRY_ALIGNMENT modulo RECENT_ENTRIES. */
  private readonly recent = new Array<LogEntry | undefined>(RECENT_ENTRIES).fill(undefined);
  private readonly terms = new Map<number, number>();
  private end = 0;
  private backing: LogBacking | null = null;
  private retainBytes = DEFAULT_RETAINED_LOG_BYTES;
  candidateTermId = -1;

  constructor(layout: LogLayout = CONTIGUOUS_LAYOUT) {
    this.layout = layout;
  }

  /** Lets entries go from memory (see the class comment); `retainBytes` of the log's end stay. */
  setBacking(backing: LogBacking, retainBytes = DEFAULT_RETAINED_LOG_BYTES): void {
    assert(Number.isInteger(retainBytes) && retainBytes >= 0, `retainBytes ${retainBytes} is not a non-negative integer`);
    this.backing = backing;
    this.retainBytes = retainBytes;
  }

  /** Where the entries held in memory begin: everything before was released to the backing. */
  get releasedPosition(): number {
    return this.releasedTo;
  }

  /** Entries held in memory. */
  get heldEntries(): number {
    return this.count - this.head;
  }

  /** Bytes of memory the held entries' chunks take (spare chunks included). */
  get heldChunkBytes(): number {
    let bytes = 0;
    for (const c of this.chunks) bytes += c.length;
    for (const c of this.spare) bytes += c.length;
    return bytes;
  }

  get appendPosition(): number {
    return this.end;
  }

  get durablePosition(): number {
    return this.end;
  }

  get logTermId(): number {
    let max = -1;
    for (const t of this.terms.keys()) if (t > max) max = t;
    return max;
  }

  termBase(termId: number): number | undefined {
    return this.terms.get(termId);
  }

  nextTerm(termId: number): TermStart | undefined {
    let next: TermStart | undefined;
    for (const [t, base] of this.terms) if (t > termId && (next === undefined || t < next.termId)) next = { termId: t, base };
    return next;
  }

  /** The term an entry at `position` belongs to: the one with the highest base at or before it. */
  termAt(position: number): number {
    let termId = -1;
    let best = -1;
    for (const [t, base] of this.terms) if (base <= position && (base > best || (base === best && t > termId))) (termId = t), (best = base);
    return termId;
  }

  joinTerm(termId: number, base: number): void {
    assert(base === this.end, `joinTerm ${termId} at ${base}, but the log ends at ${this.end}`);
    if (!this.terms.has(termId)) this.terms.set(termId, base);
  }

  append(termId: number, data: Uint8Array): LogEntry {
    // An entry of a term not joined here (copied from a leader while catching up) records where that term's run begins.
    if (!this.terms.has(termId)) this.terms.set(termId, this.end);
    const position = placeEntry(this.end, data.length, this.layout);
    const length = entryLength(data.length, this.layout);
    const index = this.count;
    if (index === this.starts.length) this.grow(index * 2);
    const chunk = this.room(data.length);
    const offset = this.fill;
    chunk.set(data, offset);
    this.fill = offset + data.length;
    this.termIds[index] = termId;
    this.starts[index] = position;
    this.ends[index] = position + length;
    this.chunkSeqs[index] = this.firstChunk + this.chunks.length - 1;
    this.offsets[index] = offset;
    this.lengths[index] = data.length;
    this.count = index + 1;
    this.end = position + length;
    const entry = new LogEntryRecord(termId, position, length, chunk.subarray(offset, offset + data.length));
    this.recent[(position / LOG_ENTRY_ALIGNMENT) % RECENT_ENTRIES] = entry;
    return entry;
  }

  truncate(position: number): void {
    if (position >= this.end) return;
    assert(this.isEntryEnd(position), `truncate at ${position}, which is not an entry end`);
    if (position <= this.releasedTo) {
      // Below what memory holds: the backing's owner cuts its storage; nothing stays here.
      this.count = 0;
      this.head = 0;
      this.releasedTo = position;
      this.firstChunk += this.chunks.length;
      this.chunks = [];
    } else {
      this.count = this.find(this.ends, position) + 1;
    }
    // Views of the truncated entries' bytes may still be in use: new bytes go after them (the
    // chunk's fill stays), and no chunk up to here is used again once released.
    this.reuseFrom = this.firstChunk + this.chunks.length;
    this.hint = this.head;
    this.end = position;
    this.recent.fill(undefined);
    for (const [t, base] of this.terms) if (base > position) this.terms.delete(t);
  }

  forgetTerm(termId: number): void {
    const base = this.terms.get(termId);
    assert(base !== undefined && termId === this.logTermId && base === this.end, `forgetTerm ${termId}: not the last term with no entries (base ${base}, log ends at ${this.end})`);
    this.terms.delete(termId);
  }

  releaseBefore(position: number): void {
    const backing = this.backing;
    if (backing === null) return;
    const target = Math.min(position, this.end - this.retainBytes, backing.limit());
    // Released in steps of a quarter of the window at least, so that this costs nothing per call.
    if (target - this.releasedTo < Math.max(this.retainBytes / 4, 1)) return;
    let head = this.head;
    while (head < this.count && this.ends[head]! <= target) head++;
    if (head === this.head) return;
    this.releasedTo = this.ends[head - 1]!;
    this.head = head;
    this.hint = head;
    // Chunks before the first held entry's hold only released entries.
    const firstHeld = head < this.count ? this.chunkSeqs[head]! : this.firstChunk + this.chunks.length - 1;
    while (this.firstChunk < firstHeld) {
      const chunk = this.chunks.shift()!;
      if (chunk.length === MAX_CHUNK_BYTES && this.firstChunk >= this.reuseFrom && this.spare.length < 2) this.spare.push(chunk);
      this.firstChunk++;
    }
    // The released slots go once they are half of the arrays.
    if (head >= 1024 && head * 2 >= this.count) {
      const count = this.count;
      for (const a of [this.termIds, this.starts, this.ends, this.chunkSeqs, this.offsets, this.lengths]) a.copyWithin(0, head, count);
      this.count = count - head;
      this.head = 0;
      this.hint = 0;
    }
  }

  entriesFrom(position: number, maxBytes: number): LogEntry[] {
    let out: LogEntry[] = [];
    let bytes = 0;
    let from = position;
    if (position < this.releasedTo) {
      // From storage; what it does not hold (past its limit) comes from memory after it.
      out = this.backing!.read(position, maxBytes);
      for (const e of out) bytes += e.length;
      if (out.length === 0 || bytes >= maxBytes) return out;
      from = out[out.length - 1]!.position + out[out.length - 1]!.length;
      if (from < this.releasedTo) return out;
    }
    const index = this.indexFrom(from);
    if (index === undefined) return out;
    for (let i = index; i < this.count; i++) {
      const length = this.ends[i]! - this.starts[i]!;
      if (out.length > 0 && bytes + length > maxBytes) break;
      out.push(this.entryAt(i));
      bytes += length;
    }
    return out;
  }

  entryFrom(position: number): LogEntry | undefined {
    if (position < this.releasedTo) return this.backing!.read(position, 0)[0];
    const index = this.indexFrom(position);
    return index === undefined ? undefined : this.entryAt(index);
  }

  isEntryEnd(position: number): boolean {
    if (position === 0 || position === this.releasedTo) return true;
    if (position < this.releasedTo) return this.backing!.isEntryEnd(position);
    return this.find(this.ends, position) >= 0;
  }

  private entryAt(index: number): LogEntry {
    const recent = this.recent[(this.starts[index]! / LOG_ENTRY_ALIGNMENT) % RECENT_ENTRIES];
    if (recent !== undefined && recent.position === this.starts[index]) return recent;
    const chunk = this.chunks[this.chunkSeqs[index]! - this.firstChunk]!;
    const offset = this.offsets[index]!;
    const position = this.starts[index]!;
    return new LogEntryRecord(this.termIds[index]!, position, this.ends[index]! - position, chunk.subarray(offset, offset + this.lengths[index]!));
  }

  /** The chunk the next entry's `bytes` go into (a new one when the last has no room). */
  private room(bytes: number): Uint8Array {
    const last = this.chunks.length > 0 ? this.chunks[this.chunks.length - 1]! : null;
    if (last !== null && this.fill + bytes <= last.length) return last;
    let chunk: Uint8Array;
    if (bytes <= MAX_CHUNK_BYTES && this.spare.length > 0) {
      chunk = this.spare.pop()!;
    } else {
      // Chunks double from FIRST_CHUNK_BYTES, so a small log (a test, a quiet cluster) takes little memory.
      const size = Math.max(bytes, Math.min(MAX_CHUNK_BYTES, last === null ? FIRST_CHUNK_BYTES : last.length * 2));
      chunk = new Uint8Array(size);
    }
    this.chunks.push(chunk);
    this.fill = 0;
    return chunk;
  }

  private grow(capacity: number): void {
    this.termIds = widened(this.termIds, new Float64Array(capacity));
    this.starts = widened(this.starts, new Float64Array(capacity));
    this.ends = widened(this.ends, new Float64Array(capacity));
    this.chunkSeqs = widened(this.chunkSeqs, new Float64Array(capacity));
    this.offsets = widened(this.offsets, new Int32Array(capacity));
    this.lengths = widened(this.lengths, new Int32Array(capacity));
  }

  private indexFrom(position: number): number | undefined {
    const start = this.find(this.starts, position);
    if (start >= 0) return start;
    // The end of the last entry released (or 0): the first held entry comes next.
    if (position === this.releasedTo) return this.head < this.count ? this.head : undefined;
    const end = this.find(this.ends, position);
    return end >= 0 && end + 1 < this.count ? end + 1 : undefined;
  }

  /** The index of the held entry whose position in `positions` (starts or ends) is `position`, or -1. */
  private find(positions: Float64Array, position: number): number {
    const count = this.count;
    const hint = this.hint;
    if (hint < count && positions[hint] === position) return hint;
    if (hint + 1 < count && positions[hint + 1] === position) return (this.hint = hint + 1);
    let lo = this.head;
    let hi = count - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const at = positions[mid]!;
      if (at === position) return (this.hint = mid);
      if (at < position) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }
}

/** `to` holding `from`'s values at its start. */
function widened<T extends Float64Array | Int32Array>(from: T, to: T): T {
  to.set(from);
  return to;
}
