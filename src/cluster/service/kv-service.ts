/**
 * The reference clustered service (docs/cluster.md, "Key-value service"): a replicated key-value
 * store with get, put and compare-and-set, commands and answers in JSON. Its histories are what
 * the linearizability checker reads (kvModel in src/sim/linearizability.ts speaks the same
 * operations).
 */
import type { ClientSession, ClusteredService, ServiceCluster } from './service-container.js';

export type KvCommand =
  | { readonly op: 'get'; readonly key: string }
  | { readonly op: 'put'; readonly key: string; readonly value: string }
  | { readonly op: 'cas'; readonly key: string; readonly expected: string | null; readonly value: string };

/** get: the value (null: absent); put: ok; cas: whether it swapped; error: the command was not understood. */
export type KvAnswer = { readonly value?: string | null; readonly ok?: boolean; readonly error?: string };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeKv(value: KvCommand | KvAnswer): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

export function decodeKv<T extends KvCommand | KvAnswer>(bytes: Uint8Array): T {
  return JSON.parse(decoder.decode(bytes)) as T;
}

/** The answers to put and cas, encoded once (answers are never written to after they are returned). */
const OK_TRUE = encodeKv({ ok: true });
const OK_FALSE = encodeKv({ ok: false });

export class KvService implements ClusteredService {
  private readonly data = new Map<string, string>();

  onSessionMessage(_session: ClientSession, _timestamp: number, payload: Uint8Array, _cluster: ServiceCluster): Uint8Array {
    let command: KvCommand;
    try {
      command = decodeKv<KvCommand>(payload);
    } catch (error) {
      return encodeKv({ error: `not a command: ${(error as Error).message}` });
    }
    switch (command.op) {
      case 'get':
        return encodeKv({ value: this.data.get(command.key) ?? null });
      case 'put':
        this.data.set(command.key, command.value);
        return OK_TRUE;
      case 'cas': {
        const swaps = (this.data.get(command.key) ?? null) === command.expected;
        if (swaps) this.data.set(command.key, command.value);
        return swaps ? OK_TRUE : OK_FALSE;
      }
      default:
        return encodeKv({ error: `unknown op ${JSON.stringify((command as { op?: unknown }).op)}` });
    }
  }

  onStart(_cluster: ServiceCluster, snapshot: Uint8Array | null): void {
    if (snapshot === null) return;
    for (const [key, value] of JSON.parse(decoder.decode(snapshot)) as [string, string][]) this.data.set(key, value);
  }

  onTakeSnapshot(): Uint8Array {
    return encoder.encode(this.digest());
  }

  /** The store's content in key order, for comparing members. */
  digest(): string {
    return JSON.stringify([...this.data].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
  }
}
