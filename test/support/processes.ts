/**
 * Helpers for tests that start processes: every child is recorded so `stopAll()` can SIGKILL
 * whatever is still running (call it from `after`/`finally`, so a failing test leaves nothing
 * behind); output is collected; every wait is bounded and its failure message shows the
 * process's command line, exit status and the tail of its output.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { freeUdpPort } from '../../src/cli/free-port.js';
import { fileURLToPath } from 'node:url';

/** Output kept in failure messages, per stream, in characters. */
const TAIL_LENGTH = 2000;

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StartOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
}

export type OutputStream = 'stdout' | 'stderr' | 'both';

const started = new Set<StartedProcess>();

export class StartedProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  stdout = '';
  stderr = '';
  private exitStatus: ExitStatus | null = null;
  private readonly exited: Promise<ExitStatus>;
  private readonly listeners = new Set<() => void>();

  constructor(
    readonly command: string,
    readonly args: readonly string[],
    options: StartOptions = {},
  ) {
    this.child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (this.child.pid === undefined) throw new Error(`could not start ${this.commandLine()}`);
    this.pid = this.child.pid;
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
      this.notify();
    });
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
      this.notify();
    });
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        this.exitStatus = { code, signal };
        started.delete(this);
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
    return [this.command, ...this.args].map((a) => (/[\s|?&;]/.test(a) ? `'${a}'` : a)).join(' ');
  }

  /** The command line, exit status and output tails, for assertion messages. */
  describe(): string {
    const status = this.exitStatus === null ? 'running' : `exited code=${this.exitStatus.code} signal=${this.exitStatus.signal}`;
    return `process ${this.pid}: ${this.commandLine()}\n  ${status}\n  stdout: ${tail(this.stdout)}\n  stderr: ${tail(this.stderr)}`;
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

  /** Resolves with the exit status; rejects (leaving the process running) after `timeoutMs`. */
  async waitForExit(timeoutMs: number): Promise<ExitStatus> {
    if (this.exitStatus !== null) return this.exitStatus;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for exit of ${this.describe()}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
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

  signal(signal: NodeJS.Signals): void {
    if (this.exitStatus === null) this.child.kill(signal);
  }

  private waitFor<T>(what: string, timeoutMs: number, probe: () => T | undefined): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const check = (): void => {
        const value = probe();
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

function tail(text: string): string {
  const t = text.length > TAIL_LENGTH ? `…${text.slice(-TAIL_LENGTH)}` : text;
  return t.trimEnd().replace(/\n/g, '\n    ');
}

/** Starts a process and records it for {@link stopAll}. */
export function startProcess(command: string, args: readonly string[], options: StartOptions = {}): StartedProcess {
  const child = new StartedProcess(command, args, options);
  started.add(child);
  return child;
}

/** SIGKILLs every started process that is still running and waits (bounded) for them to go. */
export async function stopAll(timeoutMs = 5000): Promise<void> {
  const running = [...started];
  for (const p of running) p.signal('SIGKILL');
  await Promise.allSettled(running.map((p) => p.waitForExit(timeoutMs)));
  started.clear();
}

/** Processes started and not yet seen to exit. */
export function runningProcesses(): StartedProcess[] {
  return [...started];
}

/** Path of the compiled `skein` command (dist/src/cli/main.js). */
export const SKEIN_CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** Starts the compiled `skein` command with this Node binary. */
export function startSkein(args: readonly string[], options: StartOptions = {}): StartedProcess {
  return startProcess(process.execPath, [SKEIN_CLI, ...args], options);
}

export { freeUdpPort } from '../../src/cli/free-port.js';

/** A loopback UDP channel on a free port. */
export async function loopbackChannel(): Promise<string> {
  return `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`;
}
