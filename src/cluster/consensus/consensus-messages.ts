/**
 * The messages members exchange in the consensus core (docs/cluster.md, "Consensus core"). They
 * carry what Aeron Cluster's consensus messages carry (CLUSTER.md §4: CanvassPosition,
 * RequestVote, Vote, NewLeadershipTerm, AppendPosition, CommitPosition, CatchupPosition) as plain
 * objects; the log itself travels as LogData, which stands for the leader's log stream and the
 * archive replay that catches a follower up. Encoding them as SBE on Skein streams is the
 * transport's job, not the core's.
 */
import type { LogEntry, TermRun } from './consensus-log.js';

export interface CanvassPosition {
  readonly type: 'canvass';
  readonly from: number;
  readonly logTermId: number;
  readonly logPosition: number;
  readonly leadershipTermId: number;
  /** The newest term this member promised (voted or nominated in). */
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
  readonly granted: boolean;
}

/** The leader of `leadershipTermId` announces itself; sent on an interval until the follower joins, and as its heartbeat's companion. */
export interface NewLeadershipTerm {
  readonly type: 'newLeadershipTerm';
  readonly from: number;
  readonly leadershipTermId: number;
  /** Where the term began in the leader's log. */
  readonly termBase: number;
  readonly commitPosition: number;
}

/** A follower asks for the leader's log after what the two share (its runs let the leader find that). */
export interface CatchupRequest {
  readonly type: 'catchup';
  readonly from: number;
  readonly leadershipTermId: number;
  readonly runs: readonly TermRun[];
}

/** Entries of the leader's log from `from`; `truncateTo`, when set, is where the follower's log stops agreeing. */
export interface LogData {
  readonly type: 'logData';
  readonly from: number;
  readonly leadershipTermId: number;
  readonly termBase: number;
  readonly truncateTo: number | null;
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

export type ConsensusMessage = CanvassPosition | RequestVote | Vote | NewLeadershipTerm | CatchupRequest | LogData | AppendPosition | CommitPosition | TerminationPosition | TerminationAck;

/** Which of two logs is more recent: by term, then by position (> 0: a is). */
export function compareLogs(aTermId: number, aPosition: number, bTermId: number, bPosition: number): number {
  return aTermId !== bTermId ? aTermId - bTermId : aPosition - bPosition;
}
