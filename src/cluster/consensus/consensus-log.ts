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
 * Log bytes a log with storage behind it keeps in memory behind what it may release. Each entry
 * held is a few small objects on the JavaScript heap; entries held longer than a young-generation
 * collection or two move to the old generation, and a larger window means a larger live set for
 * every full collection. At 100k commands/s 4 MiB is about a third of a second of log (16 MiB
 * before, and the benchmark's stalls that were looked at came with members' full collections of
 * up to 30 ms); a follower further behind is sent entries read back from storage.
 */
export const DEFAULT_RETAINED_LOG_BYTES = 4 * 1024 * 1024;

/**
 * Entries in an array in log order, with their start and end positions in growable float arrays
 * (both increase along the log): lookups by position are binary searches that try the last one
 * found and its neighbour first (the core reads the log in order), and an append allocates
 * nothing but its entry (no hash map per entry to grow and rehash).
 *
 * With a {@link LogBacking} (a log on files or in a recording), {@link releaseBefore} drops the
 * oldest entries from memory, keeping at least `retainBytes` of the log behind its end, and reads
 * of positions before what it holds go to the backing: memory stays bounded however long the
 * log grows. Without one (the simulator) it keeps everything.
 */
export class MemoryConsensusLog implements ConsensusLog {
  readonly layout: LogLayout;
  /** Entries from `head` on are held; those before were released (their slots emptied). */
  private entries: (LogEntry | undefined)[] = [];
  private starts = new Float64Array(1024);
  private ends = new Float64Array(1024);
  private head = 0;
  /** The end of the last entry released (0 when none was). */
  private releasedTo = 0;
  /** Index of the last entry a lookup found. */
  private hint = 0;
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
    return this.entries.length - this.head;
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
    const entry: LogEntry = { termId, position: placeEntry(this.end, data.length, this.layout), length: entryLength(data.length, this.layout), data };
    const index = this.entries.length;
    if (index === this.starts.length) {
      const starts = new Float64Array(index * 2);
      starts.set(this.starts);
      this.starts = starts;
      const ends = new Float64Array(index * 2);
      ends.set(this.ends);
      this.ends = ends;
    }
    this.starts[index] = entry.position;
    this.ends[index] = entry.position + entry.length;
    this.entries.push(entry);
    this.end = entry.position + entry.length;
    return entry;
  }

  truncate(position: number): void {
    if (position >= this.end) return;
    assert(this.isEntryEnd(position), `truncate at ${position}, which is not an entry end`);
    if (position <= this.releasedTo) {
      // Below what memory holds: the backing's owner cuts its storage; nothing stays here.
      this.entries = [];
      this.head = 0;
      this.releasedTo = position;
    } else {
      this.entries.length = this.find(this.ends, position) + 1;
    }
    this.hint = this.head;
    this.end = position;
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
    const entries = this.entries;
    let head = this.head;
    while (head < entries.length && this.ends[head]! <= target) entries[head++] = undefined;
    if (head === this.head) return;
    this.releasedTo = this.ends[head - 1]!;
    this.head = head;
    this.hint = head;
    // The emptied slots go once they are half of the arrays.
    if (head >= 1024 && head * 2 >= entries.length) {
      const count = entries.length;
      this.entries = entries.slice(head);
      this.starts.copyWithin(0, head, count);
      this.ends.copyWithin(0, head, count);
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
    for (let i = index; i < this.entries.length; i++) {
      const e = this.entries[i]!;
      if (out.length > 0 && bytes + e.length > maxBytes) break;
      out.push(e);
      bytes += e.length;
    }
    return out;
  }

  entryFrom(position: number): LogEntry | undefined {
    if (position < this.releasedTo) return this.backing!.read(position, 0)[0];
    const index = this.indexFrom(position);
    return index === undefined ? undefined : this.entries[index];
  }

  isEntryEnd(position: number): boolean {
    if (position === 0 || position === this.releasedTo) return true;
    if (position < this.releasedTo) return this.backing!.isEntryEnd(position);
    return this.find(this.ends, position) >= 0;
  }

  private indexFrom(position: number): number | undefined {
    const start = this.find(this.starts, position);
    if (start >= 0) return start;
    // The end of the last entry released (or 0): the first held entry comes next.
    if (position === this.releasedTo) return this.head < this.entries.length ? this.head : undefined;
    const end = this.find(this.ends, position);
    return end >= 0 && end + 1 < this.entries.length ? end + 1 : undefined;
  }

  /** The index of the held entry whose position in `positions` (starts or ends) is `position`, or -1. */
  private find(positions: Float64Array, position: number): number {
    const count = this.entries.length;
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
