import type { NanoClock, EpochClock } from '../env/clock.js';
import type { Prng } from '../env/prng.js';
import type { DatagramTransport } from '../env/datagram.js';
import type { Storage } from '../env/storage.js';
import type { Agent } from '../agent/agent.js';
import { SkeinError, ErrorCode, plural } from '../util/errors.js';
import { CountersManager } from '../agent/counters.js';
import { DistinctErrorLog } from '../agent/distinct-error-log.js';
import { SnapshotPublisher } from '../agent/snapshot.js';
import { DutyCycleTracker } from '../agent/duty-cycle-tracker.js';
import { createCommandQueue, createResponseQueue, type DriverConnection } from '../command/driver-connection.js';
import { resolveDriverSettings, type DriverOptions, type DriverSettings } from './driver-context.js';
import { DriverCounters, type DriverComponents } from './driver-components.js';
import { DriverConductor } from './driver-conductor.js';
import { Sender } from './sender.js';
import { Receiver } from './receiver.js';

/** The injected parts of a driver: time, randomness, network and storage. */
export interface MediaDriverComponents {
  readonly clock: NanoClock;
  readonly epochClock: EpochClock;
  readonly prng: Prng;
  readonly transport: DatagramTransport;
  /** Where counters and errors are published for `skein stat`; omit to publish nothing. */
  readonly storage?: Storage;
  readonly snapshotDir?: string;
  readonly pid?: number;
  /** `SKEIN_*` overrides; the embedded entry point passes `process.env`. */
  readonly env?: Record<string, string | undefined>;
  /** Whether a process runs: snapshot files of dead processes are removed on start. */
  readonly isProcessAlive?: (pid: number) => boolean;
  /** Called for every error the driver records (after it is logged and counted). */
  readonly errorHandler?: (error: unknown) => void;
}

/**
 * A media driver: conductor, sender and receiver agents over the injected components. It does
 * not run itself; whoever embeds it runs `agents` (the `Skein` entry point with an AgentRunner,
 * tests and the simulator with invokers) and sets `wakeHandler` so arriving data wakes them.
 */
export class MediaDriver {
  readonly settings: DriverSettings;
  readonly counters: CountersManager;
  readonly errorLog: DistinctErrorLog;
  /** @internal */
  readonly conductor: DriverConductor;
  /** @internal */
  readonly sender: Sender;
  /** @internal */
  readonly receiver: Receiver;
  /** @internal */
  readonly agents: readonly Agent[];
  /** @internal Publishes counters and errors for `skein stat`; null when snapshots are off or there is no storage. */
  readonly snapshotPublisher: SnapshotPublisher | null = null;
  private readonly components: DriverComponents;
  private readonly driverCounters: DriverCounters;
  private readonly commands = createCommandQueue();
  private wakeHandler: () => void = () => {};
  /** The next correlation id, in shared memory so clients in worker threads draw from it too. */
  private readonly correlationIds = new BigInt64Array(new SharedArrayBuffer(8));
  private nextClientId = 1;
  private closed = false;

  constructor(options: DriverOptions, parts: MediaDriverComponents) {
    this.correlationIds[0] = 1n;
    this.settings = resolveDriverSettings(options, parts.env ?? {});
    this.counters = new CountersManager({ epochClock: parts.epochClock, capacity: this.settings.countersCapacity });
    this.errorLog = new DistinctErrorLog(parts.epochClock, this.settings.errorLogCapacity);
    this.driverCounters = new DriverCounters(this.counters);
    const errorHandler = parts.errorHandler;
    const errorLog = this.errorLog;
    const errorsCounter = this.driverCounters.errors;
    const sendErrorsCounter = this.driverCounters.sendErrors;
    const onError = (error: unknown): void => {
      errorsCounter.increment();
      errorLog.record(error);
      if (errorHandler !== undefined) errorHandler(error);
    };
    this.components = {
      settings: this.settings,
      clock: parts.clock,
      epochClock: parts.epochClock,
      prng: parts.prng,
      transport: parts.transport,
      counters: this.counters,
      driverCounters: this.driverCounters,
      errorLog,
      onError,
      onSendError: (error) => {
        sendErrorsCounter.increment();
        onError(error);
      },
      wake: () => this.wakeHandler(),
    };
    // Each agent's duty cycles are timed by the CompositeAgent that runs it (the embedded Skein).
    const threshold = this.settings.cycleTimeThresholdNs;
    this.sender = new Sender(new DutyCycleTracker(parts.clock, this.driverCounters.senderDutyCycles, threshold));
    this.receiver = new Receiver(new DutyCycleTracker(parts.clock, this.driverCounters.receiverDutyCycles, threshold));
    this.conductor = new DriverConductor({
      dutyCycleTracker: new DutyCycleTracker(parts.clock, this.driverCounters.conductorDutyCycles, threshold),
      components: this.components,
      commands: this.commands,
      sender: this.sender,
      receiver: this.receiver,
      nextCorrelationId: () => this.nextCorrelationId(),
    });
    const agents: Agent[] = [this.conductor, this.sender, this.receiver];
    if (parts.storage !== undefined && parts.snapshotDir !== undefined && this.settings.publishSnapshots) {
      this.snapshotPublisher = new SnapshotPublisher({
        storage: parts.storage,
        dir: parts.snapshotDir,
        pid: parts.pid ?? 0,
        startedAtMs: parts.epochClock.epochMs(),
        counters: this.counters,
        errors: this.errorLog,
        epochClock: parts.epochClock,
        intervalMs: this.settings.snapshotIntervalNs / 1e6,
        extra: () => this.conductor.resourceCounts(),
        ...(parts.isProcessAlive === undefined ? {} : { isProcessAlive: parts.isProcessAlive }),
      });
      agents.push(this.snapshotPublisher);
    }
    this.agents = agents;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * @internal Creates the snapshot directory and writes the first snapshot now, so that an unusable
   * directory fails the caller (ERR_SKEIN_STORAGE_FAILED naming the path) instead of an agent
   * later. No-op when snapshots are off.
   */
  checkStorage(): void {
    const publisher = this.snapshotPublisher;
    if (publisher === null) return;
    publisher.onStart();
    publisher.publish();
  }

  /** @internal Records an error as the driver's own (error log and counter). */
  recordError(error: unknown): void {
    this.components.onError(error);
  }

  /** @internal Allocates an id unique within this driver (correlation and registration ids), from any thread. */
  nextCorrelationId(): number {
    return Number(Atomics.add(this.correlationIds, 0, 1n));
  }

  /** @internal The shared word {@link nextCorrelationId} draws from, for clients in worker threads. */
  get correlationIdBuffer(): SharedArrayBuffer {
    return this.correlationIds.buffer as SharedArrayBuffer;
  }

  /** @internal */
  setWakeHandler(handler: () => void): void {
    this.wakeHandler = handler;
  }

  /** @internal Id of the counter clients increment when an application handler throws. */
  get handlerErrorsCounterId(): number {
    return this.driverCounters.handlerErrors.id;
  }

  /** A new client connection to this driver. */
  connect(): DriverConnection {
    if (this.closed) throw new SkeinError(ErrorCode.CLOSED, 'cannot connect a client to a closed driver', { state: 'CLOSED' });
    const clientsMax = this.settings.clientsMax;
    if (this.conductor.clientCount >= clientsMax) {
      throw new SkeinError(
        ErrorCode.LIMIT_REACHED,
        `driver has ${plural(this.conductor.clientCount, 'client', 'clients')} connected, the clientsMax limit (allowed 1..65536); close a client first`,
      );
    }
    const clientId = this.nextClientId++;
    const toClient = createResponseQueue();
    this.conductor.registerClient(clientId, toClient);
    const driver = this;
    return {
      clientId,
      toDriver: this.commands,
      toClient,
      counters: this.counters,
      handlerErrorsCounterId: this.driverCounters.handlerErrors.id,
      clientLivenessTimeoutNs: this.settings.clientLivenessTimeoutNs,
      wake: () => driver.wakeHandler(),
      notifyProgress: () => {},
      nextCorrelationId: () => driver.nextCorrelationId(),
      get isDriverClosed() {
        return driver.closed;
      },
    };
  }

  /** Frees everything the driver holds (sockets, counters, logs). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const agent of this.agents) {
      try {
        agent.onClose?.();
      } catch (error) {
        this.errorLog.record(error);
      }
    }
    this.driverCounters.close();
  }
}
