import { ErrorCode, SkeinError } from '../util/errors.js';
import type { DatagramHandler, DatagramSocket, DatagramSocketOptions, DatagramTransport, SocketStatus } from './datagram.js';
import type { Prng } from './prng.js';
import { createNodeScheduler, type Scheduler } from './scheduler.js';

/** Faults applied independently to each datagram. Rates are probabilities in [0, 1]. */
export interface FaultOptions {
  /** Probability that a datagram is dropped. @default 0 */
  lossRate?: number;
  /** Probability that a datagram is passed on twice. @default 0 */
  duplicateRate?: number;
  /** Probability that a datagram is held back and passed on after the next one. @default 0 */
  reorderRate?: number;
  /** Probability that a datagram is delayed by a uniform time in [delayMinMs, delayMaxMs]. @default 0 */
  delayRate?: number;
  /** @default 1 */
  delayMinMs?: number;
  /** @default 10 */
  delayMaxMs?: number;
}

export type ResolvedFaultOptions = Readonly<Required<FaultOptions>>;

export const DEFAULT_DELAY_MIN_MS = 1;
export const DEFAULT_DELAY_MAX_MS = 10;
/** Upper bound on a delay, so a typo cannot park datagrams for hours. */
export const DELAY_MS_MAX = 60_000;
/** A held (reordered) datagram is released after this long when no later datagram comes. */
export const REORDER_HOLD_MS = 2;

const RATE_KEYS = ['lossRate', 'duplicateRate', 'reorderRate', 'delayRate'] as const;
const FAULT_KEYS = new Set<string>([...RATE_KEYS, 'delayMinMs', 'delayMaxMs']);

/** Validates fault options and fills in defaults; `where` names them in error messages. */
export function resolveFaultOptions(options: FaultOptions | undefined, where = 'faults'): ResolvedFaultOptions {
  const o = options ?? {};
  for (const key of Object.keys(o)) {
    if (!FAULT_KEYS.has(key)) {
      throw new SkeinError(
        ErrorCode.CONFIG_UNKNOWN_OPTION,
        `unknown option ${where}.${key}; known options: ${[...FAULT_KEYS].join(', ')}`,
      );
    }
  }
  for (const key of RATE_KEYS) {
    const value = o[key];
    if (value !== undefined && !(typeof value === 'number' && value >= 0 && value <= 1)) {
      throw new SkeinError(ErrorCode.CONFIG_INVALID, `${where}.${key}=${String(value)} is out of range; expected a number in [0, 1]`);
    }
  }
  const delayMinMs = o.delayMinMs ?? Math.min(DEFAULT_DELAY_MIN_MS, o.delayMaxMs ?? DEFAULT_DELAY_MIN_MS);
  const delayMaxMs = o.delayMaxMs ?? Math.max(DEFAULT_DELAY_MAX_MS, delayMinMs);
  for (const [key, value] of [['delayMinMs', delayMinMs], ['delayMaxMs', delayMaxMs]] as const) {
    if (!(typeof value === 'number' && value >= 0 && value <= DELAY_MS_MAX)) {
      throw new SkeinError(
        ErrorCode.CONFIG_INVALID,
        `${where}.${key}=${String(value)} is out of range; expected a number in [0, ${DELAY_MS_MAX}]`,
      );
    }
  }
  if (delayMinMs > delayMaxMs) {
    throw new SkeinError(
      ErrorCode.CONFIG_INVALID,
      `${where}.delayMinMs=${delayMinMs} is greater than ${where}.delayMaxMs=${delayMaxMs}; expected delayMinMs <= delayMaxMs`,
    );
  }
  return Object.freeze({
    lossRate: o.lossRate ?? 0,
    duplicateRate: o.duplicateRate ?? 0,
    reorderRate: o.reorderRate ?? 0,
    delayRate: o.delayRate ?? 0,
    delayMinMs,
    delayMaxMs,
  });
}

const NUMBER_PATTERN = /^(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;

/**
 * Parses a fault specification as given on a command line, e.g.
 * `loss=0.1,dup=0.05,reorder=0.05,delay=0.01:1-5`.
 *
 * Grammar (whitespace around items is ignored, each key at most once, the empty spec means no
 * faults):
 * ```
 * spec  = [ item *( "," item ) ]
 * item  = "loss=" rate | ( "dup" | "duplicate" ) "=" rate | "reorder=" rate
 *       | "delay=" rate [ ":" ms [ "-" ms ] ]
 * rate  = decimal number in [0, 1]
 * ms    = decimal number of milliseconds in [0, 60000]
 * ```
 * `delay=R:A-B` delays with probability R by a uniform time in [A, B] ms; `delay=R:A` by exactly
 * A ms; `delay=R` by 1 to 10 ms. Errors are SkeinError CONFIG_INVALID naming the bad item.
 */
export function parseFaultSpec(spec: string): FaultOptions {
  const result: FaultOptions = {};
  const trimmed = spec.trim();
  if (trimmed === '') return result;
  const seen = new Set<string>();
  for (const rawItem of trimmed.split(',')) {
    const item = rawItem.trim();
    const eq = item.indexOf('=');
    const key = eq < 0 ? item : item.slice(0, eq).trim();
    const value = eq < 0 ? '' : item.slice(eq + 1).trim();
    const canonical = key === 'duplicate' ? 'dup' : key;
    if (eq < 0 || value === '') throw specError(spec, item, 'expected key=value');
    if (seen.has(canonical)) throw specError(spec, item, `'${key}' is given more than once`);
    seen.add(canonical);
    switch (canonical) {
      case 'loss':
        result.lossRate = parseRate(spec, item, value);
        break;
      case 'dup':
        result.duplicateRate = parseRate(spec, item, value);
        break;
      case 'reorder':
        result.reorderRate = parseRate(spec, item, value);
        break;
      case 'delay':
        parseDelay(spec, item, value, result);
        break;
      default:
        throw specError(spec, item, `unknown key '${key}'; expected loss, dup, reorder or delay`);
    }
  }
  resolveFaultOptions(result, `fault spec '${spec}'`);
  return result;
}

function parseDelay(spec: string, item: string, value: string, result: FaultOptions): void {
  const colon = value.indexOf(':');
  result.delayRate = parseRate(spec, item, colon < 0 ? value : value.slice(0, colon));
  if (colon < 0) return;
  const range = value.slice(colon + 1);
  const dash = range.indexOf('-');
  const minMs = parseNumber(spec, item, dash < 0 ? range : range.slice(0, dash), 'delay in ms');
  const maxMs = dash < 0 ? minMs : parseNumber(spec, item, range.slice(dash + 1), 'delay in ms');
  if (minMs > DELAY_MS_MAX || maxMs > DELAY_MS_MAX) {
    throw specError(spec, item, `delay must be in [0, ${DELAY_MS_MAX}] ms`);
  }
  if (minMs > maxMs) throw specError(spec, item, `delay range ${minMs}-${maxMs} ms has min > max`);
  result.delayMinMs = minMs;
  result.delayMaxMs = maxMs;
}

function parseRate(spec: string, item: string, text: string): number {
  const rate = parseNumber(spec, item, text, 'rate');
  if (rate > 1) throw specError(spec, item, `rate ${text} is out of range; expected a number in [0, 1]`);
  return rate;
}

function parseNumber(spec: string, item: string, text: string, what: string): number {
  const t = text.trim();
  if (!NUMBER_PATTERN.test(t)) throw specError(spec, item, `'${text}' is not a valid ${what}`);
  return Number(t);
}

function specError(spec: string, item: string, reason: string): SkeinError {
  return new SkeinError(ErrorCode.CONFIG_INVALID, `invalid fault spec '${spec}' at '${item}': ${reason}`);
}

/** Counts of faults applied. */
export interface FaultStats {
  dropped: number;
  duplicated: number;
  reordered: number;
  delayed: number;
}

function newStats(): FaultStats {
  return { dropped: 0, duplicated: 0, reordered: 0, delayed: 0 };
}

export interface FaultInjectingTransportOptions {
  /** Faults applied to datagrams this transport's sockets send. */
  send?: FaultOptions;
  /** Faults applied to datagrams this transport's sockets receive. */
  receive?: FaultOptions;
  /** Every fault decision is drawn from this stream, so a seed replays the same faults. */
  prng: Prng;
  /** Runs delayed and held datagrams later. @default a private unref'd setTimeout scheduler */
  scheduler?: Scheduler;
}

/**
 * Wraps another transport and applies faults to every socket it opens, to outgoing sends and to
 * incoming datagrams. Held and delayed datagrams are copied, since callers may reuse their buffers.
 * A reordered datagram is held and passed on right after the next datagram in the same direction
 * on the same socket, or after {@link REORDER_HOLD_MS} when none comes.
 */
export class FaultInjectingTransport implements DatagramTransport {
  /** Totals over both directions. */
  readonly stats: FaultStats = newStats();
  readonly sendStats: FaultStats = newStats();
  readonly receiveStats: FaultStats = newStats();
  /** @internal */ readonly sendFaults: ResolvedFaultOptions;
  /** @internal */ readonly receiveFaults: ResolvedFaultOptions;
  /** @internal */ readonly prng: Prng;
  /** @internal */ readonly scheduler: Scheduler;

  constructor(
    private readonly inner: DatagramTransport,
    options: FaultInjectingTransportOptions,
  ) {
    this.sendFaults = resolveFaultOptions(options.send, 'send');
    this.receiveFaults = resolveFaultOptions(options.receive, 'receive');
    this.prng = options.prng;
    this.scheduler = options.scheduler ?? createNodeScheduler();
  }

  whenClosed(): Promise<void> {
    return this.inner.whenClosed?.() ?? Promise.resolve();
  }

  open(options: DatagramSocketOptions): DatagramSocket {
    return new FaultInjectingSocket(this, this.inner.open(options));
  }

  /** Cancels every delayed or held datagram still pending. Sockets stay open. */
  close(): void {
    this.scheduler.cancelAll();
  }
}

type Emit = (data: Uint8Array, offset: number, length: number, address: string, port: number) => boolean;

/** Applies one direction's faults on one socket. */
class FaultPipe {
  private heldData: Uint8Array | null = null;
  private heldAddress = '';
  private heldPort = 0;
  private holdGeneration = 0;
  private closed = false;

  constructor(
    private readonly faults: ResolvedFaultOptions,
    private readonly transport: FaultInjectingTransport,
    private readonly stats: FaultStats,
    private readonly emit: Emit,
  ) {}

  offer(data: Uint8Array, offset: number, length: number, address: string, port: number): boolean {
    if (this.closed) return false;
    const f = this.faults;
    const prng = this.transport.prng;
    if (f.lossRate > 0 && prng.nextBoolean(f.lossRate)) {
      this.count('dropped');
      return true;
    }
    if (f.delayRate > 0 && prng.nextBoolean(f.delayRate)) {
      this.delay(data.slice(offset, offset + length), address, port);
      return true;
    }
    if (f.reorderRate > 0 && this.heldData === null && prng.nextBoolean(f.reorderRate)) {
      this.hold(data.slice(offset, offset + length), address, port);
      return true;
    }
    const handedOver = this.emit(data, offset, length, address, port);
    if (f.duplicateRate > 0 && prng.nextBoolean(f.duplicateRate)) {
      this.count('duplicated');
      this.emit(data, offset, length, address, port);
    }
    if (this.heldData !== null) this.releaseHeld();
    return handedOver;
  }

  close(): void {
    this.closed = true;
    this.heldData = null;
    this.holdGeneration++;
  }

  private delay(copy: Uint8Array, address: string, port: number): void {
    const f = this.faults;
    const delayMs = f.delayMinMs + this.transport.prng.nextDouble() * (f.delayMaxMs - f.delayMinMs);
    this.count('delayed');
    this.transport.scheduler.schedule(delayMs, () => {
      if (!this.closed) this.emit(copy, 0, copy.length, address, port);
    });
  }

  private hold(copy: Uint8Array, address: string, port: number): void {
    this.heldData = copy;
    this.heldAddress = address;
    this.heldPort = port;
    this.count('reordered');
    const generation = ++this.holdGeneration;
    this.transport.scheduler.schedule(REORDER_HOLD_MS, () => {
      if (generation === this.holdGeneration && this.heldData !== null) this.releaseHeld();
    });
  }

  private releaseHeld(): void {
    const data = this.heldData as Uint8Array;
    this.heldData = null;
    this.holdGeneration++;
    this.emit(data, 0, data.length, this.heldAddress, this.heldPort);
  }

  private count(key: keyof FaultStats): void {
    this.stats[key]++;
    this.transport.stats[key]++;
  }
}

class FaultInjectingSocket implements DatagramSocket {
  onDatagram: DatagramHandler | null = null;
  private readonly sendPipe: FaultPipe;
  private readonly receivePipe: FaultPipe;

  constructor(
    transport: FaultInjectingTransport,
    private readonly inner: DatagramSocket,
  ) {
    this.sendPipe = new FaultPipe(transport.sendFaults, transport, transport.sendStats, inner.send.bind(inner));
    this.receivePipe = new FaultPipe(transport.receiveFaults, transport, transport.receiveStats, this.deliver.bind(this));
    inner.onDatagram = this.receive.bind(this);
  }

  get status(): SocketStatus {
    return this.inner.status;
  }

  get error(): Error | null {
    return this.inner.error;
  }

  get localAddress(): string {
    return this.inner.localAddress;
  }

  get localPort(): number {
    return this.inner.localPort;
  }

  send(data: Uint8Array, offset: number, length: number, address: string, port: number): boolean {
    if (this.inner.status !== 'bound') return false;
    return this.sendPipe.offer(data, offset, length, address, port);
  }

  close(): void {
    this.sendPipe.close();
    this.receivePipe.close();
    this.inner.close();
  }

  private receive(data: Uint8Array, length: number, srcAddress: string, srcPort: number): void {
    this.receivePipe.offer(data, 0, length, srcAddress, srcPort);
  }

  private deliver(data: Uint8Array, offset: number, length: number, srcAddress: string, srcPort: number): boolean {
    const handler = this.onDatagram;
    if (handler === null) return false;
    handler(offset === 0 ? data : data.subarray(offset, offset + length), length, srcAddress, srcPort);
    return true;
  }
}
