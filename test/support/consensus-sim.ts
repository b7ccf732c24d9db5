/**
 * Whole clusters of consensus members under a deterministic simulation from one seed: a network
 * that loses, duplicates, delays and reorders messages and can be partitioned (one way or both),
 * members that crash at any moment and restart with what their log persisted, disks that fail
 * (the member stops and restarts later with what was written), wall clocks that jump (cluster
 * time is stamped from them), and clients that offer commands to whoever leads. After every event the invariants are checked:
 *
 * - at most one leader per term;
 * - a committed entry never changes (every member that applies a position applies the same
 *   entry there);
 * - every member applies the log in order from the start, so its applied log is a prefix of the
 *   committed log, and its service (a hash chain over what it applied) is in the same state as
 *   every other member's at the same position.
 *
 * A violation throws an Error naming the seed, the simulated time and what broke, so a failing
 * seed can be replayed exactly.
 */
import { SeededPrng } from '../../src/env/prng.js';
import { MemoryConsensusLog, placeEntry, type ConsensusLog, type LogEntry, type LogLayout, type TermStart } from '../../src/cluster/consensus/consensus-log.js';
import { ConsensusMember, TERM_START_MARKER, type ConsensusSettings } from '../../src/cluster/consensus/consensus-member.js';
import type { ConsensusMessage } from '../../src/cluster/consensus/consensus-messages.js';
import { CONSENSUS_MODULE_SERVICE_ID } from '../../src/cluster/recording-log.js';
import { ClusterNode } from '../../src/cluster/cluster-node.js';
import { MemoryFiles } from '../../src/env/memory-files.js';
import { ErrorCode, SkeinError } from '../../src/util/errors.js';
import { ClusterAction, EntryKind } from '../../src/cluster/service/cluster-entries.js';
import type { ServiceContainer } from '../../src/cluster/service/service-container.js';
import { KvService, decodeKv, encodeKv, type KvAnswer, type KvCommand } from '../../src/cluster/service/kv-service.js';
import { checkLinearizable, kvModel, type CheckResult, type KvInput, type KvOutput, type Operation } from '../../src/sim/linearizability.js';

const MS = 1_000_000;

export interface ConsensusSimOptions {
  readonly seed: number;
  readonly members: number;
  /** Simulated time to run with faults, in ms. */
  readonly durationMs: number;
  /** Then faults stop and the cluster must elect a leader and commit a last command within this, in ms. */
  readonly recoveryMs?: number;
  readonly settings?: Partial<ConsensusSettings>;
  /**
   * The stream layout of every member's log. Default: terms of 16 KiB and frames of at most
   * 1376 bytes of data (MTU 1408), so that entries are padded at term ends and large ones
   * fragmented, as in a log recording.
   */
  readonly layout?: LogLayout;
  /**
   * With a value, each member's log keeps only this many bytes of applied log in memory and reads
   * older entries back from its disk (a full copy of what was written, readable up to what is
   * durable), as a member's log over its recording does. Default: everything stays in memory.
   */
  readonly retainedLogBytes?: number;
  /** Probability a message is lost, duplicated. */
  readonly loss?: number;
  readonly duplication?: number;
  /** Mean time between fault events (crash, restart, partition, heal), in ms. */
  readonly faultIntervalMs?: number;
  /** Every this many ms a client offers a command to the leader (without `clients`). */
  readonly commandIntervalMs?: number;
  /**
   * Clients of a replicated key-value service (KvService in a ServiceContainer on every member):
   * each sends get/put/compare-and-set commands one at a time with its session id and sequence,
   * resends on a timeout or a redirect, and gives up after `clientGiveUpMs` (the operation is then
   * indeterminate). Their history is checked for linearizability at the end.
   */
  readonly clients?: number;
  readonly clientGiveUpMs?: number;
  /** With clients: the leader asks for a snapshot this often (0: never). @default 15000 */
  readonly snapshotIntervalMs?: number;
  /**
   * With clients, at the end: the leader shuts the cluster down (or aborts it) while 20% of messages
   * are lost; every member must terminate at the same position, then all start again and take commands.
   */
  readonly terminate?: 'shutdown' | 'abort';
}

export interface ConsensusSimResult {
  readonly seed: number;
  readonly committedEntries: number;
  readonly committedCommands: number;
  readonly leadersElected: number;
  readonly crashes: number;
  readonly restarts: number;
  readonly partitions: number;
  readonly asymmetricPartitions: number;
  readonly messagesLost: number;
  readonly messagesDuplicated: number;
  readonly clockJumps: number;
  readonly diskFaults: number;
  /** Members stopped by a disk fault (fail-stop) before they were restarted. */
  readonly diskFaultStops: number;
  readonly events: number;
  /** Catch-ups that dropped disagreeing entries, and whole terms the leader did not hold. */
  readonly logTruncations: number;
  /** Entries read back from a member's disk (with retainedLogBytes): catch-ups and replays from before what memory held. */
  readonly entriesReadBack: number;
  readonly termsDropped: number;
  /** Crashes that took back entries not yet durable; entries placed after padding at a term's end; entries of several frames (in the longest applied log). */
  readonly crashLosses: number;
  readonly paddings: number;
  readonly fragmentedEntries: number;
  /** With clients: the history of their operations, its verdict, and the container's counts. */
  readonly history?: Operation<KvInput, KvOutput>[];
  readonly linearizability?: CheckResult;
  readonly commandsAnsweredAgain?: number;
  readonly indeterminate?: number;
  /** Snapshots taken (by every member) and restarts that recovered from one. */
  readonly snapshotsTaken?: number;
  readonly recoveriesFromSnapshot?: number;
  /** Commands rejected because the cluster closed their session (the client paused beyond the session timeout), and such pauses. */
  readonly commandsRejected?: number;
  readonly clientPauses?: number;
  readonly termination?: { readonly kind: 'shutdown' | 'abort'; readonly position: number; readonly stoppedAfterMs: number; readonly recoveredFromSnapshot: number };
}

/** A device error: thrown by a broken log on every write until the member restarts. */
class DiskFault extends Error {}

/**
 * The storage seam of a simulated member: its log in memory, and a disk that can break. A broken
 * disk fails every write (append, truncate, joining a term, persisting the candidate term) with
 * nothing written, as a device error does; the member stops (fail-stop) and restarts later with
 * what was written before.
 */
class FaultyLog implements ConsensusLog {
  readonly inner: MemoryConsensusLog;
  broken = false;
  /** What a crash keeps: entries reach it at a later duty cycle of the member (as a recording catches up with its publication). */
  private durable = 0;
  /** Entries a crash took back because they were not durable yet. */
  lostOnCrash = 0;
  /** Catch-up dropped entries that disagreed with a leader's log; and dropped a whole term a leader did not hold. */
  truncations = 0;
  termsForgotten = 0;
  private check(what: string): void {
    if (this.broken) throw new DiskFault(`disk error writing ${what}`);
  }
  /** The member's disk when the in-memory log lets applied entries go: everything written, read back up to what is durable. */
  private readonly disk: MemoryConsensusLog | null;
  /** Entries read back from the disk. */
  readBack = 0;
  constructor(layout: LogLayout, retainedLogBytes?: number) {
    this.inner = new MemoryConsensusLog(layout);
    this.disk = retainedLogBytes === undefined ? null : new MemoryConsensusLog(layout);
    const disk = this.disk;
    if (disk !== null) {
      this.inner.setBacking({
        limit: () => this.durable,
        read: (position, maxBytes) => {
          const entries = disk.entriesFrom(position, maxBytes).filter((e) => e.position + e.length <= this.durable);
          this.readBack += entries.length;
          return entries;
        },
        isEntryEnd: (position) => position <= this.durable && disk.isEntryEnd(position),
      }, retainedLogBytes);
    }
  }
  releaseBefore(position: number): void {
    this.inner.releaseBefore(position);
  }
  get layout(): LogLayout {
    return this.inner.layout;
  }
  get appendPosition(): number {
    return this.inner.appendPosition;
  }
  get durablePosition(): number {
    return this.durable;
  }
  /** Everything appended so far becomes durable. */
  flush(): void {
    this.durable = this.inner.appendPosition;
  }
  /** A crash of the member: what was not durable is gone (terms joined past it with it). */
  crash(): void {
    if (this.durable < this.inner.appendPosition) this.lostOnCrash++;
    this.inner.truncate(this.durable);
    this.disk?.truncate(this.durable);
  }
  get logTermId(): number {
    return this.inner.logTermId;
  }
  get candidateTermId(): number {
    return this.inner.candidateTermId;
  }
  set candidateTermId(value: number) {
    this.check('the candidate term');
    this.inner.candidateTermId = value;
  }
  termBase(termId: number): number | undefined {
    return this.inner.termBase(termId);
  }
  joinTerm(termId: number, base: number): void {
    this.check('a term');
    this.inner.joinTerm(termId, base);
    this.disk?.joinTerm(termId, base);
  }
  append(termId: number, data: Uint8Array): LogEntry {
    this.check('an entry');
    this.disk?.append(termId, data);
    return this.inner.append(termId, data);
  }
  truncate(position: number): void {
    this.check('a truncation');
    if (position < this.inner.appendPosition) this.truncations++;
    this.inner.truncate(position);
    this.disk?.truncate(position);
    if (this.durable > position) this.durable = position;
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
  nextTerm(termId: number): TermStart | undefined {
    return this.inner.nextTerm(termId);
  }
  forgetTerm(termId: number): void {
    this.check('a dropped term');
    this.inner.forgetTerm(termId);
    this.disk?.forgetTerm(termId);
    this.termsForgotten++;
  }
}

interface SimMember {
  readonly id: number;
  readonly log: FaultyLog;
  /** This member's wall clock minus the simulated time (jumps as a fault). */
  clockOffsetNs: number;
  member: ConsensusMember | null;
  /** Hash chain over applied entries, and the position it covers. */
  state: number;
  applied: number;
  container: ServiceContainer | null;
  kv: KvService | null;
  /** (session, sequence) given to this life's service, to catch a command applied twice. */
  seen: Set<string>;
  /** The simulator's state at each SNAPSHOT action applied and not stored yet (a node stores it once its log is durable there). */
  snapshotChains: { position: number; chain: number }[];
  /** The member's cluster directory (recording log) and archive of snapshot recordings: they survive restarts. */
  readonly files: MemoryFiles;
  readonly archive: Map<number, { readonly bytes: Uint8Array; readonly chain: number }>;
  node: ClusterNode | null;
  /** The container's count of commands answered again, as far as already added to the run's total. */
  answeredAgainSeen: number;
  /** Times this life's service was told to terminate. */
  terminated: number;
}

/** What clients and members say to each other (the ingress and egress of the sim's cluster). */
type ClientMessage =
  | { readonly type: 'clientRequest'; readonly from: number; readonly sessionId: number; readonly sequence: number; readonly command: Uint8Array }
  | { readonly type: 'clientAnswer'; readonly from: number; readonly sessionId: number; readonly sequence: number; readonly answer: Uint8Array }
  | { readonly type: 'redirect'; readonly from: number; readonly leaderId: number; readonly sessionId: number; readonly sequence: number }
  | { readonly type: 'clientReject'; readonly from: number; readonly sessionId: number; readonly sequence: number; readonly reason: string };

interface SimClient {
  readonly index: number;
  readonly node: number;
  /** Changes when the cluster closed the session (a client pause longer than the session timeout). */
  sessionId: number;
  generation: number;
  sequence: number;
  /** The operation waiting for its answer, or null between operations. */
  current: { input: KvInput; call: number; sentAt: number; target: number; giveUpAt: number } | null;
  /** A stalled client does nothing until then. */
  stalledUntil: number;
  nextOpAt: number;
  leaderGuess: number;
}

interface Pending {
  readonly at: number;
  readonly seq: number;
  readonly to: number;
  readonly from: number;
  readonly message: ConsensusMessage | ClientMessage;
}

/** A binary heap of pending deliveries by (time, sequence). */
class Queue {
  private readonly items: Pending[] = [];
  get size(): number {
    return this.items.length;
  }
  push(p: Pending): void {
    const a = this.items;
    a.push(p);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (less(a[parent]!, a[i]!)) break;
      [a[parent], a[i]] = [a[i]!, a[parent]!];
      i = parent;
    }
  }
  peek(): Pending | undefined {
    return this.items[0];
  }
  pop(): Pending | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && less(a[l]!, a[m]!)) m = l;
        if (r < a.length && less(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i]!, a[m]!];
        i = m;
      }
    }
    return top;
  }
}

function less(a: Pending, b: Pending): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

function hashStep(state: number, entry: LogEntry): number {
  let h = (state ^ entry.termId ^ entry.position) >>> 0;
  for (let i = 0; i < entry.data.length; i++) h = Math.imul(h ^ entry.data[i]!, 16777619) >>> 0;
  return h;
}

export function runConsensusSim(options: ConsensusSimOptions): ConsensusSimResult {
  const { seed, members: n, durationMs } = options;
  const recoveryMs = options.recoveryMs ?? 60_000;
  const layout: LogLayout = options.layout ?? { termLength: 16 * 1024, maxPayloadLength: 1376 };
  const loss = options.loss ?? 0.02;
  const duplication = options.duplication ?? 0.01;
  const faultIntervalMs = options.faultIntervalMs ?? 3000;
  const commandIntervalMs = options.commandIntervalMs ?? 50;
  const settings: Partial<ConsensusSettings> = { startupCanvassTimeoutNs: 10_000 * MS, leaderHeartbeatTimeoutNs: 2000 * MS, ...options.settings };
  const prng = new SeededPrng(seed);
  const netRandom = prng.fork();
  const faultRandom = prng.fork();
  /** Whether a member's log catches up with what it appended at a duty cycle (so durability lags by a random number of cycles, differently per member). */
  const durabilityRandom = prng.fork();
  const ids = Array.from({ length: n }, (_, i) => i);
  const queue = new Queue();
  let seq = 0;
  let now = 0;
  const blocked = new Set<string>(); // `${from}>${to}`
  const committed = new Map<number, { termId: number; hash: number; end: number }>();
  const statesAt = new Map<number, number>();
  const leaders = new Map<number, number>();
  const stats = { crashes: 0, restarts: 0, partitions: 0, asymmetricPartitions: 0, messagesLost: 0, messagesDuplicated: 0, clockJumps: 0, diskFaults: 0, diskFaultStops: 0, events: 0 };
  let faultsOn = true;
  let offered = 0;
  /** Messages lost while the cluster terminates (so notices and acks must be resent). */
  let terminationLoss = 0;
  class SimFailure extends Error {}
  const fail = (what: string): never => {
    throw new SimFailure(`consensus sim seed=${seed} members=${n} at ${(now / MS).toFixed(1)} ms: ${what}`);
  };

  const clientCount = options.clients ?? 0;
  const clientGiveUpNs = (options.clientGiveUpMs ?? 10_000) * MS;
  const snapshotIntervalNs = (options.snapshotIntervalMs ?? 15_000) * MS;
  const sims: SimMember[] = ids.map((id) => ({
    id, log: new FaultyLog(layout, options.retainedLogBytes), clockOffsetNs: 0, member: null, state: 0, applied: 0, container: null, kv: null, seen: new Set(), snapshotChains: [],
    files: new MemoryFiles(), archive: new Map(), node: null, answeredAgainSeen: 0, terminated: 0,
  }));
  const snapshotsAt = new Map<number, string>();
  let snapshotsTaken = 0;
  let recoveriesFromSnapshot = 0;
  const clientRandom = prng.fork();
  const clients: SimClient[] = Array.from({ length: clientCount }, (_, index) => ({
    index, node: n + index, sessionId: 1000 + index * 1000, generation: 0, sequence: 0, current: null, nextOpAt: 0, leaderGuess: index % n, stalledUntil: 0,
  }));
  const clientBySession = (sessionId: number): SimClient | undefined => clients.find((c) => c.sessionId === sessionId);
  let rejected = 0;
  let clientPauses = 0;
  const history: Operation<KvInput, KvOutput>[] = [];
  let answeredAgain = 0;
  let indeterminate = 0;
  const start = (sim: SimMember): void => {
    sim.state = 0;
    sim.applied = 0;
    sim.seen = new Set();
    sim.snapshotChains = [];
    sim.log.broken = false;
    sim.files.failWrites(null);
    sim.node = null;
    sim.answeredAgainSeen = 0;
    sim.terminated = 0;
    if (clientCount > 0) {
      const kv = new KvService();
      const traced = {
        onStart: (cluster: Parameters<KvService['onStart']>[0], snapshot: Uint8Array | null) => kv.onStart(cluster, snapshot),
        onTakeSnapshot: () => kv.onTakeSnapshot(),
        onTerminate: () => {
          sim.terminated++;
        },
        onSessionMessage: (session: { id: number }, timestamp: number, payload: Uint8Array, cluster: Parameters<KvService['onSessionMessage']>[3]) => {
          // The entry being applied starts where the last applied one ended.
          const entry = sim.log.entryFrom(sim.applied);
          const sequence = entry === undefined ? -1 : new DataView(entry.data.buffer, entry.data.byteOffset, entry.data.byteLength).getFloat64(9, true);
          const key = `${session.id}/${sequence}`;
          if (sim.seen.has(key)) fail(`member ${sim.id} gave command ${key} to its service twice`);
          sim.seen.add(key);
          return kv.onSessionMessage(session, timestamp, payload, cluster);
        },
      };
      sim.kv = kv;
      const node = new ClusterNode({
        memberId: sim.id, memberIds: ids, log: sim.log, service: traced, files: sim.files, clusterDir: '/cluster',
        snapshots: {
          write: (bytes) => {
            // The service's snapshot, then the consensus module's (empty), of the oldest SNAPSHOT action not stored yet.
            const at = sim.snapshotChains[0];
            if (at === undefined) fail(`member ${sim.id} stored a snapshot without a SNAPSHOT action applied`);
            const id = sim.archive.size;
            sim.archive.set(id, { bytes, chain: at!.chain });
            if (bytes.length > 0) {
              // Taken at the action's position: the same on every member.
              const text = Buffer.from(bytes).toString('base64');
              const other = snapshotsAt.get(at!.position);
              if (other === undefined) snapshotsAt.set(at!.position, text);
              else if (other !== text) fail(`member ${sim.id}'s snapshot at position ${at!.position} differs from another member's`);
              snapshotsTaken++;
            } else {
              sim.snapshotChains.shift();
            }
            return id;
          },
          read: (id) => sim.archive.get(id)?.bytes,
        },
        send: (to, message) => send(sim.id, to, message),
        egress: (sessionId, sequence, answer) => {
          const client = clientBySession(sessionId);
          if (client !== undefined) send(sim.id, client.node, { type: 'clientAnswer', from: sim.id, sessionId, sequence, answer });
        },
        reject: (sessionId, sequence, reason) => {
          const client = clientBySession(sessionId);
          if (client !== undefined) send(sim.id, client.node, { type: 'clientReject', from: sim.id, sessionId, sequence, reason });
        },
        random: prng.fork(),
        clusterClock: () => Math.floor((now + sim.clockOffsetNs) / MS),
        nowNs: now,
        settings,
        snapshotIntervalNs,
        refuseNondeterminism: true,
        onApplied: (entry) => apply(sim, entry),
      });
      if (node.recoveredPosition > 0) {
        // Recovered from a snapshot: the simulator's own record of the state there comes back with it.
        const cm = node.recordingLog.latestSnapshot(CONSENSUS_MODULE_SERVICE_ID)!;
        sim.applied = node.recoveredPosition;
        sim.state = sim.archive.get(cm.recordingId)!.chain;
        recoveriesFromSnapshot++;
      }
      sim.node = node;
      sim.container = node.container;
      sim.member = node.member;
      return;
    }
    const memberPrng = prng.fork();
    sim.member = new ConsensusMember(sim.id, ids, sim.log, {
      random: memberPrng,
      send: (to, message) => send(sim.id, to, message),
      onCommitted: (entry) => apply(sim, entry),
    }, now, settings);
  };
  const send = (from: number, to: number, message: ConsensusMessage | ClientMessage): void => {
    if (faultsOn && blocked.has(`${from}>${to}`)) {
      stats.messagesLost++;
      return;
    }
    if ((faultsOn && netRandom.nextBoolean(loss)) || (terminationLoss > 0 && netRandom.nextBoolean(terminationLoss))) {
      stats.messagesLost++;
      return;
    }
    const copies = faultsOn && netRandom.nextBoolean(duplication) ? 2 : 1;
    if (copies === 2) stats.messagesDuplicated++;
    for (let c = 0; c < copies; c++) {
      // Mostly 0.05-2 ms; 5% up to 50 ms; while faults are on, 1% up to 3 s (a message that
      // arrives elections later).
      const delay = faultsOn && netRandom.nextBoolean(0.01) ? netRandom.nextInt(3000 * MS) : netRandom.nextBoolean(0.05) ? netRandom.nextInt(50 * MS) : 50_000 + netRandom.nextInt(2 * MS);
      queue.push({ at: now + delay, seq: seq++, to, from, message });
    }
  };
  const apply = (sim: SimMember, entry: LogEntry): void => {
    if (entry.position !== placeEntry(sim.applied, entry.data.length, layout)) fail(`member ${sim.id} applied position ${entry.position} after ${sim.applied}: out of order`);
    sim.state = hashStep(sim.state, entry);
    sim.applied = entry.position + entry.length;
    const known = committed.get(entry.position);
    const hash = hashStep(0, entry);
    if (known === undefined) committed.set(entry.position, { termId: entry.termId, hash, end: sim.applied });
    else if (known.termId !== entry.termId || known.hash !== hash || known.end !== sim.applied) fail(`member ${sim.id} applied a different entry at committed position ${entry.position} (term ${entry.termId}, was term ${known.termId})`);
    if (sim.container !== null) {
      answeredAgain += sim.container.stats.answeredAgain - sim.answeredAgainSeen;
      sim.answeredAgainSeen = sim.container.stats.answeredAgain;
      sim.state = hashStep(sim.state, { termId: 0, position: 0, length: 0, data: new TextEncoder().encode(sim.kv!.digest() + sim.container.digest()) });
    }
    if (entry.data[0] === EntryKind.CLUSTER_ACTION && entry.data[1] === ClusterAction.SNAPSHOT) sim.snapshotChains.push({ position: sim.applied, chain: sim.state });
    const state = statesAt.get(sim.applied);
    if (state === undefined) statesAt.set(sim.applied, sim.state);
    else if (state !== sim.state) fail(`member ${sim.id}'s service differs from another member's at position ${sim.applied}`);
  };
  const clientSend = (client: SimClient, target: number): void => {
    const op = client.current!;
    op.sentAt = now;
    op.target = target;
    const command: KvCommand = op.input;
    send(client.node, target, { type: 'clientRequest', from: client.node, sessionId: client.sessionId, sequence: client.sequence, command: encodeKv(command) });
  };
  const clientWork = (client: SimClient): void => {
    if (now < client.stalledUntil) return;
    const op = client.current;
    if (op === null) {
      if (now < client.nextOpAt || !faultsOn) return;
      if (clientRandom.nextBoolean(0.002)) {
        // The client pauses longer than the session timeout (a stalled process): the leader closes its session.
        client.nextOpAt = now + 12_000 * MS;
        clientPauses++;
        return;
      }
      client.sequence++;
      const key = `k${clientRandom.nextInt(3)}`;
      const roll = clientRandom.nextInt(3);
      const value = `${client.index}.${client.sequence}`;
      const input: KvInput = roll === 0 ? { op: 'get', key } : roll === 1 ? { op: 'put', key, value } : { op: 'cas', key, expected: clientRandom.nextBoolean(0.5) ? null : `${clientRandom.nextInt(clientCount)}.${clientRandom.nextInt(client.sequence + 1)}`, value };
      client.current = { input, call: now, sentAt: now, target: client.leaderGuess, giveUpAt: now + clientGiveUpNs };
      clientSend(client, client.leaderGuess);
      if (clientRandom.nextBoolean(0.002)) {
        // Stalled right after sending, for longer than the session timeout: the command may have
        // been applied and its answer lost; when the client resends, the cluster must answer from
        // the closed session's record, not apply it again nor deny it took effect.
        client.stalledUntil = now + 12_000 * MS;
        client.current.giveUpAt += 12_000 * MS;
        clientPauses++;
      }
      return;
    }
    if (now >= op.giveUpAt) {
      history.push({ clientId: client.index, input: op.input, call: op.call, output: undefined, return: Number.POSITIVE_INFINITY });
      indeterminate++;
      client.current = null;
      client.nextOpAt = now + MS;
      return;
    }
    if (now - op.sentAt >= 500 * MS) {
      client.leaderGuess = clientRandom.nextInt(n);
      clientSend(client, client.leaderGuess);
    }
  };
  const onClientMessage = (to: number, message: ClientMessage): void => {
    if (to >= n) {
      const client = clients[to - n]!;
      const op = client.current;
      // A stalled client reads nothing: what arrives meanwhile is lost to it.
      if (now < client.stalledUntil) return;
      if (op === null || message.sequence !== client.sequence || message.sessionId !== client.sessionId) return;
      if (message.type === 'clientReject') {
        // Certain not to have taken effect (the session's last applied command is older): not in the
        // history, as Jepsen leaves out failed operations. A new session takes over.
        rejected++;
        client.generation++;
        client.sessionId = 1000 + client.index * 1000 + client.generation;
        client.sequence = 0;
        client.current = null;
        client.nextOpAt = now + MS;
        return;
      }
      if (message.type === 'redirect') {
        if (message.leaderId >= 0 && message.leaderId !== op.target) {
          client.leaderGuess = message.leaderId;
          clientSend(client, message.leaderId);
        }
        return;
      }
      if (message.type !== 'clientAnswer') return;
      const answer = decodeKv<KvAnswer>(message.answer);
      if (answer.error !== undefined) fail(`client ${client.index}: the service refused ${JSON.stringify(op.input)}: ${answer.error}`);
      history.push({ clientId: client.index, input: op.input, call: op.call, output: answer, return: now });
      client.leaderGuess = message.from;
      client.current = null;
      client.nextOpAt = now + clientRandom.nextInt(20 * MS);
      return;
    }
    if (message.type !== 'clientRequest') return;
    const node = sims[to]!.node;
    if (node === null) return;
    if (message.type !== 'clientRequest') return;
    const result = node.onIngress(message.sessionId, message.sequence, message.command);
    if (!result.accepted) send(to, message.from, { type: 'redirect', from: to, leaderId: result.leaderId, sessionId: message.sessionId, sequence: message.sequence });
  };
  const checkLeaders = (): void => {
    for (const sim of sims) {
      const m = sim.member;
      if (m === null || m.role !== 'LEADER') continue;
      const known = leaders.get(m.leadershipTermId);
      if (known === undefined) leaders.set(m.leadershipTermId, sim.id);
      else if (known !== sim.id) fail(`two leaders in term ${m.leadershipTermId}: members ${known} and ${sim.id}`);
    }
  };
  const leader = (): ConsensusMember | null => {
    let best: ConsensusMember | null = null;
    for (const sim of sims) {
      const m = sim.member;
      if (m !== null && m.role === 'LEADER' && m.electionState === 'CLOSED' && (best === null || m.leadershipTermId > best.leadershipTermId)) best = m;
    }
    return best;
  };
  const fault = (): void => {
    const kind = faultRandom.nextInt(7);
    const victim = sims[faultRandom.nextInt(n)]!;
    if (kind === 0 && victim.member !== null) {
      // A crash: everything volatile is gone; the log stays as far as it was durable.
      victim.member = null;
      victim.node = null;
      victim.log.crash();
      stats.crashes++;
    } else if (kind === 1) {
      for (const sim of sims) if (sim.member === null) {
        start(sim);
        stats.restarts++;
      }
    } else if (kind === 2) {
      // Isolate a member both ways.
      for (const other of ids) if (other !== victim.id) {
        blocked.add(`${victim.id}>${other}`);
        blocked.add(`${other}>${victim.id}`);
      }
      stats.partitions++;
    } else if (kind === 3) {
      // One way only: the victim hears others but is not heard (or the reverse).
      const outbound = faultRandom.nextBoolean(0.5);
      for (const other of ids) if (other !== victim.id) blocked.add(outbound ? `${victim.id}>${other}` : `${other}>${victim.id}`);
      stats.asymmetricPartitions++;
    } else if (kind === 4) {
      blocked.clear();
    } else if (kind === 5) {
      // The member's wall clock jumps, either way, by up to a minute (its monotonic time does not).
      victim.clockOffsetNs += Math.round((faultRandom.nextDouble() * 2 - 1) * 60_000 * MS);
      stats.clockJumps++;
    } else if (victim.member !== null) {
      victim.log.broken = true;
      victim.files.failWrites('EIO');
      stats.diskFaults++;
    }
  };
  /** A member whose disk failed stops; anything else it threw is a bug. */
  const stopped = (sim: SimMember, error: unknown): boolean => {
    const storage = error instanceof SkeinError && error.code === ErrorCode.STORAGE_FAILED && sim.log.broken;
    if (!(error instanceof DiskFault) && !storage) return false;
    sim.member = null;
    sim.node = null;
    sim.log.crash();
    stats.diskFaultStops++;
    return true;
  };

  for (const sim of sims) start(sim);
  const tickNs = 10 * MS;
  let nextTick = 0;
  let nextFault = faultIntervalMs * MS;
  let nextCommand = commandIntervalMs * MS;
  const endFaults = durationMs * MS;
  const end = endFaults + recoveryMs * MS;
  let finalCommand: number | null = null;
  let finalTerm = -1;
  let commandsOn = true;
  const run = (until: () => boolean, endNs: number): void => {
  while (now < endNs) {
    const p = queue.peek();
    const next = Math.min(nextTick, nextFault, nextCommand, p === undefined ? Infinity : p.at);
    now = next;
    stats.events++;
    if (p !== undefined && p.at === now) {
      queue.pop();
      const message = p.message;
      try {
        if (message.type === 'clientRequest' || message.type === 'clientAnswer' || message.type === 'redirect' || message.type === 'clientReject') onClientMessage(p.to, message);
        else if (sims[p.to]!.node !== null) sims[p.to]!.node!.onMessage(message, now);
        else sims[p.to]!.member?.onMessage(message, now);
      } catch (error) {
        if (error instanceof SimFailure) throw error;
        if (p.to < n && stopped(sims[p.to]!, error)) continue;
        fail(`member ${p.to} failed on ${p.message.type} from ${p.from}: ${(error as Error).message}`);
      }
    } else if (now === nextTick) {
      nextTick += tickNs;
      for (const client of clients) clientWork(client);
      for (const sim of sims) {
        if (sim.member !== null && durabilityRandom.nextBoolean(0.3)) sim.log.flush();
        try {
          if (sim.node !== null) sim.node.doWork(now);
          else sim.member?.doWork(now);
        } catch (error) {
          if (error instanceof SimFailure) throw error;
          if (stopped(sim, error)) continue;
          fail(`member ${sim.id} failed in its duty cycle: ${(error as Error).message}`);
        }
      }
    } else if (now === nextFault) {
      nextFault += Math.max(MS, Math.round(faultRandom.nextDouble() * 2 * faultIntervalMs * MS));
      if (now >= endFaults) {
        if (faultsOn) {
          faultsOn = false;
          blocked.clear();
          for (const sim of sims) {
            sim.log.broken = false;
            sim.files.failWrites(null);
          }
          for (const sim of sims) if (sim.member === null) {
            start(sim);
            stats.restarts++;
          }
        }
      } else {
        fault();
      }
    } else {
      nextCommand += commandIntervalMs * MS;
      const l = leader();
      if (commandsOn && l !== null && (clientCount === 0 || !faultsOn)) {
        // Mostly small commands; every seventh one larger than a frame, so that it is fragmented.
        let data: Uint8Array = new Uint8Array(offered % 7 === 3 ? 1400 + ((offered * 37) % 2600) : 8 + (offered % 24));
        new DataView(data.buffer).setFloat64(0, offered++, true);
        // With a service, the command is a session message of a session no client uses.
        let position: number | null = null;
        try {
          if (clientCount > 0) {
            const result = sims[l.memberId]!.node!.onIngress(999, offered, encodeKv({ op: 'get', key: 'final' }));
            position = result.accepted ? result.position : null;
          } else {
            position = l.offer(data);
          }
        } catch (error) {
          if (!stopped(sims[l.memberId]!, error)) throw error;
        }
        if (!faultsOn && finalCommand === null && position !== null) {
          finalCommand = position;
          finalTerm = l.leadershipTermId;
        }
      }
    }
    checkLeaders();
    if (until()) return;
  }
  };
  const allApplied = (): boolean => finalCommand !== null && sims.every((s) => s.member !== null && s.applied > finalCommand!);
  run(allApplied, end);
  if (finalCommand === null) fail(`no leader accepted a command within ${recoveryMs} ms after the faults stopped (roles: ${sims.map((s) => `${s.id}:${s.member?.role}/${s.member?.electionState}/t${s.member?.leadershipTermId}`).join(' ')})`);
  for (const sim of sims) {
    if (sim.applied <= finalCommand!) fail(`member ${sim.id} did not apply the command at ${finalCommand} of term ${finalTerm} within ${recoveryMs} ms after the faults stopped (applied ${sim.applied}, ${sim.member?.role}/${sim.member?.electionState})`);
  }
  let termination: ConsensusSimResult['termination'];
  if (options.terminate !== undefined && clientCount > 0) {
    // The whole cluster stops in order (or aborts), then starts again from what it left.
    // A leader may be between terms right now (a restarted member's newer promise makes it step down): wait for one.
    run(() => sims.some((s) => s.node?.isActiveLeader === true), now + recoveryMs * MS);
    const leaderSim = sims.find((s) => s.node?.isActiveLeader === true);
    if (leaderSim === undefined) fail(`no active leader to ${options.terminate} the cluster`);
    commandsOn = false;
    const started = now;
    const ok = options.terminate === 'shutdown' ? leaderSim!.node!.shutdown(now) : leaderSim!.node!.abort(now);
    if (!ok) fail(`the leader refused to ${options.terminate}`);
    terminationLoss = 0.2;
    run(() => sims.every((s) => s.node?.state === 'CLOSED'), now + 30_000 * MS);
    terminationLoss = 0;
    const open = sims.filter((s) => s.node?.state !== 'CLOSED');
    if (open.length > 0) fail(`members ${open.map((s) => `${s.id} (${s.node?.state})`).join(', ')} did not terminate within 30 s of the ${options.terminate}`);
    const position = leaderSim!.node!.terminationLogPosition;
    for (const sim of sims) {
      if (sim.node!.terminationLogPosition !== position) fail(`member ${sim.id} terminated at ${sim.node!.terminationLogPosition}, the leader at ${position}`);
      if (sim.applied !== position) fail(`member ${sim.id} terminated having applied ${sim.applied}, not the termination position ${position}`);
      if (options.terminate === 'shutdown' && sim.node!.recordingLog.latestSnapshot(CONSENSUS_MODULE_SERVICE_ID)?.logPosition !== position) {
        fail(`member ${sim.id} has no snapshot at the termination position ${position}`);
      }
      if (sim.terminated !== 1) fail(`member ${sim.id}'s service was told to terminate ${sim.terminated} times`);
    }
    const stoppedAfterMs = (now - started) / MS;
    // Start again: every member recovers (from the shutdown snapshot: nothing to replay), elects, and takes commands.
    const recoveredBefore = recoveriesFromSnapshot;
    for (const sim of sims) start(sim);
    const recoveredAt = sims.map((s) => s.node!.recoveredPosition);
    if (options.terminate === 'shutdown' && recoveredAt.some((p) => p !== position)) fail(`after the shutdown, members recovered from positions ${recoveredAt.join(', ')}, not ${position}`);
    commandsOn = true;
    finalCommand = null;
    run(allApplied, now + recoveryMs * MS);
    if (!allApplied()) fail(`after the ${options.terminate} and a restart, no command was applied on every member within ${recoveryMs} ms`);
    termination = { kind: options.terminate, position, stoppedAfterMs, recoveredFromSnapshot: recoveriesFromSnapshot - recoveredBefore };
  }
  let commands = 0;
  let paddings = 0;
  let fragmentedEntries = 0;
  for (const sim of sims) {
    if (sim.applied === Math.max(...sims.map((s) => s.applied))) {
      for (let pos = 0; pos < sim.applied; ) {
        const e = sim.log.entryFrom(pos);
        if (e === undefined) break;
        if (e.data[0] !== TERM_START_MARKER || e.data.length !== 9) commands++;
        if (e.position !== pos) paddings++;
        if (e.data.length > layout.maxPayloadLength) fragmentedEntries++;
        pos = e.position + e.length;
      }
      break;
    }
  }
  const crashLosses = sims.reduce((sum, m) => sum + m.log.lostOnCrash, 0);
  const logTruncations = sims.reduce((sum, m) => sum + m.log.truncations, 0);
  const entriesReadBack = sims.reduce((sum, m) => sum + m.log.readBack, 0);
  const termsDropped = sims.reduce((sum, m) => sum + m.log.termsForgotten, 0);
  if (clientCount === 0) return { seed, committedEntries: committed.size, committedCommands: commands, leadersElected: leaders.size, logTruncations, entriesReadBack, termsDropped, crashLosses, paddings, fragmentedEntries, ...stats };
  // Operations still waiting when the run ends never learnt their outcome.
  for (const client of clients) {
    if (client.current !== null) {
      history.push({ clientId: client.index, input: client.current.input, call: client.current.call, output: undefined, return: Number.POSITIVE_INFINITY });
      indeterminate++;
    }
  }
  const linearizability = checkLinearizable(kvModel, history, { maxSteps: 5_000_000 });
  if (linearizability.verdict === 'illegal') fail(`the clients' history (${history.length} operations) is not linearizable: partition ${linearizability.illegalPartition}`);
  return {
    seed, committedEntries: committed.size, committedCommands: commands, leadersElected: leaders.size, logTruncations, entriesReadBack, termsDropped, crashLosses, paddings, fragmentedEntries, ...stats,
    history, linearizability, commandsAnsweredAgain: answeredAgain, indeterminate, snapshotsTaken, recoveriesFromSnapshot, commandsRejected: rejected, clientPauses,
    ...(termination === undefined ? {} : { termination }),
  };
}
