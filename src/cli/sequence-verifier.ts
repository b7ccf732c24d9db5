import { SEQUENCE_LENGTH, hasPattern, readSequence } from './sequence-payload.js';

/** How many skipped sequence numbers are remembered per session to tell late arrivals from duplicates. */
export const MISSING_TRACKED_MAX = 100_000;

class SessionSequence {
  /** The sequence number expected next. */
  expected: number;
  /** Sequence numbers skipped by a forward jump and not yet seen; null until the first gap. */
  missing: Set<number> | null = null;
  /** Skipped numbers beyond what `missing` tracks. */
  untracked = 0;

  constructor(first: number) {
    this.expected = first;
  }
}

export interface SequenceReport {
  /** Sessions seen. */
  sessions: number;
  /** Forward jumps in a session's sequence. */
  gaps: number;
  /** Sequence numbers skipped by gaps and never received afterwards. */
  missing: number;
  /** Messages whose sequence number had already been received. */
  duplicates: number;
  /** Messages that arrived after a later one of the same session. */
  outOfOrder: number;
  /** Messages shorter than a sequence number or whose pattern bytes are wrong. */
  malformed: number;
}

/**
 * Checks the sequence payloads of each session: every message should carry the number after the
 * previous one. A session starts at the first number seen from it (a subscriber may join a stream
 * late). Allocates only when something is wrong (a gap's skipped numbers are remembered).
 */
export class SequenceVerifier {
  private readonly sessions = new Map<number, SessionSequence>();
  private gaps = 0;
  private duplicates = 0;
  private outOfOrder = 0;
  private malformed = 0;

  constructor(private readonly checkPattern = true) {}

  /** Checks one whole message of `sessionId`. */
  onMessage(sessionId: number, buffer: Uint8Array, offset: number, length: number): void {
    if (length < SEQUENCE_LENGTH || (this.checkPattern && !hasPattern(buffer, offset, length))) {
      this.malformed++;
      return;
    }
    const sequence = readSequence(buffer, offset);
    let session = this.sessions.get(sessionId);
    if (session === undefined) {
      session = new SessionSequence(sequence);
      this.sessions.set(sessionId, session);
    }
    if (sequence === session.expected) {
      session.expected++;
    } else if (sequence > session.expected) {
      this.gaps++;
      this.remember(session, session.expected, sequence);
      session.expected = sequence + 1;
    } else if (session.missing !== null && session.missing.delete(sequence)) {
      this.outOfOrder++;
    } else {
      this.duplicates++;
    }
  }

  get hasProblems(): boolean {
    return this.gaps + this.duplicates + this.outOfOrder + this.malformed > 0;
  }

  report(): SequenceReport {
    let missing = 0;
    for (const session of this.sessions.values()) missing += (session.missing?.size ?? 0) + session.untracked;
    return {
      sessions: this.sessions.size,
      gaps: this.gaps,
      missing,
      duplicates: this.duplicates,
      outOfOrder: this.outOfOrder,
      malformed: this.malformed,
    };
  }

  private remember(session: SessionSequence, from: number, to: number): void {
    const missing = session.missing ?? (session.missing = new Set<number>());
    for (let s = from; s < to; s++) {
      if (missing.size >= MISSING_TRACKED_MAX) {
        session.untracked += to - s;
        return;
      }
      missing.add(s);
    }
  }
}
