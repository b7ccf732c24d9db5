/**
 * One cluster member running in this process on Skein (docs/cluster.md, "Members on Skein"):
 * a {@link ClusterNode} (consensus, service container, recording log) over a log that is a
 * recording of the member's own archive ({@link ArchiveConsensusLog}) and snapshots that are
 * recordings too ({@link ArchiveSnapshotStore}), or a log and snapshots on files. It exchanges
 * consensus messages with the other members as Aeron's SBE frames on the consensus stream and
 * sends its log to followers on the log stream, both over UDP to each member's consensus
 * endpoint; with an ingress endpoint it takes clients ({@link ClusterIngress}). It runs as an
 * agent on its Skein client's duty cycle.
 *
 * Messages that cannot be sent at once (a peer not connected yet, back pressure) are dropped:
 * every consensus message is sent again on its interval, and the log again from the follower's
 * acknowledged position, as the consensus core does under message loss.
 *
 * A member whose disk fails, or that breaks an invariant, stops at once (fail-stop): it reports
 * the error through its client, closes itself and keeps `failure`. Restarting it on the same
 * directory recovers what reached the files.
 */
import type { SkeinClient } from '../client/skein-client.js';
import type { Publication } from '../client/publication.js';
import type { Subscription } from '../client/subscription.js';
import type { Agent } from '../agent/agent.js';
import type { Implements } from '../util/implements.js';
import { nodeFiles, type Files } from '../env/files.js';
import { systemEpochClock, type EpochClock } from '../env/clock.js';
import { SeededPrng, randomSeed } from '../env/prng.js';
import { FragmentAssembler } from '../logbuffer/fragment-assembler.js';
import type { Header } from '../logbuffer/header.js';
import { ErrorCode, SkeinError, messageOf } from '../util/errors.js';
import { CounterTypeId } from '../agent/counter-types.js';
import type { Counter } from '../client/counter.js';
import { ClusterNode, type IngressResult, type NodeState, type SnapshotStore } from './cluster-node.js';
import { ArchiveSnapshotStore } from './archive-snapshot-store.js';
import { RecordingLog } from './recording-log.js';
import { ClusterIngress, DEFAULT_INGRESS_STREAM_ID } from './cluster-ingress.js';
import { MAX_INGRESS_FRAGMENT_LIMIT } from './ingress-defaults.js';
import { checkEndpoint } from './endpoints.js';
import { CONTROL_ACK_FILE, STATUS_FILE, StatusWriter, takeControlRequest, writeJson, type ControlAction, type MemberStatus } from './cluster-control.js';
import { FileSnapshotStore } from './file-snapshot-store.js';
import { FileConsensusLog } from './consensus/file-consensus-log.js';
import { ArchiveConsensusLog, DEFAULT_LOG_MTU, DEFAULT_LOG_TERM_LENGTH } from './archive-consensus-log.js';
import { Archive } from '../archive/archive.js';
import type { ArchiveOptions } from '../archive/archive-context.js';
import { ArchiveClient } from '../archive/archive-client.js';
import type { ConsensusLog } from './consensus/consensus-log.js';
import { ConsensusCodec, MAX_CONSENSUS_FRAME } from './consensus/consensus-codec.js';
import { decodeLogData, encodeLogData, logDataLength, LOG_DATA_ENTRY_OVERHEAD, LOG_DATA_OVERHEAD } from './consensus/log-data-codec.js';
import { SESSION_MESSAGE_OVERHEAD } from './service/cluster-entries.js';
import { CONSENSUS_DEFAULTS, type ConsensusSettings, type ElectionState, type Role } from './consensus/consensus-member.js';
import type { ConsensusMessage } from './consensus/consensus-messages.js';
import type { ClusteredService } from './service/service-container.js';

/** Aeron's codes for the election states (ElectionState), as the election-state counter shows them. */
export const ELECTION_STATE_CODES: Readonly<Record<ElectionState, number>> = {
  CANVASS: 1, NOMINATE: 2, CANDIDATE_BALLOT: 3, FOLLOWER_BALLOT: 4, LEADER_READY: 8, FOLLOWER_CATCHUP: 13, CLOSED: 17,
};
/** Aeron's codes for a node's role and the consensus module's state, as their counters show them. */
export const ROLE_CODES: Readonly<Record<Role, number>> = { FOLLOWER: 0, CANDIDATE: 1, LEADER: 2 };
export const MODULE_STATE_CODES: Readonly<Record<NodeState, number>> = { ACTIVE: 1, SUSPENDED: 2, TERMINATING: 5, CLOSED: 6 };

/** Aeron Cluster's default consensus and log stream ids (CLUSTER.md §13). */
export const DEFAULT_CONSENSUS_STREAM_ID = 108;
export const DEFAULT_LOG_STREAM_ID = 100;
/**
 * Term length of the consensus stream a member sends to each other member, and the least of its
 * log stream's ({@link logChannelTermLength}). They carry consensus messages and LogData batches of
 * 16 KiB (maxBatchBytes) or one longer entry, and the receiver's window (128 KiB by default) bounds
 * their flow, so the driver's 16 MiB default buys nothing, while each page of a term costs a page
 * fault the first time it is written (10.5 µs a page on the benchmarks' virtual machines: a leader
 * at 100k commands/s spent a tenth of a CPU in them for the first 48 MiB of each stream). Terms of
 * 1 or 2 MiB are all in use within a second and reused from then on.
 */
export const MEMBER_CHANNEL_TERM_LENGTH = 1024 * 1024;

/**
 * Term length of the log stream to each other member: twice the recorded log's, at least
 * {@link MEMBER_CHANNEL_TERM_LENGTH}, so that a LogData carrying the longest entry the log takes
 * (an eighth of its term) fits one message (an eighth of this term).
 */
export function logChannelTermLength(logTermLength: number): number {
  return Math.max(MEMBER_CHANNEL_TERM_LENGTH, 2 * logTermLength);
}

export interface ClusterMemberEndpoint {
  readonly id: number;
  /** host:port where the member takes consensus messages and log data (UDP). */
  readonly consensus: string;
  /** host:port where the member takes clients' ingress (UDP; Aeron's client protocol); none: no clients over the network. */
  readonly ingress?: string;
}

export interface ClusterMemberOptions {
  readonly memberId: number;
  readonly members: readonly ClusterMemberEndpoint[];
  /** This member's directory: consensus log, recording log, snapshots. */
  readonly clusterDir: string;
  readonly service: ClusteredService;
  readonly files?: Files;
  /**
   * Where the log lives: 'archive', a recording of an archive this member runs in its client (in
   * `<clusterDir>/archive`, on IPC only), as Aeron Cluster keeps it; or 'file', `consensus-log.dat`.
   * @default 'archive'
   */
  readonly logStorage?: 'archive' | 'file';
  /**
   * The log stream's term length and MTU (every member's must be the same): the layout of the log
   * as recorded, and, for the MTU, the datagrams that carry it to the other members. An MTU above
   * the network's makes the IP layer fragment each datagram; on loopback or jumbo-frame networks a
   * larger one (8 KiB) sends the log in fewer datagrams. @default 64 KiB, 1408
   */
  readonly logTermLength?: number;
  readonly logMtu?: number;
  /** Options of the archive a member with logStorage 'archive' runs (its directory and control channel are the member's). */
  readonly archiveOptions?: Omit<ArchiveOptions, 'dir' | 'controlChannel' | 'controlChannelEnabled' | 'localControlChannel'>;
  /** With logStorage 'file': flush the log on every append before acknowledging it. @default false (Aeron's file sync level 0) */
  readonly syncEachAppend?: boolean;
  readonly settings?: Partial<ConsensusSettings>;
  readonly snapshotIntervalNs?: number;
  readonly sessionTimeoutNs?: number;
  readonly terminationTimeoutNs?: number;
  readonly consensusStreamId?: number;
  /** @default DEFAULT_INGRESS_STREAM_ID (101) */
  readonly ingressStreamId?: number;
  /** Answers waiting for one slow client, in bytes, before its session is closed as timed out. @default DEFAULT_MAX_EGRESS_BACKLOG_BYTES (16 MiB) */
  readonly maxEgressBacklogBytes?: number;
  /**
   * Log bytes a member keeps in memory behind what it has applied; older entries are read back
   * from its log storage when a follower far behind asks for them. @default DEFAULT_RETAINED_LOG_BYTES (4 MiB)
   */
  readonly retainedLogBytes?: number;
  /** Client messages the leader takes from its ingress in one duty cycle. @default DEFAULT_INGRESS_FRAGMENT_LIMIT (256) */
  readonly ingressFragmentLimit?: number;
  readonly logStreamId?: number;
  /** Seeds the election's random delays. Random by default. */
  readonly seed?: number;
  readonly epochClock?: EpochClock;
  /** Answers to clients, while this member leads. */
  readonly egress?: (sessionId: number, sequence: number, answer: Uint8Array) => void;
  readonly reject?: (sessionId: number, sequence: number, reason: string) => void;
  readonly onRoleChange?: (role: Role, leadershipTermId: number) => void;
  readonly onTerminated?: (reason: string) => void;
  /** Where the process publishes its counters and errors (its Skein's dir), written into the status file for tools. */
  readonly skeinDir?: string;
}

function checkOptions(options: ClusterMemberOptions): void {
  const ids = options.members.map((m) => m.id);
  if (!ids.includes(options.memberId)) throw new SkeinError(ErrorCode.CONFIG_INVALID, `member ${options.memberId} is not one of the members ${ids.join(',')}`);
  for (const m of options.members) {
    if (!Number.isInteger(m.id) || m.id < 0) throw new SkeinError(ErrorCode.CONFIG_INVALID, `member id ${String(m.id)} is not a non-negative integer`);
    checkEndpoint(m.id, 'consensus', m.consensus);
    if (m.ingress !== undefined) checkEndpoint(m.id, 'ingress', m.ingress);
  }
  const retained = options.retainedLogBytes;
  if (retained !== undefined && !(Number.isInteger(retained) && retained >= 0 && retained <= 2 ** 40)) {
    throw new SkeinError(ErrorCode.CONFIG_INVALID, `retainedLogBytes=${String(retained)} is invalid; expected an integer in [0, 2^40]`);
  }
  const limit = options.ingressFragmentLimit;
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1 && limit <= MAX_INGRESS_FRAGMENT_LIMIT)) {
    throw new SkeinError(ErrorCode.CONFIG_INVALID, `ingressFragmentLimit=${String(limit)} is invalid; expected an integer in [1, ${MAX_INGRESS_FRAGMENT_LIMIT}]`);
  }
}

export class ClusterMember {
  readonly roleName: string;
  /** @internal */
  readonly node: ClusterNode;
  /** @internal */
  readonly log: ConsensusLog & { close(): void; readonly failure?: SkeinError | null };
  /** Longest command this member's log takes (Infinity: no limit); the ingress refuses longer ones with SessionEvent ERROR. */
  readonly maxCommandLength: number;
  /** @internal Clients' ingress and egress, when the member has an ingress endpoint (set by launch). */
  ingress: ClusterIngress | null = null;
  private readonly archive: { readonly server: Archive; readonly client: ArchiveClient } | null;
  private readonly client: SkeinClient;
  private readonly consensusSub: Subscription;
  private readonly logSub: Subscription;
  private readonly consensusPubs: Map<number, Publication>;
  private readonly logPubs: Map<number, Publication>;
  private readonly codec: ConsensusCodec;
  private readonly sendBuffer = new Uint8Array(MAX_CONSENSUS_FRAME);
  private logBuffer: Uint8Array;
  private readonly onConsensusFragment: (buffer: Uint8Array, offset: number, length: number, header: Header) => void;
  private readonly logAssembler: FragmentAssembler;
  private nowNs: number;
  private closed = false;
  private failureValue: SkeinError | null = null;
  private readonly files: Files;
  private readonly clusterDir: string;
  private readonly memberEndpoints: readonly ClusterMemberEndpoint[];
  private readonly epochClock: EpochClock;
  private readonly skeinDir: string | undefined;
  private nextControlCheckNs = 0;
  private readonly status: StatusWriter;
  private nextStatusNs = 0;
  private lastStatusKey = '';
  /** Messages not sent because the peer was not connected or pushed back (sent again later by the core). */
  messagesNotTaken = 0;
  /** Frames received that were not consensus messages or log data (reported once each). */
  framesRefused = 0;
  /**
   * Aeron's cluster counters (types 200, 201, 203, 205, 207) and Skein's own counts (903), kept
   * current on every duty cycle once added.
   */
  private readonly counters: { readonly typeId: number; readonly label: string; readonly value: () => number; counter: Counter | null }[] = [
    { typeId: CounterTypeId.CLUSTER_CONSENSUS_MODULE_STATE, label: 'Consensus Module state', value: () => MODULE_STATE_CODES[this.node.state], counter: null },
    { typeId: CounterTypeId.CLUSTER_NODE_ROLE, label: 'Cluster node role', value: () => ROLE_CODES[this.node.member.role], counter: null },
    { typeId: CounterTypeId.CLUSTER_COMMIT_POSITION, label: 'Cluster commit-pos', value: () => this.node.member.commitPosition, counter: null },
    { typeId: CounterTypeId.CLUSTER_SNAPSHOT_COUNT, label: 'Cluster snapshot count', value: () => this.node.snapshotsStored, counter: null },
    { typeId: CounterTypeId.CLUSTER_ELECTION_STATE, label: 'Cluster election state', value: () => ELECTION_STATE_CODES[this.node.member.electionState], counter: null },
    { typeId: CounterTypeId.CLUSTER_MEMBER_COUNTS, label: 'Cluster messages not taken (back pressure; sent again later)', value: () => this.messagesNotTaken, counter: null },
    { typeId: CounterTypeId.CLUSTER_MEMBER_COUNTS, label: 'Cluster log stream gaps reported to the leader', value: () => this.node.member.gapsReported, counter: null },
    { typeId: CounterTypeId.CLUSTER_MEMBER_COUNTS, label: 'Cluster client resends absorbed by the leader', value: () => this.node.resendsAbsorbed, counter: null },
    { typeId: CounterTypeId.CLUSTER_MEMBER_COUNTS, label: 'Cluster sessions closed for an egress backlog', value: () => this.ingress?.stats.egressBacklogClosed ?? 0, counter: null },
    { typeId: CounterTypeId.CLUSTER_MEMBER_COUNTS, label: 'Cluster clients told a close or a leader they missed', value: () => this.ingress?.stats.staleTold ?? 0, counter: null },
    { typeId: CounterTypeId.CLUSTER_MEMBER_COUNTS, label: 'Cluster sessions announced to after taking office', value: () => this.ingress?.stats.lateAnnounced ?? 0, counter: null },
    { typeId: CounterTypeId.CLUSTER_MEMBER_COUNTS, label: 'Cluster sessions told their open did not reach the log', value: () => this.ingress?.stats.opensLost ?? 0, counter: null },
  ];

  private constructor(
    client: SkeinClient, options: ClusterMemberOptions, files: Files, log: ClusterMember['log'], archive: ClusterMember['archive'], snapshots: SnapshotStore,
    subs: [Subscription, Subscription], consensusPubs: Map<number, Publication>, logPubs: Map<number, Publication>,
  ) {
    this.client = client;
    this.archive = archive;
    this.files = files;
    this.clusterDir = options.clusterDir;
    this.status = new StatusWriter(files, `${options.clusterDir}/${STATUS_FILE}`, (error) => this.client.reportError(error));
    this.memberEndpoints = options.members;
    this.skeinDir = options.skeinDir;
    this.roleName = `cluster-member-${options.memberId}`;
    this.log = log;
    [this.consensusSub, this.logSub] = subs;
    this.consensusPubs = consensusPubs;
    this.logPubs = logPubs;
    this.nowNs = client.nanoTime();
    const epochClock = options.epochClock ?? systemEpochClock;
    this.epochClock = epochClock;
    this.codec = new ConsensusCodec({ clusterTime: () => epochClock.epochMs(), catchupEndpoint: options.members.find((m) => m.id === options.memberId)!.consensus });
    let maxMessage = Infinity;
    for (const p of logPubs.values()) maxMessage = Math.min(maxMessage, p.maxMessageLength);
    const maxBatchBytes = Math.min(options.settings?.maxBatchBytes ?? CONSENSUS_DEFAULTS.maxBatchBytes, Number.isFinite(maxMessage) ? Math.floor(maxMessage / 2) : CONSENSUS_DEFAULTS.maxBatchBytes);
    this.logBuffer = new Uint8Array(maxBatchBytes * 2 + LOG_DATA_OVERHEAD);
    // The longest command whose entry both the recorded log and a LogData to the other members take.
    const entryMax = Math.min(log instanceof ArchiveConsensusLog ? log.maxEntryLength : Infinity, maxMessage - LOG_DATA_OVERHEAD - LOG_DATA_ENTRY_OVERHEAD);
    this.maxCommandLength = entryMax - SESSION_MESSAGE_OVERHEAD;
    this.onConsensusFragment = (buffer, offset, length, header) => this.onConsensusFrame(buffer, offset, length, header);
    this.logAssembler = new FragmentAssembler((buffer, offset, length, header) => this.onLogFrame(buffer, offset, length, header));
    this.node = new ClusterNode({
      memberId: options.memberId,
      memberIds: options.members.map((m) => m.id),
      log,
      service: options.service,
      files,
      clusterDir: options.clusterDir,
      snapshots,
      send: (to, message) => this.send(to, message),
      egress: (sessionId, sequence, answer) => {
        this.ingress?.egress(sessionId, sequence, answer);
        options.egress?.(sessionId, sequence, answer);
      },
      reject: (sessionId, sequence, reason) => {
        this.ingress?.reject(sessionId, sequence, reason);
        options.reject?.(sessionId, sequence, reason);
      },
      ...(options.sessionTimeoutNs === undefined ? {} : { sessionTimeoutNs: options.sessionTimeoutNs }),
      ...(options.snapshotIntervalNs === undefined ? {} : { snapshotIntervalNs: options.snapshotIntervalNs }),
      ...(options.terminationTimeoutNs === undefined ? {} : { terminationTimeoutNs: options.terminationTimeoutNs }),
      ...(options.onRoleChange === undefined ? {} : { onRoleChange: options.onRoleChange }),
      onSessionOpened: (sessionId, termId) => this.ingress?.sessionOpened(sessionId, termId),
      onSessionClosed: (sessionId, reason) => this.ingress?.sessionClosed(sessionId, reason),
      ...(options.onTerminated === undefined ? {} : { onTerminated: options.onTerminated }),
      random: new SeededPrng(options.seed ?? randomSeed()),
      clusterClock: () => epochClock.epochMs(),
      nowNs: this.nowNs,
      settings: { ...options.settings, maxBatchBytes },
    });
  }

  /** Opens the member's files, its subscriptions and a publication to every other member, and starts it on `client`'s duty cycle. */
  static async launch(client: SkeinClient, options: ClusterMemberOptions): Promise<ClusterMember> {
    checkOptions(options);
    const files = options.files ?? nodeFiles;
    const consensusStreamId = options.consensusStreamId ?? DEFAULT_CONSENSUS_STREAM_ID;
    const logStreamId = options.logStreamId ?? DEFAULT_LOG_STREAM_ID;
    const self = options.members.find((m) => m.id === options.memberId)!;
    const opened: { close(): void }[] = [];
    let archive: ClusterMember['archive'] = null;
    let snapshots: SnapshotStore = new FileSnapshotStore(files, `${options.clusterDir}/snapshots`);
    try {
      const termLength = options.logTermLength ?? DEFAULT_LOG_TERM_LENGTH;
      const mtu = options.logMtu ?? DEFAULT_LOG_MTU;
      let log: ClusterMember['log'];
      if ((options.logStorage ?? 'archive') === 'archive') {
        const ipc = 'aeron:ipc?term-length=64k';
        const server = await Archive.launch(client, { ...options.archiveOptions, dir: `${options.clusterDir}/archive`, files, controlChannelEnabled: false, localControlChannel: ipc });
        opened.push(server);
        const archiveClient = await ArchiveClient.connect(client, { controlRequestChannel: ipc, controlRequestStreamId: server.settings.localControlStreamId, controlResponseChannel: ipc, controlResponseStreamId: 20 });
        opened.push({ close: () => void archiveClient.close() });
        archive = { server, client: archiveClient };
        log = await ArchiveConsensusLog.open({ client, archive: archiveClient, files, dir: options.clusterDir, termLength, mtu, recordedPosition: (id) => server.recordedPosition(id), archiveDir: server.settings.dir, ...(options.retainedLogBytes === undefined ? {} : { retainedBytes: options.retainedLogBytes }) });
        const store = new ArchiveSnapshotStore({ client, archive: archiveClient });
        // The snapshot the node will start from, read from the archive before the node is built.
        const recordingLog = RecordingLog.open({ files, clusterDir: options.clusterDir });
        let plan;
        try {
          plan = recordingLog.recoveryPlan(1, () => undefined);
        } finally {
          recordingLog.close();
        }
        if (plan.snapshots.length > 1) await store.prefetch(plan.snapshots[1]!.recordingId);
        snapshots = store;
      } else {
        log = new FileConsensusLog({
          files, dir: options.clusterDir, layout: { termLength, maxPayloadLength: mtu - 32 },
          ...(options.syncEachAppend === undefined ? {} : { syncEachAppend: options.syncEachAppend }),
          ...(options.retainedLogBytes === undefined ? {} : { retainedBytes: options.retainedLogBytes }),
        });
      }
      opened.push(log);
      const consensusSub = await client.addSubscription(`aeron:udp?endpoint=${self.consensus}`, consensusStreamId);
      opened.push(consensusSub);
      const logSub = await client.addSubscription(`aeron:udp?endpoint=${self.consensus}`, logStreamId);
      opened.push(logSub);
      const consensusPubs = new Map<number, Publication>();
      const logPubs = new Map<number, Publication>();
      for (const m of options.members) {
        if (m.id === options.memberId) continue;
        const c = await client.addExclusivePublication(`aeron:udp?endpoint=${m.consensus}|term-length=${MEMBER_CHANNEL_TERM_LENGTH}`, consensusStreamId);
        opened.push(c);
        consensusPubs.set(m.id, c);
        // The log stream to a member carries LogData messages of up to maxBatchBytes in frames of the log's MTU.
        const l = await client.addExclusivePublication(`aeron:udp?endpoint=${m.consensus}|mtu=${mtu}|term-length=${logChannelTermLength(termLength)}`, logStreamId);
        opened.push(l);
        logPubs.set(m.id, l);
      }
      const member = new ClusterMember(client, options, files, log, archive, snapshots, [consensusSub, logSub], consensusPubs, logPubs);
      opened.push({ close: () => member.node.close() });
      if (self.ingress !== undefined) {
        const endpoints = options.members.filter((m) => m.ingress !== undefined).map((m) => `${m.id}=${m.ingress!}`).join(',');
        member.ingress = await ClusterIngress.open(
          {
            client, node: member.node, memberId: options.memberId, ingressEndpoints: endpoints,
            leaderHeartbeatTimeoutNs: options.settings?.leaderHeartbeatTimeoutNs ?? CONSENSUS_DEFAULTS.leaderHeartbeatTimeoutNs, reportError: (e) => client.reportError(e),
            maxEgressBacklogBytes: options.maxEgressBacklogBytes, maxCommandLength: member.maxCommandLength,
            ...(options.ingressFragmentLimit === undefined ? {} : { fragmentLimit: options.ingressFragmentLimit }),
          },
          `aeron:udp?endpoint=${self.ingress}`,
          options.ingressStreamId ?? DEFAULT_INGRESS_STREAM_ID,
        );
        opened.push(member.ingress);
      }
      for (const c of member.counters) {
        c.counter = await client.addCounter(c.typeId, `${c.label} - member ${options.memberId}`);
        opened.push(c.counter);
      }
      member.updateCounters();
      client.addAgent(member);
      return member;
    } catch (error) {
      for (const o of opened.reverse()) o.close();
      throw error;
    }
  }

  get memberId(): number {
    return this.node.member.memberId;
  }

  get role(): Role {
    return this.node.member.role;
  }

  get electionState(): ElectionState {
    return this.node.member.electionState;
  }

  get leaderId(): number {
    return this.node.member.leaderId;
  }

  get leadershipTermId(): number {
    return this.node.member.leadershipTermId;
  }

  get commitPosition(): number {
    return this.node.member.commitPosition;
  }

  get state(): NodeState {
    return this.node.state;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Why the member stopped on its own (disk, invariant), or null. */
  get failure(): SkeinError | null {
    return this.failureValue;
  }

  /** A client command offered on this member (the client protocol over the network is the cluster client's). */
  offer(sessionId: number, sequence: number, command: Uint8Array): IngressResult {
    if (this.closed) return { accepted: false, leaderId: -1 };
    if (command.length > this.maxCommandLength) {
      throw new SkeinError(ErrorCode.MESSAGE_TOO_LONG, `${this.roleName}: a command of ${command.length} bytes is longer than the ${this.maxCommandLength} the cluster's log takes`, { sessionId });
    }
    return this.node.onIngress(sessionId, sequence, command);
  }

  requestSnapshot(): boolean {
    return !this.closed && this.node.requestSnapshot();
  }

  shutdown(): boolean {
    return !this.closed && this.node.shutdown(this.client.nanoTime());
  }

  /** Suspends the cluster (leader only): no client messages, timers or session timeouts until resume(). */
  suspend(): boolean {
    return !this.closed && this.node.suspend();
  }

  resume(): boolean {
    return !this.closed && this.node.resume(this.client.nanoTime());
  }

  private control(action: ControlAction): boolean {
    switch (action) {
      case 'snapshot':
        return this.requestSnapshot();
      case 'suspend':
        return this.suspend();
      case 'resume':
        return this.resume();
      case 'shutdown':
        return this.shutdown();
      case 'abort':
        return this.abort();
    }
  }

  abort(): boolean {
    return !this.closed && this.node.abort(this.client.nanoTime());
  }

  /** @internal */
  doWork(nowNs: number): number {
    if (this.closed) return 0;
    this.nowNs = nowNs;
    try {
      const failure = this.log.failure ?? this.node.failure;
      if (failure !== null) throw failure;
      let work = this.consensusSub.poll(this.onConsensusFragment, 50);
      if (this.ingress !== null) work += this.ingress.doWork(nowNs);
      work += this.logSub.poll(this.logAssembler.onFragment, 50);
      work += this.node.doWork(nowNs);
      this.updateCounters();
      if (nowNs >= this.nextControlCheckNs) {
        this.nextControlCheckNs = nowNs + 100_000_000;
        work += this.checkControl(nowNs);
      }
      return work;
    } catch (error) {
      this.failStop(error);
      return 1;
    }
  }

  /**
   * Stops the member: closes its consensus module (subscriptions, publications, log), then the
   * archive it runs; resolves once the archive is closed. Unconditional and idempotent (every call
   * returns the same promise); the media driver is the owner's to close after it.
   */
  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.client.removeAgent(this);
    }
    return this.release();
  }

  /** @internal */
  onClose(): void {
    this.closed = true;
    void this.release();
  }

  private closing: Promise<void> | null = null;

  private release(): Promise<void> {
    if (this.closing !== null) return this.closing;
    const errors: unknown[] = [];
    const attempt = (f: () => void): void => {
      try {
        f();
      } catch (e) {
        errors.push(e);
      }
    };
    attempt(() => this.ingress?.close());
    attempt(() => this.node.close());
    attempt(() => this.log.close());
    attempt(() => this.consensusSub.close());
    attempt(() => this.logSub.close());
    for (const p of this.consensusPubs.values()) attempt(() => p.close());
    for (const p of this.logPubs.values()) attempt(() => p.close());
    for (const c of this.counters) attempt(() => c.counter?.close());
    // The last status says the member is closed.
    attempt(() => this.writeStatus());
    for (const e of errors) this.client.reportError(e);
    // The consensus module first, then the archive (A003's order; the media driver is its owner's);
    // closed once the last status is on file too.
    if (this.archive === null) {
      this.closing = this.status.settled();
    } else {
      const { server, client } = this.archive;
      this.closing = client
        .close()
        .then(
          () => server.close(),
          (e: unknown) => {
            this.client.reportError(e);
            server.close();
          },
        )
        .then(() => this.status.settled());
    }
    return this.closing;
  }

  /** A tool's request in the directory is acted on; the status file is kept current. */
  private checkControl(nowNs: number): number {
    let work = 0;
    const request = takeControlRequest(this.files, this.clusterDir);
    if (request !== undefined) {
      work++;
      if ('invalid' in request) {
        this.client.reportError(new SkeinError(ErrorCode.ARG_INVALID, `${this.roleName}: ${request.invalid}`));
      } else {
        const leading = this.node.isLeader;
        const ok = leading && this.control(request.action);
        const detail = ok ? `${request.action} begun by leader ${this.memberId} in term ${this.leadershipTermId}` : leading ? `${request.action} refused in state ${this.node.state}` : `member ${this.memberId} is not the leader (leader: ${this.leaderId}); ask the leader's directory`;
        writeJson(this.files, `${this.clusterDir}/${CONTROL_ACK_FILE}`, { id: request.id, action: request.action, ok, detail }, true);
      }
    }
    const key = `${this.role}|${this.electionState}|${this.leadershipTermId}|${this.leaderId}|${this.node.state}`;
    if (key !== this.lastStatusKey || nowNs >= this.nextStatusNs) {
      this.lastStatusKey = key;
      this.nextStatusNs = nowNs + 500_000_000;
      this.writeStatus();
      work++;
    }
    return work;
  }

  private writeStatus(): void {
    const status: MemberStatus = {
      memberId: this.memberId, pid: process.pid, role: this.role, electionState: this.electionState, leadershipTermId: this.leadershipTermId, leaderId: this.leaderId,
      commitPosition: this.commitPosition, appendPosition: this.log.appendPosition, state: this.node.state, snapshotsStored: this.node.snapshotsStored, recoveredPosition: this.node.recoveredPosition,
      members: this.memberEndpoints, updatedAtMs: this.epochClock.epochMs(), ...(this.skeinDir === undefined ? {} : { skeinDir: this.skeinDir }),
    };
    this.status.write(status);
  }

  private updateCounters(): void {
    for (const c of this.counters) c.counter?.set(c.value());
  }

  private failStop(error: unknown): void {
    const failure = error instanceof SkeinError ? error : new SkeinError(ErrorCode.STORAGE_FAILED, `${this.roleName} stopped: ${messageOf(error)}`, { cause: error });
    this.failureValue = failure;
    this.client.reportError(failure);
    void this.close();
  }

  /** False when the publication did not take the message (back pressure, not connected): it was not sent. */
  private send(to: number, message: ConsensusMessage): boolean {
    let publication: Publication | undefined;
    let buffer: Uint8Array;
    let length: number;
    if (message.type === 'logData') {
      publication = this.logPubs.get(to);
      if (publication === undefined) return false;
      length = logDataLength(message);
      // Not encoded when it cannot go (no follower there, or its window full): the leader offers it again later.
      if (!publication.isConnected || publication.availableWindow < length) {
        this.messagesNotTaken++;
        return false;
      }
      if (length > this.logBuffer.length) this.logBuffer = new Uint8Array(length);
      buffer = this.logBuffer;
      encodeLogData(message, buffer, 0);
    } else {
      publication = this.consensusPubs.get(to);
      if (publication === undefined) return false;
      buffer = this.sendBuffer;
      length = this.codec.encode(to, message, buffer, 0);
    }
    if (publication.offer(buffer, 0, length) >= 0) return true;
    this.messagesNotTaken++;
    return false;
  }

  private onConsensusFrame(buffer: Uint8Array, offset: number, length: number, header: Header): void {
    let message: ConsensusMessage | null;
    try {
      message = this.codec.decode(buffer, offset, length);
    } catch (error) {
      this.refuse(error, this.consensusSub, header);
      return;
    }
    if (message === null) return;
    this.node.onMessage(message, this.nowNs);
  }

  private onLogFrame(buffer: Uint8Array, offset: number, length: number, header: Header): void {
    let message: ConsensusMessage;
    try {
      // Views into the term buffer: the node takes the message within this call, and the log
      // copies every entry it appends.
      message = decodeLogData(buffer, offset, length, this.log.layout, false);
    } catch (error) {
      this.refuse(error, this.logSub, header);
      return;
    }
    this.node.onMessage(message, this.nowNs);
  }

  private refuse(error: unknown, subscription: Subscription, header: Header): void {
    this.framesRefused++;
    this.client.reportError(
      new SkeinError(ErrorCode.PROTOCOL_INVALID, `${this.roleName}: dropped a frame: ${messageOf(error)}`, {
        cause: error, channel: subscription.channel, streamId: subscription.streamId, sessionId: header.sessionId,
      }),
    );
  }
}

/** @internal A ClusterMember is an agent of its SkeinClient. */
export type ClusterMemberRoles = Implements<Agent, ClusterMember>;
