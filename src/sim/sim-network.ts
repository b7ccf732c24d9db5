import { createHash, type Hash } from 'node:crypto';
import { ErrorCode, SkeinError } from '../util/errors.js';
import type { NanoClock } from '../env/clock.js';
import {
  UDP_PAYLOAD_LENGTH_MAX,
  validateDatagramSocketOptions,
  isMulticastAddress,
  type DatagramHandler,
  type DatagramSocket,
  type DatagramSocketOptions,
  type DatagramTransport,
  type SocketStatus,
} from '../env/datagram.js';
import { resolveFaultOptions, type FaultOptions, type ResolvedFaultOptions } from '../env/fault-injection.js';
import type { Prng } from '../env/prng.js';

export interface SimNetworkOptions {
  /** Send times and delivery deadlines are read from this clock. */
  clock: NanoClock;
  /** Every random choice (jitter, faults) is drawn from this stream. */
  prng: Prng;
  /** One-way latency in ns, at least 1. @default 50_000 */
  latencyNs?: number;
  /** Extra latency drawn uniformly from [0, jitterNs] per datagram; jitter never reorders a path. @default 10_000 */
  jitterNs?: number;
  /** Faults applied per datagram. */
  faults?: FaultOptions;
  /** A reordered datagram gets an extra delay drawn from [1, reorderDelayNsMax]. @default 4 * latencyNs */
  reorderDelayNsMax?: number;
  /** Record every event in {@link SimNetwork.trace} and keep a hash of them. @default false */
  trace?: boolean;
  /** Lines kept in `trace`; later events are still hashed. @default 100_000 */
  traceLinesMax?: number;
  /** First port handed out for bindPort 0. @default 40_000 */
  ephemeralPortStart?: number;
}

export interface SimNetworkStats {
  sent: number;
  delivered: number;
  /** Lost to the loss fault. */
  dropped: number;
  duplicated: number;
  reordered: number;
  delayed: number;
  /** Dropped because the two hosts were partitioned. */
  partitioned: number;
  /** Dropped because no socket was bound at the destination. */
  undeliverable: number;
}

export const DEFAULT_SIM_LATENCY_NS = 50_000;
export const DEFAULT_SIM_JITTER_NS = 10_000;
export const DEFAULT_EPHEMERAL_PORT_START = 40_000;
const DEFAULT_TRACE_LINES_MAX = 100_000;

interface InFlight {
  seq: number;
  deliverAtNs: number;
  data: Uint8Array;
  srcAddress: string;
  srcPort: number;
  dstAddress: string;
  dstPort: number;
  /** A multicast copy: the one member socket it is for. */
  target?: SimSocket;
}

/**
 * A deterministic datagram network for simulation. Sockets bind synchronously. Each send enqueues a
 * copy for delivery at now + latency + jitter (plus fault delays); {@link deliver} hands every due
 * datagram to its destination in order of delivery time, then send order, so a seed and a sequence
 * of calls always give the same run. A socket bound to 0.0.0.0 or :: receives datagrams for its
 * port on any address and sends from the loopback address.
 */
export class SimNetwork implements DatagramTransport {
  readonly stats: SimNetworkStats = {
    sent: 0,
    delivered: 0,
    dropped: 0,
    duplicated: 0,
    reordered: 0,
    delayed: 0,
    partitioned: 0,
    undeliverable: 0,
  };
  /** Event lines `t=<ns> <src>-><dst> len=<n> <deliver|drop|dup>` when tracing. */
  readonly trace: string[] = [];
  readonly latencyNs: number;
  readonly jitterNs: number;
  readonly faults: ResolvedFaultOptions;
  private readonly clock: NanoClock;
  private readonly prng: Prng;
  private readonly reorderDelayNsMax: number;
  private readonly traceEnabled: boolean;
  private readonly traceLinesMax: number;
  private readonly hash: Hash | null;
  private readonly ephemeralPortStart: number;
  private nextEphemeralPort: number;
  private readonly sockets = new Map<string, SimSocket>();
  /** Sockets joined to each multicast group, by group address and port. */
  private readonly members = new Map<string, SimSocket[]>();
  private readonly queue = new DeliveryQueue();
  private readonly lastDeliveryNsByPath = new Map<string, number>();
  private readonly partitions = new Set<string>();
  private nextSeq = 0;

  constructor(options: SimNetworkOptions) {
    this.clock = options.clock;
    this.prng = options.prng;
    this.latencyNs = checkNs('latencyNs', options.latencyNs ?? DEFAULT_SIM_LATENCY_NS, 1);
    this.jitterNs = checkNs('jitterNs', options.jitterNs ?? DEFAULT_SIM_JITTER_NS, 0);
    this.reorderDelayNsMax = checkNs('reorderDelayNsMax', options.reorderDelayNsMax ?? 4 * this.latencyNs, 1);
    this.faults = resolveFaultOptions(options.faults, 'sim network faults');
    this.traceEnabled = options.trace ?? false;
    this.traceLinesMax = checkNs('traceLinesMax', options.traceLinesMax ?? DEFAULT_TRACE_LINES_MAX, 0);
    this.hash = this.traceEnabled ? createHash('sha256') : null;
    this.ephemeralPortStart = options.ephemeralPortStart ?? DEFAULT_EPHEMERAL_PORT_START;
    if (!(Number.isInteger(this.ephemeralPortStart) && this.ephemeralPortStart >= 1 && this.ephemeralPortStart <= 65_535)) {
      throw new SkeinError(
        ErrorCode.CONFIG_INVALID,
        `sim network ephemeralPortStart=${String(options.ephemeralPortStart)} is invalid; expected an integer in [1, 65535]`,
      );
    }
    this.nextEphemeralPort = this.ephemeralPortStart;
  }

  open(options: DatagramSocketOptions): DatagramSocket {
    validateDatagramSocketOptions(options);
    const socket = new SimSocket(this, options);
    const port = options.bindPort === 0 ? this.allocateEphemeralPort(options.bindAddress) : options.bindPort;
    if (port < 0 || this.conflicts(options.bindAddress, port, options.reuseAddress === true)) {
      const reason = port < 0 ? 'EADDRNOTAVAIL' : 'EADDRINUSE';
      socket.fail(
        new SkeinError(
          ErrorCode.TRANSPORT_BIND_FAILED,
          `cannot bind sim udp socket${options.name === undefined ? '' : ` (${options.name})`} to address ${options.bindAddress} port ${options.bindPort}: ${reason}`,
          { category: 'fatal' },
        ),
      );
      return socket;
    }
    socket.bind(port);
    // A socket bound to a group address only receives that group's datagrams (as on Linux).
    if (!isMulticastAddress(options.bindAddress)) this.sockets.set(endpointKey(options.bindAddress, port), socket);
    for (const group of socket.groups) {
      const key = endpointKey(group, port);
      this.members.set(key, [...(this.members.get(key) ?? []), socket]);
    }
    return socket;
  }

  /** Delivers every datagram due at or before `nowNs`; returns how many reached a socket. */
  deliver(nowNs: number = this.clock.nanoTime()): number {
    let delivered = 0;
    while (this.queue.size > 0 && (this.queue.peek() as InFlight).deliverAtNs <= nowNs) {
      const d = this.queue.pop() as InFlight;
      const socket = d.target ?? this.lookup(d.dstAddress, d.dstPort);
      if (socket === undefined || socket.status !== 'bound') {
        this.stats.undeliverable++;
        this.record(d.deliverAtNs, d, 'drop');
        continue;
      }
      this.stats.delivered++;
      delivered++;
      this.record(d.deliverAtNs, d, 'deliver');
      socket.receive(d.data, d.srcAddress, d.srcPort);
    }
    return delivered;
  }

  /** Datagrams in flight. */
  get pendingCount(): number {
    return this.queue.size;
  }

  /** When the next datagram is due, or Infinity when none is in flight. */
  nextDeliveryNs(): number {
    return this.queue.size === 0 ? Number.POSITIVE_INFINITY : (this.queue.peek() as InFlight).deliverAtNs;
  }

  /** Drops every datagram between hosts `a` and `b` (both directions) until {@link heal}. */
  partition(a: string, b: string): void {
    this.partitions.add(`${a}|${b}`);
    this.partitions.add(`${b}|${a}`);
  }

  /** Removes every partition. */
  heal(): void {
    this.partitions.clear();
  }

  /** SHA-256 (hex) of every traced event so far; needs `trace: true`. */
  traceHash(): string {
    if (this.hash === null) {
      throw new SkeinError(ErrorCode.ARG_INVALID, 'traceHash() needs a SimNetwork created with trace: true');
    }
    return this.hash.copy().digest('hex');
  }

  /**
   * @internal Called by a socket's send once it has validated its arguments. A datagram to a
   * multicast group goes to every socket joined to it on that port, each copy lost, delayed or
   * duplicated on its own, as on separate links.
   */
  enqueue(socket: SimSocket, data: Uint8Array, offset: number, length: number, address: string, port: number): void {
    if (isMulticastAddress(address)) {
      const members = this.members.get(endpointKey(address, port)) ?? [];
      if (members.length === 0) this.stats.undeliverable++;
      for (const member of members) this.enqueueOne(socket, data, offset, length, address, port, member);
      return;
    }
    this.enqueueOne(socket, data, offset, length, address, port, undefined);
  }

  private enqueueOne(socket: SimSocket, data: Uint8Array, offset: number, length: number, address: string, port: number, target: SimSocket | undefined): void {
    const nowNs = this.clock.nanoTime();
    const f = this.faults;
    const prng = this.prng;
    const d: InFlight = {
      seq: this.nextSeq++,
      deliverAtNs: 0,
      data: data.slice(offset, offset + length),
      srcAddress: socket.sourceAddress,
      srcPort: socket.localPort,
      dstAddress: address,
      dstPort: port,
      ...(target === undefined ? {} : { target }),
    };
    this.stats.sent++;
    if (this.partitions.has(`${d.srcAddress}|${address}`)) {
      this.stats.partitioned++;
      this.record(nowNs, d, 'drop');
      return;
    }
    if (f.lossRate > 0 && prng.nextBoolean(f.lossRate)) {
      this.stats.dropped++;
      this.record(nowNs, d, 'drop');
      return;
    }
    d.deliverAtNs = this.pathDeliveryNs(nowNs, d);
    if (f.delayRate > 0 && prng.nextBoolean(f.delayRate)) {
      this.stats.delayed++;
      const delayMs = f.delayMinMs + prng.nextDouble() * (f.delayMaxMs - f.delayMinMs);
      d.deliverAtNs += Math.round(delayMs * 1_000_000);
    } else if (f.reorderRate > 0 && prng.nextBoolean(f.reorderRate)) {
      this.stats.reordered++;
      d.deliverAtNs += 1 + prng.nextInt(this.reorderDelayNsMax);
    }
    this.queue.push(d);
    if (f.duplicateRate > 0 && prng.nextBoolean(f.duplicateRate)) {
      this.stats.duplicated++;
      this.record(nowNs, d, 'dup');
      this.queue.push({ ...d, data: d.data.slice(), seq: this.nextSeq++, deliverAtNs: d.deliverAtNs + 1 + prng.nextInt(this.latencyNs) });
    }
  }

  /** @internal */
  unbind(socket: SimSocket): void {
    const key = endpointKey(socket.localAddress, socket.localPort);
    if (this.sockets.get(key) === socket) this.sockets.delete(key);
    for (const group of socket.groups) {
      const groupKey = endpointKey(group, socket.localPort);
      const left = (this.members.get(groupKey) ?? []).filter((s) => s !== socket);
      if (left.length === 0) this.members.delete(groupKey);
      else this.members.set(groupKey, left);
    }
  }

  /** Base delivery time with jitter, never earlier than the previous datagram on the same path. */
  private pathDeliveryNs(nowNs: number, d: InFlight): number {
    let deliverAtNs = nowNs + this.latencyNs;
    if (this.jitterNs > 0) deliverAtNs += this.prng.nextInt(this.jitterNs + 1);
    const path = `${d.srcAddress}:${d.srcPort}>${d.dstAddress}:${d.dstPort}`;
    const lastNs = this.lastDeliveryNsByPath.get(path);
    if (lastNs !== undefined && lastNs > deliverAtNs) deliverAtNs = lastNs;
    this.lastDeliveryNsByPath.set(path, deliverAtNs);
    return deliverAtNs;
  }

  private record(timeNs: number, d: InFlight, event: 'deliver' | 'drop' | 'dup'): void {
    if (!this.traceEnabled) return;
    const line = `t=${timeNs} ${d.srcAddress}:${d.srcPort}->${d.dstAddress}:${d.dstPort} len=${d.data.length} ${event}`;
    if (this.trace.length < this.traceLinesMax) this.trace.push(line);
    (this.hash as Hash).update(line).update('\n');
  }

  private lookup(address: string, port: number): SimSocket | undefined {
    return this.sockets.get(endpointKey(address, port)) ?? this.sockets.get(endpointKey(wildcardOf(address), port));
  }

  private conflicts(address: string, port: number, reuseAddress = false): boolean {
    if (isMulticastAddress(address)) return !reuseAddress && (this.members.get(endpointKey(address, port))?.length ?? 0) > 0;
    const wildcard = wildcardOf(address);
    for (const socket of this.sockets.values()) {
      if (reuseAddress && socket.reuseAddress) continue;
      if (socket.localPort !== port) continue;
      const other = socket.localAddress;
      if (other === address) return true;
      if (wildcardOf(other) === wildcard && (other === wildcard || address === wildcard)) return true;
    }
    return false;
  }

  private allocateEphemeralPort(address: string): number {
    const span = 65_536 - this.ephemeralPortStart;
    for (let i = 0; i < span; i++) {
      const port = this.nextEphemeralPort;
      this.nextEphemeralPort = port === 65_535 ? this.ephemeralPortStart : port + 1;
      if (!this.conflicts(address, port)) return port;
    }
    return -1;
  }
}

class SimSocket implements DatagramSocket {
  status: SocketStatus = 'binding';
  error: Error | null = null;
  localAddress: string;
  localPort = 0;
  onDatagram: DatagramHandler | null = null;
  /** The address datagrams from this socket come from. */
  sourceAddress: string;
  /** Multicast groups this socket joined. */
  readonly groups: readonly string[];
  readonly reuseAddress: boolean;

  constructor(
    private readonly network: SimNetwork,
    options: DatagramSocketOptions,
  ) {
    this.localAddress = options.bindAddress;
    this.groups = options.multicast?.groups ?? [];
    this.reuseAddress = options.reuseAddress === true;
    const local = options.multicast?.interface ?? (options.family === 6 ? '::1' : '127.0.0.1');
    this.sourceAddress = isWildcard(options.bindAddress) || isMulticastAddress(options.bindAddress) ? local : options.bindAddress;
  }

  bind(port: number): void {
    this.localPort = port;
    this.status = 'bound';
  }

  fail(error: Error): void {
    this.error = error;
    this.status = 'failed';
  }

  send(data: Uint8Array, offset: number, length: number, address: string, port: number): boolean {
    if (this.status !== 'bound') return false;
    if (!(Number.isInteger(offset) && Number.isInteger(length) && offset >= 0 && length >= 0)) return false;
    if (offset + length > data.length || length > UDP_PAYLOAD_LENGTH_MAX) return false;
    if (!(Number.isInteger(port) && port >= 1 && port <= 65_535)) return false;
    this.network.enqueue(this, data, offset, length, address, port);
    return true;
  }

  close(): void {
    if (this.status === 'closed') return;
    if (this.status === 'bound') this.network.unbind(this);
    this.status = 'closed';
  }

  receive(data: Uint8Array, srcAddress: string, srcPort: number): void {
    const handler = this.onDatagram;
    if (handler !== null) handler(data, data.length, srcAddress, srcPort);
  }
}

/** A binary min-heap of datagrams ordered by (deliverAtNs, seq). */
class DeliveryQueue {
  private readonly items: InFlight[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): InFlight | undefined {
    return this.items[0];
  }

  push(item: InFlight): void {
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >>> 1;
      if (!before(item, items[parent] as InFlight)) break;
      items[i] = items[parent] as InFlight;
      i = parent;
    }
    items[i] = item;
  }

  pop(): InFlight | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    let i = 0;
    const n = items.length;
    while (true) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && before(items[right] as InFlight, items[left] as InFlight) ? right : left;
      if (!before(items[child] as InFlight, last)) break;
      items[i] = items[child] as InFlight;
      i = child;
    }
    items[i] = last;
    return top;
  }
}

function before(a: InFlight, b: InFlight): boolean {
  return a.deliverAtNs < b.deliverAtNs || (a.deliverAtNs === b.deliverAtNs && a.seq < b.seq);
}

function isWildcard(address: string): boolean {
  return address === '0.0.0.0' || address === '::';
}

function wildcardOf(address: string): string {
  return address.includes(':') ? '::' : '0.0.0.0';
}

function endpointKey(address: string, port: number): string {
  return `${address}|${port}`;
}

function checkNs(option: string, value: number, min: number): number {
  if (!(Number.isSafeInteger(value) && value >= min)) {
    throw new SkeinError(ErrorCode.CONFIG_INVALID, `sim network ${option}=${String(value)} is invalid; expected a safe integer >= ${min}`);
  }
  return value;
}
