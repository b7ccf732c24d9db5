import { ErrorCode, SkeinError, handlerFailed, messageOf, plural } from '../util/errors.js';
import type { Agent } from '../agent/agent.js';
import type { Implements } from '../util/implements.js';
import type { Header } from '../logbuffer/header.js';
import { FragmentAssembler } from '../logbuffer/fragment-assembler.js';
import type { SkeinClient } from '../client/skein-client.js';
import type { Publication } from '../client/publication.js';
import type { Subscription } from '../client/subscription.js';
import type { Image } from '../client/image.js';
import { BACK_PRESSURED, ADMIN_ACTION, NOT_CONNECTED } from '../client/publication-codes.js';
import { MessageKind, RESPONSE_DEFAULTS, markerWord, messageKind } from './response-protocol.js';

export type ServerSessionState = 'OPENING' | 'OPEN' | 'CLOSED';

/** What a handler learns about a request besides its bytes. */
export interface RequestContext {
  readonly session: ServerSession;
  /** The client's correlation id; -1 for a plain request (no Skein framing, e.g. Aeron's sample client). */
  readonly correlationId: number;
}

/**
 * Answers a request: the returned bytes (or text) are the response; a throw or rejection is sent
 * back as an error to a Skein client and ends the session of a plain one. Answers to plain requests
 * leave in request order, whatever order the handler finishes them in.
 */
export type RequestHandler = (request: Uint8Array, context: RequestContext) => Uint8Array | string | Promise<Uint8Array | string>;

/**
 * The zero-allocation form: called with the request in place (valid only during the call); answer
 * with `session.respond(correlationId, ...)`, now or later. Plain requests (correlationId -1) must
 * be answered once each and in the order they came: a plain client matches answers in order.
 */
export type RawRequestHandler = (session: ServerSession, correlationId: number, buffer: Uint8Array, offset: number, length: number) => void;

export interface ResponseServerOptions {
  readonly requestChannel?: string;
  readonly requestStreamId?: number;
  readonly responseControlChannel?: string;
  readonly responseStreamId?: number;
  /** Exactly one of handler and onRequest. */
  readonly handler?: RequestHandler;
  readonly onRequest?: RawRequestHandler;
  /**
   * A client that has sent heartbeats and then stays silent this long is gone: its session closes
   * and its response publication is freed. Default 5000 ms. Plain clients (no heartbeats) end
   * with their request image.
   */
  readonly sessionTimeoutMs?: number;
  /** Sessions at most; further clients are not answered until one ends. Default 4096. */
  readonly maxSessions?: number;
  /** Responses queued per session while its response stream is not connected or is back-pressured. Default 1024. */
  readonly maxQueuedResponses?: number;
  /** Told when a session opens or closes. */
  readonly onSessionChange?: (session: ServerSession, from: ServerSessionState, to: ServerSessionState, reason: string) => void;
  /** Errors no caller can receive (a failed response publication, a dropped response). Default: the client's error handler. */
  readonly errorHandler?: (error: unknown) => void;
}

const MS = 1_000_000;
const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

interface QueuedResponse {
  readonly correlationId: number;
  readonly kind: MessageKind;
  readonly bytes: Uint8Array;
}

/**
 * One client of a ResponseServer: the request image it sends on and the response publication
 * created for it. OPENING (response publication being created) → OPEN → CLOSED.
 */
export class ServerSession {
  /** The request image's correlation id: the response publication's response-correlation-id. */
  readonly id: number;
  /** The client's request publication session id. */
  readonly requestSessionId: number;
  readonly sourceIdentity: string;
  private stateValue: ServerSessionState = 'OPENING';
  private publicationValue: Publication | null = null;
  private lastHeardAtNs: number;
  private heartbeatsSeen = false;
  private framedSeen = false;
  private requestCount = 0;
  private readonly queue: QueuedResponse[] = [];
  // Plain requests carry no correlation id: the client matches answers in order, so answers from
  // `handler` leave in the order their requests came. An answer ready before an earlier one waits here.
  private plainTurnNext = 0;
  private plainTurnDue = 0;
  private readonly plainEarly = new Map<number, Uint8Array>();

  constructor(
    private readonly server: ResponseServer,
    image: Image,
    nowNs: number,
  ) {
    this.id = image.correlationId;
    this.requestSessionId = image.sessionId;
    this.sourceIdentity = image.sourceIdentity;
    this.lastHeardAtNs = nowNs;
  }

  get state(): ServerSessionState {
    return this.stateValue;
  }

  /** When the client was last heard from (any message, heartbeats included), on the client's clock. */
  get lastHeardNs(): number {
    return this.lastHeardAtNs;
  }

  /** The client sends heartbeats: it is timed out after sessionTimeoutMs of silence. */
  get heartbeats(): boolean {
    return this.heartbeatsSeen;
  }

  /** The client speaks Skein's framing (it sent a marked message), so it understands CLOSE. */
  get framed(): boolean {
    return this.framedSeen;
  }

  /** Requests received in this session. */
  get requests(): number {
    return this.requestCount;
  }

  /** @internal The response publication once it exists; null before and after. */
  get publication(): Publication | null {
    return this.publicationValue;
  }

  /** @internal */
  setPublication(publication: Publication | null): void {
    this.publicationValue = publication;
  }

  /** @internal */
  setState(to: ServerSessionState): void {
    this.stateValue = to;
  }

  /** @internal Notes a message of `kind` from the client at `nowNs`. */
  heard(kind: MessageKind, nowNs: number): void {
    this.lastHeardAtNs = nowNs;
    if (kind !== MessageKind.PLAIN) this.framedSeen = true;
    if (kind === MessageKind.HEARTBEAT) this.heartbeatsSeen = true;
    else if (kind === MessageKind.REQUEST || kind === MessageKind.PLAIN) this.requestCount++;
  }

  /** The response stream's session id once the response publication exists. */
  get responseSessionId(): number | undefined {
    return this.publication?.sessionId;
  }

  /**
   * Sends the answer to request `correlationId` (-1 for a plain request). Returns true when it
   * went out or was queued (the response stream not yet connected, or back-pressured); false
   * when the session is closed or its queue is full (reported to the error handler).
   */
  respond(correlationId: number, buffer: Uint8Array, offset = 0, length = buffer.length - offset): boolean {
    return this.send(correlationId, correlationId === -1 ? MessageKind.PLAIN : MessageKind.RESPONSE, buffer, offset, length);
  }

  /** @internal The turn of the next plain request; its answer goes out after those of earlier turns. */
  takePlainTurn(): number {
    return this.plainTurnNext++;
  }

  /**
   * @internal Sends the answer of plain request `turn` once every earlier plain request has been
   * answered. Returns false when the session is closed or too many answers wait (then the order
   * can no longer be kept: the caller ends the session).
   */
  respondInTurn(turn: number, bytes: Uint8Array): boolean {
    if (this.state === 'CLOSED') return false;
    if (turn !== this.plainTurnDue) {
      if (this.plainEarly.size >= this.server.maxQueuedResponses) return false;
      this.plainEarly.set(turn, bytes);
      return true;
    }
    let ok = this.respond(-1, bytes, 0, bytes.length);
    this.plainTurnDue++;
    for (let next = this.plainEarly.get(this.plainTurnDue); next !== undefined; next = this.plainEarly.get(this.plainTurnDue)) {
      this.plainEarly.delete(this.plainTurnDue);
      ok = this.respond(-1, next, 0, next.length) && ok;
      this.plainTurnDue++;
    }
    return ok;
  }

  /** Answers request `correlationId` with an error the client sees as ERR_SKEIN_REQUEST_FAILED. */
  respondError(correlationId: number, message: string): boolean {
    if (correlationId === -1) return false;
    const bytes = encoder.encode(message);
    return this.send(correlationId, MessageKind.ERROR, bytes, 0, bytes.length);
  }

  /** @internal */
  send(correlationId: number, kind: MessageKind, buffer: Uint8Array, offset: number, length: number): boolean {
    if (this.state === 'CLOSED') return false;
    if (this.queue.length === 0 && this.publication !== null) {
      const result = this.offer(correlationId, kind, buffer, offset, length);
      if (result > 0) return true;
      if (result !== NOT_CONNECTED && result !== BACK_PRESSURED && result !== ADMIN_ACTION) {
        this.server.reportDropped(this, correlationId, `the response publication refused it (code ${result})`);
        return false;
      }
    }
    if (kind === MessageKind.HEARTBEAT) return false; // heartbeats are not worth queueing
    if (this.queue.length >= this.server.maxQueuedResponses) {
      this.server.reportDropped(this, correlationId, `${plural(this.queue.length, 'response is', 'responses are')} already queued (maxQueuedResponses)`);
      return false;
    }
    this.queue.push({ correlationId, kind, bytes: buffer.slice(offset, offset + length) });
    return true;
  }

  /** @internal Sends what was queued, in order, as far as the stream allows. */
  flush(): number {
    const queue = this.queue;
    if (queue.length === 0 || this.publication === null) return 0;
    let sent = 0;
    while (sent < queue.length) {
      const r = queue[sent]!;
      if (this.offer(r.correlationId, r.kind, r.bytes, 0, r.bytes.length) < 0) break;
      sent++;
    }
    if (sent > 0) queue.splice(0, sent);
    return sent;
  }

  get queuedResponses(): number {
    return this.queue.length;
  }

  /** @internal */
  clearQueue(): void {
    this.queue.length = 0;
    this.plainEarly.clear();
  }

  private offer(correlationId: number, kind: MessageKind, buffer: Uint8Array, offset: number, length: number): number {
    const publication = this.publication!;
    return kind === MessageKind.PLAIN ? publication.offer(buffer, offset, length) : publication.offer(buffer, offset, length, correlationId, markerWord(kind));
  }
}

/**
 * Binds a response control channel now and holds it, with a prototype response publication, for
 * the response publications to come (which share its socket): a server whose control address is
 * taken by another socket, or held by another server of the same driver, then fails at start,
 * naming it, instead of every session failing later (or sharing the other server's socket).
 * `owner` names the server in the error, and `named` how the error names what it could not hold
 * (the channel by default). Close the publication to let the address go.
 */
export async function holdResponseControl(client: SkeinClient, controlChannel: string, streamId: number, owner: string, named = `channel ${controlChannel}`): Promise<Publication> {
  try {
    return await client.addPublication(`${controlChannel}|control-mode=response|response-correlation-id=prototype`, streamId);
  } catch (error) {
    throw new SkeinError(
      error instanceof SkeinError ? error.code : ErrorCode.TRANSPORT_BIND_FAILED,
      `${owner}: cannot hold its response control ${named}: ${messageOf(error)}`,
      { cause: error },
    );
  }
}

/**
 * The server side of request/response over response channels. It subscribes to the request
 * channel; for each client (request image whose publisher asked for responses) it creates a
 * response publication (`control-mode=response|response-correlation-id=<image>`) and answers on
 * it: Skein clients with correlation ids and heartbeat echoes, plain clients (Aeron's samples)
 * with plain messages. A session ends when its request image goes, when the client says CLOSE, or
 * when a heartbeating client falls silent for sessionTimeoutMs; its resources are freed then.
 *
 * The driver gives each response stream the session id of the client's request publication, so a
 * restarted server hands every client the response session it had before (see docs/response-channels.md).
 */
export class ResponseServer {
  /** @internal */
  readonly roleName = 'response-server';
  readonly requestChannel: string;
  readonly requestStreamId: number;
  readonly responseControlChannel: string;
  readonly responseStreamId: number;
  readonly maxQueuedResponses: number;

  private readonly client: SkeinClient;
  private readonly handler: RequestHandler | undefined;
  private readonly rawHandler: RawRequestHandler | undefined;
  private readonly sessionTimeoutNs: number;
  private readonly maxSessions: number;
  private readonly onSessionChange: ResponseServerOptions['onSessionChange'];
  private readonly errorHandler: (error: unknown) => void;
  private readonly sessionsByRequestSession = new Map<number, ServerSession>();
  private readonly sessionsById = new Map<number, ServerSession>();
  private readonly assembler: FragmentAssembler;
  private subscription: Subscription | null = null;
  /** The prototype response publication that keeps the response control address bound. */
  private responseReservation: Publication | null = null;
  private closed = false;
  private nextCheckNs = 0;

  private constructor(client: SkeinClient, options: ResponseServerOptions) {
    this.client = client;
    this.requestChannel = options.requestChannel ?? RESPONSE_DEFAULTS.requestChannel;
    this.requestStreamId = options.requestStreamId ?? RESPONSE_DEFAULTS.requestStreamId;
    this.responseControlChannel = options.responseControlChannel ?? RESPONSE_DEFAULTS.responseControlChannel;
    this.responseStreamId = options.responseStreamId ?? RESPONSE_DEFAULTS.responseStreamId;
    if ((options.handler === undefined) === (options.onRequest === undefined)) {
      throw new SkeinError(ErrorCode.ARG_INVALID, 'a response server needs exactly one of handler and onRequest', { channel: this.requestChannel, streamId: this.requestStreamId });
    }
    this.handler = options.handler;
    this.rawHandler = options.onRequest;
    const sessionTimeoutMs = options.sessionTimeoutMs ?? 5000;
    const maxSessions = options.maxSessions ?? 4096;
    const maxQueued = options.maxQueuedResponses ?? 1024;
    for (const [name, value, max] of [['sessionTimeoutMs', sessionTimeoutMs, 3_600_000], ['maxSessions', maxSessions, 1 << 20], ['maxQueuedResponses', maxQueued, 1 << 20]] as const) {
      if (!Number.isInteger(value) || value < 1 || value > max) throw new SkeinError(ErrorCode.ARG_INVALID, `${name}=${value} is out of range: must be an integer in 1..${max}`);
    }
    this.sessionTimeoutNs = sessionTimeoutMs * MS;
    this.maxSessions = maxSessions;
    this.maxQueuedResponses = maxQueued;
    this.onSessionChange = options.onSessionChange;
    this.errorHandler = options.errorHandler ?? ((error) => client.reportError(error));
    this.assembler = new FragmentAssembler((buffer, offset, length, header) => this.onMessage(buffer, offset, length, header));
  }

  /** Subscribes to the request channel and starts answering. */
  static async start(client: SkeinClient, options: ResponseServerOptions): Promise<ResponseServer> {
    const server = new ResponseServer(client, options);
    server.subscription = await client.addSubscription(server.requestChannel, server.requestStreamId, {
      onAvailableImage: (image) => server.onAvailableImage(image),
      onUnavailableImage: (image) => server.onUnavailableImage(image),
    });
    try {
      server.responseReservation = await holdResponseControl(client, server.responseControlChannel, server.responseStreamId, `response server on ${server.requestChannel}`);
    } catch (error) {
      server.shutdown();
      throw error;
    }
    for (const image of server.subscription.images) server.onAvailableImage(image);
    client.addAgent(server);
    return server;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Sessions not yet closed. */
  get sessions(): readonly ServerSession[] {
    return [...this.sessionsById.values()];
  }

  /** Stops answering, tells every client (CLOSE), frees every response publication and the subscription. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.shutdown();
    this.client.removeAgent(this);
  }

  /** @internal */
  onClose(): void {
    if (!this.closed) this.shutdown();
  }

  /** @internal */
  doWork(nowNs: number): number {
    if (this.closed || this.subscription === null) return 0;
    let work = this.subscription.poll(this.assembler.onFragment, 32);
    if (nowNs >= this.nextCheckNs) {
      this.nextCheckNs = nowNs + MS;
      for (const session of this.sessionsById.values()) {
        work += session.flush();
        if (session.heartbeats && nowNs - session.lastHeardNs > this.sessionTimeoutNs) {
          this.closeSession(session, `the client was silent for ${Math.round((nowNs - session.lastHeardNs) / MS)} ms (sessionTimeoutMs=${this.sessionTimeoutNs / MS})`, true);
        }
      }
    }
    return work;
  }

  /** @internal */
  reportDropped(session: ServerSession, correlationId: number, why: string): void {
    this.errorHandler(
      new SkeinError(ErrorCode.BACK_PRESSURED, `response dropped: ${why}`, {
        channel: this.responseControlChannel,
        streamId: this.responseStreamId,
        ...(session.responseSessionId === undefined ? {} : { sessionId: session.responseSessionId }),
        correlationId,
      }),
    );
  }

  private onAvailableImage(image: Image): void {
    if (this.closed || this.sessionsById.has(image.correlationId)) return;
    if (this.sessionsById.size >= this.maxSessions) {
      this.errorHandler(
        new SkeinError(ErrorCode.LIMIT_REACHED, `maxSessions=${this.maxSessions} reached: client ${image.sourceIdentity} is not answered`, {
          channel: this.requestChannel,
          streamId: this.requestStreamId,
          sessionId: image.sessionId,
        }),
      );
      return;
    }
    const session = new ServerSession(this, image, this.client.clock.nanoTime());
    this.sessionsById.set(session.id, session);
    this.sessionsByRequestSession.set(session.requestSessionId, session);
    const channel = `${this.responseControlChannel}|control-mode=response|response-correlation-id=${image.correlationId}`;
    this.client.addPublication(channel, this.responseStreamId).then(
      (publication) => {
        if (session.state === 'CLOSED') {
          publication.close();
          return;
        }
        session.setPublication(publication);
        this.setState(session, 'OPEN', `response stream ${publication.sessionId} created`);
        session.flush();
      },
      (error: unknown) => {
        this.closeSession(session, `cannot create the response publication: ${(error as Error)?.message ?? String(error)}`, false);
        this.errorHandler(error);
      },
    );
  }

  private onUnavailableImage(image: Image): void {
    const session = this.sessionsById.get(image.correlationId);
    if (session !== undefined) this.closeSession(session, `request image ${image.sessionId} from ${image.sourceIdentity} is gone`, false);
  }

  private onMessage(buffer: Uint8Array, offset: number, length: number, header: Header): void {
    const session = this.sessionsByRequestSession.get(header.sessionId);
    if (session === undefined || session.state === 'CLOSED') return;
    const kind = messageKind(header.reservedValueHigh);
    session.heard(kind, this.client.clock.nanoTime());
    switch (kind) {
      case MessageKind.HEARTBEAT:
        session.send(header.reservedValueLow, MessageKind.HEARTBEAT, EMPTY, 0, 0);
        return;
      case MessageKind.CLOSE:
        this.closeSession(session, 'the client closed the session', false);
        return;
      case MessageKind.REQUEST:
      case MessageKind.PLAIN:
        this.dispatch(session, kind === MessageKind.PLAIN ? -1 : header.reservedValueLow, buffer, offset, length);
        return;
      default:
        return;
    }
  }

  private dispatch(session: ServerSession, correlationId: number, buffer: Uint8Array, offset: number, length: number): void {
    if (this.rawHandler !== undefined) {
      try {
        this.rawHandler(session, correlationId, buffer, offset, length);
      } catch (thrown) {
        this.handlerFailed(session, correlationId, 'onRequest', thrown);
      }
      return;
    }
    const turn = correlationId === -1 ? session.takePlainTurn() : -1;
    let result: ReturnType<RequestHandler>;
    try {
      result = this.handler!(buffer.slice(offset, offset + length), { session, correlationId });
    } catch (thrown) {
      this.handlerFailed(session, correlationId, 'request handler', thrown);
      return;
    }
    if (typeof result === 'string' || result instanceof Uint8Array) {
      this.answer(session, correlationId, turn, result);
      return;
    }
    if (result === null || typeof result !== 'object' || typeof (result as { then?: unknown }).then !== 'function') {
      this.handlerFailed(session, correlationId, 'request handler', new TypeError(`it returned ${result === null ? 'null' : typeof result}; expected a Uint8Array, a string or a promise of one`));
      return;
    }
    result.then(
      (value) => this.answer(session, correlationId, turn, value),
      (thrown: unknown) => this.handlerFailed(session, correlationId, 'request handler', thrown),
    );
  }

  /**
   * A request handler failed (threw, rejected, or answered something that is not bytes or text):
   * the server reports it once to its error handler and counts it. A Skein client gets the error
   * (ERR_SKEIN_REQUEST_FAILED there) and the session goes on. A plain request has no way to carry
   * an error, and leaving it unanswered would make a client that matches in order take the next
   * answer for it, so a plain session ends instead: its client sees the response stream end.
   */
  private handlerFailed(session: ServerSession, correlationId: number, what: string, thrown: unknown): void {
    if (correlationId === -1) this.closeSession(session, `the ${what} failed on a plain request, which cannot carry an error: ${messageOf(thrown)}`, false);
    else session.respondError(correlationId, messageOf(thrown));
    this.client.reportHandlerError(
      handlerFailed(what, thrown, {
        channel: this.requestChannel,
        streamId: this.requestStreamId,
        sessionId: session.requestSessionId,
        ...(correlationId === -1 ? {} : { correlationId }),
      }),
      this.errorHandler,
    );
  }

  /** Sends a handler's answer: at once for a Skein request, in request order (`turn`) for a plain one. */
  private answer(session: ServerSession, correlationId: number, turn: number, value: Uint8Array | string): void {
    if (typeof value !== 'string' && !(value instanceof Uint8Array)) {
      this.handlerFailed(session, correlationId, 'request handler', new TypeError(`it answered ${value === null ? 'null' : typeof value}; expected a Uint8Array or a string`));
      return;
    }
    const bytes = typeof value === 'string' ? encoder.encode(value) : value;
    if (turn < 0) {
      session.respond(correlationId, bytes, 0, bytes.length);
      return;
    }
    if (!session.respondInTurn(turn, bytes) && session.state !== 'CLOSED') {
      this.closeSession(session, `plain answers can no longer leave in request order (an answer was dropped, or maxQueuedResponses=${this.maxQueuedResponses} wait for an earlier one)`, false);
    }
  }

  private closeSession(session: ServerSession, reason: string, tellClient: boolean): void {
    if (session.state === 'CLOSED') return;
    if (tellClient && session.framed && session.publication !== null && session.publication.isConnected) {
      session.publication.offer(EMPTY, 0, 0, 0, markerWord(MessageKind.CLOSE));
    }
    session.clearQueue();
    this.setState(session, 'CLOSED', reason);
    session.publication?.close();
    session.setPublication(null);
    this.sessionsById.delete(session.id);
    if (this.sessionsByRequestSession.get(session.requestSessionId) === session) this.sessionsByRequestSession.delete(session.requestSessionId);
    this.assembler.freeSessionBuffer(session.requestSessionId);
  }

  private setState(session: ServerSession, to: ServerSessionState, reason: string): void {
    const from = session.state;
    if (from === to) return;
    session.setState(to);
    try {
      this.onSessionChange?.(session, from, to, reason);
    } catch (thrown) {
      this.client.reportHandlerError(
        handlerFailed(`onSessionChange (${from} -> ${to})`, thrown, { channel: this.requestChannel, streamId: this.requestStreamId, sessionId: session.requestSessionId }),
        this.errorHandler,
      );
    }
  }

  private shutdown(): void {
    this.closed = true;
    for (const session of [...this.sessionsById.values()]) this.closeSession(session, 'the server is closing', true);
    this.subscription?.close();
    this.subscription = null;
    this.responseReservation?.close();
    this.responseReservation = null;
  }
}

/** @internal It runs as an agent on its client's duty cycle. */
export type ResponseServerRoles = Implements<Agent, ResponseServer>;
