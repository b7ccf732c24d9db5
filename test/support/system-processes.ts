/**
 * Starts the fixture programs of test/fixtures as child processes and follows the JSON lines they
 * print. Every child is recorded by pid; {@link killAllFixtures} SIGKILLs each one still running
 * (call it from `after`/`finally`, so a failing test leaves nothing behind). Every wait is bounded
 * and its failure message shows the command line, the exit status, the last events and stderr.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { freeUdpPort } from '../../src/cli/free-port.js';
import { fileURLToPath } from 'node:url';

/** One JSON line from a fixture; `atMs` is the wall-clock time it was written. */
export type FixtureEvent = Record<string, unknown> & { event: string; atMs: number };

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Events and stderr kept in failure messages. */
const EVENTS_IN_DESCRIPTION = 12;
const STDERR_TAIL_LENGTH = 2000;

const running = new Map<number, FixtureProcess>();

/** Last resort: a test process that exits takes its fixtures with it. */
process.on('exit', () => {
  for (const pid of running.keys()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** Path of a compiled fixture: dist/test/fixtures/<name>.js. */
export function fixturePath(name: string): string {
  return fileURLToPath(new URL(`../fixtures/${name}.js`, import.meta.url));
}

export class FixtureProcess {
  readonly pid: number;
  readonly events: FixtureEvent[] = [];
  readonly startedAtMs = Date.now();
  stderr = '';
  private readonly child: ChildProcess;
  private partialLine = '';
  private exitStatus: ExitStatus | null = null;
  private readonly exited: Promise<ExitStatus>;
  private readonly listeners = new Set<() => void>();

  constructor(
    readonly name: string,
    readonly config: Record<string, unknown>,
  ) {
    this.child = spawn(process.execPath, [fixturePath(name), JSON.stringify(config)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: withoutSkeinVariables(process.env),
    });
    if (this.child.pid === undefined) throw new Error(`could not start fixture ${name}`);
    this.pid = this.child.pid;
    running.set(this.pid, this);
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => this.onStdout(chunk));
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
      this.notify();
    });
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        this.exitStatus = { code, signal };
        running.delete(this.pid);
        this.notify();
        resolve(this.exitStatus);
      });
    });
  }

  get status(): ExitStatus | null {
    return this.exitStatus;
  }

  get isRunning(): boolean {
    return this.exitStatus === null;
  }

  /** The first event named `event` (and matching `predicate`), if it came. */
  find(event: string, predicate: (e: FixtureEvent) => boolean = () => true): FixtureEvent | undefined {
    return this.events.find((e) => e.event === event && predicate(e));
  }

  /** The last event named `event`, if any. */
  last(event: string): FixtureEvent | undefined {
    for (let i = this.events.length - 1; i >= 0; i--) if (this.events[i]!.event === event) return this.events[i];
    return undefined;
  }

  /**
   * Resolves with the first event named `event` matching `predicate` (earlier ones count too);
   * rejects after `timeoutMs`, or when the process exits or reports a mismatch or error first.
   */
  waitForEvent(event: string, timeoutMs: number, predicate: (e: FixtureEvent) => boolean = () => true): Promise<FixtureEvent> {
    const what = `event '${event}'`;
    return this.waitFor(what, timeoutMs, () => {
      const found = this.find(event, predicate);
      if (found !== undefined) return found;
      const failure = this.events.find((e) => (e.event === 'error' || e.event === 'mismatch') && e.event !== event);
      if (failure !== undefined) throw new Error(`${this.name} reported ${failure.event} before ${what}: ${this.describe()}`);
      return undefined;
    });
  }

  /** Resolves with the exit status; rejects (leaving the process running) after `timeoutMs`. */
  async waitForExit(timeoutMs: number): Promise<ExitStatus> {
    if (this.exitStatus !== null) return this.exitStatus;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for exit: ${this.describe()}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends a signal to the process by pid; returns the wall-clock time just before sending. */
  signal(signal: NodeJS.Signals): number {
    const atMs = Date.now();
    if (this.exitStatus === null) {
      try {
        process.kill(this.pid, signal);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
      }
    }
    return atMs;
  }

  /** SIGKILLs the process and waits (bounded) until it is gone. */
  async kill(timeoutMs = 5000): Promise<void> {
    this.signal('SIGKILL');
    await this.waitForExit(timeoutMs);
  }

  /** Command, status, the last events and the tail of stderr, for assertion messages. */
  describe(): string {
    const status = this.exitStatus === null ? 'running' : `exited code=${this.exitStatus.code} signal=${this.exitStatus.signal}`;
    const events = this.events.slice(-EVENTS_IN_DESCRIPTION).map((e) => `    ${JSON.stringify(e)}`).join('\n');
    const stderr = this.stderr.length > STDERR_TAIL_LENGTH ? `…${this.stderr.slice(-STDERR_TAIL_LENGTH)}` : this.stderr;
    return [
      `fixture ${this.name} pid ${this.pid} (${status}), config ${JSON.stringify(this.config)}`,
      `  last events:\n${events}`,
      `  stderr: ${stderr.trimEnd().replace(/\n/g, '\n    ')}`,
    ].join('\n');
  }

  private onStdout(chunk: string): void {
    const lines = (this.partialLine + chunk).split('\n');
    this.partialLine = lines.pop()!;
    for (const line of lines) {
      if (line.trim() === '') continue;
      try {
        this.events.push(JSON.parse(line) as FixtureEvent);
      } catch {
        this.events.push({ event: 'text', atMs: Date.now(), text: line });
      }
    }
    this.notify();
  }

  private waitFor<T>(what: string, timeoutMs: number, probe: () => T | undefined): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const check = (): void => {
        let value: T | undefined;
        try {
          value = probe();
        } catch (error) {
          done(error as Error);
          return;
        }
        if (value !== undefined) done(null, value);
        else if (this.exitStatus !== null) done(new Error(`${this.name} exited before ${what}: ${this.describe()}`));
      };
      const timer = setTimeout(() => done(new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${this.describe()}`)), timeoutMs);
      const done = (error: Error | null, value?: T): void => {
        clearTimeout(timer);
        this.listeners.delete(check);
        if (error === null) resolve(value as T);
        else reject(error);
      };
      this.listeners.add(check);
      check();
    });
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

/** Starts a fixture (dist/test/fixtures/<name>.js) with its configuration as JSON. */
export function startFixture(name: string, config: Record<string, unknown>): FixtureProcess {
  return new FixtureProcess(name, config);
}

/** SIGKILLs, by pid, every fixture still running and waits (bounded) until they are gone. */
export async function killAllFixtures(timeoutMs = 5000): Promise<void> {
  const all = [...running.values()];
  await Promise.allSettled(all.map((p) => p.kill(timeoutMs)));
}

/** Pids of fixtures started and not yet seen to exit. */
export function runningFixturePids(): number[] {
  return [...running.keys()];
}

export { freeUdpPort } from '../../src/cli/free-port.js';

/** A loopback UDP channel on a free port. */
export async function loopbackChannel(): Promise<string> {
  return `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}|interface=127.0.0.1`;
}

function withoutSkeinVariables(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(env)) if (!key.startsWith('SKEIN_')) out[key] = value;
  return out;
}
