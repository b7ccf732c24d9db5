/**
 * Starts benchmark child processes and makes sure they end. Every child is forked with an IPC
 * channel, remembered by pid, and ended by pid: first asked to stop (so a `--cpu-prof` profile is
 * written), then killed with SIGKILL when it has not exited within the grace time. The runner's
 * own exit, SIGINT and SIGTERM kill whatever is still running.
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import type { ChildMessage, ChildMessageType, Metrics, ParentMessage } from './child-messages.js';

const STDERR_KEPT_LENGTH = 4000;
const KNOWN_TYPES: ReadonlySet<string> = new Set<ChildMessageType>(['ready', 'result', 'final', 'error']);

interface Waiter {
  readonly type: ChildMessageType;
  readonly resolve: (data: Metrics) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** One forked child: its messages can be awaited by type, each with its own timeout. */
export class ChildHandle {
  readonly pid: number;
  private readonly inbox: ChildMessage[] = [];
  private waiter: Waiter | null = null;
  private exitCode: number | null = null;
  private exitSignal: string | null = null;
  private stderrTail = '';
  private stopping = false;
  private rejectFailure: (error: Error) => void = () => undefined;
  readonly exited: Promise<void>;
  /**
   * Rejects when the child reports an error or exits before it was asked to stop; never resolves.
   * Race it against waits on other children so that one failing child ends a measurement at once.
   */
  readonly failure: Promise<never>;

  constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    if (child.pid === undefined) throw new Error(`child ${name} did not start`);
    this.pid = child.pid;
    this.failure = new Promise<never>((_resolve, reject) => {
      this.rejectFailure = reject;
    });
    this.failure.catch(() => undefined);
    child.on('message', (message: ChildMessage) => this.onMessage(message));
    // Sending to a child that is exiting fails with EPIPE; its exit is handled through 'exit'.
    child.on('error', () => undefined);
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-STDERR_KEPT_LENGTH);
    });
    child.stdout?.resume();
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitCode = code;
        this.exitSignal = signal;
        const error = new Error(`child ${this.describe()} exited (code ${String(code)}, signal ${String(signal)})${this.stderrSuffix()}`);
        this.failWaiter(error);
        if (!this.stopping) this.rejectFailure(error);
        resolve();
      });
    });
  }

  get hasExited(): boolean {
    return this.exitCode !== null || this.exitSignal !== null;
  }

  describe(): string {
    return `${this.name} (pid ${this.pid})`;
  }

  /** Resolves with the data of the next message of `type`; rejects on timeout, error or exit. */
  next(type: ChildMessageType, timeoutMs: number): Promise<Metrics> {
    if (this.waiter !== null) throw new Error(`child ${this.describe()} already has a waiter`);
    const index = this.inbox.findIndex((m) => m.type === type || m.type === 'error');
    if (index >= 0) {
      const message = this.inbox.splice(index, 1)[0]!;
      return message.type === 'error' ? Promise.reject(this.childError(message.message)) : Promise.resolve(message.data);
    }
    if (this.hasExited) return Promise.reject(new Error(`child ${this.describe()} has exited${this.stderrSuffix()}`));
    return new Promise<Metrics>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new Error(`child ${this.describe()} sent no '${type}' within ${timeoutMs} ms${this.stderrSuffix()}`));
      }, timeoutMs);
      this.waiter = { type, resolve, reject, timer };
    });
  }

  send(message: ParentMessage): void {
    if (message.type === 'stop') this.stopping = true;
    if (this.hasExited || !this.child.connected) return;
    try {
      this.child.send(message, () => undefined);
    } catch {
      // the channel closed between the check and the send; stop() kills the child anyway
    }
  }

  /** Sends SIGKILL to this child's pid unless it has exited. */
  kill(): void {
    this.stopping = true;
    if (this.hasExited) return;
    try {
      process.kill(this.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }

  private onMessage(message: ChildMessage): void {
    if (!KNOWN_TYPES.has(message.type)) return;
    if (message.type === 'error') this.rejectFailure(this.childError(message.message));
    const waiter = this.waiter;
    if (waiter !== null && (message.type === waiter.type || message.type === 'error')) {
      this.waiter = null;
      clearTimeout(waiter.timer);
      if (message.type === 'error') waiter.reject(this.childError(message.message));
      else waiter.resolve(message.data);
      return;
    }
    this.inbox.push(message);
  }

  private failWaiter(error: Error): void {
    const waiter = this.waiter;
    if (waiter === null) return;
    this.waiter = null;
    clearTimeout(waiter.timer);
    waiter.reject(error);
  }

  private childError(message: string): Error {
    return new Error(`child ${this.describe()} failed: ${message}${this.stderrSuffix()}`);
  }

  private stderrSuffix(): string {
    const tail = this.stderrTail.trim();
    return tail === '' ? '' : `; stderr: ${tail.slice(-800)}`;
  }
}

/** Pins every thread of the child to `cpu`; the child is killed when that fails. */
function pinToCpu(child: ChildHandle, cpu: number): void {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(child.pid)], { stdio: 'ignore', timeout: 5000 });
  } catch (error) {
    child.kill();
    throw new Error(`cannot pin ${child.describe()} to CPU ${cpu} with taskset: ${error instanceof Error ? error.message : String(error)}`);
  }
}

export interface ChildGroupOptions {
  /** The compiled child entry point. */
  readonly modulePath: string;
  /** Extra node flags for children whose name passes `profile` (e.g. --cpu-prof). */
  readonly profileExecArgv?: (name: string) => readonly string[];
}

/** Every child started for one benchmark run. */
export class ChildGroup {
  private readonly live = new Map<number, ChildHandle>();
  private readonly killAllBound = (): void => this.killAll();
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    this.killAll();
    process.stderr.write(`\nbench: ${signal}, children killed\n`);
    process.exit(130);
  };

  constructor(private readonly options: ChildGroupOptions) {
    process.on('exit', this.killAllBound);
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
  }

  /**
   * Forks the child entry point as `role` with `config` (JSON) as its arguments; with `cpu`, pins
   * all its threads to that CPU (Linux `taskset`).
   */
  start(name: string, role: string, config: object, cpu?: number): ChildHandle {
    const execArgv = [...(this.options.profileExecArgv?.(name) ?? [])];
    const child = fork(this.options.modulePath, [role, JSON.stringify(config)], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      execArgv,
    });
    const handle = new ChildHandle(name, child);
    this.live.set(handle.pid, handle);
    if (cpu !== undefined) pinToCpu(handle, cpu);
    void handle.exited.then(() => this.live.delete(handle.pid));
    return handle;
  }

  /**
   * Asks each child to stop and collects its `final` message; children that have not exited
   * after `graceMs` are killed by pid. Never rejects: a child that fails to answer gives `null`.
   */
  async stop(children: readonly ChildHandle[], graceMs: number): Promise<(Metrics | null)[]> {
    const finals = children.map((child) => {
      if (child.hasExited) return Promise.resolve(null);
      const final = child.next('final', graceMs).catch(() => null);
      child.send({ type: 'stop' });
      return final;
    });
    const results = await Promise.all(finals);
    await Promise.all(
      children.map(async (child) => {
        const timer = setTimeout(() => child.kill(), graceMs);
        await child.exited;
        clearTimeout(timer);
      }),
    );
    return results;
  }

  /** SIGKILL to every child still running, by pid. */
  killAll(): void {
    for (const child of this.live.values()) child.kill();
  }

  /** Kills what is left and removes the process handlers. */
  async close(): Promise<void> {
    const left = [...this.live.values()];
    for (const child of left) child.kill();
    await Promise.all(left.map((child) => child.exited));
    process.off('exit', this.killAllBound);
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
  }
}
