/**
 * Runs a clustered service on one member (docs/cluster.md, "Services"): feeds it the committed
 * log in order, keeps the replicated session table that makes client commands exactly-once, fires
 * the timers the log says fired, and sends the service's answers on egress only where this member
 * leads.
 *
 * Exactly once: every command carries its client session id and a sequence that the client
 * raises by one per command and keeps when it resends. The table holds, per session, the last
 * sequence applied and the answer given. A command whose sequence was applied already is not
 * given to the service again: the last one is answered again with the stored answer (the client
 * resent it after a leader change), older ones are dropped. The table is part of the replicated
 * state: every member builds the same one from the same log.
 *
 * Sessions are opened by a SESSION_OPEN entry and closed by a SESSION_CLOSE entry (the client's
 * request, or the leader's session timeout). A closed session keeps its last sequence and answer
 * (a tombstone, never reused): a resend of its last command is still answered, and anything newer
 * is rejected, so a client knows for certain that a rejected command did not take effect. A
 * command for a session never opened is rejected too.
 *
 * Determinism: the service sees time only as the timestamps in the log, and with
 * `refuseNondeterminism` (tests, the simulator) any call it makes to Date.now, performance.now or
 * Math.random while handling an entry throws, naming what it called.
 */
import type { LogEntry } from '../consensus/consensus-log.js';
import { ClusterAction, CloseReason, SessionMessageReader, decodeEntry, type SessionResponse } from './cluster-entries.js';
import { ErrorCode, SkeinError } from '../../util/errors.js';

/** What a service can do through the cluster while it handles an entry. */
export interface ServiceCluster {
  /** Cluster time of the entry being handled (the leader's clock when it appended it). */
  readonly time: number;
  /** Log position after the entry being handled. */
  readonly position: number;
  readonly role: 'LEADER' | 'FOLLOWER';
  /** Asks for onTimerEvent(correlationId) once cluster time reaches `deadline`; replaces a timer of the same id. */
  scheduleTimer(correlationId: number, deadline: number): void;
  cancelTimer(correlationId: number): boolean;
}

export interface ClientSession {
  readonly id: number;
}

/** A deterministic state machine replicated by the cluster (in the spirit of Aeron's ClusteredService). */
export interface ClusteredService {
  /** Called once, with the service's part of the snapshot the member recovers from (null: none, the log replays from its start). */
  onStart?(cluster: ServiceCluster, snapshot: Uint8Array | null): void;
  /** The service's state as bytes, at the position of a snapshot; `onStart` gets them back. */
  onTakeSnapshot?(cluster: ServiceCluster): Uint8Array;
  onSessionOpen?(session: ClientSession, timestamp: number): void;
  onSessionClose?(session: ClientSession, timestamp: number, reason: CloseReason): void;
  /**
   * Handles a command; the answer it returns goes to the client (and is stored for a resend, as a
   * copy). `payload` is a view of the log's bytes, valid during this call: the member uses that
   * memory again later, so copy what you keep (as with the buffer of Aeron's onSessionMessage).
   */
  onSessionMessage(session: ClientSession, timestamp: number, payload: Uint8Array, cluster: ServiceCluster): Uint8Array;
  onTimerEvent?(correlationId: number, timestamp: number, cluster: ServiceCluster): void;
  onRoleChange?(role: 'LEADER' | 'FOLLOWER'): void;
  onTerminate?(): void;
}

export interface ServiceContainerOptions {
  readonly service: ClusteredService;
  /** Sends an answer to a client; called only while this member leads. */
  readonly egress: (sessionId: number, sequence: number, answer: Uint8Array) => void;
  /** Tells a client its command was not applied and never will be (session closed or unknown); only while this member leads. */
  readonly reject?: (sessionId: number, sequence: number, reason: string) => void;
  /** Make the service's calls to Date.now, performance.now and Math.random throw. */
  readonly refuseNondeterminism?: boolean;
  /** A snapshot taken by {@link ServiceContainer.snapshot} to start from (with its log position). */
  readonly snapshot?: { readonly position: number; readonly bytes: Uint8Array };
  /** Called with the container's snapshot (sessions, timers, cluster time and the service's state) when a SNAPSHOT action is applied. */
  readonly onSnapshot?: (position: number, bytes: Uint8Array) => void;
  /** Answers kept per open session besides its last, for resends whose answers were lost (0: none). @default DEFAULT_RECENT_ANSWERS */
  readonly recentAnswers?: number;
}

/**
 * Answers an open session keeps besides its last, by sequence: a resend of a command applied
 * before the last (its answer lost with a leader that stopped leading, or never read) is answered
 * from here. Every member keeps them as it applies entries, outside the replicated state (not in
 * snapshots): after a restart they fill again from the log replayed.
 */
export const DEFAULT_RECENT_ANSWERS = 256;

/** A ring of the last answers of a session, slot = sequence modulo its size. */
interface RecentAnswers {
  readonly sequences: Float64Array;
  readonly answers: (Uint8Array | undefined)[];
}

interface SnapshotImage {
  readonly version: 1;
  readonly time: number;
  /** id, last sequence, last answer (base64), and for sessions opened over the network their egress channel and stream. */
  readonly sessions: ([number, number, string] | [number, number, string, string, number])[];
  readonly closed: [number, number, string][];
  readonly timers: [number, number][];
  readonly service: string | null;
}

const SNAPSHOT_VERSION = 1;
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { ignoreBOM: true });

interface SessionRecord {
  /** What the service is given for this session (one object for the session's life). */
  readonly session: ClientSession;
  lastSequence: number;
  lastAnswer: Uint8Array;
  /** Where the client takes its answers, for a session opened over the network. */
  readonly response?: SessionResponse;
  /** Its recent answers (made with its first sequenced command; dropped when it closes). */
  recent?: RecentAnswers;
}

/** Counters for tests: commands given to the service, duplicates answered from the table, dropped. */
export interface ContainerStats {
  applied: number;
  answeredAgain: number;
  droppedOld: number;
  rejected: number;
  sessionsOpened: number;
  sessionsClosed: number;
  timersFired: number;
  timerEventsIgnored: number;
  snapshotsTaken: number;
  unknownEntries: number;
}

export class ServiceContainer {
  private readonly service: ClusteredService;
  private readonly egress: ServiceContainerOptions['egress'];
  private readonly guard: boolean;
  private readonly sessions = new Map<number, SessionRecord>();
  /** Closed sessions' last sequence and answer: never reopened. */
  private readonly closed = new Map<number, SessionRecord>();
  private readonly reject: ServiceContainerOptions['reject'];
  private readonly timers = new Map<number, number>();
  private roleValue: 'LEADER' | 'FOLLOWER' = 'FOLLOWER';
  private terminated = false;
  private time = 0;
  private positionValue = 0;
  readonly stats: ContainerStats = {
    applied: 0, answeredAgain: 0, droppedOld: 0, rejected: 0, sessionsOpened: 0, sessionsClosed: 0, timersFired: 0, timerEventsIgnored: 0, snapshotsTaken: 0, unknownEntries: 0,
  };
  private readonly cluster: ServiceCluster;
  private readonly onSnapshot: ServiceContainerOptions['onSnapshot'];
  private readonly recentAnswers: number;
  private readonly sessionMessages = new SessionMessageReader();

  constructor(options: ServiceContainerOptions) {
    this.service = options.service;
    this.recentAnswers = options.recentAnswers ?? DEFAULT_RECENT_ANSWERS;
    if (!(Number.isInteger(this.recentAnswers) && this.recentAnswers >= 0 && this.recentAnswers <= 65_536)) {
      throw new SkeinError(ErrorCode.CONFIG_INVALID, `recentAnswers=${String(options.recentAnswers)} is invalid; expected an integer in [0, 65536]`);
    }
    this.egress = options.egress;
    this.guard = options.refuseNondeterminism ?? false;
    const container = this;
    this.cluster = {
      get time() {
        return container.time;
      },
      get position() {
        return container.positionValue;
      },
      get role() {
        return container.roleValue;
      },
      scheduleTimer: (correlationId, deadline) => {
        this.timers.set(correlationId, deadline);
      },
      cancelTimer: (correlationId) => this.timers.delete(correlationId),
    };
    this.onSnapshot = options.onSnapshot;
    this.reject = options.reject;
    let serviceSnapshot: Uint8Array | null = null;
    if (options.snapshot !== undefined) {
      const image = decodeSnapshot(options.snapshot.bytes);
      this.positionValue = options.snapshot.position;
      this.time = image.time;
      for (const [id, lastSequence, answer, channel, streamId] of image.sessions) {
        this.sessions.set(id, { session: { id }, lastSequence, lastAnswer: fromBase64(answer), ...(channel === undefined ? {} : { response: { channel, streamId: streamId! } }) });
      }
      for (const [id, lastSequence, answer] of image.closed) this.closed.set(id, { session: { id }, lastSequence, lastAnswer: fromBase64(answer) });
      for (const [id, deadline] of image.timers) this.timers.set(id, deadline);
      serviceSnapshot = image.service === null ? null : fromBase64(image.service);
    }
    this.guarded(() => this.service.onStart?.(this.cluster, serviceSnapshot));
  }

  /** The replicated state as bytes: sessions, timers, cluster time and the service's own snapshot. */
  snapshot(): Uint8Array {
    const service = this.service.onTakeSnapshot === undefined ? null : this.guarded(() => this.service.onTakeSnapshot!(this.cluster));
    const image: SnapshotImage = {
      version: SNAPSHOT_VERSION,
      time: this.time,
      sessions: [...this.sessions].sort((a, b) => a[0] - b[0]).map(([id, r]) => (r.response === undefined ? [id, r.lastSequence, toBase64(r.lastAnswer)] : [id, r.lastSequence, toBase64(r.lastAnswer), r.response.channel, r.response.streamId])),
      closed: [...this.closed].sort((a, b) => a[0] - b[0]).map(([id, r]) => [id, r.lastSequence, toBase64(r.lastAnswer)]),
      timers: [...this.timers].sort((a, b) => a[0] - b[0]),
      service: service === null ? null : toBase64(service),
    };
    return textEncoder.encode(JSON.stringify(image));
  }

  get position(): number {
    return this.positionValue;
  }

  /** Timers scheduled and not fired or cancelled. */
  get timerCount(): number {
    return this.timers.size;
  }

  /** Timers scheduled and not fired, by correlation id: the leader appends TIMER entries for those due. */
  dueTimers(now: number): number[] {
    const due: number[] = [];
    for (const [id, deadline] of this.timers) if (deadline <= now) due.push(id);
    return due.sort((a, b) => a - b);
  }

  /** The last sequence applied for a session (0 for none): what a leader checks before appending a resent command. */
  lastSequence(sessionId: number): number {
    return (this.sessions.get(sessionId) ?? this.closed.get(sessionId))?.lastSequence ?? 0;
  }

  /**
   * The answer to an applied command still at hand: the session's last from the session table (open
   * or closed), an earlier one from an open session's recent answers; undefined otherwise.
   */
  answerTo(sessionId: number, sequence: number): Uint8Array | undefined {
    const record = this.sessions.get(sessionId) ?? this.closed.get(sessionId);
    if (record === undefined || sequence <= 0 || sequence > record.lastSequence) return undefined;
    return sequence === record.lastSequence ? record.lastAnswer : this.recentAnswer(sessionId, sequence);
  }

  /** The answer to an earlier command of an open session, if still among its recent answers (undefined otherwise). */
  recentAnswer(sessionId: number, sequence: number): Uint8Array | undefined {
    const recent = this.sessions.get(sessionId)?.recent;
    if (recent === undefined || sequence <= 0) return undefined;
    const slot = sequence % this.recentAnswers;
    return recent.sequences[slot] === sequence ? recent.answers[slot] : undefined;
  }

  /** The answer to a session's last applied sequence (undefined for none). */
  lastAnswer(sessionId: number): Uint8Array | undefined {
    const record = this.sessions.get(sessionId) ?? this.closed.get(sessionId);
    return record === undefined || record.lastSequence === 0 ? undefined : record.lastAnswer;
  }

  /** Where an open session's client takes its answers (sessions opened over the network). */
  responseOf(sessionId: number): SessionResponse | undefined {
    return this.sessions.get(sessionId)?.response;
  }

  /** Where a closed session's client took its answers (sessions opened over the network, closed since this process started or restored). */
  closedResponseOf(sessionId: number): SessionResponse | undefined {
    return this.closed.get(sessionId)?.response;
  }

  /** The highest session id opened so far (0 for none): a leader numbers new sessions after it. */
  highestSessionId(): number {
    let max = 0;
    for (const id of this.sessions.keys()) if (id > max) max = id;
    for (const id of this.closed.keys()) if (id > max) max = id;
    return max;
  }

  isOpen(sessionId: number): boolean {
    return this.sessions.has(sessionId);
  }

  isClosed(sessionId: number): boolean {
    return this.closed.has(sessionId);
  }

  /** Open sessions' ids (for the leader's session timeouts). */
  openSessionIds(): IterableIterator<number> {
    return this.sessions.keys();
  }

  setRole(role: 'LEADER' | 'FOLLOWER'): void {
    if (role === this.roleValue) return;
    this.roleValue = role;
    this.guarded(() => this.service.onRoleChange?.(role));
  }

  /** Applies one committed entry (in log order). */
  apply(entry: LogEntry): void {
    this.positionValue = entry.position + entry.length;
    // A session message, one per command, is read in place (no object per entry).
    const reader = this.sessionMessages;
    if (reader.wrap(entry.data)) {
      this.applySessionMessage(reader.sessionId, reader.sequence, reader.timestamp, SessionMessageReader.payload(entry.data));
      return;
    }
    const decoded = decodeEntry(entry.data);
    switch (decoded.kind) {
      case 'open':
        this.time = Math.max(this.time, decoded.timestamp);
        // Opening twice (a leader appended it twice) or reopening a closed session changes nothing.
        if (this.sessions.has(decoded.sessionId) || this.closed.has(decoded.sessionId)) return;
        const opened: SessionRecord = { session: { id: decoded.sessionId }, lastSequence: 0, lastAnswer: new Uint8Array(0), ...(decoded.response === undefined ? {} : { response: decoded.response }) };
        this.sessions.set(decoded.sessionId, opened);
        this.stats.sessionsOpened++;
        this.guarded(() => this.service.onSessionOpen?.(opened.session, decoded.timestamp));
        return;
      case 'close': {
        this.time = Math.max(this.time, decoded.timestamp);
        const record = this.sessions.get(decoded.sessionId);
        if (record === undefined) return;
        this.sessions.delete(decoded.sessionId);
        delete record.recent;
        this.closed.set(decoded.sessionId, record);
        this.stats.sessionsClosed++;
        this.guarded(() => this.service.onSessionClose?.(record.session, decoded.timestamp, decoded.reason));
        return;
      }
      case 'session':
        // Taken by the reader above (it reads every entry decodeEntry calls a session message).
        this.applySessionMessage(decoded.sessionId, decoded.sequence, decoded.timestamp, decoded.payload);
        return;
      case 'timer': {
        this.time = Math.max(this.time, decoded.timestamp);
        const deadline = this.timers.get(decoded.correlationId);
        // Cancelled, or fired already, by the time the event is applied: nothing happens, on every member alike.
        if (deadline === undefined || deadline > decoded.timestamp) {
          this.stats.timerEventsIgnored++;
          return;
        }
        this.timers.delete(decoded.correlationId);
        this.stats.timersFired++;
        this.guarded(() => this.service.onTimerEvent?.(decoded.correlationId, decoded.timestamp, this.cluster));
        return;
      }
      case 'action':
        this.time = Math.max(this.time, decoded.timestamp);
        if (decoded.action === ClusterAction.SNAPSHOT) {
          const bytes = this.snapshot();
          this.stats.snapshotsTaken++;
          this.onSnapshot?.(this.positionValue, bytes);
        } else if (decoded.action !== ClusterAction.SUSPEND && decoded.action !== ClusterAction.RESUME) {
          // SUSPEND and RESUME are the consensus module's (ClusterNode); the service only sees their time.
          this.stats.unknownEntries++;
        }
        return;
      case 'termStart':
        return;
      case 'unknown':
        this.stats.unknownEntries++;
        return;
    }
  }

  /** A session message: the command applied once (a resend answered again), its answer kept and, when leading, sent. */
  private applySessionMessage(sessionId: number, sequence: number, timestamp: number, payload: Uint8Array): void {
    this.time = Math.max(this.time, timestamp);
    const record = this.sessions.get(sessionId) ?? this.closed.get(sessionId);
    const open = this.sessions.has(sessionId);
    if (record === undefined || (!open && sequence > record.lastSequence)) {
      this.stats.rejected++;
      if (this.roleValue === 'LEADER') this.reject?.(sessionId, sequence, record === undefined ? 'the session is not open' : 'the session is closed');
      return;
    }
    // Sequence 0: a command without one (an Aeron client's): applied as it comes, never deduplicated.
    if (sequence === 0 && open) {
      const answer = this.guard
        ? this.guarded(() => this.service.onSessionMessage(record.session, timestamp, payload, this.cluster))
        : this.service.onSessionMessage(record.session, timestamp, payload, this.cluster);
      this.stats.applied++;
      if (this.roleValue === 'LEADER') this.egress(sessionId, 0, answer.slice());
      return;
    }
    if (sequence <= record.lastSequence) {
      const again = this.answerTo(sessionId, sequence);
      if (again !== undefined) {
        this.stats.answeredAgain++;
        if (this.roleValue === 'LEADER') this.egress(sessionId, sequence, again);
      } else {
        this.stats.droppedOld++;
      }
      return;
    }
    // No closure per command unless the service is watched for nondeterminism.
    const answer = this.guard
      ? this.guarded(() => this.service.onSessionMessage(record.session, timestamp, payload, this.cluster))
      : this.service.onSessionMessage(record.session, timestamp, payload, this.cluster);
    record.lastSequence = sequence;
    // Kept as a copy (the service may reuse its buffer); an answer equal to the last one
    // (a service that answers most commands alike) keeps the copy already made.
    if (!sameBytes(answer, record.lastAnswer)) record.lastAnswer = answer.slice();
    if (this.recentAnswers > 0) {
      const recent = (record.recent ??= { sequences: new Float64Array(this.recentAnswers), answers: new Array<Uint8Array | undefined>(this.recentAnswers) });
      const slot = sequence % this.recentAnswers;
      recent.sequences[slot] = sequence;
      recent.answers[slot] = record.lastAnswer;
    }
    this.stats.applied++;
    if (this.roleValue === 'LEADER') this.egress(sessionId, sequence, record.lastAnswer);
  }

  /** The member terminates: the service's onTerminate, once. */
  terminate(): void {
    if (this.terminated) return;
    this.terminated = true;
    this.guarded(() => this.service.onTerminate?.());
  }

  /** A digest of the replicated state the container keeps (sessions and timers), for comparing members. */
  digest(): string {
    const sessions = [...this.sessions].sort((a, b) => a[0] - b[0]).map(([id, r]) => `${id}:${r.lastSequence}:${toBase64(r.lastAnswer)}`);
    const timers = [...this.timers].sort((a, b) => a[0] - b[0]).map(([id, d]) => `${id}@${d}`);
    const closed = [...this.closed].sort((a, b) => a[0] - b[0]).map(([id, r]) => `${id}:${r.lastSequence}`);
    return `${this.time}|${sessions.join(',')}|${closed.join(',')}|${timers.join(',')}`;
  }

  private guarded<T>(fn: () => T): T {
    if (!this.guard) return fn();
    const dateNow = Date.now;
    const perfNow = performance.now;
    const random = Math.random;
    const refuse = (what: string) => () => {
      throw new Error(`a clustered service called ${what}(): services read time from the log (cluster.time) and must not use random sources, or members diverge`);
    };
    Date.now = refuse('Date.now');
    performance.now = refuse('performance.now');
    Math.random = refuse('Math.random');
    try {
      return fn();
    } finally {
      Date.now = dateNow;
      performance.now = perfNow;
      Math.random = random;
    }
  }
}

function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

function fromBase64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64'));
}

function decodeSnapshot(bytes: Uint8Array): SnapshotImage {
  let image: SnapshotImage;
  try {
    image = JSON.parse(textDecoder.decode(bytes)) as SnapshotImage;
  } catch (error) {
    throw new SkeinError(ErrorCode.SNAPSHOT_INVALID, `service container snapshot of ${bytes.length} bytes is not readable: ${(error as Error).message}`);
  }
  if (image?.version !== SNAPSHOT_VERSION || !Array.isArray(image.sessions) || !Array.isArray(image.closed) || !Array.isArray(image.timers)) {
    throw new SkeinError(ErrorCode.SNAPSHOT_INVALID, `service container snapshot has version ${String((image as { version?: unknown })?.version)}; this container reads version ${SNAPSHOT_VERSION}`);
  }
  return image;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
