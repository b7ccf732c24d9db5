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
import { ConsensusMember, type ConsensusSettings, type Role } from './consensus/consensus-member.js';
import type { ConsensusLog, LogEntry } from './consensus/consensus-log.js';
import type { ConsensusMessage } from './consensus/consensus-messages.js';
import { ClusterAction, EntryKind, encodeClusterAction, encodeSessionMessage, encodeTimerEvent } from './service/cluster-entries.js';
import { ServiceContainer, type ClusteredService } from './service/service-container.js';
import { CONSENSUS_MODULE_SERVICE_ID, RecordingLog } from './recording-log.js';

/** Where snapshots are kept (an archive's recordings in a full member). */
export interface SnapshotStore {
  /** Stores the bytes; returns the recording id that reads them back. */
  write(bytes: Uint8Array): number;
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
  readonly random: Prng;
  /** Cluster time the leader stamps on entries (ms of its wall clock). */
  readonly clusterClock: () => number;
  readonly nowNs: number;
  readonly settings?: Partial<ConsensusSettings>;
  /** The leader asks for a snapshot this often, in ns (0: only on request). @default 0 */
  readonly snapshotIntervalNs?: number;
  readonly refuseNondeterminism?: boolean;
  /** After each committed entry is applied (and before a snapshot it asked for is stored). */
  readonly onApplied?: (entry: LogEntry) => void;
  readonly onRoleChange?: (role: Role, leadershipTermId: number) => void;
}

export type IngressResult = { readonly accepted: true; readonly position: number } | { readonly accepted: false; readonly leaderId: number };

export class ClusterNode {
  readonly member: ConsensusMember;
  readonly container: ServiceContainer;
  readonly recordingLog: RecordingLog;
  /** The log position of the snapshot this node recovered from, or 0. */
  readonly recoveredPosition: number;
  private readonly options: ClusterNodeOptions;
  private readonly snapshotIntervalNs: number;
  private nextSnapshotNs: number;
  private pendingSnapshot: { position: number; bytes: Uint8Array; termId: number; timestamp: number } | null = null;
  /** Timer events appended by this leader and not applied yet (not appended twice). */
  private readonly timersInFlight = new Set<number>();
  private applyingTermId = 0;
  snapshotsStored = 0;

  constructor(options: ClusterNodeOptions) {
    this.options = options;
    this.snapshotIntervalNs = options.snapshotIntervalNs ?? 0;
    this.nextSnapshotNs = options.nowNs + this.snapshotIntervalNs;
    this.recordingLog = RecordingLog.open({ files: options.files, clusterDir: options.clusterDir });
    let recovered: { position: number; bytes: Uint8Array } | undefined;
    try {
      const plan = this.recordingLog.recoveryPlan(1, () => undefined);
      if (plan.snapshots.length > 0) {
        const head = plan.snapshots[0]!;
        const bytes = options.snapshots.read(plan.snapshots[1]!.recordingId);
        if (bytes === undefined) throw new Error(`member ${options.memberId}: the recording log names snapshot recording ${plan.snapshots[1]!.recordingId}, which the snapshot store does not hold`);
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
      ...(options.refuseNondeterminism === undefined ? {} : { refuseNondeterminism: options.refuseNondeterminism }),
      ...(recovered === undefined ? {} : { snapshot: recovered }),
      onSnapshot: (position, bytes) => {
        this.pendingSnapshot = { position, bytes, termId: this.applyingTermId, timestamp: this.options.clusterClock() };
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
    return this.member.role === 'LEADER' && this.member.electionState === 'CLOSED';
  }

  onMessage(message: ConsensusMessage, nowNs: number): void {
    this.member.onMessage(message, nowNs);
  }

  /** A client command: appended (stamped with cluster time) when this node leads, else the leader it knows (-1: none). */
  onIngress(sessionId: number, sequence: number, command: Uint8Array): IngressResult {
    if (!this.isActiveLeader) return { accepted: false, leaderId: this.member.leaderId };
    const position = this.member.offer(encodeSessionMessage(sessionId, sequence, this.options.clusterClock(), command))!;
    return { accepted: true, position };
  }

  /** Asks for a snapshot of every member at the same position; false when this node does not lead. */
  requestSnapshot(): boolean {
    if (!this.isActiveLeader) return false;
    this.member.offer(encodeClusterAction(ClusterAction.SNAPSHOT, this.options.clusterClock()));
    return true;
  }

  doWork(nowNs: number): number {
    let work = this.member.doWork(nowNs);
    if (!this.isActiveLeader) return work;
    const time = this.options.clusterClock();
    for (const id of this.container.dueTimers(time)) {
      if (this.timersInFlight.has(id)) continue;
      this.timersInFlight.add(id);
      this.member.offer(encodeTimerEvent(id, time));
      work++;
    }
    if (this.snapshotIntervalNs > 0 && nowNs >= this.nextSnapshotNs) {
      this.nextSnapshotNs = nowNs + this.snapshotIntervalNs;
      this.requestSnapshot();
      work++;
    }
    return work;
  }

  /** Releases the recording log; idempotent. */
  close(): void {
    this.recordingLog.close();
  }

  private apply(entry: LogEntry): void {
    this.applyingTermId = entry.termId;
    this.container.apply(entry);
    if (entry.data[0] === EntryKind.TIMER) {
      // A timer event of this leader applied: it may be appended again only if rescheduled.
      this.timersInFlight.delete(new DataView(entry.data.buffer, entry.data.byteOffset, entry.data.byteLength).getFloat64(1, true));
    }
    this.options.onApplied?.(entry);
    const pending = this.pendingSnapshot;
    if (pending === null) return;
    this.pendingSnapshot = null;
    // The set as Aeron records it: the service's snapshot, then the consensus module's closing it.
    const serviceRecording = this.options.snapshots.write(pending.bytes);
    const moduleRecording = this.options.snapshots.write(new Uint8Array(0));
    const termBase = this.options.log.termBase(pending.termId) ?? 0;
    this.recordingLog.appendSnapshot(serviceRecording, pending.termId, termBase, pending.position, pending.timestamp, 0);
    this.recordingLog.appendSnapshot(moduleRecording, pending.termId, termBase, pending.position, pending.timestamp, CONSENSUS_MODULE_SERVICE_ID);
    this.snapshotsStored++;
  }
}
