/**
 * The README's TypeScript examples (its ```ts code blocks), what each must print, and a bounded
 * run of one. Two tests run them as written: test/system/readme/readme-examples.test.ts against
 * the repository's build, test/system/package/packed-package.test.ts against the package
 * installed from its tarball.
 *
 * The one change made to an example's text: each literal port of a UDP channel URI
 * (`endpoint=host:port`, `control=host:port`) becomes a free port, so that a run never depends on
 * a fixed port being free. Every other character runs as written.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { freeUdpPort, startProcess, type StartedProcess } from './processes.js';

/** The repository's root (this file runs from dist/test/support). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const README_PATH = join(REPO_ROOT, 'README.md');

export interface ReadmeExample {
  /** 1-based, in README order. */
  readonly index: number;
  /** README line of the opening fence, for messages. */
  readonly line: number;
  readonly code: string;
}

/** The ```ts blocks of `markdown` (default: README.md), in order. */
export function readmeExamples(markdown: string = readFileSync(README_PATH, 'utf8')): ReadmeExample[] {
  const examples: ReadmeExample[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trimEnd() !== '```ts') continue;
    const end = lines.findIndex((line, j) => j > i && line.trimEnd() === '```');
    assert.ok(end > i, `README line ${i + 1}: a \`\`\`ts block that never closes`);
    examples.push({ index: examples.length + 1, line: i + 1, code: lines.slice(i + 1, end).join('\n') + '\n' });
    i = end;
  }
  return examples;
}

/** A literal port in a UDP channel URI: `endpoint=` or `control=`, a host (or [IPv6]), `:port`. */
const CHANNEL_PORT = /\b((?:endpoint|control)=(?:\[[0-9A-Fa-f:.]+\]|[\w.-]+)):(\d+)\b/g;

/** `code` with each distinct literal channel port replaced by a distinct free UDP port. */
export async function withFreePorts(code: string): Promise<{ code: string; ports: ReadonlyMap<number, number> }> {
  const ports = new Map<number, number>();
  for (const match of code.matchAll(CHANNEL_PORT)) {
    const port = Number(match[2]);
    if (!ports.has(port)) ports.set(port, await freeUdpPort());
  }
  return { code: code.replace(CHANNEL_PORT, (_, address: string, port: string) => `${address}:${ports.get(Number(port))}`), ports };
}

type OutputCheck = (stdout: string, stderr: string) => void;

const nonEmptyLines = (text: string): string[] => text.split('\n').filter((line) => line !== '');

/**
 * What each example prints, in README order. Nothing may go to stderr: the examples' error
 * handlers print there. A README with another number of examples fails until this list follows.
 */
const EXPECTED_OUTPUT: readonly OutputCheck[] = [
  // 1: offers 'hello' once connected, reads it back.
  (stdout) => {
    const [offered, received, ...rest] = nonEmptyLines(stdout);
    const position = /^offered, position (\d+)$/.exec(offered ?? '');
    assert.ok(position !== null && Number(position[1]) > 0, `first line: offered at a positive position, got ${offered}`);
    assert.match(received ?? '', /^-?\d+ hello$/, 'second line: session id and the message');
    assert.deepEqual(rest, [], 'nothing more');
  },
  // 2: three 64-byte fragments in place, between the publication's connected and closed events.
  (stdout) => {
    const out = nonEmptyLines(stdout);
    const events = out.filter((line) => line.startsWith('publication '));
    assert.equal(events[0], 'publication connected', 'the first event');
    assert.equal(events[events.length - 1], 'publication closed', 'the last event');
    const fragments = out.filter((line) => !line.startsWith('publication ')).map((line) => {
      const match = /^(-?\d+) (\d+) 64$/.exec(line);
      assert.ok(match !== null, `a fragment line "session position 64", got ${line}`);
      return { sessionId: Number(match[1]), position: Number(match[2]) };
    });
    assert.equal(fragments.length, 3, 'three fragments');
    assert.ok(fragments.every((f) => f.sessionId === fragments[0]!.sessionId), 'all from one session');
    assert.ok(fragments.every((f, i) => i === 0 || f.position > fragments[i - 1]!.position), 'at rising positions');
  },
];

/** Checks what `example` printed; throws an AssertionError naming the example. */
export function checkExampleOutput(example: ReadmeExample, stdout: string, stderr: string): void {
  const check = EXPECTED_OUTPUT[example.index - 1];
  assert.ok(check !== undefined, `README example ${example.index} (line ${example.line}) has no expected output in test/support/readme-examples.ts`);
  assert.equal(stderr, '', `README example ${example.index} wrote to stderr`);
  try {
    check(stdout, stderr);
  } catch (error) {
    throw new assert.AssertionError({ message: `README example ${example.index} (line ${example.line}): ${(error as Error).message}\nstdout:\n${stdout}` });
  }
}

/** How many examples {@link checkExampleOutput} knows. */
export const EXPECTED_EXAMPLE_COUNT = EXPECTED_OUTPUT.length;

export interface RunOptions {
  readonly cwd: string;
  readonly env?: Record<string, string | undefined>;
  readonly timeoutMs: number;
  /** What a failure message shows; default: command line, exit status and output tails. */
  readonly describe?: (child: StartedProcess) => string;
}

/**
 * Runs `command args` and waits for it to exit 0 within `timeoutMs`; on a timeout the child is
 * killed by pid. The child is tracked, so `stopAll()` stops it too.
 */
export async function runToExit(command: string, args: readonly string[], options: RunOptions): Promise<StartedProcess> {
  const child = startProcess(command, args, { cwd: options.cwd, env: options.env ?? {} });
  try {
    const status = await child.waitForExit(options.timeoutMs);
    assert.equal(status.code, 0, (options.describe ?? ((c) => c.describe()))(child));
  } finally {
    if (child.isRunning) await child.kill();
  }
  return child;
}
