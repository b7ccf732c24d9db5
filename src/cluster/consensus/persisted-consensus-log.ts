/**
 * What the logs that survive a restart share (FileConsensusLog, ArchiveConsensusLog): the log in
 * memory, where the core reads it, and the consensus state file, rewritten before a vote, a join,
 * a new term or a truncation takes effect. Subclasses keep the entries durable their own way.
 */
import type { Files } from '../../env/files.js';
import { MemoryConsensusLog, type ConsensusLog, type LogEntry, type LogLayout, type TermStart } from './consensus-log.js';
import { ConsensusStateFile, termsOf } from './consensus-state-file.js';

export abstract class PersistedConsensusLog implements ConsensusLog {
  protected readonly inner: MemoryConsensusLog;
  protected readonly stateFile: ConsensusStateFile;

  protected constructor(files: Files, dir: string, layout: LogLayout) {
    files.mkdirs(dir);
    this.inner = new MemoryConsensusLog(layout);
    this.stateFile = new ConsensusStateFile(files, dir);
  }

  abstract get durablePosition(): number;
  abstract append(termId: number, data: Uint8Array): LogEntry;
  abstract truncate(position: number): void;
  abstract close(): void;
  /** Throws when the log can take no more writes (closed, failed). */
  protected abstract checkUsable(): void;
  /** The recording the state file names (-1: none). */
  protected abstract get stateRecordingId(): number;

  get layout(): LogLayout {
    return this.inner.layout;
  }

  get appendPosition(): number {
    return this.inner.appendPosition;
  }

  get logTermId(): number {
    return this.inner.logTermId;
  }

  get candidateTermId(): number {
    return this.inner.candidateTermId;
  }

  set candidateTermId(value: number) {
    this.checkUsable();
    const before = this.inner.candidateTermId;
    this.inner.candidateTermId = value;
    try {
      this.writeState();
    } catch (e) {
      this.inner.candidateTermId = before;
      throw e;
    }
  }

  termBase(termId: number): number | undefined {
    return this.inner.termBase(termId);
  }

  nextTerm(termId: number): TermStart | undefined {
    return this.inner.nextTerm(termId);
  }

  joinTerm(termId: number, base: number): void {
    this.checkUsable();
    this.inner.joinTerm(termId, base);
    this.writeState();
  }

  forgetTerm(termId: number): void {
    this.checkUsable();
    this.inner.forgetTerm(termId);
    this.writeState();
  }

  entriesFrom(position: number, maxBytes: number): LogEntry[] {
    return this.inner.entriesFrom(position, maxBytes);
  }

  entryFrom(position: number): LogEntry | undefined {
    return this.inner.entryFrom(position);
  }

  isEntryEnd(position: number): boolean {
    return this.inner.isEntryEnd(position);
  }

  /** Entries applied long enough ago leave memory; reads of them go to this log's storage. */
  releaseBefore(position: number): void {
    this.inner.releaseBefore(position);
  }

  /** Where the entries held in memory begin (see MemoryConsensusLog.releasedPosition). */
  get releasedPosition(): number {
    return this.inner.releasedPosition;
  }

  /** Entries held in memory. */
  get heldEntries(): number {
    return this.inner.heldEntries;
  }

  protected writeState(): void {
    this.stateFile.write({ candidateTermId: this.inner.candidateTermId, terms: termsOf(this.inner), recordingId: this.stateRecordingId });
  }

  /**
   * While reading a log back: joins the recorded terms (sorted by base) that begin where the log
   * now ends, skipping any left behind; returns the index of the next to look at.
   */
  protected joinTermsAt(terms: readonly TermStart[], from: number): number {
    const position = this.inner.appendPosition;
    let t = from;
    while (t < terms.length && terms[t]!.base <= position) {
      const term = terms[t++]!;
      if (term.base === position && this.inner.termBase(term.termId) === undefined) this.inner.joinTerm(term.termId, term.base);
    }
    return t;
  }

  /** After reading a log back: rewrites the state if its terms differ from what survived (terms past the end dropped). */
  protected settleTerms(recorded: readonly TermStart[]): void {
    const held = termsOf(this.inner);
    if (held.length !== recorded.length || held.some((t, i) => t.termId !== recorded[i]!.termId || t.base !== recorded[i]!.base)) this.writeState();
  }
}
