/**
 * The servers some peers need (nats-server with JetStream, redis-server), started by the suite on
 * free loopback ports with their data in a temporary directory, and stopped by pid: SIGTERM, then
 * SIGKILL after a grace time. The runner's exit kills whatever is still running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { connect, createServer } from 'node:net';
import { delimiter, join } from 'node:path';

export type ServerName = 'nats-server' | 'redis-server';

/** How to install each server (Debian packages). */
export const SERVER_INSTALL_HINTS: Readonly<Record<ServerName, string>> = {
  'nats-server': 'apt-get install -y nats-server',
  'redis-server': 'apt-get install -y redis-server',
};

const STARTUP_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 3_000;
const OUTPUT_KEPT_LENGTH = 2000;

/** Where Debian installs daemons, searched after PATH (often not on a user's PATH). */
const SERVER_DIRS = ['/usr/sbin', '/usr/local/sbin'];

/** The executable's path on PATH or in the sbin directories, or null. */
export function findExecutable(name: string, path = process.env.PATH ?? ''): string | null {
  for (const dir of [...path.split(delimiter), ...SERVER_DIRS]) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export class ServerProcess {
  private output = '';
  private exited = false;
  private readonly exit: Promise<void>;
  private readonly killOnExit = (): void => this.kill();

  private constructor(
    readonly name: ServerName,
    readonly port: number,
    private readonly child: ChildProcess,
  ) {
    process.on('exit', this.killOnExit);
    const keep = (chunk: Buffer): void => {
      this.output = (this.output + chunk.toString('utf8')).slice(-OUTPUT_KEPT_LENGTH);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exit = new Promise((resolve) =>
      child.once('exit', () => {
        this.exited = true;
        process.off('exit', this.killOnExit);
        resolve();
      }),
    );
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Starts `executable args…` and waits until `port` accepts connections. */
  static async start(name: ServerName, executable: string, args: readonly string[], port: number): Promise<ServerProcess> {
    const child = spawn(executable, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const server = new ServerProcess(name, port, child);
    const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
    const deadlineMs = performance.now() + STARTUP_TIMEOUT_MS;
    while (performance.now() < deadlineMs) {
      if (server.exited) break;
      if (await canConnect(port)) return server;
      const failed = await Promise.race([spawnError, new Promise<null>((resolve) => setTimeout(() => resolve(null), 50))]);
      if (failed !== null) throw new Error(`${name} did not start: ${failed.message}`);
    }
    server.kill();
    throw new Error(`${name} (pid ${server.pid}) did not accept connections on 127.0.0.1:${port} within ${STARTUP_TIMEOUT_MS} ms: ${server.output.trim()}`);
  }

  /** SIGTERM, then SIGKILL after the grace time. */
  async stop(): Promise<void> {
    if (this.exited) return;
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.kill(), STOP_GRACE_MS);
    await this.exit;
    clearTimeout(timer);
  }

  kill(): void {
    this.signal('SIGKILL');
  }

  private signal(signal: NodeJS.Signals): void {
    if (this.exited || this.child.pid === undefined) return;
    try {
      process.kill(this.child.pid, signal);
    } catch {
      // already gone
    }
  }
}

/** nats-server on `port` with JetStream storing to `storeDir`. */
export function startNats(executable: string, port: number, storeDir: string): Promise<ServerProcess> {
  return ServerProcess.start('nats-server', executable, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir], port);
}

/** redis-server on `port`, no persistence, working directory `dir`. */
export function startRedis(executable: string, port: number, dir: string): Promise<ServerProcess> {
  return ServerProcess.start('redis-server', executable, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'], port);
}
