/**
 * One member of a cluster's consensus (docs/cluster.md, "Consensus core"): Aeron Cluster's
 * election (canvass, nominate, ballot, leader and follower log replication) and its commit rule,
 * as a deterministic state machine. It owns no socket, clock or random source: the caller gives
 * it the time, a seeded random source, a way to send messages and the log, so the simulator can
 * drive whole clusters from a seed.
 *
 * Election states (Aeron's names where they match, CLUSTER.md §5):
 *
 *   CANVASS --(logs of all, or past the deadline of a quorum, are no more recent than mine)--> NOMINATE
 *   NOMINATE --(random delay in [0, electionTimeout/2))--> CANDIDATE_BALLOT (candidate term + 1, persisted first)
 *   CANDIDATE_BALLOT --(every vote yes; or at electionTimeout a quorum yes)--> LEADER_READY
 *   CANDIDATE_BALLOT --(electionTimeout otherwise)--> CANVASS
 *   any --(RequestVote for a newer term from a log no older than mine: vote yes)--> FOLLOWER_BALLOT
 *   FOLLOWER_BALLOT --(electionTimeout)--> CANVASS
 *   any --(NewLeadershipTerm of a term no older than the candidate term)--> FOLLOWER_CATCHUP
 *   FOLLOWER_CATCHUP --(holds the leader's log up to the term's base: joins the term)--> CLOSED (follower)
 *
 * Catch-up with Aeron's messages: the leader's NewLeadershipTerm describes the follower's log term
 * in the leader's log (where its entries end there, or that the leader does not hold it). The
 * follower drops what disagrees (its entries past that end, or the whole term, and then reports
 * its log again in a canvass), after which its log is a prefix of the leader's; it asks for the
 * rest with CatchupPosition and joins the term on reaching its base.
 *   LEADER_READY --(a quorum joined the term: NewLeadershipTermEvent appended)--> CLOSED (leader)
 *   CLOSED --(follower: no leader contact for leaderHeartbeatTimeout; leader: no quorum for as long)--> CANVASS
 *
 * Commit rule: the leader's commit position is the quorum-th highest of its own append position
 * and the positions of followers that joined its term and were heard within
 * leaderHeartbeatTimeout. A follower joins a term only holding the leader's log up to the term's
 * base, and joining is what makes its log "of that term" for votes, so a position a quorum
 * acknowledged in the term survives every later election (Raft's argument, with the joined term
 * in the place of Raft's first entry of a term).
 */
import type { Prng } from '../../env/prng.js';
import { ErrorCode, SkeinError } from '../../util/errors.js';
import { assert, failAssertion } from '../../util/assert.js';
import { placeEntry, type ConsensusLog, type LogEntry } from './consensus-log.js';
import { compareLogs, NULL_VALUE, type ConsensusMessage, type LogData, type NewLeadershipTerm } from './consensus-messages.js';

export type ElectionState = 'CANVASS' | 'NOMINATE' | 'CANDIDATE_BALLOT' | 'FOLLOWER_BALLOT' | 'LEADER_READY' | 'FOLLOWER_CATCHUP' | 'CLOSED';
export type Role = 'FOLLOWER' | 'CANDIDATE' | 'LEADER';

/** Aeron Cluster's defaults (CLUSTER.md §13), in ns. */
export const CONSENSUS_DEFAULTS = {
  electionTimeoutNs: 1_000_000_000,
  electionStatusIntervalNs: 100_000_000,
  leaderHeartbeatTimeoutNs: 10_000_000_000,
  leaderHeartbeatIntervalNs: 200_000_000,
  startupCanvassTimeoutNs: 60_000_000_000,
  /** Most log bytes in one LogData message. */
  maxBatchBytes: 16 * 1024,
} as const;

export type ConsensusSettings = { readonly [K in keyof typeof CONSENSUS_DEFAULTS]: number };

/** A follower sent no log since the commit position moved is told it on its own after this long. */
export const COMMIT_NOTICE_INTERVAL_NS = 1_000_000;

/** A follower that still finds the same gap in the leader's stream tells the leader again after this long. */
export const GAP_REPORT_INTERVAL_NS = 10_000_000;

/** Data of the entry a leader appends when its election closes (Aeron's NewLeadershipTermEvent). */
export const TERM_START_MARKER = 0xfe;

export interface ConsensusEnv {
  /** Sends a message; false when it could not be taken now (back pressure), so it was not sent. */
  send(to: number, message: ConsensusMessage): boolean | void;
  readonly random: Prng;
  /** Entries in log order as they become committed (each once per start of this member). */
  onCommitted?(entry: LogEntry): void;
  onRoleChange?(role: Role, leadershipTermId: number): void;
}

interface FollowerView {
  readonly memberId: number;
  /** Joined the current term (an AppendPosition of this term arrived). */
  joined: boolean;
  position: number;
  lastHeardNs: number;
  /** The log was sent up to here (resent from `position` on the heartbeat). */
  sentPosition: number;
  /** The commit position last sent (with the log or on its own), and when. */
  commitSent: number;
  commitSentNs: number;
}

interface CanvassView {
  readonly logTermId: number;
  readonly logPosition: number;
}

export class ConsensusMember {
  readonly memberId: number;
  readonly memberIds: readonly number[];
  readonly log: ConsensusLog;
  private readonly env: ConsensusEnv;
  private readonly settings: ConsensusSettings;
  private readonly others: number[];
  private readonly quorum: number;
  private roleValue: Role = 'FOLLOWER';
  private state: ElectionState = 'CANVASS';
  private termId: number;
  private leader = -1;
  private commit = 0;
  private applied = 0;
  private termBaseValue = 0;
  /** Follower catching up: its log is a prefix of the leader's (the leader said where they part). */
  private aligned = false;
  /** Leader: its log's term before the term it leads (what a follower's log most likely is). */
  private priorLogTermId = -1;
  private startup = true;
  private canvass = new Map<number, CanvassView>();
  private votes = new Map<number, boolean>();
  private followers = new Map<number, FollowerView>();
  /** The same views, for the leader's duty cycle to walk without an iterator or entry per turn. */
  private followerList: FollowerView[] = [];
  private deadlineNs = 0;
  private nextStatusNs = 0;
  private lastLeaderContactNs = 0;
  private lastQuorumNs = 0;
  private lastSentAppend = -1;
  private gapReportedPosition = -1;
  private gapReportedNs = 0;
  /** Times this follower told its leader of a gap in the stream it received. */
  gapsReported = 0;
  private readonly positionsScratch: Float64Array;
  /** Messages handled and duty cycles run, for tests. */
  stepDowns = 0;

  /**
   * `recoveredPosition`: the log position of the snapshot the member's services started from
   * (committed, an entry boundary of its log); entries after it are applied as the commit position
   * comes back. 0 without a snapshot.
   */
  constructor(memberId: number, memberIds: readonly number[], log: ConsensusLog, env: ConsensusEnv, nowNs: number, settings: Partial<ConsensusSettings> = {}, recoveredPosition = 0) {
    if (!memberIds.includes(memberId)) throw new SkeinError(ErrorCode.CONFIG_INVALID, `member ${memberId} is not one of the members ${memberIds.join(',')}`);
    if (new Set(memberIds).size !== memberIds.length) throw new SkeinError(ErrorCode.CONFIG_INVALID, `member ids ${memberIds.join(',')} repeat`);
    this.memberId = memberId;
    this.memberIds = memberIds;
    this.log = log;
    this.env = env;
    this.settings = { ...CONSENSUS_DEFAULTS, ...settings };
    this.others = memberIds.filter((m) => m !== memberId);
    this.quorum = Math.floor(memberIds.length / 2) + 1;
    this.positionsScratch = new Float64Array(memberIds.length);
    if (recoveredPosition !== log.appendPosition && !log.isEntryEnd(recoveredPosition)) {
      throw new SkeinError(ErrorCode.STORAGE_FAILED, `member ${memberId}: recovered position ${recoveredPosition} is not an entry end of its log (which ends at ${log.appendPosition})`);
    }
    if (recoveredPosition > log.appendPosition) throw new SkeinError(ErrorCode.STORAGE_FAILED, `member ${memberId}: recovered position ${recoveredPosition} is past its log's end ${log.appendPosition}`);
    this.applied = recoveredPosition;
    this.commit = recoveredPosition;
    this.termId = log.logTermId;
    if (log.candidateTermId < this.termId) log.candidateTermId = this.termId;
    if (this.others.length === 0) {
      log.candidateTermId++;
      this.becomeLeader(nowNs);
    } else {
      this.enterCanvass(nowNs);
    }
  }

  get role(): Role {
    return this.roleValue;
  }

  get electionState(): ElectionState {
    return this.state;
  }

  get leadershipTermId(): number {
    return this.termId;
  }

  get leaderId(): number {
    return this.leader;
  }

  get commitPosition(): number {
    return this.commit;
  }

  /** End of the last entry handed to onCommitted. */
  get appliedPosition(): number {
    return this.applied;
  }

  /** Appends a command to the log when leading a term whose election has closed; returns its position, or null. */
  offer(data: Uint8Array): number | null {
    if (this.roleValue !== 'LEADER' || this.state !== 'CLOSED') return null;
    return this.log.append(this.termId, data).position;
  }

  /** @internal One duty cycle (its owner calls it). */
  doWork(nowNs: number): number {
    let work = 0;
    switch (this.state) {
      case 'CANVASS':
      case 'NOMINATE':
        work += this.canvassWork(nowNs);
        break;
      case 'CANDIDATE_BALLOT':
        if (nowNs >= this.deadlineNs) {
          const yes = [...this.votes.values()].filter((v) => v).length;
          if (yes >= this.quorum) this.becomeLeader(nowNs);
          else this.enterCanvass(nowNs);
          work++;
        }
        break;
      case 'FOLLOWER_BALLOT':
        if (nowNs >= this.deadlineNs) {
          this.enterCanvass(nowNs);
          work++;
        }
        break;
      case 'LEADER_READY':
      case 'CLOSED':
        if (this.roleValue === 'LEADER') work += this.leaderWork(nowNs);
        else work += this.followerWork(nowNs);
        break;
      case 'FOLLOWER_CATCHUP':
        work += this.followerWork(nowNs);
        break;
    }
    return work;
  }

  onMessage(message: ConsensusMessage, nowNs: number): void {
    switch (message.type) {
      case 'canvass':
        this.canvass.set(message.from, { logTermId: message.logTermId, logPosition: message.logPosition });
        if (this.roleValue === 'FOLLOWER' && this.state === 'FOLLOWER_CATCHUP' && message.from === this.leader) return;
        if (this.roleValue !== 'LEADER') return;
        if (message.candidateTermId > this.termId) {
          // The member promised a newer term than this one (it voted in a ballot this leader never
          // saw) and cannot follow it: step down so that a newer term is elected.
          if (message.candidateTermId > this.log.candidateTermId) this.log.candidateTermId = message.candidateTermId;
          this.enterCanvass(nowNs);
        } else {
          this.sendNewLeadershipTerm(message.from);
        }
        return;
      case 'requestVote':
        this.onRequestVote(message.from, message.candidateTermId, message.logTermId, message.logPosition, nowNs);
        return;
      case 'vote':
        this.canvass.set(message.from, { logTermId: message.logTermId, logPosition: message.logPosition });
        if (this.state === 'CANDIDATE_BALLOT' && message.candidateTermId === this.log.candidateTermId) {
          this.votes.set(message.from, message.granted);
          if (this.votes.size === this.memberIds.length && [...this.votes.values()].every((v) => v)) this.becomeLeader(nowNs);
        }
        return;
      case 'newLeadershipTerm':
        this.onNewLeadershipTerm(message, nowNs);
        return;
      case 'catchupPosition':
        if (this.roleValue === 'LEADER' && message.leadershipTermId === this.termId) {
          const f = this.followers.get(message.from);
          if (f !== undefined) {
            f.lastHeardNs = nowNs;
            // A joined follower missed part of the stream: streaming starts again from where it is.
            if (f.joined && message.logPosition < f.sentPosition) f.sentPosition = message.logPosition;
          }
          this.sendLog(message.from, message.logPosition, nowNs);
        }
        return;
      case 'logData':
        this.onLogData(message, nowNs);
        return;
      case 'appendPosition': {
        if (this.roleValue !== 'LEADER' || message.leadershipTermId !== this.termId) return;
        const f = this.followers.get(message.from);
        if (f === undefined) return;
        f.joined = true;
        if (message.logPosition > f.position) f.position = message.logPosition;
        f.lastHeardNs = nowNs;
        return;
      }
      case 'commitPosition':
        if (message.leadershipTermId === this.termId && message.from === this.leader && this.roleValue === 'FOLLOWER') {
          this.lastLeaderContactNs = nowNs;
          this.learnCommit(message.logPosition);
        }
        return;
      case 'terminationPosition':
      case 'terminationAck':
        // The cluster node's business, not the consensus core's.
        return;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Election

  private enterCanvass(nowNs: number): void {
    if (this.roleValue !== 'FOLLOWER' || this.leader !== -1) this.stepDowns++;
    this.setRole('FOLLOWER');
    this.leader = -1;
    this.state = 'CANVASS';
    this.canvass = new Map();
    this.votes = new Map();
    this.followers = new Map();
    this.followerList = [];
    this.deadlineNs = nowNs + (this.startup ? this.settings.startupCanvassTimeoutNs : 0);
    this.nextStatusNs = nowNs;
  }

  private canvassWork(nowNs: number): number {
    let work = 0;
    if (nowNs >= this.nextStatusNs) {
      this.nextStatusNs = nowNs + this.settings.electionStatusIntervalNs;
      const message = this.canvassMessage();
      for (const m of this.others) this.env.send(m, message);
      work++;
    }
    const myTerm = this.log.logTermId;
    const myPosition = this.log.appendPosition;
    let noMoreRecent = 1;
    let moreRecent = false;
    for (const view of this.canvass.values()) {
      if (compareLogs(view.logTermId, view.logPosition, myTerm, myPosition) <= 0) noMoreRecent++;
      else moreRecent = true;
    }
    if (this.state === 'CANVASS') {
      const unanimous = noMoreRecent === this.memberIds.length;
      if (unanimous || (nowNs >= this.deadlineNs && noMoreRecent >= this.quorum)) {
        this.state = 'NOMINATE';
        this.deadlineNs = nowNs + Math.floor(this.env.random.nextDouble() * (this.settings.electionTimeoutNs / 2));
        work++;
      }
    } else if (moreRecent) {
      this.state = 'CANVASS';
      work++;
    } else if (nowNs >= this.deadlineNs) {
      this.log.candidateTermId = Math.max(this.log.candidateTermId, this.termId) + 1;
      this.setRole('CANDIDATE');
      this.state = 'CANDIDATE_BALLOT';
      this.votes = new Map([[this.memberId, true]]);
      this.deadlineNs = nowNs + this.settings.electionTimeoutNs;
      const message = { type: 'requestVote', from: this.memberId, candidateTermId: this.log.candidateTermId, logTermId: myTerm, logPosition: myPosition } as const;
      for (const m of this.others) this.env.send(m, message);
      work++;
    }
    return work;
  }

  private onRequestVote(from: number, candidateTermId: number, logTermId: number, logPosition: number, nowNs: number): void {
    if (candidateTermId <= this.log.candidateTermId) {
      this.sendVote(from, candidateTermId, false);
      return;
    }
    // Persisted before answering, so a restart never votes twice in one term.
    this.log.candidateTermId = candidateTermId;
    const granted = compareLogs(this.log.logTermId, this.log.appendPosition, logTermId, logPosition) <= 0;
    this.sendVote(from, candidateTermId, granted);
    // A term newer than the one this member leads or follows has begun: step down.
    if (this.state !== 'CANVASS' || this.roleValue !== 'FOLLOWER') this.enterCanvass(nowNs);
    if (granted) {
      this.state = 'FOLLOWER_BALLOT';
      this.deadlineNs = nowNs + this.settings.electionTimeoutNs;
    }
  }

  private sendVote(to: number, candidateTermId: number, granted: boolean): void {
    this.env.send(to, { type: 'vote', from: this.memberId, candidateTermId, logTermId: this.log.logTermId, logPosition: this.log.appendPosition, granted });
  }

  private canvassMessage(): ConsensusMessage {
    return { type: 'canvass', from: this.memberId, logTermId: this.log.logTermId, logPosition: this.log.appendPosition, candidateTermId: this.log.candidateTermId };
  }

  private becomeLeader(nowNs: number): void {
    this.priorLogTermId = this.log.logTermId;
    this.termId = this.log.candidateTermId;
    this.leader = this.memberId;
    this.setRole('LEADER');
    this.state = 'LEADER_READY';
    this.startup = false;
    this.termBaseValue = this.log.appendPosition;
    this.log.joinTerm(this.termId, this.termBaseValue);
    this.followerList = this.others.map((m) => ({ memberId: m, joined: false, position: -1, lastHeardNs: nowNs, sentPosition: 0, commitSent: -1, commitSentNs: nowNs }));
    this.followers = new Map(this.followerList.map((f) => [f.memberId, f]));
    this.lastQuorumNs = nowNs;
    this.nextStatusNs = nowNs;
    if (this.others.length === 0) this.closeLeaderElection();
  }

  private closeLeaderElection(): void {
    this.state = 'CLOSED';
    const data = new Uint8Array(9);
    data[0] = TERM_START_MARKER;
    new DataView(data.buffer).setFloat64(1, this.termId, true);
    this.log.append(this.termId, data);
  }

  private onNewLeadershipTerm(message: NewLeadershipTerm, nowNs: number): void {
    const { from, leadershipTermId } = message;
    if (leadershipTermId < this.log.candidateTermId || from === this.memberId) return;
    if (leadershipTermId === this.termId && this.leader === from && this.roleValue === 'FOLLOWER') {
      this.lastLeaderContactNs = nowNs;
      if (this.state === 'CLOSED') this.learnCommit(message.commitPosition);
      else this.catchUp(message);
      return;
    }
    if (this.roleValue === 'LEADER' && leadershipTermId === this.termId) return;
    if (this.roleValue !== 'FOLLOWER' || this.leader !== -1) this.stepDowns++;
    this.log.candidateTermId = leadershipTermId;
    this.termId = leadershipTermId;
    this.leader = from;
    this.startup = false;
    this.setRole('FOLLOWER');
    this.termBaseValue = message.termBase;
    this.lastLeaderContactNs = nowNs;
    this.lastSentAppend = -1;
    this.state = 'FOLLOWER_CATCHUP';
    this.aligned = false;
    this.nextStatusNs = nowNs + this.settings.leaderHeartbeatIntervalNs;
    this.catchUp(message);
  }

  /**
   * A follower of the leader that sent `message`, not yet in its term: drops what of its log
   * disagrees with the leader's as the message describes it, then joins the term or asks for the
   * leader's log from where it stands.
   */
  private catchUp(message: NewLeadershipTerm): void {
    if (this.log.termBase(this.termId) === this.termBaseValue) {
      this.joined();
      return;
    }
    if (this.aligned) return;
    const logTermId = this.log.logTermId;
    // About another log term than this member's (sent before it last reported): ask for one about its own.
    if (message.logTermId !== logTermId) {
      this.env.send(this.leader, this.canvassMessage());
      return;
    }
    if (message.nextTermBase === NULL_VALUE) {
      // The leader's log does not hold this member's log term: none of its entries were committed.
      const base = this.log.termBase(logTermId);
      assert(logTermId !== -1 && base !== undefined, `member ${this.memberId}: the leader of term ${this.termId} does not hold log term ${logTermId}`);
      this.truncateTo(base);
      this.log.forgetTerm(logTermId);
      this.env.send(this.leader, this.canvassMessage());
      return;
    }
    // Both hold the term, so the logs agree up to the shorter run of it: the leader's ends at nextTermBase.
    if (this.log.appendPosition > message.nextTermBase) this.truncateTo(message.nextTermBase);
    this.aligned = true;
    if (this.log.appendPosition === this.termBaseValue) {
      this.log.joinTerm(this.termId, this.termBaseValue);
      this.joined();
    } else {
      this.env.send(this.leader, { type: 'catchupPosition', from: this.memberId, leadershipTermId: this.termId, logPosition: this.log.appendPosition });
    }
  }

  private truncateTo(position: number): void {
    // Committed entries never change: a leader asking otherwise is a bug (the simulator looks for it).
    assert(position >= this.applied, `member ${this.memberId}: the leader of term ${this.termId} would truncate at ${position}, below what was applied (${this.applied})`);
    this.log.truncate(position);
  }

  private joined(): void {
    this.aligned = true;
    if (this.state === 'FOLLOWER_CATCHUP') this.state = 'CLOSED';
    this.sendAppendPosition();
  }

  // ---------------------------------------------------------------------------------------------
  // Follower

  private followerWork(nowNs: number): number {
    if (nowNs - this.lastLeaderContactNs >= this.settings.leaderHeartbeatTimeoutNs) {
      this.enterCanvass(nowNs);
      return 1;
    }
    if (nowNs < this.nextStatusNs) {
      // What became durable since the last report is acknowledged at once.
      if (this.state === 'CLOSED' && this.log.durablePosition !== this.lastSentAppend) {
        this.sendAppendPosition();
        return 1;
      }
      return 0;
    }
    this.nextStatusNs = nowNs + this.settings.leaderHeartbeatIntervalNs;
    if (this.state === 'FOLLOWER_CATCHUP') {
      if (this.aligned) this.env.send(this.leader, { type: 'catchupPosition', from: this.memberId, leadershipTermId: this.termId, logPosition: this.log.appendPosition });
      else this.env.send(this.leader, this.canvassMessage());
    } else {
      this.sendAppendPosition();
    }
    return 1;
  }

  private onLogData(message: LogData, nowNs: number): void {
    if (this.roleValue !== 'FOLLOWER' || message.leadershipTermId !== this.termId || message.from !== this.leader || !this.aligned) return;
    this.lastLeaderContactNs = nowNs;
    // The entries follow each other in the leader's log from message.position (an entry end there).
    let previousEnd = message.position;
    for (const entry of message.entries) {
      const end = this.log.appendPosition;
      const follows = previousEnd === end;
      previousEnd = entry.position + entry.length;
      if (entry.position < end) continue;
      // Not the entry that comes next here (one is missing): the leader is told where this log
      // ends, once per gap (again after GAP_REPORT_INTERVAL_NS), and streams again from there.
      if (!follows) {
        if (this.state === 'CLOSED' && (end !== this.gapReportedPosition || nowNs - this.gapReportedNs >= GAP_REPORT_INTERVAL_NS)) {
          this.gapReportedPosition = end;
          this.gapReportedNs = nowNs;
          this.gapsReported++;
          this.env.send(this.leader, { type: 'catchupPosition', from: this.memberId, leadershipTermId: this.termId, logPosition: end });
        }
        break;
      }
      const placed = placeEntry(end, entry.data.length, this.log.layout);
      if (entry.position !== placed) failAssertion(`member ${this.memberId}: the leader's entry at ${entry.position} would be placed at ${placed} here: the logs' layouts differ`);
      if (entry.termId === this.termId && this.log.termBase(this.termId) === undefined) {
        if (end !== this.termBaseValue) break;
        this.log.joinTerm(this.termId, this.termBaseValue);
      }
      const appended = this.log.append(entry.termId, entry.data);
      if (appended.position !== entry.position || appended.length !== entry.length) failAssertion(`member ${this.memberId}: the leader's entry at ${entry.position} (${entry.length} bytes) landed at ${appended.position} (${appended.length} bytes): the logs' layouts differ`);
    }
    if (this.log.termBase(this.termId) === undefined && this.log.appendPosition === this.termBaseValue) this.log.joinTerm(this.termId, this.termBaseValue);
    if (this.log.termBase(this.termId) === this.termBaseValue) {
      if (this.state === 'FOLLOWER_CATCHUP') this.state = 'CLOSED';
      this.learnCommit(message.commitPosition);
      if (this.log.durablePosition !== this.lastSentAppend) this.sendAppendPosition();
    } else if (message.entries.length > 0) {
      // More to catch up: ask for the next part now rather than on the next interval.
      this.env.send(this.leader, { type: 'catchupPosition', from: this.memberId, leadershipTermId: this.termId, logPosition: this.log.appendPosition });
    }
  }

  /** What this member's log holds durably: what a crash would not take back. */
  private sendAppendPosition(): void {
    this.lastSentAppend = this.log.durablePosition;
    this.env.send(this.leader, { type: 'appendPosition', from: this.memberId, leadershipTermId: this.termId, logPosition: this.lastSentAppend });
  }

  /** A follower's commit: the leader's, but never past what this member holds of the leader's log. */
  private learnCommit(position: number): void {
    if (this.state !== 'CLOSED') return;
    const bounded = Math.min(position, this.log.appendPosition);
    if (bounded > this.commit) this.commit = bounded;
    this.applyCommitted();
  }

  // ---------------------------------------------------------------------------------------------
  // Leader

  private leaderWork(nowNs: number): number {
    let work = 0;
    let heard = 1;
    let joined = 1;
    const followers = this.followerList;
    for (let i = 0; i < followers.length; i++) {
      const f = followers[i]!;
      if (nowNs - f.lastHeardNs < this.settings.leaderHeartbeatTimeoutNs) heard++;
      if (f.joined) joined++;
    }
    if (heard >= this.quorum) this.lastQuorumNs = nowNs;
    else if (nowNs - this.lastQuorumNs >= this.settings.leaderHeartbeatTimeoutNs) {
      this.enterCanvass(nowNs);
      return 1;
    }
    if (this.state === 'LEADER_READY' && joined >= this.quorum) {
      this.closeLeaderElection();
      work++;
    }
    // Stream new entries to joined followers at once.
    for (let i = 0; i < followers.length; i++) {
      const f = followers[i]!;
      // Work only when it went: a follower that cannot take it (gone, window full) keeps no duty cycle turning.
      if (f.joined && f.sentPosition < this.log.appendPosition && f.sentPosition >= f.position && this.sendLog(f.memberId, f.sentPosition, nowNs)) work++;
    }
    if (this.state === 'CLOSED') this.advanceCommit(nowNs);
    if (nowNs >= this.nextStatusNs) {
      this.nextStatusNs = nowNs + this.settings.leaderHeartbeatIntervalNs;
      for (let i = 0; i < followers.length; i++) {
        const f = followers[i]!;
        if (!f.joined) this.sendNewLeadershipTerm(f.memberId);
        else {
          this.sendCommitPosition(f.memberId, f, nowNs);
          // What was sent and not acknowledged is sent again from the follower's position.
          if (f.position < this.log.appendPosition) this.sendLog(f.memberId, f.position, nowNs);
        }
      }
      work++;
    }
    return work;
  }

  private advanceCommit(nowNs: number): void {
    // The quorum-th highest position, without allocating on the leader's duty cycle.
    const positions = this.positionsScratch;
    let n = 0;
    positions[n++] = this.log.durablePosition;
    const followers = this.followerList;
    for (let i = 0; i < followers.length; i++) {
      const f = followers[i]!;
      if (f.joined && nowNs - f.lastHeardNs < this.settings.leaderHeartbeatTimeoutNs) positions[n++] = f.position;
    }
    if (n < this.quorum) return;
    // Ascending by insertion: a handful of members, and no view or comparator per turn.
    for (let i = 1; i < n; i++) {
      const p = positions[i]!;
      let j = i - 1;
      for (; j >= 0 && positions[j]! > p; j--) positions[j + 1] = positions[j]!;
      positions[j + 1] = p;
    }
    const quorumPosition = positions[n - this.quorum]!;
    if (quorumPosition > this.commit) this.commit = quorumPosition;
    // Followers learn the commit position from the log the leader streams to them; one that was
    // sent none since the commit moved is told on its own, at most every COMMIT_NOTICE_INTERVAL_NS
    // (under load the log goes every duty cycle and no separate message is needed).
    for (let i = 0; i < followers.length; i++) {
      const f = followers[i]!;
      if (f.joined && f.commitSent < this.commit && nowNs - f.commitSentNs >= COMMIT_NOTICE_INTERVAL_NS) this.sendCommitPosition(f.memberId, f, nowNs);
    }
    this.applyCommitted();
  }

  /** NewLeadershipTerm for one member, describing its log term (as it last reported it) in this leader's log. */
  private sendNewLeadershipTerm(to: number): void {
    const logTermId = this.canvass.get(to)?.logTermId ?? this.priorLogTermId;
    let nextTermId = NULL_VALUE;
    let nextTermBase = NULL_VALUE;
    let nextLogPosition = NULL_VALUE;
    if (logTermId < this.termId && (logTermId === -1 || this.log.termBase(logTermId) !== undefined)) {
      const next = this.log.nextTerm(logTermId);
      assert(next !== undefined, `leader ${this.memberId} of term ${this.termId}: no term after ${logTermId} in its log`);
      nextTermId = next.termId;
      nextTermBase = next.base;
      nextLogPosition = this.log.nextTerm(next.termId)?.base ?? this.log.appendPosition;
    }
    this.env.send(to, {
      type: 'newLeadershipTerm', from: this.memberId, logTermId, nextTermId, nextTermBase, nextLogPosition,
      leadershipTermId: this.termId, termBase: this.termBaseValue, logPosition: this.log.appendPosition, commitPosition: this.commit,
    });
  }

  private sendCommitPosition(to: number, f: FollowerView, nowNs: number): void {
    if (this.env.send(to, { type: 'commitPosition', from: this.memberId, leadershipTermId: this.termId, logPosition: this.commit }) === false) return;
    f.commitSent = this.commit;
    f.commitSentNs = nowNs;
  }

  /** Sends the log from `position` (an entry boundary in this log; nothing when it is not); false when it was not taken. */
  private sendLog(to: number, position: number, nowNs: number): boolean {
    const entries = this.log.entriesFrom(position, this.settings.maxBatchBytes);
    const end = entries.length === 0 ? position : entries[entries.length - 1]!.position + entries[entries.length - 1]!.length;
    const sent = this.env.send(to, {
      type: 'logData', from: this.memberId, leadershipTermId: this.termId, termBase: this.termBaseValue, position, entries, commitPosition: this.commit,
    });
    // Streaming goes on from what was sent; a batch not taken (back pressure) is offered again next time.
    const f = this.followers.get(to);
    if (f !== undefined && sent !== false) {
      f.sentPosition = Math.max(f.joined ? f.sentPosition : 0, end);
      f.commitSent = this.commit;
      f.commitSentNs = nowNs;
    }
    return sent !== false;
  }

  // ---------------------------------------------------------------------------------------------

  private applyCommitted(): void {
    const from = this.applied;
    while (this.applied < this.commit) {
      const entry = this.log.entryFrom(this.applied);
      if (entry === undefined || entry.position + entry.length > this.commit) break;
      this.applied = entry.position + entry.length;
      this.env.onCommitted?.(entry);
    }
    // Applied entries are never truncated: a log with storage may let the old ones leave memory.
    if (this.applied !== from) this.log.releaseBefore?.(this.applied);
  }

  private setRole(role: Role): void {
    if (this.roleValue === role) return;
    this.roleValue = role;
    this.env.onRoleChange?.(role, this.termId);
  }
}
