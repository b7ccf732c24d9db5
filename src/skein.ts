/**
 * The embedded entry point: a media driver and a client in this process, run by one agent runner
 * on the Node event loop. `Skein.launch()` is all most applications need.
 */
import { systemNanoClock, systemEpochClock } from './env/clock.js';
import { SeededPrng, randomSeed } from './env/prng.js';
import { NodeDatagramTransport } from './env/node-datagram-transport.js';
import { FaultInjectingTransport, type FaultOptions } from './env/fault-injection.js';
import type { DatagramTransport } from './env/datagram.js';
import { nodeStorage, defaultSkeinDir } from './env/storage.js';
import { isProcessAlive } from './env/process-liveness.js';
import { CompositeAgent } from './agent/agent.js';
import { AgentRunner } from './agent/agent-runner.js';
import { SKEIN_IDLE_DEFAULTS, type IdleOptions } from './agent/idle-strategy.js';
import { MediaDriver } from './driver/media-driver.js';
import { TEST_PROFILE, type DriverOptions } from './driver/driver-context.js';
import { closest } from './util/closest.js';
import { SkeinClient, type SubscriptionOptions } from './client/skein-client.js';
import type { Publication } from './client/publication.js';
import type { Subscription } from './client/subscription.js';
import { SkeinError, ErrorCode, messageOf } from './util/errors.js';
import { WORKER_LINK_VERSION, WorkerLinkHost, type WorkerLink } from './worker-link.js';
import { MessageChannel } from 'node:worker_threads';

export interface SkeinOptions {
  /** Driver options (see docs/configuration.md); `SKEIN_*` variables override the defaults. */
  readonly driver?: DriverOptions;
  /** Seed of the driver's PRNG (session ids, initial term ids, fault injection). Random by default. */
  readonly seed?: number;
  /** Faults injected on the send and receive paths, drawn from the seed. */
  readonly faults?: { readonly send?: FaultOptions; readonly receive?: FaultOptions };
  /** Small terms and short timeouts for tests. */
  readonly testProfile?: boolean;
  /** Directory where counters and errors are published for `skein stat` (default: SKEIN_DIR or /dev/shm/skein-<user>). */
  readonly dir?: string;
  /** How long the client waits for the driver to answer a command. Default 10 s. */
  readonly driverTimeoutMs?: number;
  /** Errors that cannot be returned to a caller (driver and client). Default: print to stderr. */
  readonly errorHandler?: (error: unknown) => void;
  /** Keep the process alive while Skein runs (default true). */
  readonly ref?: boolean;
  /**
   * How the agent runner idles: after work it keeps turning the event loop (setImmediate) for at
   * least `spinImmediates` turns and `spinUs` µs, so an answer arriving within that time is handled
   * without waking from a sleep; then it sleeps, doubling from 1 ms to `maxIdleMs`. With
   * `adaptiveSpin` it spins only while that pays: after a few spins in a row that the next work
   * came long after (sparse traffic), it sleeps at once, trying a spin now and then. With
   * `denseSpin`, while work keeps coming back within 500 µs (many requests in flight) and lasts at
   * least a third of the gap, the spin stretches to cover the usual gap, except while the process
   * waits for a CPU that others hold (it then gets less than 80% of its event loop's active time
   * as CPU time); a light consumer of a steady stream still sleeps between messages. Arriving data
   * and offers wake a sleeping runner at once: its duty cycle runs as soon as the callback that
   * received the datagram or made the offer returns. Default { spinImmediates: 4, spinUs: 50,
   * maxIdleMs: 50, adaptiveSpin: true, denseSpin: true }: back-to-back request/response keeps the
   * loop turning (a core busy while it lasts), while sparse traffic and an idle driver sleep
   * between messages.
   */
  readonly idle?: IdleOptions;
  /** Environment used for `SKEIN_*` overrides. Default `process.env`. */
  readonly env?: Record<string, string | undefined>;
}

const SKEIN_OPTION_NAMES: readonly (keyof SkeinOptions)[] = [
  'driver', 'seed', 'faults', 'testProfile', 'dir', 'driverTimeoutMs', 'errorHandler', 'ref', 'idle', 'env',
];
const FAULT_DIRECTIONS = ['send', 'receive'];
/** How often a closing Skein's driver checks whether its publications finished draining and lingering. */
const CLOSE_TIME_EVENT_INTERVAL_NS = 10_000_000;

/**
 * Rejects unknown option names (with a hint for a misspelt one) and checks the values the driver
 * does not check itself, before anything is started.
 */
function checkSkeinOptions(options: SkeinOptions): void {
  const unknown = (names: readonly string[], known: readonly string[], where: string): void => {
    for (const name of names) {
      if (known.includes(name)) continue;
      const hint = closest(name, known);
      throw new SkeinError(
        ErrorCode.CONFIG_UNKNOWN_OPTION,
        `unknown option ${where}${name}${hint === undefined ? '' : ` (did you mean '${where}${hint}'?)`}; known options: ${known.join(', ')}`,
      );
    }
  };
  unknown(Object.keys(options), SKEIN_OPTION_NAMES, '');
  if (options.faults !== undefined) unknown(Object.keys(options.faults), FAULT_DIRECTIONS, 'faults.');
  const timeoutMs = options.driverTimeoutMs;
  if (timeoutMs !== undefined && !(typeof timeoutMs === 'number' && Number.isFinite(timeoutMs) && timeoutMs > 0 && timeoutMs <= 2 ** 31 - 1)) {
    throw new SkeinError(ErrorCode.CONFIG_INVALID, `driverTimeoutMs=${String(timeoutMs)} is invalid; expected a number of ms in (0, ${2 ** 31 - 1}]`);
  }
}

/**
 * What each open Skein must do if the process exits without closing it (one listener for all, so
 * many Skeins in a process do not pile up exit listeners).
 */
const untilExit = new Set<() => void>();
process.on('exit', () => {
  for (const onExit of untilExit) onExit();
});

export class Skein {
  readonly driver: MediaDriver;
  readonly client: SkeinClient;
  readonly seed: number;
  readonly dir: string;
  readonly transport: DatagramTransport;
  private readonly runner: AgentRunner;
  /** Word 0 is 1 while the runner sleeps on a timer (read by clients in worker threads). */
  private readonly sleepFlag = new Int32Array(new SharedArrayBuffer(4));
  private readonly ref: boolean;
  private readonly errorHandler: (error: unknown) => void;
  private closing: Promise<void> | null = null;
  private destroyed = false;
  private readonly onProcessExit = (): void => {
    try {
      this.driver.snapshotPublisher?.removeFile();
    } catch {
      // the process is exiting: nothing is left to report to
    }
  };

  private constructor(options: SkeinOptions) {
    checkSkeinOptions(options);
    this.seed = options.seed ?? randomSeed();
    const prng = new SeededPrng(this.seed);
    const errorHandler = options.errorHandler ?? ((error: unknown) => console.error(error));
    this.errorHandler = errorHandler;
    let transport: DatagramTransport = new NodeDatagramTransport({ ref: options.ref ?? true });
    if (options.faults !== undefined && (options.faults.send !== undefined || options.faults.receive !== undefined)) {
      transport = new FaultInjectingTransport(transport, { ...options.faults, prng: prng.fork() });
    }
    this.transport = transport;
    const env = options.env ?? process.env;
    this.dir = options.dir ?? defaultSkeinDir(env);
    const driverOptions = options.testProfile === true ? { ...TEST_PROFILE, ...options.driver } : { ...options.driver };
    this.driver = new MediaDriver(driverOptions, {
      clock: systemNanoClock,
      epochClock: systemEpochClock,
      prng,
      transport,
      storage: nodeStorage,
      isProcessAlive,
      snapshotDir: this.dir,
      pid: process.pid,
      env,
      errorHandler,
    });
    this.client = new SkeinClient({
      connection: this.driver.connect(),
      clock: systemNanoClock,
      // Client-side errors (a throwing handler, say) go to the driver's error log too, for `skein errors`.
      errorHandler: (error) => this.driver.recordError(error),
      ...(options.driverTimeoutMs === undefined ? {} : { driverTimeoutMs: options.driverTimeoutMs }),
    });
    // The client polls before the receiver so status messages carry the positions just read, and
    // the sender runs last so it sends what was offered and what the status messages allow.
    const driver = this.driver;
    const others = driver.agents.filter((a) => a !== driver.conductor && a !== driver.receiver && a !== driver.sender);
    const agent = new CompositeAgent([driver.conductor, this.client, driver.receiver, driver.sender, ...others], { roleName: 'skein' });
    let starting = true;
    let startError: unknown = null;
    this.runner = new AgentRunner(agent, {
      clock: systemNanoClock,
      errorHandler: (error) => {
        if (starting) startError ??= error;
        this.driver.recordError(error);
      },
      idle: { ...SKEIN_IDLE_DEFAULTS, ...options.idle },
      sleepFlag: this.sleepFlag,
      onFailure: (error) => this.fail(error),
    });
    this.ref = options.ref ?? true;
    this.driver.setWakeHandler(() => this.runner.wake());
    // A process that exits without closing (process.exit, an uncaught error) still takes its
    // snapshot file with it; one killed outright leaves it for the next Skein here to remove.
    untilExit.add(this.onProcessExit);
    try {
      this.checkDir(options.dir === undefined ? (env['SKEIN_DIR'] ? 'SKEIN_DIR' : 'the default') : 'the dir option');
      this.runner.start();
      starting = false;
      if (!this.runner.isRunning) {
        throw new SkeinError(ErrorCode.DRIVER_FAILED, `the driver failed to start: ${messageOf(startError)}`, { state: 'FAILED', cause: startError });
      }
    } catch (error) {
      this.destroy();
      throw error;
    }
  }

  /**
   * Starts an embedded driver and a client connected to it. Throws (and leaves nothing running)
   * when an option, a `SKEIN_*` variable or the directory is unusable: ERR_SKEIN_CONFIG_INVALID,
   * ERR_SKEIN_CONFIG_UNKNOWN_OPTION or ERR_SKEIN_STORAGE_FAILED naming the bad value.
   */
  static launch(options: SkeinOptions = {}): Skein {
    return new Skein(options);
  }

  /** True once closed or destroyed, and when the driver failed (see {@link failure}). */
  get isClosed(): boolean {
    return this.destroyed;
  }

  /** Why the driver stopped when it failed (ERR_SKEIN_DRIVER_FAILED, with the cause), or null. */
  get failure(): SkeinError | null {
    return this.client.failure;
  }

  private checkDir(origin: string): void {
    try {
      this.driver.checkStorage();
    } catch (error) {
      throw new SkeinError(
        ErrorCode.STORAGE_FAILED,
        `cannot publish counters and errors in directory '${this.dir}' (from ${origin}): ${messageOf(error)}; set the dir option or SKEIN_DIR to a writable directory, or turn snapshots off with driver.publishSnapshots=false`,
        { cause: error },
      );
    }
  }

  /** The driver's runner stopped on a broken invariant: every call from now on says so. */
  private fail(error: unknown): void {
    this.client.fail(error);
    this.destroy();
  }

  /**
   * Connects a new client to this driver for a worker thread: send the result to the worker
   * (`new Worker(file, { workerData: { link }, transferList: [link.port] })`) and call
   * `SkeinWorker.connect(link)` there. The worker's publications and subscriptions use this
   * driver's logs in shared memory. When the worker closes its client, exits or is terminated,
   * the driver releases what it held; when this Skein closes, the worker's client closes too.
   */
  createWorkerLink(): WorkerLink {
    if (this.destroyed || this.client.isClosed) {
      const failure = this.client.failure;
      if (failure !== null) throw new SkeinError(ErrorCode.DRIVER_FAILED, `cannot create a worker link: ${failure.detail}`, { state: 'FAILED', cause: failure });
      throw new SkeinError(ErrorCode.CLOSED, 'cannot create a worker link: Skein is closed', { state: 'CLOSED' });
    }
    const connection = this.driver.connect();
    const { port1, port2 } = new MessageChannel();
    const host = new WorkerLinkHost(connection, port1, () => this.runner.wake(), (closed) => this.client.removeAgent(closed));
    if (!this.ref) port1.unref();
    this.client.addAgent(host);
    return {
      version: WORKER_LINK_VERSION,
      port: port2,
      clientId: connection.clientId,
      counterValues: this.driver.counters.values.buffer as SharedArrayBuffer,
      correlationIds: this.driver.correlationIdBuffer,
      driverSleep: this.sleepFlag.buffer as SharedArrayBuffer,
      clientLivenessTimeoutNs: this.driver.settings.clientLivenessTimeoutNs,
      handlerErrorsCounterId: this.driver.handlerErrorsCounterId,
    };
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
   * Closes gracefully: publications drain what was written, send end of stream and linger, images
   * tell their senders this receiver is leaving (end-of-stream status messages), then everything
   * is released. The wait ends once no publication is left, or when the senders made
   * no progress for `timeoutMs` (default: the linger timeout plus two timer intervals). Data still
   * unsent at that point is reported to the error handler, naming channel, stream and session,
   * never dropped silently. Idempotent.
   */
  close(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.closing !== null) return this.closing;
    const settings = this.driver.settings;
    const stallMs = options.timeoutMs ?? (settings.publicationLingerTimeoutNs + 2 * settings.timerIntervalNs) / 1e6;
    this.client.close();
    // The publications' drain and linger are checked on the conductor's time events: checked often
    // now, a close ends once they are done, not on the driver's next ticks (1 s apart by default).
    if (!this.destroyed) this.driver.conductor.expediteTimeEvents(Math.min(settings.timerIntervalNs, CLOSE_TIME_EVENT_INTERVAL_NS));
    this.closing = new Promise<void>((resolve) => {
      let progress = -1;
      let stallDeadline = Date.now() + stallMs;
      const check = (): void => {
        const unfinished = this.destroyed ? [] : this.driver.conductor.unfinishedPublications();
        const ipcLeft = this.destroyed ? 0 : this.driver.conductor.resourceCounts().ipcPublications;
        const imagesLeft = this.destroyed ? 0 : this.driver.conductor.imagesAwaitingEos();
        const sent = unfinished.reduce((sum, p) => sum + p.senderPosition, 0);
        if (sent !== progress) {
          progress = sent;
          stallDeadline = Date.now() + stallMs;
        }
        if (this.destroyed || (unfinished.length === 0 && ipcLeft === 0 && imagesLeft === 0) || Date.now() >= stallDeadline) {
          const lost = unfinished.filter((p) => p.unsentBytes > 0);
          if (lost.length > 0) {
            this.errorHandler(
              new SkeinError(
                ErrorCode.CLOSE_INCOMPLETE,
                `close gave up after ${stallMs} ms without progress; unsent: ${lost
                  .map((p) => `${p.unsentBytes} bytes [channel=${p.channel} streamId=${p.streamId} sessionId=${p.sessionId} state=${p.state}]`)
                  .join(', ')}`,
                { timeoutMs: stallMs, state: 'CLOSING' },
              ),
            );
          }
          this.destroy();
          // Resolved once the sockets are released too: nothing of this Skein is left open.
          void (this.transport.whenClosed?.() ?? Promise.resolve()).then(resolve);
        } else {
          setTimeout(check, 5);
        }
      };
      check();
    });
    return this.closing;
  }

  /** Releases everything at once, without draining. Idempotent. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    untilExit.delete(this.onProcessExit);
    this.client.close();
    this.runner.close();
    this.driver.close();
  }
}
