/**
 * Child processes for system tests. Every child is recorded by pid the moment it is spawned, so
 * {@link stopAll} (call it from `after`/`finally`) can SIGKILL whatever is still running, and a
 * test process that exits takes its children with it. Output is collected; every wait is bounded
 * and its failure message shows the command line, exit status and the tail of the output.
 *
 * {@link TrackedProcess} holds what every kind of child shares (pid, exit, signals, bounded
 * waits); {@link StartedProcess} reads plain text output (the `skein` command), and
 * system-processes.ts adds the fixture programs that print JSON lines.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freeUdpPort } from '../../src/cli/free-port.js';

/** Output kept in failure messages, per stream, in characters. */
const TAIL_LENGTH = 2000;

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StartOptions {
  /** Added to (or, with `replaceEnv`, instead of) the test's environment. */
  env?: Record<string, string | undefined>;
  replaceEnv?: boolean;
  cwd?: string;
}

export type OutputStream = 'stdout' | 'stderr' | 'both';

const running = new Map<number, TrackedProcess>();

/** Last resort: a test process that exits takes every child still running with it. */
process.on('exit', () => {
  for (const pid of running.keys()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** A child process recorded by pid until it has exited. */
export abstract class TrackedProcess {
  readonly pid: number;
  readonly startedAtMs = Date.now();
  stderr = '';
  protected readonly child: ChildProcess;
  private exitStatus: ExitStatus | null = null;
  private readonly exited: Promise<ExitStatus>;
  private readonly listeners = new Set<() => void>();

  constructor(
    readonly command: string,
    readonly args: readonly string[],
    env: NodeJS.ProcessEnv,
    cwd: string | undefined,
  ) {
    this.child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    if (this.child.pid === undefined) throw new Error(`could not start ${this.commandLine()}`);
    this.pid = this.child.pid;
    running.set(this.pid, this);
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      this.onStdout(chunk);
      this.notify();
    });
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

  /** Exit status once the process has exited and its output is complete, else null. */
  get status(): ExitStatus | null {
    return this.exitStatus;
  }

  get isRunning(): boolean {
    return this.exitStatus === null;
  }

  commandLine(): string {
    return [this.command, ...this.args].map((a) => (/[\s|?&;{}"]/.test(a) ? `'${a}'` : a)).join(' ');
  }

  /** Command, status and output, for assertion messages. */
  abstract describe(): string;

  protected abstract onStdout(chunk: string): void;

  protected statusText(): string {
    return this.exitStatus === null ? 'running' : `exited code=${this.exitStatus.code} signal=${this.exitStatus.signal}`;
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

  /** SIGKILLs the process (by pid) and waits, bounded, until it is gone. */
  async kill(timeoutMs = 5000): Promise<void> {
    this.signal('SIGKILL');
    await this.waitForExit(timeoutMs);
  }

  /**
   * Resolves with the first value `probe` returns (it is asked again on every output); rejects
   * after `timeoutMs`, when the process exits first, or when `probe` throws.
   */
  protected waitFor<T>(what: string, timeoutMs: number, probe: () => T | undefined): Promise<T> {
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
        else if (this.exitStatus !== null) done(new Error(`process exited before ${what}: ${this.describe()}`));
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

/** A process whose output is plain text (the `skein` command). */
export class StartedProcess extends TrackedProcess {
  stdout = '';

  constructor(command: string, args: readonly string[], options: StartOptions = {}) {
    super(command, args, options.replaceEnv === true ? { ...options.env } : { ...process.env, ...options.env }, options.cwd);
  }

  /** The command line, exit status and output tails. */
  describe(): string {
    return `process ${this.pid}: ${this.commandLine()}\n  ${this.statusText()}\n  stdout: ${tail(this.stdout)}\n  stderr: ${tail(this.stderr)}`;
  }

  /** Resolves with the first complete line of the stream(s) matching `pattern`. */
  waitForLine(pattern: RegExp, timeoutMs: number, stream: OutputStream = 'both'): Promise<string> {
    return this.waitFor(`a line matching ${pattern}`, timeoutMs, () => {
      const texts = stream === 'both' ? [this.stdout, this.stderr] : [this[stream]];
      for (const text of texts) {
        const lines = text.split('\n');
        lines.pop(); // an unterminated last line may still grow
        const line = lines.find((l) => pattern.test(l));
        if (line !== undefined) return line;
      }
      return undefined;
    });
  }

  /** The last non-empty stdout line parsed as JSON. */
  lastJson<T = Record<string, unknown>>(): T {
    const lines = this.stdout.split('\n').filter((l) => l.trim() !== '');
    const last = lines[lines.length - 1];
    if (last === undefined) throw new Error(`no output on stdout from ${this.describe()}`);
    try {
      return JSON.parse(last) as T;
    } catch {
      throw new Error(`last stdout line is not JSON: ${last}\n${this.describe()}`);
    }
  }

  protected onStdout(chunk: string): void {
    this.stdout += chunk;
  }
}

function tail(text: string): string {
  const t = text.length > TAIL_LENGTH ? `…${text.slice(-TAIL_LENGTH)}` : text;
  return t.trimEnd().replace(/\n/g, '\n    ');
}

/** Starts a process; it is recorded for {@link stopAll} until it exits. */
export function startProcess(command: string, args: readonly string[], options: StartOptions = {}): StartedProcess {
  return new StartedProcess(command, args, options);
}

/** SIGKILLs, by pid, every child still running (text and fixture processes) and waits, bounded, for them to go. */
export async function stopAll(timeoutMs = 5000): Promise<void> {
  const all = [...running.values()];
  await Promise.allSettled(all.map((p) => p.kill(timeoutMs)));
}

/** Processes started and not yet seen to exit. */
export function runningProcesses(): TrackedProcess[] {
  return [...running.values()];
}

/** Path of the compiled `skein` command (dist/src/cli/main.js). */
export const SKEIN_CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** Starts the compiled `skein` command with this Node binary. */
export function startSkein(args: readonly string[], options: StartOptions = {}): StartedProcess {
  return startProcess(process.execPath, [SKEIN_CLI, ...args], options);
}

export { freeUdpPort };

/** A loopback UDP channel on a free port. */
export async function loopbackChannel(): Promise<string> {
  return `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`;
}
