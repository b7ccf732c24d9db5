/**
 * Starts the fixture programs of test/fixtures as child processes and follows the JSON lines they
 * print. Children are recorded by pid (see processes.ts); {@link killAllFixtures} SIGKILLs each one
 * still running (call it from `after`/`finally`, so a failing test leaves nothing behind). Every
 * wait is bounded and its failure message shows the command line, the exit status, the last events
 * and stderr.
 */
import { fileURLToPath } from 'node:url';
import { TrackedProcess, stopAll, runningProcesses, type ExitStatus } from './processes.js';
import { freeUdpPort } from '../../src/cli/free-port.js';

export type { ExitStatus };

/** One JSON line from a fixture; `atMs` is the wall-clock time it was written. */
export type FixtureEvent = Record<string, unknown> & { event: string; atMs: number };

/** Events and stderr kept in failure messages. */
const EVENTS_IN_DESCRIPTION = 12;
const STDERR_TAIL_LENGTH = 2000;

/** Path of a compiled fixture: dist/test/fixtures/<name>.js. */
export function fixturePath(name: string): string {
  return fileURLToPath(new URL(`../fixtures/${name}.js`, import.meta.url));
}

export class FixtureProcess extends TrackedProcess {
  readonly events: FixtureEvent[] = [];
  private partialLine = '';

  constructor(
    readonly name: string,
    readonly config: Record<string, unknown>,
  ) {
    super(process.execPath, [fixturePath(name), JSON.stringify(config)], withoutSkeinVariables(process.env), undefined);
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

  /** Every event named `event`, in order. */
  all(event: string): FixtureEvent[] {
    return this.events.filter((e) => e.event === event);
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

  /** Command, status, the last events and the tail of stderr, for assertion messages. */
  describe(): string {
    const events = this.events.slice(-EVENTS_IN_DESCRIPTION).map((e) => `    ${JSON.stringify(e)}`).join('\n');
    const stderr = this.stderr.length > STDERR_TAIL_LENGTH ? `…${this.stderr.slice(-STDERR_TAIL_LENGTH)}` : this.stderr;
    return [
      `fixture ${this.name} pid ${this.pid} (${this.statusText()}), config ${JSON.stringify(this.config)}`,
      `  last events:\n${events}`,
      `  stderr: ${stderr.trimEnd().replace(/\n/g, '\n    ')}`,
    ].join('\n');
  }

  protected onStdout(chunk: string): void {
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
  }
}

/** Starts a fixture (dist/test/fixtures/<name>.js) with its configuration as JSON. */
export function startFixture(name: string, config: Record<string, unknown>): FixtureProcess {
  return new FixtureProcess(name, config);
}

/** SIGKILLs, by pid, every child still running and waits (bounded) until they are gone. */
export async function killAllFixtures(timeoutMs = 5000): Promise<void> {
  await stopAll(timeoutMs);
}

/** Pids of children started and not yet seen to exit. */
export function runningFixturePids(): number[] {
  return runningProcesses().map((p) => p.pid);
}

export { freeUdpPort };

/** A loopback UDP channel on a free port. */
export async function loopbackChannel(): Promise<string> {
  return `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}|interface=127.0.0.1`;
}

function withoutSkeinVariables(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(env)) if (!key.startsWith('SKEIN_')) out[key] = value;
  return out;
}
