/**
 * A member's replicated log as the consensus core sees it (docs/cluster.md, "Consensus core"):
 * entries at byte positions, each tagged with the leadership term whose leader appended it, and
 * the terms the member has joined with the position each began at (what the recording log holds
 * in a full member). Entries written by one leader in one term are identical wherever they are
 * held, and a term's entries begin at the same position in every log that holds the term, so two
 * logs that both hold a term agree up to the end of the shorter run of that term.
 *
 * {@link MemoryConsensusLog} keeps it in memory for the simulator; what survives a crash is
 * exactly what it holds (the simulator keeps the object across a member's restart).
 */

import { assert } from '../../util/assert.js';

/** One entry of the log. */
export interface LogEntry {
  readonly termId: number;
  /** Byte position where the entry begins; the next begins at position + length. */
  readonly position: number;
  /** Header and data, aligned to 32 bytes: the next entry begins at position + length. */
  readonly length: number;
  readonly data: Uint8Array;
}

/** A term the log holds and where it began. */
export interface TermStart {
  readonly termId: number;
  readonly base: number;
}

/** Frame header a log entry takes beside its data (as an Aeron data frame's 32 bytes). */
export const LOG_ENTRY_HEADER_LENGTH = 32;
/** Entries start at multiples of this, as frames do in an Aeron stream, so log positions are stream positions. */
export const LOG_ENTRY_ALIGNMENT = 32;

/** Bytes an entry of `dataLength` bytes takes in the log: header and data, aligned. */
export function entryLength(dataLength: number): number {
  return Math.ceil((LOG_ENTRY_HEADER_LENGTH + dataLength) / LOG_ENTRY_ALIGNMENT) * LOG_ENTRY_ALIGNMENT;
}

export interface ConsensusLog {
  readonly appendPosition: number;
  /** The highest term joined (the log's term for canvass and votes), -1 for none. */
  readonly logTermId: number;
  /** The candidate term persisted before voting or nominating (the node state), -1 at first. */
  candidateTermId: number;
  /** Where a joined term began, or undefined. */
  termBase(termId: number): number | undefined;
  /** Records that this member holds the leader's log of `termId` up to `base` and follows it from there. */
  joinTerm(termId: number, base: number): void;
  /** Appends an entry of `termId` (joining that term at the entry when not joined yet). */
  append(termId: number, data: Uint8Array): LogEntry;
  /** The first term after `termId` the log holds (the log's first term for -1), or undefined. */
  nextTerm(termId: number): TermStart | undefined;
  /** Drops every entry at or beyond `position` (which must be an entry boundary) and the terms joined beyond it. */
  truncate(position: number): void;
  /** Drops the log's last term, which must hold no entries (truncate to its base first). */
  forgetTerm(termId: number): void;
  /** Entries from `position` (an entry boundary), at most `maxBytes` of them (at least one when there is one). */
  entriesFrom(position: number, maxBytes: number): LogEntry[];
  /** The entry that begins at `position`, if any. */
  entryAt(position: number): LogEntry | undefined;
}

export class MemoryConsensusLog implements ConsensusLog {
  private readonly entries: LogEntry[] = [];
  private readonly indexByPosition = new Map<number, number>();
  private readonly terms = new Map<number, number>();
  private end = 0;
  candidateTermId = -1;

  get appendPosition(): number {
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

  joinTerm(termId: number, base: number): void {
    assert(base === this.end, `joinTerm ${termId} at ${base}, but the log ends at ${this.end}`);
    if (!this.terms.has(termId)) this.terms.set(termId, base);
  }

  append(termId: number, data: Uint8Array): LogEntry {
    // An entry of a term not joined here (copied from a leader while catching up) records where that term's run begins.
    if (!this.terms.has(termId)) this.terms.set(termId, this.end);
    const entry: LogEntry = { termId, position: this.end, length: entryLength(data.length), data };
    this.indexByPosition.set(entry.position, this.entries.length);
    this.entries.push(entry);
    this.end += entry.length;
    return entry;
  }

  nextTerm(termId: number): TermStart | undefined {
    let next: TermStart | undefined;
    for (const [t, base] of this.terms) if (t > termId && (next === undefined || t < next.termId)) next = { termId: t, base };
    return next;
  }

  forgetTerm(termId: number): void {
    const base = this.terms.get(termId);
    assert(base !== undefined && termId === this.logTermId && base === this.end, `forgetTerm ${termId}: not the last term with no entries (base ${base}, log ends at ${this.end})`);
    this.terms.delete(termId);
  }

  truncate(position: number): void {
    if (position >= this.end) return;
    const index = this.indexByPosition.get(position);
    assert(index !== undefined, `truncate at ${position}, which is not an entry boundary`);
    for (let i = index; i < this.entries.length; i++) this.indexByPosition.delete(this.entries[i]!.position);
    this.entries.length = index;
    this.end = position;
    for (const [t, base] of this.terms) if (base > position) this.terms.delete(t);
  }

  entriesFrom(position: number, maxBytes: number): LogEntry[] {
    const index = this.indexByPosition.get(position);
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

  entryAt(position: number): LogEntry | undefined {
    const index = this.indexByPosition.get(position);
    return index === undefined ? undefined : this.entries[index];
  }
}
