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
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

export function encodeKv(value: KvCommand | KvAnswer): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

export function decodeKv<T extends KvCommand | KvAnswer>(bytes: Uint8Array): T {
  return JSON.parse(decoder.decode(bytes)) as T;
}

const PUT_PREFIX = encoder.encode('{"op":"put","key":"');
const PUT_MIDDLE = encoder.encode('","value":"');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const CLOSE_BRACE = 0x7d;

/**
 * The end (the closing quote) of a JSON string body that starts at `from` and holds only printable
 * ASCII that needs no escape; -1 for anything else (an escape, a control character, a non-ASCII
 * byte, no closing quote).
 */
function plainStringEnd(bytes: Uint8Array, from: number): number {
  for (let i = from; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (c === QUOTE) return i;
    if (c === BACKSLASH || c < 0x20 || c > 0x7e) return -1;
  }
  return -1;
}

function startsWithAt(bytes: Uint8Array, at: number, prefix: Uint8Array): boolean {
  if (at + prefix.length > bytes.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[at + i] !== prefix[i]) return false;
  return true;
}

/** Node's Buffer reads Latin-1 text straight from a byte range (no view per string); absent elsewhere. */
const latin1Slice = (globalThis as { Buffer?: { prototype: { latin1Slice?: (this: Uint8Array, start: number, end: number) => string } } }).Buffer?.prototype.latin1Slice;

/**
 * ASCII bytes as a string: short ones char by char, longer ones through Buffer's Latin-1 reader
 * where there is one (ASCII is Latin-1), else the decoder (each the faster there).
 */
function asciiText(bytes: Uint8Array, from: number, to: number): string {
  if (to - from <= 8) {
    let text = '';
    for (let i = from; i < to; i++) text += String.fromCharCode(bytes[i]!);
    return text;
  }
  if (latin1Slice !== undefined) return latin1Slice.call(bytes, from, to);
  return decoder.decode(bytes.subarray(from, to));
}

/** The key and value of the put {@link scanPut} read last. */
let scannedKey = '';
let scannedValue = '';

/**
 * Whether `bytes` is a put exactly as {@link encodeKv} writes it, with a key and value of
 * printable ASCII (the common command, applied by every member); if so its key and value are left
 * in `scannedKey` and `scannedValue` (no object per command).
 */
function scanPut(bytes: Uint8Array): boolean {
  if (!startsWithAt(bytes, 0, PUT_PREFIX)) return false;
  const keyEnd = plainStringEnd(bytes, PUT_PREFIX.length);
  if (keyEnd < 0 || !startsWithAt(bytes, keyEnd, PUT_MIDDLE)) return false;
  const valueStart = keyEnd + PUT_MIDDLE.length;
  const valueEnd = plainStringEnd(bytes, valueStart);
  if (valueEnd < 0 || valueEnd + 2 !== bytes.length || bytes[valueEnd + 1] !== CLOSE_BRACE) return false;
  scannedKey = asciiText(bytes, PUT_PREFIX.length, keyEnd);
  scannedValue = asciiText(bytes, valueStart, valueEnd);
  return true;
}

/**
 * A command as {@link decodeKv} reads it. A put exactly as {@link encodeKv} writes it with a key
 * and value of printable ASCII (the common command, applied by every member) is read without
 * JSON.parse; anything else, JSON.parse reads. Both give the same command.
 */
export function decodeKvCommand(bytes: Uint8Array): KvCommand {
  if (scanPut(bytes)) return { op: 'put', key: scannedKey, value: scannedValue };
  return decodeKv<KvCommand>(bytes);
}

/** The answers to put and cas, encoded once (answers are never written to after they are returned). */
const OK_TRUE = encodeKv({ ok: true });
const OK_FALSE = encodeKv({ ok: false });

export class KvService implements ClusteredService {
  private readonly data = new Map<string, string>();

  onSessionMessage(_session: ClientSession, _timestamp: number, payload: Uint8Array, _cluster: ServiceCluster): Uint8Array {
    if (scanPut(payload)) {
      this.data.set(scannedKey, scannedValue);
      return OK_TRUE;
    }
    // Not a plain put (scanPut said so): JSON.parse reads it.
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
