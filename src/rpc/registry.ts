/**
 * The registry contract (docs/rpc.md, "Registries"): where a consumer learns which providers
 * serve a service. Deliveries are versioned, immutable snapshots: a new frozen object per
 * version, never an edit of the previous one, so whoever holds the old snapshot still sees
 * exactly what it was. The connection holder diffs two snapshots by provider identity
 * (address + incarnation).
 */
import { ErrorCode, SkeinError } from '../util/errors.js';

/** One provider as a registry lists it. */
export interface ProviderEntry {
  /** `host:port` (an IPv6 host in brackets: `[::1]:20125`) of the provider's request endpoint. */
  readonly address: string;
  /** Chosen by the provider at start (a UUID, or pid and start time): the same address with another incarnation is another provider. */
  readonly incarnation: string;
  /** Relative share for the weighted balancers; > 0. @default 100 */
  readonly weight: number;
  readonly metadata: Readonly<Record<string, string>>;
}

/** Everything the registry knows of one service at one version. Frozen, with frozen entries. */
export interface ServiceSnapshot {
  readonly service: string;
  /** Only increases, per service. */
  readonly version: number;
  readonly providers: readonly ProviderEntry[];
}

/** What a registry subscription reports about itself, beside the snapshots. */
export type RegistryState = 'CONNECTING' | 'CONNECTED' | 'UNREACHABLE' | 'CLOSED';

export const DEFAULT_WEIGHT = 100;

/** The identity the holder keys providers by. */
export function providerId(entry: Pick<ProviderEntry, 'address' | 'incarnation'>): string {
  return `${entry.address}#${entry.incarnation}`;
}

const ADDRESS = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/;

/** Splits `host:port` (or `[v6]:port`); throws ARG_INVALID naming the address. */
export function parseAddress(address: string): { host: string; port: number } {
  const m = ADDRESS.exec(address);
  const port = m === null ? NaN : Number(m[3]);
  if (m === null || !(port >= 1 && port <= 65535)) {
    throw new SkeinError(ErrorCode.ARG_INVALID, `provider address '${address}' is invalid; expected host:port with a port in 1..65535 (IPv6 as [::1]:port)`);
  }
  return { host: m[1] ?? m[2]!, port };
}

/** A frozen provider entry; checks address, incarnation and weight. */
export function providerEntry(fields: { address: string; incarnation?: string; weight?: number; metadata?: Record<string, string> }): ProviderEntry {
  parseAddress(fields.address);
  const weight = fields.weight ?? DEFAULT_WEIGHT;
  if (!(Number.isFinite(weight) && weight > 0)) throw new SkeinError(ErrorCode.ARG_INVALID, `provider ${fields.address}: weight=${String(weight)} is invalid; expected a finite number > 0`);
  const incarnation = fields.incarnation ?? '';
  if (typeof incarnation !== 'string') throw new SkeinError(ErrorCode.ARG_INVALID, `provider ${fields.address}: incarnation must be a string`);
  return Object.freeze({ address: fields.address, incarnation, weight, metadata: Object.freeze({ ...(fields.metadata ?? {}) }) });
}

/**
 * A frozen snapshot with its own frozen copy of every entry: nothing the caller keeps, and no
 * earlier snapshot, shares a mutable object with it. Two entries with one identity are refused.
 */
export function serviceSnapshot(service: string, version: number, providers: readonly ProviderEntry[]): ServiceSnapshot {
  if (typeof service !== 'string' || service.length === 0) throw new SkeinError(ErrorCode.ARG_INVALID, `service name '${String(service)}' is invalid; expected a non-empty string`);
  if (!Number.isSafeInteger(version) || version < 0) throw new SkeinError(ErrorCode.ARG_INVALID, `snapshot of ${service}: version=${String(version)} is invalid; expected a safe integer >= 0`);
  const seen = new Set<string>();
  const copies: ProviderEntry[] = [];
  for (const p of providers) {
    const entry = providerEntry({ address: p.address, incarnation: p.incarnation, weight: p.weight, metadata: { ...p.metadata } });
    const id = providerId(entry);
    if (seen.has(id)) throw new SkeinError(ErrorCode.ARG_INVALID, `snapshot of ${service} version ${version} lists provider ${id} twice`);
    seen.add(id);
    copies.push(entry);
  }
  return Object.freeze({ service, version, providers: Object.freeze(copies) });
}

export interface RegistrySubscription {
  readonly state: RegistryState;
  /** Ends the subscription; idempotent. */
  close(): void;
}

export interface RegistrySubscriber {
  /** A full snapshot: the first one, and every later one (the registry never sends deltas). */
  onSnapshot(snapshot: ServiceSnapshot): void;
  /** The registry became reachable or unreachable; the last snapshot stays valid meanwhile. */
  onRegistryState?(state: RegistryState, reason: string): void;
}

export interface Registration {
  readonly service: string;
  readonly entry: ProviderEntry;
  /** Removes the registration at once; idempotent. */
  close(): Promise<void>;
}

/** One interface for every registry: static, embedded, etcd. */
export interface Registry {
  /** Registers `entry` for `service`, kept alive by a lease the registry renews until the registration is closed. */
  register(service: string, entry: ProviderEntry): Promise<Registration>;
  /** A full snapshot first (as soon as known), then one per change. */
  subscribe(service: string, subscriber: RegistrySubscriber): RegistrySubscription;
  close(): Promise<void>;
}

/**
 * A fixed list of providers per service: the snapshot never changes (version 1) unless
 * {@link StaticRegistry.set} replaces it (the version goes up). `register` adds to the list.
 */
export class StaticRegistry implements Registry {
  private readonly snapshots = new Map<string, ServiceSnapshot>();
  private readonly subscribers = new Map<string, Set<RegistrySubscriber>>();
  private closed = false;

  constructor(services: Record<string, readonly (string | { address: string; incarnation?: string; weight?: number })[]> = {}) {
    for (const [service, list] of Object.entries(services)) this.set(service, list);
  }

  /** Replaces the list of `service` with a new version and tells every subscriber. */
  set(service: string, list: readonly (string | { address: string; incarnation?: string; weight?: number })[]): ServiceSnapshot {
    this.checkOpen();
    const version = (this.snapshots.get(service)?.version ?? 0) + 1;
    const snapshot = serviceSnapshot(service, version, list.map((p) => providerEntry(typeof p === 'string' ? { address: p } : p)));
    this.snapshots.set(service, snapshot);
    for (const s of [...(this.subscribers.get(service) ?? [])]) s.onSnapshot(snapshot);
    return snapshot;
  }

  snapshot(service: string): ServiceSnapshot | undefined {
    return this.snapshots.get(service);
  }

  register(service: string, entry: ProviderEntry): Promise<Registration> {
    this.checkOpen();
    const id = providerId(entry);
    const current = this.snapshots.get(service)?.providers ?? [];
    this.set(service, [...current.filter((p) => providerId(p) !== id), entry]);
    let done = false;
    return Promise.resolve({
      service,
      entry,
      close: async () => {
        if (done || this.closed) return;
        done = true;
        const now = this.snapshots.get(service)?.providers ?? [];
        this.set(service, now.filter((p) => providerId(p) !== id));
      },
    });
  }

  subscribe(service: string, subscriber: RegistrySubscriber): RegistrySubscription {
    this.checkOpen();
    let set = this.subscribers.get(service);
    if (set === undefined) this.subscribers.set(service, (set = new Set()));
    set.add(subscriber);
    const snapshot = this.snapshots.get(service) ?? serviceSnapshot(service, 0, []);
    subscriber.onRegistryState?.('CONNECTED', 'static list');
    subscriber.onSnapshot(snapshot);
    let state: RegistryState = 'CONNECTED';
    return {
      get state() {
        return state;
      },
      close: () => {
        state = 'CLOSED';
        set.delete(subscriber);
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.subscribers.clear();
  }

  private checkOpen(): void {
    if (this.closed) throw new SkeinError(ErrorCode.CLOSED, 'the static registry is closed');
  }
}
