/**
 * The worker-thread end of a {@link WorkerLink}: a Skein client in a worker, talking to the driver
 * embedded in the thread that created the link (see worker-link.ts).
 *
 * ```ts
 * // main thread
 * const skein = Skein.launch();
 * const link = skein.createWorkerLink();
 * new Worker(new URL('./publisher.js', import.meta.url), { workerData: { link }, transferList: [link.port] });
 * // publisher.js
 * const skein = SkeinWorker.connect(workerData.link);
 * const publication = await skein.addPublication('aeron:ipc', 1001);
 * ```
 */
import type { MessagePort } from 'node:worker_threads';
import { systemNanoClock } from './env/clock.js';
import type { Agent } from './agent/agent.js';
import { AgentRunner } from './agent/agent-runner.js';
import { SKEIN_IDLE_DEFAULTS, type IdleOptions } from './agent/idle-strategy.js';
import { createCommandQueue, createResponseQueue, type DriverConnection } from './command/driver-connection.js';
import type { ClientKeepaliveCommand, DriverCommand, DriverResponse } from './command/driver-messages.js';
import type { MessageQueue } from './command/message-queue.js';
import { LogBuffers } from './logbuffer/log-buffers.js';
import { SkeinClient, type SubscriptionOptions } from './client/skein-client.js';
import type { Publication } from './client/publication.js';
import type { Subscription } from './client/subscription.js';
import { ErrorCode, SkeinError } from './util/errors.js';
import { WAKE_MESSAGE, WORKER_LINK_VERSION, type PortResponse, type WorkerLink } from './worker-link.js';

export interface SkeinWorkerOptions {
  /** How long the client waits for the driver to answer a command. Default 10 s. */
  readonly driverTimeoutMs?: number;
  /** Errors that cannot be returned to a caller. Default: print to stderr. */
  readonly errorHandler?: (error: unknown) => void;
  /** How this thread's client conductor idles (see SkeinOptions.idle). */
  readonly idle?: IdleOptions;
}

/** A {@link DriverConnection} over a worker link's port and shared memory. */
class PortConnection implements DriverConnection {
  readonly clientId: number;
  readonly toDriver: MessageQueue<DriverCommand> = createCommandQueue();
  readonly toClient: MessageQueue<DriverResponse> = createResponseQueue();
  readonly counters: { readonly values: Float64Array };
  readonly clientLivenessTimeoutNs: number;
  readonly handlerErrorsCounterId: number;
  /** Wakes this thread's client conductor (set once its runner exists). */
  onArrival: () => void = () => {};
  /** Called once the driver's end of the link has closed. */
  onDriverClosed: () => void = () => {};
  private readonly driverSleep: Int32Array;
  private readonly correlationIds: BigInt64Array;
  private driverClosed = false;

  constructor(
    private readonly port: MessagePort,
    link: WorkerLink,
    private readonly errorHandler: (error: unknown) => void,
  ) {
    this.clientId = link.clientId;
    this.counters = { values: new Float64Array(link.counterValues) };
    this.clientLivenessTimeoutNs = link.clientLivenessTimeoutNs;
    this.handlerErrorsCounterId = link.handlerErrorsCounterId;
    this.driverSleep = new Int32Array(link.driverSleep);
    this.correlationIds = new BigInt64Array(link.correlationIds);
    port.on('message', (message: PortResponse) => this.onMessage(message));
    port.on('close', () => {
      this.driverClosed = true;
      this.onDriverClosed();
    });
  }

  get isDriverClosed(): boolean {
    return this.driverClosed;
  }

  wake(): void {
    if (this.toDriver.size > 0) this.flush();
    this.notifyProgress();
  }

  notifyProgress(): void {
    const sleep = this.driverSleep;
    if (Atomics.load(sleep, 0) !== 0 && Atomics.compareExchange(sleep, 0, 1, 0) === 1) this.post(WAKE_MESSAGE);
  }

  nextCorrelationId(): number {
    return Number(Atomics.add(this.correlationIds, 0, 1n));
  }

  /** Posts a keepalive at once; it does not wake a sleeping driver (it need not be seen sooner). */
  keepalive(command: ClientKeepaliveCommand): void {
    this.post(command);
  }

  close(): void {
    this.flush();
    this.driverClosed = true;
    this.port.close();
  }

  private flush(): void {
    for (let command = this.toDriver.poll(); command !== undefined; command = this.toDriver.poll()) this.post(command);
  }

  private post(message: DriverCommand | typeof WAKE_MESSAGE): void {
    if (this.driverClosed) return;
    this.port.postMessage(message);
  }

  private onMessage(message: PortResponse): void {
    if (message.type === 'CLIENT_TIMEOUT') {
      this.errorHandler(
        new SkeinError(
          ErrorCode.CLOSED,
          `worker client ${this.clientId}: the driver closed this client, which sent no keepalive within clientLivenessTimeoutNs (${this.clientLivenessTimeoutNs / 1e6} ms); was this thread's event loop blocked?`,
          { timeoutMs: this.clientLivenessTimeoutNs / 1e6, state: 'CLIENT_TIMEOUT' },
        ),
      );
      return;
    }
    let response: DriverResponse;
    try {
      response =
        message.type === 'PUBLICATION_READY' || message.type === 'AVAILABLE_IMAGE'
          ? { ...message, logBuffers: LogBuffers.wrap(message.logBuffers) }
          : message;
    } catch (error) {
      this.errorHandler(error);
      return;
    }
    if (!this.toClient.offer(response)) {
      this.errorHandler(
        new SkeinError(ErrorCode.BACK_PRESSURED, `worker client ${this.clientId}: response queue full (${this.toClient.capacity}); ${message.type} dropped`),
      );
      return;
    }
    this.onArrival();
  }
}

/**
 * A Skein client in a worker thread, connected to a driver in another thread by a
 * {@link WorkerLink}. Publications and subscriptions behave as in the embedded `Skein`, reading
 * and writing the driver's logs in place; publications always get a session of their own.
 */
export class SkeinWorker {
  readonly client: SkeinClient;
  private readonly connection: PortConnection;
  private readonly runner: AgentRunner;
  private closed = false;

  private constructor(link: WorkerLink, options: SkeinWorkerOptions) {
    const errorHandler = options.errorHandler ?? ((error: unknown) => console.error(error));
    this.connection = new PortConnection(link.port, link, errorHandler);
    this.client = new SkeinClient({
      connection: this.connection,
      clock: systemNanoClock,
      errorHandler,
      ...(options.driverTimeoutMs === undefined ? {} : { driverTimeoutMs: options.driverTimeoutMs }),
    });
    this.runner = new AgentRunner(this.client, {
      clock: systemNanoClock,
      errorHandler,
      idle: { ...SKEIN_IDLE_DEFAULTS, ...options.idle },
    });
    this.client.addAgent(new ClientKeepalive(this.connection));
    this.connection.onArrival = () => this.runner.wake();
    this.connection.onDriverClosed = () => this.close();
    this.runner.start();
  }

  /** Connects a client in this thread to the driver that created `link` (one client per link). */
  static connect(link: WorkerLink, options: SkeinWorkerOptions = {}): SkeinWorker {
    checkLink(link);
    if (usedPorts.has(link.port)) {
      throw new SkeinError(
        ErrorCode.ARG_INVALID,
        `SkeinWorker.connect: link of client ${link.clientId} is already connected; a link serves one client, create one per worker with skein.createWorkerLink()`,
      );
    }
    usedPorts.add(link.port);
    return new SkeinWorker(link, options);
  }

  /** True once closed here, or once the driver's thread closed the link. */
  get isClosed(): boolean {
    return this.closed || this.client.isClosed;
  }

  addPublication(channel: string, streamId: number): Promise<Publication> {
    return this.client.addPublication(channel, streamId);
  }

  addExclusivePublication(channel: string, streamId: number): Promise<Publication> {
    return this.client.addExclusivePublication(channel, streamId);
  }

  addSubscription(channel: string, streamId: number, options?: SubscriptionOptions): Promise<Subscription> {
    return this.client.addSubscription(channel, streamId, options);
  }

  /**
   * Closes the client (the driver releases its publications and subscriptions) and the link, so
   * the thread can exit. Idempotent.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.close();
    this.runner.close();
    this.connection.close();
  }
}

/** Longest interval between two keepalives. */
const KEEPALIVE_INTERVAL_MAX_NS = 500_000_000;

/**
 * Keeps the worker's client alive in the driver: on the client's duty cycle, a CLIENT_KEEPALIVE
 * every 500 ms (a quarter of the liveness timeout when that is shorter). The first one tells the
 * driver to hold this client to clientLivenessTimeoutNs, so a worker whose event loop stops for
 * longer (blocked, or stuck in a long synchronous task) has its client closed and counted; a
 * worker that exits or is terminated is noticed sooner, by its port closing. Returns no work, so
 * it never keeps the runner from idling; the runner's idle back-off (at most `maxIdleMs` between
 * cycles) bounds how late a keepalive goes out.
 */
class ClientKeepalive implements Agent {
  readonly roleName = 'client-keepalive';
  private readonly command: ClientKeepaliveCommand;
  private readonly intervalNs: number;
  private deadlineNs = Number.NEGATIVE_INFINITY;

  constructor(private readonly connection: PortConnection) {
    this.command = Object.freeze({ type: 'CLIENT_KEEPALIVE', clientId: connection.clientId });
    this.intervalNs = Math.min(KEEPALIVE_INTERVAL_MAX_NS, connection.clientLivenessTimeoutNs / 4);
  }

  doWork(nowNs: number): number {
    if (nowNs < this.deadlineNs) return 0;
    this.deadlineNs = nowNs + this.intervalNs;
    this.connection.keepalive(this.command);
    return 0;
  }
}

/** Ports of links already connected in this thread. */
const usedPorts = new WeakSet<MessagePort>();

function checkLink(link: WorkerLink): void {
  const problem =
    typeof link !== 'object' || link === null
      ? `link is ${String(link)}`
      : link.version !== WORKER_LINK_VERSION
        ? `link version ${String(link.version)} is not ${WORKER_LINK_VERSION}`
        : typeof link.port?.postMessage !== 'function'
          ? 'link.port is not a MessagePort (pass it in transferList)'
          : !(link.counterValues instanceof SharedArrayBuffer) || !(link.correlationIds instanceof SharedArrayBuffer) || !(link.driverSleep instanceof SharedArrayBuffer)
            ? 'link buffers are not SharedArrayBuffers'
            : !Number.isInteger(link.clientId) || !Number.isInteger(link.handlerErrorsCounterId)
              ? `link clientId ${String(link.clientId)} or handlerErrorsCounterId ${String(link.handlerErrorsCounterId)} is not an integer`
              : null;
  if (problem !== null) {
    throw new SkeinError(ErrorCode.ARG_INVALID, `SkeinWorker.connect: ${problem}; pass the object skein.createWorkerLink() returned`);
  }
}
