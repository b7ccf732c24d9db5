/**
 * A client of a Skein cluster (docs/cluster.md, "Cluster client"), speaking Aeron Cluster's client
 * protocol: it connects to the members' ingress endpoints, finds the leader (following REDIRECTs
 * and NewLeaderEvents), opens a session, sends commands with the sequence that makes them
 * exactly-once, takes the answers on its egress subscription, and keeps its session alive on its
 * own duty cycle: no polling by the application.
 *
 * States, every change an event (`onStateChange`), `isConnected` true only in CONNECTED:
 *
 *   CONNECTING --(SessionEvent OK)--> CONNECTED
 *   CONNECTED --(the leader's ingress stops being connected, or does not connect within messageTimeout
 *     of the leader becoming known)--> AWAITING_LEADER
 *   CONNECTED, AWAITING_LEADER --(NewLeaderEvent for the session)--> CONNECTED (same session, new term and leader;
 *     one naming the term and leader the client has is passed over while CONNECTED)
 *   AWAITING_LEADER --(no NewLeaderEvent within newLeaderTimeout)--> RECONNECTING
 *   CONNECTED --(SessionEvent CLOSED: the cluster closed the session)--> RECONNECTING
 *   RECONNECTING --(SessionEvent OK: a new session)--> CONNECTED
 *   CONNECTING, RECONNECTING --(reconnectDeadline passed, or ERROR / AUTHENTICATION_REJECTED)--> CLOSED
 *   any --(close())--> CLOSED
 *
 * A command resolves with its answer, or rejects: CLUSTER_COMMAND_FAILED when it certainly was not
 * applied (never sent on a session that still lives, or rejected because its session closed),
 * CLUSTER_COMMAND_UNKNOWN when it may have been (its session was lost after it was sent, or its
 * deadline passed after it was sent), CLOSED when the client closes. It never hangs: every command
 * has a deadline. Within a session a command is resent (same sequence) until answered, which the
 * cluster answers from its session table instead of applying again.
 *
 * `requestSnapshot()` asks the leader, over the session, for a snapshot of every member (Aeron's
 * AdminRequest SNAPSHOT, what `skein cluster-tool --ingress … snapshot` sends).
 */
import { IntMap } from '../util/int-map.js';
import { LinkedQueue, type QueueLinks } from '../util/linked-queue.js';
import type { SkeinClient } from '../client/skein-client.js';
import type { Publication } from '../client/publication.js';
import type { Subscription } from '../client/subscription.js';
import type { Agent } from '../agent/agent.js';
import type { Implements } from '../util/implements.js';
import type { Header } from '../logbuffer/header.js';
import { FragmentAssembler } from '../logbuffer/fragment-assembler.js';
import type { Prng } from '../env/prng.js';
import { SeededPrng, randomSeed } from '../env/prng.js';
import { ErrorCode, SkeinError, messageOf } from '../util/errors.js';
import {
  AdminRequestEncoder, AdminRequestType, AdminResponseCode, AdminResponseDecoder, EventCode, MessageHeaderDecoder, NewLeaderEventDecoder, SCHEMA_ID, SessionCloseRequestEncoder, SessionConnectRequestEncoder, SessionEventDecoder, SessionKeepAliveEncoder,
  SessionMessageHeaderDecoder, SessionMessageHeaderEncoder,
} from './codecs/cluster-codecs.js';
import { ANSWER_TOO_LONG_DETAIL, CLIENT_PROTOCOL_VERSION, DEFAULT_INGRESS_STREAM_ID, SESSION_HEADER_LENGTH } from './cluster-ingress.js';
import { checkEndpoint } from './endpoints.js';
import { ChannelUri } from '../protocol/channel-uri.js';

const EMPTY = new Uint8Array(0);
/** A command is resent at most this many resend intervals after its last send. */
const MAX_RESEND_FACTOR = 16;

export type ClusterClientState = 'CONNECTING' | 'CONNECTED' | 'AWAITING_LEADER' | 'RECONNECTING' | 'CLOSED';

export interface ClusterClientStateChange {
  readonly from: ClusterClientState;
  readonly to: ClusterClientState;
  /** The session (-1 for none), the leader (-1: unknown) and term after the change. */
  readonly sessionId: number;
  readonly leaderId: number;
  readonly leadershipTermId: number;
  readonly reason: string;
}

/** Aeron's default egress stream id (aeron.cluster.egress.stream.id). */
export const DEFAULT_EGRESS_STREAM_ID = 102;

/**
 * Term length of the client's ingress and egress channels unless a channel names its own
 * `term-length`: 1 MiB, so a command or an answer takes up to 128 KiB less its session header
 * (an eighth of a term). The driver's default for UDP (16 MiB) buys nothing here: the receiver's
 * window (128 KiB by default) is what bounds the flow. And each page of a term costs a page fault
 * the first time it is written, 10.5 µs a page on the virtual machines the benchmarks ran on: at
 * 100k commands/s a new client and its leader spent about a tenth of a CPU each in them for the
 * first 48 MiB of each stream, a few seconds, where 1 MiB terms are all in use within a tenth of
 * a second and reused from then on (docs/cluster-benchmark.md, "Page faults in new terms").
 */
export const DEFAULT_CLIENT_TERM_LENGTH = 1024 * 1024;

/** `channel`, with `term-length` set to {@link DEFAULT_CLIENT_TERM_LENGTH} unless it names one. */
function withClientTermLength(channel: string): ChannelUri {
  // A channel without parameters ('aeron:udp') takes the term length as its first one.
  if (!channel.includes('?')) return ChannelUri.parse(`${channel}?term-length=${DEFAULT_CLIENT_TERM_LENGTH}`);
  const uri = ChannelUri.parse(channel);
  return uri.has('term-length') ? uri : uri.withParam('term-length', String(DEFAULT_CLIENT_TERM_LENGTH));
}

export interface ClusterClientOptions {
  /** The members' ingress endpoints: `['host:port', …]` (ids 0, 1, …) or Aeron's `'0=host:port,1=host:port'`. */
  readonly ingressEndpoints: readonly string[] | string;
  /**
   * Where this client takes answers; the members answer on this channel as resolved (its port, and
   * parameters such as mtu and term-length; `term-length` is {@link DEFAULT_CLIENT_TERM_LENGTH}
   * unless the channel names one). @default 'aeron:udp?endpoint=127.0.0.1:0'
   */
  readonly egressChannel?: string;
  /**
   * The channel commands go to the members on, each member's ingress endpoint set as its
   * `endpoint` (Aeron's ingress channel with ingress endpoints); its other parameters (mtu,
   * term-length, …) apply to every member's; `term-length` is {@link DEFAULT_CLIENT_TERM_LENGTH}
   * unless the channel names one. @default 'aeron:udp'
   */
  readonly ingressChannel?: string;
  readonly egressStreamId?: number;
  readonly ingressStreamId?: number;
  /** A keep-alive this often while connected (Aeron's clients must send their own). @default 1000 */
  readonly keepAliveIntervalMs?: number;
  /** One connect attempt's wait for an answer (Aeron's message timeout). @default 5000 */
  readonly messageTimeoutMs?: number;
  /** How long to wait for a NewLeaderEvent after losing the leader. @default twice the cluster's leader heartbeat timeout (from its SessionEvent), or 20000 */
  readonly newLeaderTimeoutMs?: number;
  /** Give up connecting (or reconnecting) after this long without a session. @default 120000 */
  readonly reconnectDeadlineMs?: number;
  /** Backoff between connect attempts: from this, doubling, with jitter. @default 50 */
  readonly initialBackoffMs?: number;
  /** @default 2000 */
  readonly maxBackoffMs?: number;
  /** A command not answered this long is sent again (same sequence), each resend waiting twice as long as the one before, up to 16 times this. @default 500 */
  readonly resendIntervalMs?: number;
  /** A command's deadline. @default 10000 */
  readonly commandTimeoutMs?: number;
  readonly random?: Prng;
  /** Sent as clientInfo. @default 'name=skein' */
  readonly clientInfo?: string;
  /**
   * How answers are matched to commands. 'by-sequence' (a Skein cluster): each command carries its
   * sequence, which the answer echoes; unanswered commands are resent and answered once.
   * 'in-order' (an Aeron cluster, whose answers carry cluster time instead and which applies a
   * resent command again): commands go without a sequence, are never resent, and each answer on
   * the session completes the oldest command sent on it, so the service must answer every command
   * once and in order; a command in flight when the leader changes rejects with
   * CLUSTER_COMMAND_UNKNOWN. @default 'by-sequence'
   */
  readonly answers?: 'by-sequence' | 'in-order';
}

/**
 * Where the outcome of a command sent with {@link ClusterClient.sendWith} goes: exactly one of the
 * two calls for every command accepted, on the client's duty cycle (a listener may send again
 * from within either), as Aeron's egress listener takes its messages: no promise, view or copy
 * per command. An exception thrown by either is reported (ERR_SKEIN_HANDLER_FAILED) and the
 * client goes on.
 */
export interface CommandListener {
  /**
   * The service's answer: `length` bytes at `offset` in `buffer`, the client's receive buffer,
   * valid only during the call (copy what you keep).
   */
  onAnswer(token: number, buffer: Uint8Array, offset: number, length: number): void;
  /** CLUSTER_COMMAND_FAILED, CLUSTER_COMMAND_UNKNOWN or CLOSED, as `send` rejects. */
  onError(token: number, error: SkeinError): void;
}

/**
 * Answers (one fragment each) taken from the egress in one duty cycle. A busy leader sends a
 * client's answers by the dozen in one datagram (some 85 of the key-value service's in 8 KiB);
 * with 20 a cycle, four in five polls that found answers at 100k commands/s stopped at the limit,
 * the rest waiting for later cycles.
 */
const EGRESS_FRAGMENT_LIMIT = 256;

class Command implements QueueLinks<Command> {
  prev: Command | null = null;
  next: Command | null = null;
  queued = false;
  /** The session it was given a sequence on (-1: none yet) and that sequence. */
  sessionId = -1;
  sequence = 0;
  /** Offered at least once on that session: its outcome can no longer be "certainly not applied". */
  sent = false;
  lastSentNs = 0;
  /** Wait before the next resend on the same session: resendIntervalMs, doubling with every resend up to MAX_RESEND_FACTOR times it. */
  resendAfterNs = 0;

  /** Either `listener` (with `token`) or `resolve` and `reject` are set. */
  constructor(
    readonly payload: Uint8Array,
    readonly deadlineNs: number,
    readonly listener: CommandListener | null,
    readonly token: number,
    readonly resolve: ((answer: Uint8Array) => void) | null,
    readonly reject: ((error: Error) => void) | null,
  ) {}
}

/** The resolving functions of the promise `send` is making (no closure per command). */
let capturedResolve: ((answer: Uint8Array) => void) | null = null;
let capturedReject: ((error: Error) => void) | null = null;
function capture(resolve: (answer: Uint8Array) => void, reject: (error: Error) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

/** A sequence's key in `bySequence`: sequences can outgrow the IntMap's 31 bits on a long session. */
function sequenceKey(sequence: number): number {
  return sequence % 0x80000000;
}

function parseEndpoints(value: readonly string[] | string): Map<number, string> {
  const map = new Map<number, string>();
  if (typeof value === 'string') {
    for (const part of value.split(',').filter((p) => p.length > 0)) {
      const eq = part.indexOf('=');
      const id = Number(part.slice(0, eq));
      if (eq <= 0 || !Number.isInteger(id) || id < 0) throw new SkeinError(ErrorCode.CONFIG_INVALID, `ingress endpoint '${part}' is not id=host:port`);
      map.set(id, part.slice(eq + 1));
    }
  } else {
    value.forEach((endpoint, id) => map.set(id, endpoint));
  }
  if (map.size === 0) throw new SkeinError(ErrorCode.CONFIG_INVALID, 'no ingress endpoints');
  for (const [id, endpoint] of map) checkEndpoint(id, 'ingress', endpoint);
  return map;
}

export class ClusterClient {
  readonly roleName = 'cluster-client';
  private readonly client: SkeinClient;
  private readonly egress: Subscription;
  private readonly ingress: Map<number, Publication>;
  /** The members and their ingress endpoints, for errors. */
  private readonly membersText: string;
  private readonly settings: Required<Omit<ClusterClientOptions, 'ingressEndpoints' | 'egressChannel' | 'ingressChannel' | 'random' | 'newLeaderTimeoutMs'>> & { newLeaderTimeoutMs: number | undefined };
  private readonly random: Prng;
  /** The longest command every member's ingress publication takes. */
  private readonly maxPayloadLength: number;
  private readonly listeners = new Set<(change: ClusterClientStateChange) => void>();
  private stateValue: ClusterClientState = 'CONNECTING';
  private sessionIdValue = -1;
  private leaderIdValue = -1;
  private termValue = -1;
  private nextSequence = 1;
  /**
   * Commands not resolved yet, in the order they were sent (removal in O(1)). Their
   * deadlines are in that order too (one command timeout from each send), so expiry looks at the
   * front only; answers find their command through `bySequence`; resends are looked for only when
   * one can be due (`nextResendScanNs`). Thousands in flight cost no more per answer than one.
   */
  private readonly commands = new LinkedQueue<Command>();
  /**
   * The current session's commands by sequence (modulo 2^31; a command found is checked against
   * the full sequence). Neither this nor `commands` is a Map or a Set: tables that gain and lose
   * an entry per command made the garbage collector promote the commands (see IntMap).
   */
  private readonly bySequence = new IntMap<Command>();
  /**
   * The first command not sent on the current session (null: none). Every command before it
   * was, since commands go in order: offering picks up here, so a backlog of thousands of
   * commands waiting for answers is not walked on every duty cycle to find the few unsent ones
   * at its end (that walk had cost the client a tenth of its time at 100k commands/s).
   */
  private firstUnsent: Command | null = null;
  /** No sent command is due to be resent before this. */
  private nextResendScanNs = 0;
  /**
   * No command's deadline comes before this (the oldest's, as last seen): expiry looks at the
   * commands only then, not on every duty cycle.
   */
  private nextExpiryNs = Number.POSITIVE_INFINITY;
  private correlationId = 0;
  private attemptTarget = 0;
  private attemptDeadlineNs = 0;
  private attemptSent = false;
  private backoffMs: number;
  private nextAttemptNs = 0;
  private connectDeadlineNs: number;
  private newLeaderDeadlineNs = 0;
  /**
   * Since the leader became known (a session opened, a NewLeaderEvent): whether its ingress has
   * been seen connected, and until when it may take to connect. A leader that restarted announces
   * itself before the client's publication to it has connected again.
   */
  private leaderSeenConnected = false;
  private leaderConnectDeadlineNs = 0;
  private leaderHeartbeatTimeoutNs = 10_000_000_000;
  private nextKeepAliveNs = 0;
  private nowNs: number;
  private readonly frame = new Uint8Array(SESSION_HEADER_LENGTH);
  private readonly control = new Uint8Array(1024);
  private readonly header = new MessageHeaderDecoder();
  private readonly eventDec = new SessionEventDecoder();
  private readonly newLeaderDec = new NewLeaderEventDecoder();
  private readonly messageDec = new SessionMessageHeaderDecoder();
  private readonly messageEnc = new SessionMessageHeaderEncoder();
  private readonly keepAliveEnc = new SessionKeepAliveEncoder();
  private readonly closeEnc = new SessionCloseRequestEncoder();
  private readonly connectEnc = new SessionConnectRequestEncoder();
  private readonly adminEnc = new AdminRequestEncoder();
  private readonly adminDec = new AdminResponseDecoder();
  /** Admin requests waiting for the leader's AdminResponse, by correlation id. */
  private readonly adminRequests = new Map<number, { readonly deadlineNs: number; readonly resolve: () => void; readonly reject: (error: Error) => void }>();
  /** The header and the command's payload, offered together without a new array per command. */
  private readonly parts: Uint8Array[] = [this.frame, EMPTY];
  private readonly onFragment: (buffer: Uint8Array, offset: number, length: number, header: Header) => void;
  private firstConnect: { resolve: (c: ClusterClient) => void; reject: (e: Error) => void } | null = null;
  private closing = false;

  private constructor(client: SkeinClient, options: ClusterClientOptions, egress: Subscription, ingress: Map<number, Publication>, assembler: FragmentAssembler, endpoints: Map<number, string>) {
    this.client = client;
    this.membersText = [...endpoints].map(([id, endpoint]) => `${id} at ${endpoint}`).join(', ');
    this.egress = egress;
    this.ingress = ingress;
    this.settings = {
      egressStreamId: options.egressStreamId ?? DEFAULT_EGRESS_STREAM_ID,
      ingressStreamId: options.ingressStreamId ?? DEFAULT_INGRESS_STREAM_ID,
      keepAliveIntervalMs: options.keepAliveIntervalMs ?? 1000,
      messageTimeoutMs: options.messageTimeoutMs ?? 5000,
      newLeaderTimeoutMs: options.newLeaderTimeoutMs,
      reconnectDeadlineMs: options.reconnectDeadlineMs ?? 120_000,
      initialBackoffMs: options.initialBackoffMs ?? 50,
      maxBackoffMs: options.maxBackoffMs ?? 2000,
      resendIntervalMs: options.resendIntervalMs ?? 500,
      commandTimeoutMs: options.commandTimeoutMs ?? 10_000,
      clientInfo: options.clientInfo ?? 'name=skein',
      answers: options.answers ?? 'by-sequence',
    };
    this.random = options.random ?? new SeededPrng(randomSeed());
    this.maxPayloadLength = Math.min(...[...ingress.values()].map((p) => p.maxMessageLength)) - SESSION_HEADER_LENGTH;
    this.backoffMs = this.settings.initialBackoffMs;
    this.nowNs = client.nanoTime();
    this.connectDeadlineNs = this.nowNs + this.settings.reconnectDeadlineMs * 1e6;
    this.attemptTarget = [...ingress.keys()][Math.floor(this.random.nextDouble() * ingress.size)]!;
    this.onFragment = assembler.onFragment;
  }

  /** Connects to the cluster; resolves once a session is open, rejects when the reconnect deadline passes first or the cluster refuses. */
  static async connect(client: SkeinClient, options: ClusterClientOptions): Promise<ClusterClient> {
    const endpoints = parseEndpoints(options.ingressEndpoints);
    const egressChannel = withClientTermLength(options.egressChannel ?? 'aeron:udp?endpoint=127.0.0.1:0').toString();
    // An answer longer than one frame (the egress MTU less the DATA header) comes in fragments:
    // each member's are put together again, and a member's partial answer goes with its image.
    let cc: ClusterClient | null = null;
    const assembler = new FragmentAssembler((buffer, offset, length) => cc?.onEgress(buffer, offset, length));
    const egress = await client.addSubscription(egressChannel, options.egressStreamId ?? DEFAULT_EGRESS_STREAM_ID, { onUnavailableImage: (image) => assembler.freeSessionBuffer(image.sessionId) });
    const ingress = new Map<number, Publication>();
    try {
      const base = withClientTermLength(options.ingressChannel ?? 'aeron:udp');
      for (const [id, endpoint] of endpoints) {
        const channel = base.withParam('endpoint', endpoint).toString();
        ingress.set(id, await client.addExclusivePublication(channel, options.ingressStreamId ?? DEFAULT_INGRESS_STREAM_ID));
      }
    } catch (error) {
      egress.close();
      for (const p of ingress.values()) p.close();
      throw error;
    }
    const connecting = new ClusterClient(client, options, egress, ingress, assembler, endpoints);
    cc = connecting;
    return new Promise<ClusterClient>((resolve, reject) => {
      connecting.firstConnect = { resolve, reject };
      client.addAgent(connecting);
    });
  }

  get state(): ClusterClientState {
    return this.stateValue;
  }

  /** True exactly while the client has a session and a leader it can send to. */
  get isConnected(): boolean {
    return this.stateValue === 'CONNECTED';
  }

  get sessionId(): number {
    return this.sessionIdValue;
  }

  get leaderId(): number {
    return this.leaderIdValue;
  }

  get leadershipTermId(): number {
    return this.termValue;
  }

  /** Commands not resolved yet (sent, or waiting to be sent). */
  get inFlight(): number {
    return this.commands.size;
  }

  onStateChange(listener: (change: ClusterClientStateChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Sends a command; resolves with the service's answer (see the class comment for how it can fail). */
  send(payload: Uint8Array): Promise<Uint8Array> {
    if (this.stateValue === 'CLOSED') return Promise.reject(new SkeinError(ErrorCode.CLOSED, 'the cluster client is closed'));
    const promise = new Promise<Uint8Array>(capture);
    const resolve = capturedResolve!;
    const reject = capturedReject!;
    capturedResolve = null;
    capturedReject = null;
    try {
      this.checkPayload(payload);
    } catch (error) {
      reject(error as Error);
      return promise;
    }
    this.enqueue(new Command(payload, this.client.nanoTime() + this.settings.commandTimeoutMs * 1e6, null, 0, resolve, reject));
    return promise;
  }

  /**
   * Sends a command whose outcome goes to `listener` with `token` (any number the caller chooses,
   * for example an index into a table of its own): `onAnswer` with where the answer is, valid
   * during the call, or `onError` as `send` would reject. For senders of many commands a second:
   * no promise, closure, view or copy per command. Throws, accepting nothing, when the client is closed
   * (CLOSED) or the payload is not bytes or too long (ARG_INVALID, MESSAGE_TOO_LONG).
   */
  sendWith(payload: Uint8Array, listener: CommandListener, token: number): void {
    if (this.stateValue === 'CLOSED') throw new SkeinError(ErrorCode.CLOSED, 'the cluster client is closed');
    this.checkPayload(payload);
    this.enqueue(new Command(payload, this.client.nanoTime() + this.settings.commandTimeoutMs * 1e6, listener, token, null, null));
  }

  /**
   * Asks the leader for a snapshot of every member at the same log position (Aeron's AdminRequest
   * SNAPSHOT). Resolves when the leader has put the snapshot action in the log; rejects with
   * CLUSTER_COMMAND_FAILED when the client is not connected, the request cannot be offered, or the
   * leader answers ERROR (its message says why, for example a suspended cluster), and with
   * CLUSTER_COMMAND_UNKNOWN when no answer comes within the message timeout.
   */
  requestSnapshot(): Promise<void> {
    if (this.stateValue !== 'CONNECTED') {
      return Promise.reject(new SkeinError(ErrorCode.CLUSTER_COMMAND_FAILED, `snapshot request: the cluster client is ${this.stateValue}, not CONNECTED`));
    }
    const correlationId = Math.floor(this.random.nextDouble() * 2 ** 40) + 1;
    const length = this.adminEnc.wrapAndApplyHeader(this.control, 0).leadershipTermId(this.termValue).clusterSessionId(this.sessionIdValue).correlationId(correlationId)
      .requestType(AdminRequestType.SNAPSHOT).payload(EMPTY).encodedLength();
    const result = this.ingress.get(this.leaderIdValue)?.offer(this.control, 0, length) ?? -1;
    if (result < 0) {
      return Promise.reject(new SkeinError(ErrorCode.CLUSTER_COMMAND_FAILED, `snapshot request: could not offer it to leader ${this.leaderIdValue} (offer result ${result})`));
    }
    this.client.wakeDriver();
    return new Promise<void>((resolve, reject) => {
      this.adminRequests.set(correlationId, { deadlineNs: this.client.nanoTime() + this.settings.messageTimeoutMs * 1e6, resolve, reject });
    });
  }

  /** Closes the session (SessionCloseRequest when connected) and the client; pending commands reject with CLOSED. Idempotent. */
  async close(): Promise<void> {
    if (this.stateValue === 'CLOSED' && this.closing) return;
    this.closing = true;
    if (this.stateValue === 'CONNECTED') {
      const length = this.closeEnc.wrapAndApplyHeader(this.control, 0).leadershipTermId(this.termValue).clusterSessionId(this.sessionIdValue).encodedLength();
      this.ingress.get(this.leaderIdValue)?.offer(this.control, 0, length);
    }
    this.toClosed(new SkeinError(ErrorCode.CLOSED, 'the cluster client was closed'), 'closed by the application');
  }

  /** @internal */
  doWork(nowNs: number): number {
    if (this.stateValue === 'CLOSED') return 0;
    this.nowNs = nowNs;
    let work = this.egress.poll(this.onFragment, EGRESS_FRAGMENT_LIMIT);
    switch (this.stateValue) {
      case 'CONNECTING':
      case 'RECONNECTING':
        work += this.connectWork(nowNs);
        break;
      case 'CONNECTED': {
        const leader = this.ingress.get(this.leaderIdValue);
        if (leader !== undefined && leader.isConnected) this.leaderSeenConnected = true;
        else if (leader !== undefined && !this.leaderSeenConnected && nowNs < this.leaderConnectDeadlineNs) {
          // The leader just became known and the publication to it is still connecting: nothing goes yet.
          break;
        } else {
          this.newLeaderDeadlineNs = nowNs + this.newLeaderTimeoutNs();
          const why = this.leaderSeenConnected ? 'is not connected' : `did not connect within ${this.settings.messageTimeoutMs} ms of the leader becoming known`;
          this.transition('AWAITING_LEADER', `the leader's (member ${this.leaderIdValue}) ingress ${why}`);
          return work + 1;
        }
        if (nowNs >= this.nextKeepAliveNs) {
          this.nextKeepAliveNs = nowNs + this.settings.keepAliveIntervalMs * 1e6;
          const length = this.keepAliveEnc.wrapAndApplyHeader(this.control, 0).leadershipTermId(this.termValue).clusterSessionId(this.sessionIdValue).encodedLength();
          leader.offer(this.control, 0, length);
          work++;
        }
        if (this.firstUnsent !== null || nowNs >= this.nextResendScanNs) work += this.scanCommands(nowNs);
        break;
      }
      case 'AWAITING_LEADER':
        if (nowNs >= this.newLeaderDeadlineNs) {
          this.loseSession(`no NewLeaderEvent within ${Math.round(this.newLeaderTimeoutNs() / 1e6)} ms of losing leader ${this.leaderIdValue}`);
          work++;
        }
        break;
    }
    work += this.expireCommands(nowNs);
    return work;
  }

  /** @internal */
  onClose(): void {
    if (this.stateValue !== 'CLOSED') this.toClosed(new SkeinError(ErrorCode.CLOSED, 'the cluster client was closed with its Skein'), 'its Skein closed');
  }

  // -----------------------------------------------------------------------------------------------

  private connectWork(nowNs: number): number {
    if (nowNs >= this.connectDeadlineNs) {
      this.toClosed(new SkeinError(ErrorCode.RECONNECT_FAILED, `no session within ${this.settings.reconnectDeadlineMs} ms (members ${this.membersText})`), 'reconnect deadline passed');
      return 1;
    }
    if (this.attemptSent && nowNs < this.attemptDeadlineNs) return 0;
    if (this.attemptSent) {
      // No answer in time: the next member, after a backoff.
      this.attemptSent = false;
      this.attemptTarget = this.nextMember(this.attemptTarget);
      this.nextAttemptNs = nowNs + this.jittered();
    }
    if (nowNs < this.nextAttemptNs) return 0;
    const publication = this.ingress.get(this.attemptTarget)!;
    if (!publication.isConnected) {
      if (nowNs >= this.nextAttemptNs + this.settings.messageTimeoutMs * 1e6) {
        this.attemptTarget = this.nextMember(this.attemptTarget);
        this.nextAttemptNs = nowNs + this.jittered();
      }
      return 0;
    }
    this.correlationId = Math.floor(this.random.nextDouble() * 2 ** 40) + 1;
    const length = this.connectEnc.wrapAndApplyHeader(this.control, 0).correlationId(this.correlationId).responseStreamId(this.settings.egressStreamId)
      .version(CLIENT_PROTOCOL_VERSION).responseChannel(this.egress.resolvedChannel).encodedCredentials(new Uint8Array(0)).clientInfo(this.settings.clientInfo).encodedLength();
    if (publication.offer(this.control, 0, length) < 0) return 0;
    this.attemptSent = true;
    this.attemptDeadlineNs = nowNs + this.settings.messageTimeoutMs * 1e6;
    return 1;
  }

  /** The leader became known: its ingress has messageTimeoutMs to be (or become) connected. */
  private leaderKnown(): void {
    this.leaderSeenConnected = false;
    this.leaderConnectDeadlineNs = this.nowNs + this.settings.messageTimeoutMs * 1e6;
  }

  private newLeaderTimeoutNs(): number {
    return this.settings.newLeaderTimeoutMs !== undefined ? this.settings.newLeaderTimeoutMs * 1e6 : 2 * this.leaderHeartbeatTimeoutNs;
  }

  private nextMember(id: number): number {
    const ids = [...this.ingress.keys()];
    return ids[(ids.indexOf(id) + 1) % ids.length]!;
  }

  private jittered(): number {
    const ms = this.backoffMs * (0.5 + this.random.nextDouble());
    this.backoffMs = Math.min(this.settings.maxBackoffMs, this.backoffMs * 2);
    return ms * 1e6;
  }

  private onEgress(buffer: Uint8Array, offset: number, length: number): void {
    const h = this.header.wrap(buffer, offset, length);
    if (h.schemaId() !== SCHEMA_ID) return;
    switch (h.templateId()) {
      case SessionEventDecoder.TEMPLATE_ID: {
        const d = this.eventDec.wrapAndCheckHeader(buffer, offset, length);
        // Aeron's cluster may leave the heartbeat timeout null (Long.MIN_VALUE): unknown, the client's default stands.
        const heartbeatTimeoutNs = d.leaderHeartbeatTimeoutNs();
        const timeoutNs = heartbeatTimeoutNs > 0n && heartbeatTimeoutNs <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(heartbeatTimeoutNs) : 0;
        this.onSessionEvent(d.clusterSessionIdAsNumber(), d.correlationIdAsNumber(), d.leadershipTermIdAsNumber(), d.leaderMemberId(), d.code(), timeoutNs, d.detail());
        return;
      }
      case NewLeaderEventDecoder.TEMPLATE_ID: {
        const d = this.newLeaderDec.wrapAndCheckHeader(buffer, offset, length);
        if (d.clusterSessionIdAsNumber() !== this.sessionIdValue || (this.stateValue !== 'CONNECTED' && this.stateValue !== 'AWAITING_LEADER')) return;
        const term = d.leadershipTermIdAsNumber();
        if (term < this.termValue) return;
        // The leader and term it has, told again (a member answering a message it sent before it
        // followed): nothing to do, and nothing to end for in-order answers.
        if (this.stateValue === 'CONNECTED' && term === this.termValue && d.leaderMemberId() === this.leaderIdValue) return;
        this.termValue = term;
        this.leaderIdValue = d.leaderMemberId();
        // Everything in flight goes again to the new leader (same sequences: answered once).
        if (this.settings.answers === 'by-sequence') {
          for (let c = this.commands.first; c !== null; c = c.next) {
            if (c.sessionId !== this.sessionIdValue) continue;
            c.lastSentNs = 0;
            c.resendAfterNs = 0;
          }
          this.nextResendScanNs = 0;
        } else {
          this.rejectSentInOrder(`the leader changed to ${this.leaderIdValue} in term ${term} before its answer came`);
        }
        this.nextKeepAliveNs = 0;
        this.leaderKnown();
        this.transition('CONNECTED', `new leader ${this.leaderIdValue} in term ${term}`, true);
        return;
      }
      case AdminResponseDecoder.TEMPLATE_ID: {
        const d = this.adminDec.wrapAndCheckHeader(buffer, offset, length);
        const correlationId = d.correlationIdAsNumber();
        const request = this.adminRequests.get(correlationId);
        if (request === undefined || d.clusterSessionIdAsNumber() !== this.sessionIdValue) return;
        this.adminRequests.delete(correlationId);
        const code = d.responseCode();
        const message = d.message();
        if (code === AdminResponseCode.OK) request.resolve();
        else request.reject(new SkeinError(ErrorCode.CLUSTER_COMMAND_FAILED, `snapshot request refused (${code === AdminResponseCode.UNAUTHORISED_ACCESS ? 'UNAUTHORISED_ACCESS' : 'ERROR'}): ${message}`));
        return;
      }
      case SessionMessageHeaderDecoder.TEMPLATE_ID: {
        const d = this.messageDec.wrapAndCheckHeader(buffer, offset, length);
        if (d.clusterSessionIdAsNumber() !== this.sessionIdValue) return;
        const command = this.settings.answers === 'by-sequence' ? this.bySequence.get(sequenceKey(d.timestampAsNumber())) : this.oldestSent();
        if (command === undefined || command.sessionId !== this.sessionIdValue || (this.settings.answers === 'by-sequence' && command.sequence !== d.timestampAsNumber())) return;
        this.remove(command);
        this.answer(command, buffer, offset + SESSION_HEADER_LENGTH, length - SESSION_HEADER_LENGTH);
        return;
      }
      default:
    }
  }

  private onSessionEvent(sessionId: number, correlationId: number, term: number, leaderId: number, code: EventCode, heartbeatTimeoutNs: number, detail: string): void {
    if (this.stateValue === 'CONNECTING' || this.stateValue === 'RECONNECTING') {
      if (correlationId !== this.correlationId || !this.attemptSent) return;
      this.attemptSent = false;
      if (code === EventCode.OK) {
        this.sessionIdValue = sessionId;
        this.termValue = term;
        this.leaderIdValue = leaderId;
        if (heartbeatTimeoutNs > 0) this.leaderHeartbeatTimeoutNs = heartbeatTimeoutNs;
        this.nextSequence = 1;
        // Nothing is sent on a new session yet.
        this.firstUnsent = this.commands.first;
        this.backoffMs = this.settings.initialBackoffMs;
        this.nextKeepAliveNs = 0;
        this.leaderKnown();
        this.transition('CONNECTED', `session ${sessionId} opened by leader ${leaderId} in term ${term}`);
        const first = this.firstConnect;
        this.firstConnect = null;
        first?.resolve(this);
      } else if (code === EventCode.REDIRECT) {
        if (this.ingress.has(leaderId)) this.attemptTarget = leaderId;
        else this.attemptTarget = this.nextMember(this.attemptTarget);
        this.nextAttemptNs = leaderId >= 0 ? this.nowNs : this.nowNs + this.jittered();
      } else if (code === EventCode.ERROR || code === EventCode.AUTHENTICATION_REJECTED) {
        this.toClosed(new SkeinError(ErrorCode.CONFIG_INVALID, `the cluster refused the session (${code === EventCode.ERROR ? 'ERROR' : 'AUTHENTICATION_REJECTED'}): ${detail}`), 'session refused');
      }
      return;
    }
    if (sessionId !== this.sessionIdValue || (code !== EventCode.CLOSED && code !== EventCode.ERROR)) return;
    const command = this.bySequence.get(sequenceKey(correlationId));
    const rejected = command !== undefined && command.sessionId === sessionId && command.sequence === correlationId ? command : undefined;
    if (code === EventCode.ERROR) {
      // The session stays open. The cluster either applied the command but cannot send its answer
      // (longer than this client's egress takes), or refused it (too long for its log, say): not
      // applied, never will be.
      if (rejected === undefined) return;
      this.remove(rejected);
      if (detail.startsWith(ANSWER_TOO_LONG_DETAIL)) {
        this.fail(rejected, new SkeinError(ErrorCode.MESSAGE_TOO_LONG, `command ${sessionId}/${correlationId} was applied, but ${detail.slice(ANSWER_TOO_LONG_DETAIL.length)}`));
      } else {
        this.fail(rejected, new SkeinError(ErrorCode.CLUSTER_COMMAND_FAILED, `command ${sessionId}/${correlationId} was refused and not applied: ${detail}`));
      }
      return;
    }
    // The cluster closed the session; a command it names was rejected for it.
    if (rejected !== undefined) this.remove(rejected);
    this.loseSession(`the cluster closed session ${sessionId}: ${detail}`);
    if (rejected !== undefined) this.fail(rejected, new SkeinError(ErrorCode.CLUSTER_COMMAND_FAILED, `command ${sessionId}/${correlationId} was not applied: ${detail}`));
  }

  /** In-order answers: commands sent on the session can no longer be matched to answers. */
  private rejectSentInOrder(reason: string): void {
    for (const c of this.commands.toArray()) {
      // Skipped once ended by a listener's close() in this loop.
      if (!c.queued || c.sessionId !== this.sessionIdValue || !c.sent) continue;
      this.remove(c);
      this.fail(c, new SkeinError(ErrorCode.CLUSTER_COMMAND_UNKNOWN, `command sent on session ${c.sessionId}: ${reason}; it may or may not have been applied (in-order answers are not resent)`));
    }
  }

  /** The session is gone: what was sent on it is unknown, the rest goes on a new session. */
  private loseSession(reason: string): void {
    const lost = this.sessionIdValue;
    const unknown: Command[] = [];
    for (const c of this.commands.toArray()) {
      if (c.sessionId === lost && c.sent) {
        this.remove(c);
        unknown.push(c);
      } else {
        c.sessionId = -1;
      }
    }
    this.bySequence.clear();
    this.firstUnsent = this.commands.first;
    this.nextResendScanNs = 0;
    this.sessionIdValue = -1;
    this.attemptSent = false;
    this.backoffMs = this.settings.initialBackoffMs;
    this.nextAttemptNs = this.nowNs + this.jittered();
    this.connectDeadlineNs = this.nowNs + this.settings.reconnectDeadlineMs * 1e6;
    this.transition('RECONNECTING', reason);
    // Outcomes once the client is RECONNECTING: a listener that sends again queues for the next session.
    for (const c of unknown) {
      this.fail(c, new SkeinError(ErrorCode.CLUSTER_COMMAND_UNKNOWN, `command ${lost}/${c.sequence}: session ${lost} was lost before its answer came (${reason}); it may or may not have been applied`));
    }
  }

  /** Refuses, naming the value, what could never be offered (checked before a command is queued, so no duty cycle meets it). */
  private checkPayload(payload: Uint8Array): void {
    if (!(payload instanceof Uint8Array)) {
      throw new SkeinError(ErrorCode.ARG_INVALID, `a command must be a Uint8Array (a Buffer is one), got ${payload === null ? 'null' : typeof payload}`);
    }
    if (payload.length > this.maxPayloadLength) {
      throw new SkeinError(ErrorCode.MESSAGE_TOO_LONG, `a command of ${payload.length} bytes is longer than the ${this.maxPayloadLength} the ingress takes (its term length's maximum message less the ${SESSION_HEADER_LENGTH}-byte session header)`);
    }
  }

  private enqueue(command: Command): void {
    // Offered now only when everything before it went on the session: a command must never reach
    // the leader after a later sequence (the session table would take it for an old resend and
    // drop it), nor, in order, after a later command.
    // Everything before it went on the session exactly when no command is waiting unsent.
    const ready = this.firstUnsent === null;
    this.commands.add(command);
    // Deadlines grow in send order: only the first command of an empty set moves the next expiry.
    if (command.deadlineNs < this.nextExpiryNs) this.nextExpiryNs = command.deadlineNs;
    const taken = this.stateValue === 'CONNECTED' && ready && this.offerCommand(command, this.client.nanoTime()) === 1;
    if (!taken && ready) this.firstUnsent = command;
    this.client.wakeDriver();
  }

  /** Hands a command its answer (the bytes at `offset` in `buffer`): a copy to its promise, the place to its listener. */
  private answer(command: Command, buffer: Uint8Array, offset: number, length: number): void {
    const listener = command.listener;
    if (listener === null) {
      command.resolve!(buffer.slice(offset, offset + length));
      return;
    }
    try {
      listener.onAnswer(command.token, buffer, offset, length);
    } catch (error) {
      this.listenerThrew('onAnswer', command, error);
    }
  }

  /** Ends a command with `error`. */
  private fail(command: Command, error: SkeinError): void {
    const listener = command.listener;
    if (listener === null) {
      command.reject!(error);
      return;
    }
    try {
      listener.onError(command.token, error);
    } catch (thrown) {
      this.listenerThrew('onError', command, thrown);
    }
  }

  private listenerThrew(call: string, command: Command, thrown: unknown): void {
    this.client.reportHandlerError(
      new SkeinError(ErrorCode.HANDLER_FAILED, `cluster client: a command listener's ${call} threw for command ${command.sessionId}/${command.sequence} (token ${command.token}): ${messageOf(thrown)}; the command is ended and the client goes on`, { cause: thrown }),
    );
  }

  private offerCommand(command: Command, nowNs: number): number {
    if (command.sessionId !== this.sessionIdValue) {
      command.sessionId = this.sessionIdValue;
      command.sequence = this.nextSequence++;
      command.sent = false;
      this.bySequence.set(sequenceKey(command.sequence), command);
    }
    const leader = this.ingress.get(this.leaderIdValue);
    if (leader === undefined) {
      // A resend is looked for again on the next duty cycle; an unsent command is, as firstUnsent.
      if (command.sent) this.nextResendScanNs = 0;
      return 0;
    }
    this.messageEnc.wrapAndApplyHeader(this.frame, 0).leadershipTermId(this.termValue).clusterSessionId(this.sessionIdValue).timestamp(this.settings.answers === 'by-sequence' ? command.sequence : 0);
    this.parts[1] = command.payload;
    const result = leader.offerV(this.parts);
    this.parts[1] = EMPTY;
    if (result < 0) {
      // Not taken (back pressure): looked at again on the next duty cycle.
      if (command.sent) this.nextResendScanNs = 0;
      return 0;
    }
    // The first send waits resendIntervalMs for its answer, each resend twice as long as the one
    // before (up to MAX_RESEND_FACTOR times): a cluster slow under load is not flooded with resends.
    const base = this.settings.resendIntervalMs * 1e6;
    command.resendAfterNs = command.sent && command.lastSentNs > 0 ? Math.min(command.resendAfterNs * 2, base * MAX_RESEND_FACTOR) : base;
    command.sent = true;
    command.lastSentNs = nowNs;
    if (this.settings.answers === 'by-sequence' && nowNs + command.resendAfterNs < this.nextResendScanNs) this.nextResendScanNs = nowNs + command.resendAfterNs;
    return 1;
  }

  /**
   * Offers what is due on the current session: by sequence, commands not sent on it yet and those
   * whose resend time came; in order, the unsent ones in order (never a resend, which the cluster
   * would apply again), stopping at the first not taken. Sets when to look again.
   */
  private scanCommands(nowNs: number): number {
    let work = 0;
    // Resends first, when one can be due (by sequence only: in order, none is ever resent): the
    // commands before firstUnsent.
    if (nowNs >= this.nextResendScanNs) {
      // Set afresh: offerCommand lowers it to 0 when a resend was not taken.
      this.nextResendScanNs = Number.POSITIVE_INFINITY;
      if (this.settings.answers === 'by-sequence') {
        let next = Number.POSITIVE_INFINITY;
        for (let c = this.commands.first; c !== null && c !== this.firstUnsent; c = c.next) {
          if (nowNs - c.lastSentNs >= c.resendAfterNs) work += this.offerCommand(c, nowNs);
          next = Math.min(next, c.lastSentNs + c.resendAfterNs);
        }
        this.nextResendScanNs = Math.min(this.nextResendScanNs, next);
      }
    }
    // Unsent commands go in order, none after one that was not taken.
    while (this.firstUnsent !== null) {
      const c = this.firstUnsent;
      if (this.offerCommand(c, nowNs) === 0) break;
      work++;
      this.firstUnsent = c.next;
    }
    return work;
  }

  /** In-order answers: the oldest command sent on the current session. */
  private oldestSent(): Command | undefined {
    for (let c = this.commands.first; c !== null; c = c.next) if (c.sessionId === this.sessionIdValue && c.sent) return c;
    return undefined;
  }

  private remove(command: Command): void {
    if (command === this.firstUnsent) this.firstUnsent = command.next;
    this.commands.remove(command);
    const key = sequenceKey(command.sequence);
    if (this.bySequence.get(key) === command) this.bySequence.delete(key);
  }

  private expireCommands(nowNs: number): number {
    let work = 0;
    if (this.adminRequests.size > 0) {
      for (const [id, request] of this.adminRequests) {
        if (nowNs < request.deadlineNs) continue;
        this.adminRequests.delete(id);
        request.reject(new SkeinError(ErrorCode.CLUSTER_COMMAND_UNKNOWN, `snapshot request: no answer from leader ${this.leaderIdValue} within ${this.settings.messageTimeoutMs} ms; a snapshot may or may not be taken`));
        work++;
      }
    }
    if (nowNs < this.nextExpiryNs) return work;
    // Deadlines come in the order commands were sent: the first not due ends the look.
    this.nextExpiryNs = Number.POSITIVE_INFINITY;
    for (let c = this.commands.first, next: Command | null = null; c !== null; c = next) {
      next = c.next;
      if (nowNs < c.deadlineNs) {
        this.nextExpiryNs = c.deadlineNs;
        break;
      }
      this.remove(c);
      work++;
      if (c.sent) this.fail(c, new SkeinError(ErrorCode.CLUSTER_COMMAND_UNKNOWN, `command ${c.sessionId}/${c.sequence}: no answer within ${this.settings.commandTimeoutMs} ms (state ${this.stateValue}); it may or may not have been applied`));
      else this.fail(c, new SkeinError(ErrorCode.CLUSTER_COMMAND_FAILED, `command not sent within ${this.settings.commandTimeoutMs} ms (state ${this.stateValue}): not applied`));
      // A listener closed the client: the rest were ended with it.
      if (this.stateValue === 'CLOSED') break;
    }
    return work;
  }

  private toClosed(error: SkeinError, reason: string): void {
    if (this.stateValue === 'CLOSED') return;
    this.transition('CLOSED', reason);
    const pending = this.commands.toArray();
    this.commands.clear();
    this.bySequence.clear();
    for (const c of pending) {
      if (error.code === ErrorCode.CLOSED && c.sent) this.fail(c, new SkeinError(ErrorCode.CLUSTER_COMMAND_UNKNOWN, `command ${c.sessionId}/${c.sequence}: the client closed before its answer came; it may or may not have been applied`, { cause: error }));
      else if (c.sent) this.fail(c, new SkeinError(ErrorCode.CLUSTER_COMMAND_UNKNOWN, `command ${c.sessionId}/${c.sequence}: ${error.message}; it may or may not have been applied`, { cause: error }));
      else this.fail(c, new SkeinError(ErrorCode.CLUSTER_COMMAND_FAILED, `command not sent: ${error.message}`, { cause: error }));
    }
    for (const request of this.adminRequests.values()) request.reject(new SkeinError(ErrorCode.CLUSTER_COMMAND_UNKNOWN, `snapshot request: ${error.message}; a snapshot may or may not be taken`, { cause: error }));
    this.adminRequests.clear();
    const first = this.firstConnect;
    this.firstConnect = null;
    first?.reject(error);
    this.client.removeAgent(this);
    this.egress.close();
    for (const p of this.ingress.values()) p.close();
  }

  private transition(to: ClusterClientState, reason: string, always = false): void {
    const from = this.stateValue;
    if (from === to && !always) return;
    this.stateValue = to;
    const change: ClusterClientStateChange = { from, to, sessionId: this.sessionIdValue, leaderId: this.leaderIdValue, leadershipTermId: this.termValue, reason };
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch (error) {
        this.client.reportError(new SkeinError(ErrorCode.HANDLER_FAILED, `cluster client state listener threw on ${from} -> ${to}`, { cause: error }));
      }
    }
  }
}

/** @internal A ClusterClient is an agent of its SkeinClient. */
export type ClusterClientRoles = Implements<Agent, ClusterClient>;
