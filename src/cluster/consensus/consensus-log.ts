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

import { assert } from '../../util/assert.js';

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
  assert(length <= layout.termLength, `an entry of ${dataLength} bytes (${length} framed) does not fit a term of ${layout.termLength}`);
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
}

export class MemoryConsensusLog implements ConsensusLog {
  readonly layout: LogLayout;
  private readonly entries: LogEntry[] = [];
  private readonly indexByStart = new Map<number, number>();
  private readonly indexByEnd = new Map<number, number>();
  private readonly terms = new Map<number, number>();
  private end = 0;
  candidateTermId = -1;

  constructor(layout: LogLayout = CONTIGUOUS_LAYOUT) {
    this.layout = layout;
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

  joinTerm(termId: number, base: number): void {
    assert(base === this.end, `joinTerm ${termId} at ${base}, but the log ends at ${this.end}`);
    if (!this.terms.has(termId)) this.terms.set(termId, base);
  }

  append(termId: number, data: Uint8Array): LogEntry {
    // An entry of a term not joined here (copied from a leader while catching up) records where that term's run begins.
    if (!this.terms.has(termId)) this.terms.set(termId, this.end);
    const entry: LogEntry = { termId, position: placeEntry(this.end, data.length, this.layout), length: entryLength(data.length, this.layout), data };
    this.indexByStart.set(entry.position, this.entries.length);
    this.indexByEnd.set(entry.position + entry.length, this.entries.length);
    this.entries.push(entry);
    this.end = entry.position + entry.length;
    return entry;
  }

  truncate(position: number): void {
    if (position >= this.end) return;
    assert(this.isEntryEnd(position), `truncate at ${position}, which is not an entry end`);
    const index = position === 0 ? 0 : this.indexByEnd.get(position)! + 1;
    for (let i = index; i < this.entries.length; i++) {
      const e = this.entries[i]!;
      this.indexByStart.delete(e.position);
      this.indexByEnd.delete(e.position + e.length);
    }
    this.entries.length = index;
    this.end = position;
    for (const [t, base] of this.terms) if (base > position) this.terms.delete(t);
  }

  forgetTerm(termId: number): void {
    const base = this.terms.get(termId);
    assert(base !== undefined && termId === this.logTermId && base === this.end, `forgetTerm ${termId}: not the last term with no entries (base ${base}, log ends at ${this.end})`);
    this.terms.delete(termId);
  }

  entriesFrom(position: number, maxBytes: number): LogEntry[] {
    const index = this.indexFrom(position);
    if (index === undefined) return [];
    const out: LogEntry[] = [];
    let bytes = 0;
    for (let i = index; i < this.entries.length; i++) {
      const e = this.entries[i]!;
      if (out.length > 0 && bytes + e.length > maxBytes) break;
      out.push(e);
      bytes += e.length;
    }
    return out;
  }

  entryFrom(position: number): LogEntry | undefined {
    const index = this.indexFrom(position);
    return index === undefined ? undefined : this.entries[index];
  }

  isEntryEnd(position: number): boolean {
    return position === 0 || this.indexByEnd.has(position);
  }

  private indexFrom(position: number): number | undefined {
    const start = this.indexByStart.get(position);
    if (start !== undefined) return start;
    if (position === 0) return this.entries.length > 0 ? 0 : undefined;
    const end = this.indexByEnd.get(position);
    return end !== undefined && end + 1 < this.entries.length ? end + 1 : undefined;
  }
}
