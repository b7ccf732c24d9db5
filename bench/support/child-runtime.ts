/**
 * The child side of a benchmark process: reads its role and config from argv, runs the role,
 * answers `stop` with the role's final numbers and exits. A child never outlives its runner:
 * it exits when the IPC channel closes, and after `lifetimeMs` whatever happens.
 */
import type { ChildMessage, Metrics, ParentMessage } from './child-messages.js';

/** What every child config carries. */
export interface ChildConfig {
  /** Hard bound on the life of the child process, in ms. */
  readonly lifetimeMs: number;
}

/** What a role can tell its runner. */
export interface ChildContext {
  ready(data?: Metrics): void;
  result(data: Metrics): void;
  fail(error: unknown): void;
}

/**
 * A started role: `stop` releases everything and returns the role's final numbers; `command`, when
 * the role has it, receives the runner's `command` messages (in order, none before the role started).
 */
export interface RoleHandle {
  stop(): Metrics | Promise<Metrics>;
  command?(data: Metrics): void;
}

export type Role = (config: never, context: ChildContext) => Promise<RoleHandle>;

function post(message: ChildMessage): void {
  if (process.send !== undefined && process.connected) process.send(message);
}

function exitAfterFlush(code: number): void {
  // Exit once queued IPC messages have been written (process.send is asynchronous).
  if (process.send !== undefined && process.connected) {
    process.send({ type: 'final-flush' }, () => process.exit(code));
    setTimeout(() => process.exit(code), 500).unref();
  } else {
    process.exit(code);
  }
}

const context: ChildContext = {
  ready: (data = {}) => post({ type: 'ready', data }),
  result: (data) => post({ type: 'result', data }),
  fail: (error) => {
    post({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    exitAfterFlush(1);
  },
};

/** Runs the role named in argv[2] with the JSON config in argv[3]. */
export function runChild(roles: Readonly<Record<string, Role>>): void {
  const [roleName, configText] = process.argv.slice(2);
  const role = roleName === undefined ? undefined : roles[roleName];
  if (role === undefined || configText === undefined) {
    process.stderr.write(`usage: child <${Object.keys(roles).join('|')}> <json config>\n`);
    process.exit(2);
  }
  const config = JSON.parse(configText) as ChildConfig;
  setTimeout(() => {
    post({ type: 'error', message: `${roleName} exceeded its lifetime of ${config.lifetimeMs} ms` });
    exitAfterFlush(3);
  }, config.lifetimeMs).unref();
  process.on('disconnect', () => process.exit(4));
  process.on('uncaughtException', (error) => context.fail(error));
  process.on('unhandledRejection', (error) => context.fail(error));
  let handle: RoleHandle | null = null;
  let stopRequested = false;
  const earlyCommands: Metrics[] = [];
  const stop = async (): Promise<void> => {
    if (handle === null) return;
    const current = handle;
    handle = null;
    try {
      post({ type: 'final', data: await current.stop() });
      exitAfterFlush(0);
    } catch (error) {
      context.fail(error);
    }
  };
  process.on('message', (message: ParentMessage) => {
    if (message.type === 'command') {
      if (handle === null) earlyCommands.push(message.data);
      else handle.command?.(message.data);
      return;
    }
    if (message.type !== 'stop') return;
    stopRequested = true;
    void stop();
  });
  (role as (config: ChildConfig, context: ChildContext) => Promise<RoleHandle>)(config, context).then(
    (started) => {
      handle = started;
      if (stopRequested) {
        void stop();
        return;
      }
      for (const data of earlyCommands.splice(0)) started.command?.(data);
    },
    (error: unknown) => context.fail(error),
  );
}
