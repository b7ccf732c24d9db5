/**
 * A private network of Linux network namespaces for fault tests with real partitions (needs root
 * and `ip`, which CI has): a hub namespace with a bridge (10.77.0.254/24), and one namespace per
 * node linked to the bridge by a virtual ethernet pair (node i is 10.77.0.<i+1>). Nothing is
 * created in the namespace the tests run in: every link is made inside the lab's namespaces, so
 * the addresses exist only there. Processes run in a namespace with `ip netns exec`.
 *
 * Faults:
 * - `isolate(i)` takes node i's link on the bridge down: nothing reaches it or leaves it (as a
 *   pulled cable), until `rejoin(i)`;
 * - `cut(i, j)` drops what nodes i and j send each other (a blackhole route each way; their sends
 *   fail with EINVAL, counted as send errors), until `heal(i, j)`.
 *
 * `remove()` stops every process still in the lab's namespaces (SIGKILL by pid) and deletes them;
 * it is idempotent, and `removeLabs(prefix)` removes labs a killed run left behind.
 */
import { execFileSync } from 'node:child_process';

export const LAB_SUBNET = '10.77.0';
export const HUB_ADDRESS = `${LAB_SUBNET}.254`;

function ip(args: readonly string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
}

/** Whether this process can make network namespaces (root with `ip` and namespace support). */
export function canMakeLabs(): boolean {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return false;
  const probe = `skprobe${process.pid}`;
  try {
    ip(['netns', 'add', probe]);
    ip(['netns', 'del', probe]);
    return true;
  } catch {
    return false;
  }
}

export interface LabDescription {
  readonly tag: string;
  readonly hub: string;
  readonly nodes: readonly string[];
}

export class NetLab implements LabDescription {
  readonly tag: string;
  readonly hub: string;
  readonly nodes: readonly string[];
  private removed = false;

  private constructor(description: LabDescription) {
    this.tag = description.tag;
    this.hub = description.hub;
    this.nodes = description.nodes;
  }

  /** Builds a lab of `count` nodes; the tag (at most 8 characters) prefixes its namespace names. */
  static create(tag: string, count: number): NetLab {
    if (!/^[a-z0-9]{1,8}$/.test(tag)) throw new Error(`lab tag '${tag}': 1 to 8 lower-case letters or digits`);
    if (!Number.isInteger(count) || count < 1 || count > 16) throw new Error(`lab of ${count} nodes: 1 to 16`);
    const nodes: string[] = [];
    for (let i = 0; i < count; i++) nodes.push(`${tag}-n${i}`);
    const lab = new NetLab({ tag, hub: `${tag}-hub`, nodes });
    try {
      ip(['netns', 'add', lab.hub]);
      ip(['-n', lab.hub, 'link', 'set', 'lo', 'up']);
      ip(['-n', lab.hub, 'link', 'add', 'br0', 'type', 'bridge']);
      ip(['-n', lab.hub, 'addr', 'add', `${HUB_ADDRESS}/24`, 'dev', 'br0']);
      ip(['-n', lab.hub, 'link', 'set', 'br0', 'up']);
      nodes.forEach((ns, i) => {
        ip(['netns', 'add', ns]);
        ip(['-n', ns, 'link', 'set', 'lo', 'up']);
        ip(['-n', lab.hub, 'link', 'add', `h${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
        ip(['-n', lab.hub, 'link', 'set', `h${i}`, 'master', 'br0']);
        ip(['-n', lab.hub, 'link', 'set', `h${i}`, 'up']);
        ip(['-n', ns, 'addr', 'add', `${lab.address(i)}/24`, 'dev', 'eth0']);
        ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
      });
    } catch (error) {
      lab.remove();
      throw error;
    }
    return lab;
  }

  /** A lab built by another process (its description), to run faults against. */
  static attach(description: LabDescription): NetLab {
    return new NetLab(description);
  }

  get description(): LabDescription {
    return { tag: this.tag, hub: this.hub, nodes: this.nodes };
  }

  /** Node i's address. */
  address(i: number): string {
    if (!Number.isInteger(i) || i < 0 || i >= this.nodes.length) throw new Error(`lab ${this.tag} has no node ${i}`);
    return `${LAB_SUBNET}.${i + 1}`;
  }

  /** The command line that runs `command args` in node i's namespace (or the hub's for 'hub'). */
  exec(where: number | 'hub', command: string, args: readonly string[]): { command: string; args: string[] } {
    const ns = where === 'hub' ? this.hub : this.nodes[where];
    if (ns === undefined) throw new Error(`lab ${this.tag} has no node ${where}`);
    return { command: 'ip', args: ['netns', 'exec', ns, command, ...args] };
  }

  isolate(i: number): void {
    this.address(i);
    ip(['-n', this.hub, 'link', 'set', `h${i}`, 'down']);
  }

  rejoin(i: number): void {
    this.address(i);
    ip(['-n', this.hub, 'link', 'set', `h${i}`, 'up']);
  }

  cut(i: number, j: number): void {
    ip(['-n', this.nodes[i]!, 'route', 'add', 'blackhole', `${this.address(j)}/32`]);
    ip(['-n', this.nodes[j]!, 'route', 'add', 'blackhole', `${this.address(i)}/32`]);
  }

  heal(i: number, j: number): void {
    for (const [a, b] of [[i, j], [j, i]] as const) {
      try {
        ip(['-n', this.nodes[a]!, 'route', 'del', 'blackhole', `${this.address(b)}/32`]);
      } catch {
        // not cut that way
      }
    }
  }

  /** Stops what still runs in the lab (SIGKILL by pid) and deletes its namespaces; idempotent. */
  remove(): void {
    if (this.removed) return;
    this.removed = true;
    removeNamespaces([this.hub, ...this.nodes]);
  }
}

function removeNamespaces(names: readonly string[]): void {
  const existing = new Set(listNamespaces());
  for (const ns of names) {
    if (!existing.has(ns)) continue;
    try {
      for (const pid of ip(['netns', 'pids', ns]).split('\n').map(Number).filter((p) => Number.isInteger(p) && p > 0)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    } catch {
      // no pids to read
    }
    try {
      ip(['netns', 'del', ns]);
    } catch {
      // deleted meanwhile
    }
  }
}

function listNamespaces(): string[] {
  try {
    return ip(['netns', 'list']).split('\n').map((line) => line.split(' ')[0]!).filter((n) => n.length > 0);
  } catch {
    return [];
  }
}

/** Removes every lab whose namespaces start with `prefix` (left by a run that was killed). */
export function removeLabs(prefix: string): string[] {
  const names = listNamespaces().filter((n) => n.startsWith(prefix));
  removeNamespaces(names);
  return names;
}

/** Namespaces whose names start with `prefix`. */
export function labNamespaces(prefix: string): string[] {
  return listNamespaces().filter((n) => n.startsWith(prefix));
}
