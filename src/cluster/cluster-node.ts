/**
 * One member of a cluster as a whole (docs/cluster.md, "Cluster node"): the consensus core, the
 * service container with its service, the recording log, and the duties of Aeron's consensus
 * module that sit between them — client ingress (append a command when leading, else say who
 * leads), timer events appended by the leader when timers fall due, snapshots on request and on a
 * schedule, and recovery from the latest snapshot at start. Transport, clocks and storage are
 * given to it, so the same node runs under the simulator and, wired to Skein, in a process.
 */
import type { Prng } from '../env/prng.js';
import type { Files } from '../env/files.js';
import { CONSENSUS_DEFAULTS, ConsensusMember, type ConsensusSettings, type Role } from './consensus/consensus-member.js';
import type { ConsensusLog, LogEntry } from './consensus/consensus-log.js';
import { NULL_VALUE, type ConsensusMessage } from './consensus/consensus-messages.js';
import { ClusterAction, CloseReason, EntryKind, encodeClusterAction, encodeSessionClose, encodeSessionMessage, encodeSessionOpen, encodeTimerEvent, type SessionResponse } from './service/cluster-entries.js';
import { ServiceContainer, type ClusteredService } from './service/service-container.js';
import { CONSENSUS_MODULE_SERVICE_ID, RecordingLog } from './recording-log.js';
import { ErrorCode, SkeinError } from '../util/errors.js';

/** What a snapshot is of: the log position and term it was taken at, and whose it is (Aeron's service id; -1 the consensus module). */
export interface SnapshotMeta {
  readonly position: number;
  readonly termId: number;
  readonly serviceId: number;
  readonly timestamp: number;
}

/**
 * Where snapshots are kept (an archive's recordings in a full member). A write may complete later
 * (a recording is made asynchronously); writes complete in the order they were made.
 */
export interface SnapshotStore {
  /** Stores the bytes; returns (or resolves to) the recording id that reads them back. */
  write(bytes: Uint8Array, meta: SnapshotMeta): number | Promise<number>;
  /** The bytes of a snapshot, read at start-up (a store that reads asynchronously fetches them beforehand). */
  read(recordingId: number): Uint8Array | undefined;
}

export interface ClusterNodeOptions {
  readonly memberId: number;
  readonly memberIds: readonly number[];
  readonly log: ConsensusLog;
  readonly service: ClusteredService;
  readonly files: Files;
  readonly clusterDir: string;
  readonly snapshots: SnapshotStore;
  readonly send: (to: number, message: ConsensusMessage) => void;
  /** Answers to clients; called only while this node leads. */
  readonly egress: (sessionId: number, sequence: number, answer: Uint8Array) => void;
  /** Commands that were not applied and never will be (session closed or not open); only while this node leads. */
  readonly reject?: (sessionId: number, sequence: number, reason: string) => void;
  /** The leader closes a session it has heard nothing from for this long (Aeron's session timeout). @default DEFAULT_SESSION_TIMEOUT_NS */
  readonly sessionTimeoutNs?: number;
  readonly random: Prng;
  /** Cluster time the leader stamps on entries (ms of its wall clock). */
  readonly clusterClock: () => number;
  readonly nowNs: number;
  readonly settings?: Partial<ConsensusSettings>;
  /** The leader asks for a snapshot this often, in ns (0: only on request). @default 0 */
  readonly snapshotIntervalNs?: number;
  readonly refuseNondeterminism?: boolean;
  /** Answers each open session keeps besides its last, for resends of earlier commands. @default DEFAULT_RECENT_ANSWERS (256) */
  readonly recentAnswers?: number;
  /** After each committed entry is applied (and before a snapshot it asked for is stored). */
  readonly onApplied?: (entry: LogEntry) => void;
  readonly onRoleChange?: (role: Role, leadershipTermId: number) => void;
  /** @default DEFAULT_TERMINATION_TIMEOUT_NS */
  readonly terminationTimeoutNs?: number;
  /** A session's open was applied (on every member), from an entry of leadership term `termId`. */
  readonly onSessionOpened?: (sessionId: number, termId: number) => void;
  /** A session's close was applied (on every member; `reason` as Aeron's CloseReason). */
  readonly onSessionClosed?: (sessionId: number, reason: CloseReason) => void;
  /** Told once when the node terminates (after the service's onTerminate), with why. */
  readonly onTerminated?: (reason: string) => void;
}

export type IngressResult = { readonly accepted: true; readonly position: number } | { readonly accepted: false; readonly leaderId: number };
/** An accepted connect: the new session, and where its SESSION_OPEN begins in the log. */
export type ConnectResult = { readonly accepted: true; readonly sessionId: number; readonly position: number } | { readonly accepted: false; readonly leaderId: number };

/**
 * ACTIVE: serving. SUSPENDED (a SUSPEND action in the log, until RESUME): no client messages, no
 * timers, no session timeouts, while consensus goes on. TERMINATING: a termination position is set
 * (shutdown or abort); the node runs on until its log is applied there. CLOSED: terminated; it
 * does nothing more.
 */
export type NodeState = 'ACTIVE' | 'SUSPENDED' | 'TERMINATING' | 'CLOSED';

/** Aeron's `aeron.cluster.session.timeout`. */
export const DEFAULT_SESSION_TIMEOUT_NS = 10_000_000_000;
/** How often a leader looks for sessions past their timeout (at most this late). */
const SESSION_CHECK_INTERVAL_NS = 10_000_000;

/** Aeron's `aeron.cluster.termination.timeout`: how long a leader waits for followers' acks. */
export const DEFAULT_TERMINATION_TIMEOUT_NS = 10_000_000_000;

export class ClusterNode {
  readonly member: ConsensusMember;
  readonly container: ServiceContainer;
  readonly recordingLog: RecordingLog;
  /** The log position of the snapshot this node recovered from, or 0. */
  readonly recoveredPosition: number;
  private readonly options: ClusterNodeOptions;
  private readonly snapshotIntervalNs: number;
  private nextSnapshotNs: number;
  private nextSessionCheckNs = 0;
  /** Snapshots taken and not stored yet (waiting for the log to be durable up to them), oldest first. */
  private readonly pendingSnapshots: { position: number; bytes: Uint8Array; termId: number; timestamp: number }[] = [];
  /** Timer events appended by this leader and not applied yet (not appended twice). */
  private readonly timersInFlight = new Set<number>();
  private applyingTermId = 0;
  snapshotsStored = 0;
  /** Snapshot sets being written by a store that writes asynchronously. */
  private snapshotsWriting = 0;
  private failureValue: SkeinError | null = null;
  private stateValue: NodeState = 'ACTIVE';
  private terminationPosition = -1;
  private terminationTermId = -1;
  private terminationDeadlineNs = 0;
  private nextTerminationNoticeNs = 0;
  private readonly terminationAcks = new Set<number>();
  private terminationLeader = -1;
  /** Leader only: when each open session was last heard from (local, not replicated: a new leader starts the clocks again). */
  private readonly lastHeardNs = new Map<number, number>();
  /** Leader only: sessions whose open or close is appended and not applied yet. */
  private readonly openAppended = new Set<number>();
  /** Leader only: the last session id it gave out (not reused before its open is applied). */
  private lastSessionIdAssigned = 0;
  private readonly closeAppended = new Set<number>();
  /** Leader only: the highest sequence it appended per session in its term (a resend up to it is not appended again; applied ones are caught first). */
  private readonly appendedSequence = new Map<number, number>();
  /** Resent commands the leader did not append again (answered from the table, or on their way). */
  resendsAbsorbed = 0;
  /** Whether the last SUSPEND or RESUME action applied was a SUSPEND: the state a member takes at a role change. */
  private appliedSuspended = false;
  private lastNowNs: number;

  constructor(options: ClusterNodeOptions) {
    this.options = options;
    this.snapshotIntervalNs = options.snapshotIntervalNs ?? 0;
    this.nextSnapshotNs = options.nowNs + this.snapshotIntervalNs;
    this.lastNowNs = options.nowNs;
    this.recordingLog = RecordingLog.open({ files: options.files, clusterDir: options.clusterDir });
    let recovered: { position: number; bytes: Uint8Array } | undefined;
    try {
      const plan = this.recordingLog.recoveryPlan(1, () => undefined);
      if (plan.snapshots.length > 0) {
        const head = plan.snapshots[0]!;
        const bytes = options.snapshots.read(plan.snapshots[1]!.recordingId);
        if (bytes === undefined) {
          throw new SkeinError(ErrorCode.STORAGE_FAILED, `member ${options.memberId}: the recording log names snapshot recording ${plan.snapshots[1]!.recordingId}, which the snapshot store does not hold`);
        }
        recovered = { position: head.logPosition, bytes };
      }
    } catch (error) {
      this.recordingLog.close();
      throw error;
    }
    this.recoveredPosition = recovered?.position ?? 0;
    this.container = new ServiceContainer({
      service: options.service,
      egress: options.egress,
      ...(options.reject === undefined ? {} : { reject: options.reject }),
      ...(options.refuseNondeterminism === undefined ? {} : { refuseNondeterminism: options.refuseNondeterminism }),
      ...(options.recentAnswers === undefined ? {} : { recentAnswers: options.recentAnswers }),
      ...(recovered === undefined ? {} : { snapshot: recovered }),
      onSnapshot: (position, bytes) => {
        this.pendingSnapshots.push({ position, bytes, termId: this.applyingTermId, timestamp: this.options.clusterClock() });
      },
    });
    this.member = new ConsensusMember(
      options.memberId,
      options.memberIds,
      options.log,
      {
        random: options.random,
        send: options.send,
        onCommitted: (entry) => this.apply(entry),
        onRoleChange: (role, termId) => {
          this.timersInFlight.clear();
          this.lastHeardNs.clear();
          this.openAppended.clear();
          this.closeAppended.clear();
          this.appendedSequence.clear();
          // What this node appended as leader may not survive the new term: the applied log says whether the cluster is suspended.
          if (this.stateValue === 'ACTIVE' || this.stateValue === 'SUSPENDED') this.stateValue = this.appliedSuspended ? 'SUSPENDED' : 'ACTIVE';
          this.container.setRole(role === 'LEADER' ? 'LEADER' : 'FOLLOWER');
          options.onRoleChange?.(role, termId);
        },
      },
      options.nowNs,
      options.settings,
      this.recoveredPosition,
    );
    this.container.setRole(this.member.role === 'LEADER' ? 'LEADER' : 'FOLLOWER');
  }

  /** Leading a term whose election has closed: commands are taken. */
  get isActiveLeader(): boolean {
    return this.stateValue === 'ACTIVE' && this.member.role === 'LEADER' && this.member.electionState === 'CLOSED';
  }

  /** Leading a term whose election has closed, taking commands or suspended. */
  get isLeader(): boolean {
    return (this.stateValue === 'ACTIVE' || this.stateValue === 'SUSPENDED') && this.member.role === 'LEADER' && this.member.electionState === 'CLOSED';
  }

  /**
   * Suspends the cluster (leader only, when ACTIVE): a SUSPEND action in the log, after which no
   * member takes client messages, fires timers or times sessions out until RESUME. False when not
   * an active leader.
   */
  suspend(): boolean {
    if (!this.isActiveLeader) return false;
    this.member.offer(encodeClusterAction(ClusterAction.SUSPEND, this.options.clusterClock()));
    this.stateValue = 'SUSPENDED';
    return true;
  }

  /** Resumes a suspended cluster (leader only): a RESUME action in the log. False when not a suspended leader. */
  resume(nowNs: number): boolean {
    if (this.stateValue !== 'SUSPENDED' || !this.isLeader) return false;
    this.member.offer(encodeClusterAction(ClusterAction.RESUME, this.options.clusterClock()));
    this.toActive(nowNs);
    return true;
  }

  private toActive(nowNs: number): void {
    this.stateValue = 'ACTIVE';
    // Keep-alives were not read while suspended: every session's silence counts from now.
    for (const id of this.lastHeardNs.keys()) this.lastHeardNs.set(id, nowNs);
  }

  get state(): NodeState {
    return this.stateValue;
  }

  /** The position the cluster terminates at, -1 when none is set. */
  get terminationLogPosition(): number {
    return this.terminationPosition;
  }

  onMessage(message: ConsensusMessage, nowNs: number): void {
    if (this.stateValue === 'CLOSED') {
      // Still say so, in case the leader did not hear the first ack.
      if (message.type === 'terminationPosition' && message.logPosition === this.terminationPosition) this.sendAck(message.from !== NULL_VALUE ? message.from : this.terminationLeader);
      return;
    }
    if (message.type === 'terminationPosition') {
      if (this.member.role === 'LEADER' || message.leadershipTermId < this.member.leadershipTermId) return;
      this.stateValue = 'TERMINATING';
      this.terminationPosition = message.logPosition;
      this.terminationTermId = message.leadershipTermId;
      // Aeron's TerminationPosition names no sender: the leader of its term, when this member knows it.
      this.terminationLeader = message.from !== NULL_VALUE ? message.from : message.leadershipTermId === this.member.leadershipTermId ? this.member.leaderId : NULL_VALUE;
      this.checkTermination(nowNs);
      return;
    }
    if (message.type === 'terminationAck') {
      if (this.member.role === 'LEADER' && message.logPosition === this.terminationPosition) this.terminationAcks.add(message.from);
      return;
    }
    this.member.onMessage(message, nowNs);
    if (this.stateValue === 'TERMINATING') this.checkTermination(nowNs);
  }

  /**
   * Orderly shutdown (leader only): a snapshot at the termination position T (the position after the
   * SNAPSHOT action), TerminationPosition(T) to every follower until it acks, then terminate once this
   * node applied T and every follower acked, or terminationTimeout passed. False when not leading.
   */
  shutdown(nowNs: number): boolean {
    if (!this.isActiveLeader) return false;
    this.member.offer(encodeClusterAction(ClusterAction.SNAPSHOT, this.options.clusterClock()));
    this.beginTermination(nowNs);
    return true;
  }

  /** As shutdown, without the snapshot: terminate at the current end of the log. False when not leading. */
  abort(nowNs: number): boolean {
    if (!this.isActiveLeader) return false;
    this.beginTermination(nowNs);
    return true;
  }

  private beginTermination(nowNs: number): void {
    this.stateValue = 'TERMINATING';
    this.terminationPosition = this.options.log.appendPosition;
    this.terminationTermId = this.member.leadershipTermId;
    this.terminationDeadlineNs = nowNs + (this.options.terminationTimeoutNs ?? DEFAULT_TERMINATION_TIMEOUT_NS);
    this.nextTerminationNoticeNs = nowNs;
  }

  private sendAck(to: number): void {
    if (to === NULL_VALUE) return;
    this.options.send(to, { type: 'terminationAck', from: this.options.memberId, leadershipTermId: this.terminationTermId, logPosition: this.terminationPosition });
  }

  private checkTermination(nowNs: number): void {
    if (this.stateValue !== 'TERMINATING' || this.member.appliedPosition < this.terminationPosition) return;
    // The log (and the shutdown snapshot with it) durable up to the termination position first.
    this.storePendingSnapshot();
    if (this.options.log.durablePosition < this.terminationPosition || this.pendingSnapshots.length > 0 || this.snapshotsWriting > 0) return;
    if (this.member.role === 'LEADER') {
      const followers = this.options.memberIds.filter((m) => m !== this.options.memberId);
      const allAcked = followers.every((m) => this.terminationAcks.has(m));
      if (!allAcked && nowNs < this.terminationDeadlineNs) return;
      this.terminate(allAcked ? 'shut down: every member reached the termination position' : `shut down: terminationTimeout passed without an ack from member(s) ${followers.filter((m) => !this.terminationAcks.has(m)).join(', ')}`);
      return;
    }
    this.sendAck(this.terminationLeader);
    this.terminate('reached the termination position the leader set');
  }

  private terminate(reason: string): void {
    this.stateValue = 'CLOSED';
    this.container.terminate();
    this.recordingLog.close();
    this.options.onTerminated?.(reason);
  }

  /**
   * A client command: appended (stamped with cluster time) when this node leads, after a
   * SESSION_OPEN when the session is new; else the leader it knows (-1: none).
   */
  onIngress(sessionId: number, sequence: number, command: Uint8Array): IngressResult {
    if (!this.isActiveLeader) return { accepted: false, leaderId: this.stateValue === 'ACTIVE' ? this.member.leaderId : -1 };
    const time = this.options.clusterClock();
    if (!this.container.isOpen(sessionId) && !this.container.isClosed(sessionId) && !this.openAppended.has(sessionId)) {
      this.openAppended.add(sessionId);
      this.member.offer(encodeSessionOpen(sessionId, time));
    }
    this.lastHeardNs.set(sessionId, this.lastNowNs);
    const tracked = sequence > 0 && this.isSessionOpen(sessionId);
    if (tracked) {
      // A resend: applied already (answered again from the session table, or from the session's
      // recent answers for an earlier one), or appended by this leader and on its way. Not
      // appended again, so that clients resending under load add no work to the log.
      const applied = this.container.lastSequence(sessionId);
      if (sequence <= applied) {
        const again = this.container.answerTo(sessionId, sequence);
        if (again !== undefined) this.options.egress(sessionId, sequence, again);
        this.resendsAbsorbed++;
        return { accepted: true, position: this.member.appliedPosition };
      }
      if (sequence <= (this.appendedSequence.get(sessionId) ?? 0)) {
        this.resendsAbsorbed++;
        return { accepted: true, position: this.options.log.appendPosition };
      }
    }
    const position = this.member.offer(encodeSessionMessage(sessionId, sequence, time, command))!;
    // Only once appended: a command the log refused (too long) is not taken for one on its way.
    if (tracked) this.appendedSequence.set(sessionId, sequence);
    return { accepted: true, position };
  }

  /**
   * A client connects over the network (Aeron's SessionConnectRequest): when leading, a new session
   * (numbered after every session opened so far, here and in the log) opened by a SESSION_OPEN that
   * carries where the client takes its answers; else the leader this node knows (-1: none).
   */
  connect(response: SessionResponse): ConnectResult {
    if (!this.isActiveLeader) return { accepted: false, leaderId: this.stateValue === 'ACTIVE' ? this.member.leaderId : -1 };
    let highest = Math.max(this.container.highestSessionId(), this.lastSessionIdAssigned);
    for (const id of this.openAppended) if (id > highest) highest = id;
    const sessionId = highest + 1;
    this.lastSessionIdAssigned = sessionId;
    this.openAppended.add(sessionId);
    const position = this.options.log.appendPosition;
    this.member.offer(encodeSessionOpen(sessionId, this.options.clusterClock(), response));
    this.lastHeardNs.set(sessionId, this.lastNowNs);
    return { accepted: true, sessionId, position };
  }

  /** Whether a session is open in the state this node applied, or its open is appended by this leader. */
  isSessionOpen(sessionId: number): boolean {
    return this.container.isOpen(sessionId) || (this.openAppended.has(sessionId) && !this.container.isClosed(sessionId));
  }

  /** A client is alive without a command (Aeron's SessionKeepAlive): its session does not time out. */
  onKeepAlive(sessionId: number): boolean {
    if (!this.isActiveLeader || !this.container.isOpen(sessionId)) return false;
    this.lastHeardNs.set(sessionId, this.lastNowNs);
    return true;
  }

  /** The client closes its session (appends SESSION_CLOSE with CLIENT_ACTION); false when not leading or not open. */
  closeSession(sessionId: number): boolean {
    if (!this.isActiveLeader || !this.container.isOpen(sessionId)) return false;
    this.appendClose(sessionId, CloseReason.CLIENT_ACTION);
    return true;
  }

  /**
   * The leader closes a session as if it had timed out (TIMEOUT), for a client that does not take
   * its answers; false when not leading, not open or its close is appended already.
   */
  timeOutSession(sessionId: number): boolean {
    if (!this.isActiveLeader || !this.container.isOpen(sessionId) || this.closeAppended.has(sessionId)) return false;
    this.appendClose(sessionId, CloseReason.TIMEOUT);
    return true;
  }

  private appendClose(sessionId: number, reason: CloseReason): void {
    if (this.closeAppended.has(sessionId)) return;
    this.closeAppended.add(sessionId);
    this.member.offer(encodeSessionClose(sessionId, reason, this.options.clusterClock()));
  }

  /** Asks for a snapshot of every member at the same position; false when this node does not lead. */
  requestSnapshot(): boolean {
    if (!this.isActiveLeader) return false;
    this.member.offer(encodeClusterAction(ClusterAction.SNAPSHOT, this.options.clusterClock()));
    return true;
  }

  /** @internal One duty cycle (its owner calls it). */
  doWork(nowNs: number): number {
    if (this.stateValue === 'CLOSED') return 0;
    this.lastNowNs = nowNs;
    let work = this.member.doWork(nowNs);
    if (this.pendingSnapshots.length > 0) this.storePendingSnapshot();
    if (this.stateValue === 'TERMINATING') {
      if (this.member.role === 'LEADER' && nowNs >= this.nextTerminationNoticeNs) {
        this.nextTerminationNoticeNs = nowNs + CONSENSUS_DEFAULTS.leaderHeartbeatIntervalNs;
        for (const m of this.options.memberIds) {
          if (m !== this.options.memberId && !this.terminationAcks.has(m)) {
            this.options.send(m, { type: 'terminationPosition', from: this.options.memberId, leadershipTermId: this.terminationTermId, logPosition: this.terminationPosition });
          }
        }
        work++;
      }
      this.checkTermination(nowNs);
      return work;
    }
    if (!this.isActiveLeader) return work;
    if (this.container.timerCount > 0) {
      const time = this.options.clusterClock();
      for (const id of this.container.dueTimers(time)) {
        if (this.timersInFlight.has(id)) continue;
        this.timersInFlight.add(id);
        this.member.offer(encodeTimerEvent(id, time));
        work++;
      }
    }
    // Sessions' timeouts are looked at every SESSION_CHECK_INTERVAL_NS, not on every duty cycle.
    if (nowNs >= this.nextSessionCheckNs) {
      this.nextSessionCheckNs = nowNs + SESSION_CHECK_INTERVAL_NS;
      const sessionTimeoutNs = this.options.sessionTimeoutNs ?? DEFAULT_SESSION_TIMEOUT_NS;
      for (const id of this.container.openSessionIds()) {
        const heard = this.lastHeardNs.get(id);
        if (heard === undefined) this.lastHeardNs.set(id, nowNs);
        else if (nowNs - heard >= sessionTimeoutNs && !this.closeAppended.has(id)) {
          this.appendClose(id, CloseReason.TIMEOUT);
          work++;
        }
      }
    }
    if (this.snapshotIntervalNs > 0 && nowNs >= this.nextSnapshotNs) {
      this.nextSnapshotNs = nowNs + this.snapshotIntervalNs;
      this.requestSnapshot();
      work++;
    }
    return work;
  }

  /**
   * Stops the node where it is (its process is going away): it is CLOSED and does nothing more,
   * and its recording log is released. The service is not told: `shutdown` and `abort` are the
   * orderly ends. Idempotent.
   */
  close(): void {
    this.stateValue = 'CLOSED';
    this.recordingLog.close();
  }

  private apply(entry: LogEntry): void {
    this.applyingTermId = entry.termId;
    this.container.apply(entry);
    if (entry.data[0] === EntryKind.CLUSTER_ACTION && (entry.data[1] === ClusterAction.SUSPEND || entry.data[1] === ClusterAction.RESUME)) {
      this.appliedSuspended = entry.data[1] === ClusterAction.SUSPEND;
      // A leader took its own (this term's) into effect as it appended them.
      if (this.member.role !== 'LEADER' || entry.termId !== this.member.leadershipTermId) {
        if (this.appliedSuspended && this.stateValue === 'ACTIVE') this.stateValue = 'SUSPENDED';
        else if (!this.appliedSuspended && this.stateValue === 'SUSPENDED') this.toActive(this.lastNowNs);
      }
    }
    if (entry.data[0] === EntryKind.SESSION_OPEN || entry.data[0] === EntryKind.SESSION_CLOSE) {
      const id = new DataView(entry.data.buffer, entry.data.byteOffset, entry.data.byteLength).getFloat64(1, true);
      this.openAppended.delete(id);
      this.closeAppended.delete(id);
      if (entry.data[0] === EntryKind.SESSION_OPEN) this.options.onSessionOpened?.(id, entry.termId);
      if (entry.data[0] === EntryKind.SESSION_CLOSE) {
        this.lastHeardNs.delete(id);
        this.appendedSequence.delete(id);
        this.options.onSessionClosed?.(id, entry.data[9]! as CloseReason);
      }
    }
    if (entry.data[0] === EntryKind.TIMER) {
      // A timer event of this leader applied: it may be appended again only if rescheduled.
      this.timersInFlight.delete(new DataView(entry.data.buffer, entry.data.byteOffset, entry.data.byteLength).getFloat64(1, true));
    }
    this.options.onApplied?.(entry);
    this.storePendingSnapshot();
  }

  /**
   * Stores each snapshot taken at a SNAPSHOT action once the log is durable up to its position
   * (so that a restart never finds a snapshot past the end of its log).
   */
  private storePendingSnapshot(): void {
    while (this.pendingSnapshots.length > 0 && this.pendingSnapshots[0]!.position <= this.options.log.durablePosition) this.storeSnapshot(this.pendingSnapshots.shift()!);
  }

  private storeSnapshot(pending: { position: number; bytes: Uint8Array; termId: number; timestamp: number }): void {
    // The set as Aeron records it: the service's snapshot, then the consensus module's closing it.
    const meta = { position: pending.position, termId: pending.termId, timestamp: pending.timestamp };
    const serviceRecording = this.options.snapshots.write(pending.bytes, { ...meta, serviceId: 0 });
    const moduleRecording = this.options.snapshots.write(new Uint8Array(0), { ...meta, serviceId: CONSENSUS_MODULE_SERVICE_ID });
    const termBase = this.options.log.termBase(pending.termId) ?? 0;
    const record = (service: number, module: number): void => {
      this.recordingLog.appendSnapshot(service, pending.termId, termBase, pending.position, pending.timestamp, 0);
      this.recordingLog.appendSnapshot(module, pending.termId, termBase, pending.position, pending.timestamp, CONSENSUS_MODULE_SERVICE_ID);
      this.snapshotsStored++;
    };
    if (typeof serviceRecording === 'number' && typeof moduleRecording === 'number') {
      record(serviceRecording, moduleRecording);
      return;
    }
    this.snapshotsWriting++;
    Promise.all([serviceRecording, moduleRecording]).then(
      ([service, module]) => {
        this.snapshotsWriting--;
        // A node closed meanwhile leaves the recordings unlisted: recovery uses an older set.
        if (this.recordingLog.isClosed) return;
        record(service, module);
      },
      (error: unknown) => {
        this.snapshotsWriting--;
        this.failureValue ??= error instanceof SkeinError ? error : new SkeinError(ErrorCode.STORAGE_FAILED, `member ${this.options.memberId}: storing the snapshot at ${pending.position}: ${String(error)}`, { cause: error });
      },
    );
  }

  /** Why the node cannot go on (a snapshot could not be stored), or null: its owner stops it. */
  get failure(): SkeinError | null {
    return this.failureValue;
  }
}
