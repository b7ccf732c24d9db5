/**
 * The messages members exchange in the consensus core (docs/cluster.md, "Consensus core"): Aeron
 * Cluster's consensus messages (CLUSTER.md §4: CanvassPosition, RequestVote, Vote,
 * NewLeadershipTerm, AppendPosition, CommitPosition, CatchupPosition, TerminationPosition,
 * TerminationAck) as plain objects with the same fields, which consensus-codec.ts encodes with the
 * schema's SBE codecs; and LogData, which is not a consensus message but stands for the leader's
 * log stream (and the replay that catches a follower up): entries at their log positions.
 */
import type { LogEntry } from './consensus-log.js';

/** Aeron's null value for term ids and positions in these messages. */
export const NULL_VALUE = -1;

export interface CanvassPosition {
  readonly type: 'canvass';
  readonly from: number;
  readonly logTermId: number;
  readonly logPosition: number;
  /**
   * The newest term this member promised (voted or nominated in), which it may follow no older
   * than. It travels in CanvassPosition's leadershipTermId field, the term the member is in.
   */
  readonly candidateTermId: number;
}

export interface RequestVote {
  readonly type: 'requestVote';
  readonly from: number;
  readonly candidateTermId: number;
  readonly logTermId: number;
  readonly logPosition: number;
}

export interface Vote {
  readonly type: 'vote';
  readonly from: number;
  readonly candidateTermId: number;
  /** The voter's log (term, then position), which tells the candidate where the voter's log stands. */
  readonly logTermId: number;
  readonly logPosition: number;
  readonly granted: boolean;
}

/**
 * The leader of `leadershipTermId` announces itself to one member, describing the member's log
 * term `logTermId` (what it last reported) in the leader's log: the term after it there
 * (`nextTermId`), where that began (`nextTermBase`: the end of `logTermId`'s entries in the
 * leader's log) and ended (`nextLogPosition`). With `nextTermBase` NULL_VALUE the leader's log
 * does not hold `logTermId` at all. Sent on an interval until the member joins, and in answer to
 * its canvass.
 */
export interface NewLeadershipTerm {
  readonly type: 'newLeadershipTerm';
  readonly from: number;
  readonly logTermId: number;
  readonly nextTermId: number;
  readonly nextTermBase: number;
  readonly nextLogPosition: number;
  readonly leadershipTermId: number;
  /** Where the term began in the leader's log. */
  readonly termBase: number;
  /** The leader's append position. */
  readonly logPosition: number;
  readonly commitPosition: number;
}

/** A follower whose log is a prefix of the leader's asks for the leader's log from `logPosition`. */
export interface CatchupPosition {
  readonly type: 'catchupPosition';
  readonly from: number;
  readonly leadershipTermId: number;
  readonly logPosition: number;
}

/** Entries of the leader's log from `position` (the log stream, not a consensus message). */
export interface LogData {
  readonly type: 'logData';
  readonly from: number;
  readonly leadershipTermId: number;
  readonly termBase: number;
  readonly position: number;
  readonly entries: readonly LogEntry[];
  readonly commitPosition: number;
}

/** A follower's joined term and append position (what its archive has recorded). */
export interface AppendPosition {
  readonly type: 'appendPosition';
  readonly from: number;
  readonly leadershipTermId: number;
  readonly logPosition: number;
}

/** The leader's commit position; doubles as its heartbeat. */
export interface CommitPosition {
  readonly type: 'commitPosition';
  readonly from: number;
  readonly leadershipTermId: number;
  readonly logPosition: number;
}

/** The leader is shutting the cluster down (or aborting): stop once the log reaches `logPosition` (handled by the cluster node). */
export interface TerminationPosition {
  readonly type: 'terminationPosition';
  readonly from: number;
  readonly leadershipTermId: number;
  readonly logPosition: number;
}

/** A follower reached the termination position and terminated. */
export interface TerminationAck {
  readonly type: 'terminationAck';
  readonly from: number;
  readonly leadershipTermId: number;
  readonly logPosition: number;
}

export type ConsensusMessage = CanvassPosition | RequestVote | Vote | NewLeadershipTerm | CatchupPosition | LogData | AppendPosition | CommitPosition | TerminationPosition | TerminationAck;

/** Which of two logs is more recent: by term, then by position (> 0: a is). */
export function compareLogs(aTermId: number, aPosition: number, bTermId: number, bPosition: number): number {
  return aTermId !== bTermId ? aTermId - bTermId : aPosition - bPosition;
}
