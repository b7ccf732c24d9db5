/**
 * Clients in worker threads. The driver runs embedded in one thread (the one that called
 * `Skein.launch()`); `skein.createWorkerLink()` connects a new client to it and returns a
 * {@link WorkerLink}, which is sent to a worker (`workerData`, with the port in `transferList`)
 * where `SkeinWorker.connect(link)` builds the client.
 *
 * What crosses the thread boundary:
 * - commands and responses travel over a MessagePort; a log in a response travels as its
 *   SharedArrayBuffer and is wrapped again on arrival, so both threads read and write the same
 *   bytes (no copies after set-up);
 * - counter values (publisher limits, subscriber positions) are one Float64Array over a
 *   SharedArrayBuffer that both threads index;
 * - correlation ids come from one shared 64-bit word (`Atomics.add`);
 * - a shared word says whether the driver's runner sleeps on a timer: a worker that offered,
 *   consumed or met back-pressure posts a wake message only then, so the hot path costs one
 *   `Atomics.load` while the driver is awake.
 *
 * One log takes appends from one thread at a time, so a publication added from a worker gets a
 * session of its own, as if added with `addExclusivePublication`.
 *
 * This module holds the driver side: {@link WorkerLinkHost}, an agent on the driver's duty cycle
 * that forwards each direction. The worker side is in skein-worker.ts.
 */
import type { MessagePort } from 'node:worker_threads';
import type { Agent } from './agent/agent.js';
import type { DriverConnection } from './command/driver-connection.js';
import type { DriverCommand, DriverResponse } from './command/driver-messages.js';
import { ErrorCode } from './util/errors.js';

/** @internal The link format's version; SkeinWorker.connect refuses a link of another version. */
export const WORKER_LINK_VERSION = 2;

/** Everything a worker needs to connect a client to a driver in another thread; structured-cloneable. */
export interface WorkerLink {
  readonly version: number;
  /** Transfer it with the link: `new Worker(file, { workerData: { link }, transferList: [link.port] })`. */
  readonly port: MessagePort;
  readonly clientId: number;
  readonly counterValues: SharedArrayBuffer;
  readonly correlationIds: SharedArrayBuffer;
  /** Int32 word 0: 1 while the driver's runner sleeps on a timer. */
  readonly driverSleep: SharedArrayBuffer;
  readonly clientLivenessTimeoutNs: number;
  /** Counter id clients increment when an application handler throws. */
  readonly handlerErrorsCounterId: number;
}

/** @internal The message a worker posts to wake a sleeping driver. */
export const WAKE_MESSAGE = 0;

/** @internal A driver response as it crosses the port: a log travels as its SharedArrayBuffer. */
export type PortResponse =
  | Exclude<DriverResponse, { logBuffers: unknown }>
  | (Omit<Extract<DriverResponse, { type: 'PUBLICATION_READY' }>, 'logBuffers'> & { readonly logBuffers: SharedArrayBuffer })
  | (Omit<Extract<DriverResponse, { type: 'AVAILABLE_IMAGE' }>, 'logBuffers'> & { readonly logBuffers: SharedArrayBuffer });

const COMMAND_TYPES: ReadonlySet<string> = new Set([
  'ADD_PUBLICATION',
  'ADD_SUBSCRIPTION',
  'REMOVE_PUBLICATION',
  'REMOVE_SUBSCRIPTION',
  'CLIENT_KEEPALIVE',
  'CLIENT_CLOSE',
  'ADD_DESTINATION',
  'REMOVE_DESTINATION',
  'ADD_RCV_DESTINATION',
  'REMOVE_RCV_DESTINATION',
  'ADD_COUNTER',
  'REMOVE_COUNTER',
]);

/** CLOSING: the port is closed, the client's CLIENT_CLOSE still waits for room in the driver's queue. */
type HostState = 'OPEN' | 'CLOSING' | 'CLOSED';

/**
 * @internal The driver's end of one worker link. Commands arriving on the port go to the driver's command
 * queue under this link's client id (a worker cannot speak for another client); responses for
 * that client are posted back from the duty cycle. When the port closes (the worker closed its
 * client, exited or was terminated), the client is closed in the driver, which releases its
 * publications and subscriptions.
 */
export class WorkerLinkHost implements Agent {
  readonly roleName = 'worker-link';
  private state: HostState = 'OPEN';
  private readonly postResponseBound: (response: DriverResponse) => void;

  constructor(
    private readonly connection: DriverConnection,
    private readonly port: MessagePort,
    private readonly wakeDriver: () => void,
    private readonly onClosed: (host: WorkerLinkHost) => void,
  ) {
    this.postResponseBound = (response) => this.postResponse(response);
    port.on('message', (message: unknown) => this.onMessage(message));
    port.on('close', () => this.close());
  }

  get clientId(): number {
    return this.connection.clientId;
  }

  get isClosed(): boolean {
    return this.state === 'CLOSED';
  }

  doWork(): number {
    if (this.state === 'CLOSED') return 0;
    if (this.state === 'CLOSING') {
      this.finishClose();
      return 1;
    }
    if (this.connection.isDriverClosed) {
      this.close();
      return 1;
    }
    return this.connection.toClient.drain(this.postResponseBound, 64);
  }

  onClose(): void {
    this.close();
  }

  /**
   * Closes the link and the worker's client in the driver; idempotent. When the driver's command
   * queue is full, CLIENT_CLOSE is offered again on every duty cycle until it is taken (or the
   * driver closes), and only then is the link CLOSED.
   */
  close(): void {
    if (this.state !== 'OPEN') return;
    this.state = 'CLOSING';
    this.port.close();
    this.finishClose();
  }

  /** The driver already closed this link's client: no CLIENT_CLOSE is needed. */
  private closeTimedOut(): void {
    if (this.state === 'CLOSED') return;
    this.state = 'CLOSED';
    this.port.close();
    this.onClosed(this);
  }

  private finishClose(): void {
    const taken = this.connection.isDriverClosed || this.connection.toDriver.offer({ type: 'CLIENT_CLOSE', clientId: this.connection.clientId });
    this.wakeDriver();
    if (!taken) return;
    this.state = 'CLOSED';
    this.onClosed(this);
  }

  private onMessage(message: unknown): void {
    if (this.state !== 'OPEN') return;
    if (message === WAKE_MESSAGE) {
      this.wakeDriver();
      return;
    }
    const command = asCommand(message, this.connection.clientId);
    if (command === null) return;
    if (!this.connection.toDriver.offer(command)) {
      // A keepalive that finds the queue full is dropped; the next one follows within 500 ms.
      if ('correlationId' in command) {
        this.port.postMessage({
          type: 'ERROR',
          clientId: command.clientId,
          correlationId: command.correlationId,
          code: ErrorCode.BACK_PRESSURED,
          message: `driver command queue full (${this.connection.toDriver.capacity} commands); ${command.type} not taken, retry`,
        } satisfies PortResponse);
      }
      return;
    }
    // A keepalive need not be seen at once: the conductor runs well within the liveness timeout.
    if (command.type !== 'CLIENT_KEEPALIVE') this.wakeDriver();
  }

  private postResponse(response: DriverResponse): void {
    if (response.type === 'CLIENT_TIMEOUT') {
      // The driver closed the worker's client for silence: tell the worker, then close the link.
      this.port.postMessage(response satisfies PortResponse);
      this.closeTimedOut();
      return;
    }
    if (response.type === 'PUBLICATION_READY' || response.type === 'AVAILABLE_IMAGE') {
      response.logBuffers.metaData.markSharedAcrossThreads();
      this.port.postMessage({ ...response, logBuffers: response.logBuffers.buffer as SharedArrayBuffer } satisfies PortResponse);
    } else {
      this.port.postMessage(response satisfies PortResponse);
    }
  }
}

/**
 * The command in `message`, on behalf of `clientId` whatever client id it names, or null when it
 * is not a command. Publications added from a worker are exclusive (see the module comment).
 */
function asCommand(message: unknown, clientId: number): DriverCommand | null {
  if (typeof message !== 'object' || message === null) return null;
  const type = (message as { type?: unknown }).type;
  if (typeof type !== 'string' || !COMMAND_TYPES.has(type)) return null;
  const command = { ...(message as DriverCommand), clientId };
  return command.type === 'ADD_PUBLICATION' ? { ...command, exclusive: true } : command;
}
