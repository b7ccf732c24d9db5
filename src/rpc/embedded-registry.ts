/**
 * The embedded registry (docs/rpc.md, "Registries"): a small registry service over Skein RPC
 * itself, needing nothing installed. `RegistryServer` (run by `skein registry`) keeps, per
 * service, the providers registered with a lease; a lease not renewed within its length
 * expires and its provider goes. Every change is pushed to every watcher as a full snapshot with
 * a higher version (versions start from the registry's start time in ms × 1000, so they keep
 * growing across restarts).
 *
 * `EmbeddedRegistry` is the client side, the {@link Registry} a provider registers with and a
 * consumer subscribes through: it renews each lease every third of its length, registers again
 * when the registry has forgotten the lease (after a restart), and re-subscribes when a watch
 * breaks, telling its subscribers UNREACHABLE meanwhile (they keep the last snapshot).
 */
import type { Agent } from '../agent/agent.js';
import type { SkeinClient } from '../client/skein-client.js';
import type { EpochClock } from '../env/clock.js';
import { ErrorCode, SkeinError } from '../util/errors.js';
import type { Implements } from '../util/implements.js';
import { RpcConsumer } from './rpc-consumer.js';
import { RpcProvider } from './rpc-provider.js';
import { RpcError } from './rpc-status.js';
import { defineService, serverStream, unary, type CallContext, type StreamSink } from './service.js';
import {
  StaticRegistry, providerEntry, providerId, serviceSnapshot,
  type ProviderEntry, type Registration, type Registry, type RegistryState, type RegistrySubscriber, type RegistrySubscription, type ServiceSnapshot,
} from './registry.js';

const MS = 1_000_000;

interface WireEntry {
  address: string;
  incarnation: string;
  weight: number;
  metadata: Record<string, string>;
}

interface WireSnapshot {
  service: string;
  version: number;
  providers: WireEntry[];
}

export const RegistryService = defineService('skein.registry', {
  register: unary<{ service: string; entry: WireEntry; leaseMs: number }, { leaseId: string; leaseMs: number }>({ defaultTimeoutMs: 3000 }),
  renew: unary<{ leaseId: string }, { ok: true }>({ idempotent: true, defaultTimeoutMs: 3000 }),
  deregister: unary<{ leaseId: string }, { removed: boolean }>({ idempotent: true, defaultTimeoutMs: 3000 }),
  watch: serverStream<{ service: string }, WireSnapshot>({ maxConcurrent: 1 << 20 }),
});

export const DEFAULT_LEASE_MS = 10_000;
/** The registry's default address (request endpoint; responses from the next port). */
export const DEFAULT_REGISTRY_ADDRESS = '127.0.0.1:7460';

interface Lease {
  readonly id: string;
  readonly service: string;
  readonly entry: ProviderEntry;
  readonly leaseMs: number;
  expiresNs: number;
}

interface Watcher {
  readonly sink: StreamSink<WireSnapshot>;
  pending: WireSnapshot | null;
  sending: boolean;
  closed: boolean;
  /** Ends the watch call (its handler returns). */
  end: () => void;
}

export interface RegistryServerOptions {
  /** Request endpoint `host:port`; responses leave from the next port. @default 127.0.0.1:7460 */
  readonly address?: string;
  readonly epochClock: EpochClock;
  readonly onEvent?: (event: { readonly kind: 'registered' | 'renewed' | 'expired' | 'deregistered'; readonly service: string; readonly id: string; readonly leaseId: string }) => void;
  readonly onError?: (error: unknown) => void;
}

export class RegistryServer {
  readonly roleName = 'rpc-registry';
  private readonly client: SkeinClient;
  private provider: RpcProvider<typeof RegistryService.methods> | null = null;
  private readonly leases = new Map<string, Lease>();
  private readonly versions = new Map<string, number>();
  private readonly watchers = new Map<string, Set<Watcher>>();
  private readonly baseVersion: number;
  private nextLease = 1;
  private closed = false;
  private readonly options: RegistryServerOptions;

  private constructor(client: SkeinClient, options: RegistryServerOptions) {
    this.client = client;
    this.options = options;
    this.baseVersion = Math.floor(options.epochClock.epochMs()) * 1000;
  }

  static async start(client: SkeinClient, options: RegistryServerOptions): Promise<RegistryServer> {
    const server = new RegistryServer(client, options);
    const self = server;
    server.provider = await RpcProvider.start(client, {
      service: RegistryService,
      address: options.address ?? DEFAULT_REGISTRY_ADDRESS,
      incarnation: `registry-${server.baseVersion}`,
      ...(options.onError === undefined ? {} : { onError: options.onError }),
      implementation: {
        register: (req) => self.register(req.service, req.entry, req.leaseMs),
        renew: (req) => self.renew(req.leaseId),
        deregister: (req) => ({ removed: self.remove(req.leaseId, 'deregistered') }),
        watch: (req, sink, ctx) => self.watch(req.service, sink, ctx),
      },
    });
    client.addAgent(server);
    return server;
  }

  get address(): string {
    return this.provider?.address ?? '';
  }

  /** The current snapshot of a service. */
  snapshot(service: string): ServiceSnapshot {
    return serviceSnapshot(service, this.versions.get(service) ?? this.baseVersion, this.entriesOf(service));
  }

  get leaseCount(): number {
    return this.leases.size;
  }

  /** @internal Expires leases. */
  doWork(nowNs: number): number {
    let work = 0;
    for (const lease of [...this.leases.values()]) {
      if (nowNs >= lease.expiresNs) {
        this.remove(lease.id, 'expired');
        work++;
      }
    }
    return work;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const set of [...this.watchers.values()]) for (const w of [...set]) w.end();
    this.watchers.clear();
    this.client.removeAgent(this);
    await this.provider?.close();
  }

  /** @internal */
  onClose(): void {
    this.closed = true;
  }

  private register(service: string, wire: WireEntry, leaseMs: number): { leaseId: string; leaseMs: number } {
    if (!(Number.isFinite(leaseMs) && leaseMs >= 100 && leaseMs <= 3_600_000)) throw new RpcError('INVALID_ARGUMENT', `leaseMs=${String(leaseMs)} is invalid; expected 100..3600000`);
    let entry: ProviderEntry;
    try {
      entry = providerEntry(wire);
    } catch (error) {
      throw new RpcError('INVALID_ARGUMENT', (error as Error).message);
    }
    const id = providerId(entry);
    // The same identity registering again replaces its old lease.
    for (const lease of this.leases.values()) if (lease.service === service && providerId(lease.entry) === id) this.leases.delete(lease.id);
    const leaseId = `${this.baseVersion.toString(36)}-${(this.nextLease++).toString(36)}`;
    this.leases.set(leaseId, { id: leaseId, service, entry, leaseMs, expiresNs: this.client.nanoTime() + leaseMs * MS });
    this.options.onEvent?.({ kind: 'registered', service, id, leaseId });
    this.changed(service);
    return { leaseId, leaseMs };
  }

  private renew(leaseId: string): { ok: true } {
    const lease = this.leases.get(leaseId);
    if (lease === undefined) throw new RpcError('NOT_FOUND', `lease ${leaseId} is unknown (expired, or the registry restarted): register again`);
    lease.expiresNs = this.client.nanoTime() + lease.leaseMs * MS;
    return { ok: true };
  }

  private remove(leaseId: string, kind: 'expired' | 'deregistered'): boolean {
    const lease = this.leases.get(leaseId);
    if (lease === undefined) return false;
    this.leases.delete(leaseId);
    this.options.onEvent?.({ kind, service: lease.service, id: providerId(lease.entry), leaseId });
    this.changed(lease.service);
    return true;
  }

  private entriesOf(service: string): ProviderEntry[] {
    const out: ProviderEntry[] = [];
    for (const lease of this.leases.values()) if (lease.service === service) out.push(lease.entry);
    return out;
  }

  private wire(service: string): WireSnapshot {
    return {
      service, version: this.versions.get(service) ?? this.baseVersion,
      providers: this.entriesOf(service).map((e) => ({ address: e.address, incarnation: e.incarnation, weight: e.weight, metadata: { ...e.metadata } })),
    };
  }

  private changed(service: string): void {
    this.versions.set(service, Math.max((this.versions.get(service) ?? this.baseVersion) + 1, Math.floor(this.options.epochClock.epochMs()) * 1000));
    const snapshot = this.wire(service);
    for (const w of this.watchers.get(service) ?? []) this.push(w, snapshot);
  }

  private watch(service: string, sink: StreamSink<WireSnapshot>, ctx: CallContext): Promise<void> {
    const watcher: Watcher = { sink, pending: null, sending: false, closed: false, end: () => {} };
    let set = this.watchers.get(service);
    if (set === undefined) this.watchers.set(service, (set = new Set()));
    set.add(watcher);
    this.push(watcher, this.wire(service));
    return new Promise<void>((resolve) => {
      const end = (): void => {
        watcher.closed = true;
        set.delete(watcher);
        resolve();
      };
      watcher.end = end;
      if (ctx.signal.aborted) end();
      else ctx.signal.addEventListener('abort', end, { once: true });
    });
  }

  /** Sends the latest snapshot; a watcher that lags gets only the newest one. */
  private push(w: Watcher, snapshot: WireSnapshot): void {
    w.pending = snapshot;
    if (w.sending) return;
    w.sending = true;
    const pump = (): void => {
      const next = w.pending;
      if (next === null || w.closed) {
        w.sending = false;
        return;
      }
      w.pending = null;
      w.sink.send(next).then(pump, () => {
        w.closed = true;
        w.sending = false;
      });
    };
    pump();
  }
}

export interface EmbeddedRegistryOptions {
  /** The registry's address. @default 127.0.0.1:7460 */
  readonly address?: string;
  /** @default 10000 */
  readonly leaseMs?: number;
  /** First wait before a broken watch is opened again (doubles up to 5 s). @default 200 */
  readonly retryMs?: number;
  readonly seed?: number;
  readonly onError?: (error: unknown) => void;
}

interface Held {
  readonly service: string;
  readonly entry: ProviderEntry;
  leaseId: string | null;
  nextRenewNs: number;
  busy: boolean;
  closed: boolean;
}

interface Watch {
  readonly service: string;
  readonly subscriber: RegistrySubscriber;
  state: RegistryState;
  lastVersion: number;
  retryNs: number;
  delayMs: number;
  abort: AbortController | null;
  closed: boolean;
}

export class EmbeddedRegistry implements Registry {
  readonly roleName = 'rpc-registry-client';
  private readonly client: SkeinClient;
  private readonly consumer: RpcConsumer<typeof RegistryService.methods>;
  private readonly leaseMs: number;
  private readonly retryMs: number;
  private readonly held = new Set<Held>();
  private readonly watches = new Set<Watch>();
  private readonly onError: (error: unknown) => void;
  private closed = false;

  constructor(client: SkeinClient, options: EmbeddedRegistryOptions = {}) {
    this.client = client;
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.retryMs = options.retryMs ?? 200;
    if (!(this.leaseMs >= 100 && this.leaseMs <= 3_600_000)) throw new SkeinError(ErrorCode.CONFIG_INVALID, `leaseMs=${this.leaseMs} is invalid; expected 100..3600000`);
    this.onError = options.onError ?? ((error) => client.reportError(error));
    const address = options.address ?? DEFAULT_REGISTRY_ADDRESS;
    this.consumer = RpcConsumer.create(client, RegistryService, {
      registry: new StaticRegistry({ [RegistryService.name]: [address] }),
      balancer: 'round-robin',
      holder: { backoffInitialMs: 100, backoffMaxMs: 2000, maxConnectAttempts: 1_000_000 },
      link: { heartbeatIntervalMs: 500, heartbeatTimeoutMs: 2000 },
      ...(options.seed === undefined ? {} : { seed: options.seed }),
      onError: this.onError,
    });
    client.addAgent(this);
  }

  async register(service: string, entry: ProviderEntry): Promise<Registration> {
    this.checkOpen();
    const held: Held = { service, entry, leaseId: null, nextRenewNs: 0, busy: true, closed: false };
    const answer = await this.consumer.stub.register({ service, entry: toWire(entry), leaseMs: this.leaseMs }, { timeoutMs: 5000 });
    held.leaseId = answer.leaseId;
    held.nextRenewNs = this.client.nanoTime() + (this.leaseMs / 3) * MS;
    held.busy = false;
    this.held.add(held);
    return {
      service,
      entry,
      close: async () => {
        if (held.closed) return;
        held.closed = true;
        this.held.delete(held);
        if (held.leaseId !== null && !this.closed) {
          await this.consumer.stub.deregister({ leaseId: held.leaseId }, { timeoutMs: 2000 }).catch((error: unknown) => this.onError(error));
        }
      },
    };
  }

  subscribe(service: string, subscriber: RegistrySubscriber): RegistrySubscription {
    this.checkOpen();
    const watch: Watch = { service, subscriber, state: 'CONNECTING', lastVersion: -1, retryNs: 0, delayMs: this.retryMs, abort: null, closed: false };
    this.watches.add(watch);
    this.openWatch(watch);
    return {
      get state() {
        return watch.state;
      },
      close: () => {
        if (watch.closed) return;
        watch.closed = true;
        watch.state = 'CLOSED';
        watch.abort?.abort(new Error('subscription closed'));
        this.watches.delete(watch);
      },
    };
  }

  /** @internal Renews leases, reopens broken watches. */
  doWork(nowNs: number): number {
    let work = 0;
    for (const held of this.held) {
      if (held.busy || held.closed || nowNs < held.nextRenewNs) continue;
      held.busy = true;
      work++;
      this.renew(held);
    }
    for (const watch of this.watches) {
      if (watch.abort === null && !watch.closed && nowNs >= watch.retryNs) {
        this.openWatch(watch);
        work++;
      }
    }
    return work;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    const regs = [...this.held];
    for (const held of regs) {
      held.closed = true;
      if (held.leaseId !== null) await this.consumer.stub.deregister({ leaseId: held.leaseId }, { timeoutMs: 1000 }).catch(() => {});
    }
    this.held.clear();
    this.closed = true;
    for (const watch of [...this.watches]) {
      watch.closed = true;
      watch.abort?.abort(new Error('registry closed'));
    }
    this.watches.clear();
    this.consumer.close();
    this.client.removeAgent(this);
  }

  /** @internal */
  onClose(): void {
    this.closed = true;
    this.consumer.close();
  }

  private renew(held: Held): void {
    const leaseId = held.leaseId!;
    this.consumer.stub.renew({ leaseId }, { timeoutMs: Math.max(500, this.leaseMs / 3) }).then(
      () => {
        held.nextRenewNs = this.client.nanoTime() + (this.leaseMs / 3) * MS;
        held.busy = false;
      },
      (error: unknown) => {
        if (held.closed) return;
        if (error instanceof RpcError && error.status === 'NOT_FOUND') {
          // Forgotten (expired, or a restarted registry): register again.
          this.consumer.stub.register({ service: held.service, entry: toWire(held.entry), leaseMs: this.leaseMs }, { timeoutMs: 5000 }).then(
            (answer) => {
              held.leaseId = answer.leaseId;
              held.nextRenewNs = this.client.nanoTime() + (this.leaseMs / 3) * MS;
              held.busy = false;
            },
            (e: unknown) => {
              this.onError(e);
              held.nextRenewNs = this.client.nanoTime() + 500 * MS;
              held.busy = false;
            },
          );
          return;
        }
        held.nextRenewNs = this.client.nanoTime() + 500 * MS;
        held.busy = false;
      },
    );
  }

  private openWatch(watch: Watch): void {
    const abort = new AbortController();
    watch.abort = abort;
    const consume = async (): Promise<void> => {
      for await (const wire of this.consumer.stub.watch({ service: watch.service }, { timeoutMs: 2 ** 31, signal: abort.signal })) {
        if (watch.closed) return;
        if (watch.state !== 'CONNECTED') this.setState(watch, 'CONNECTED', 'watching the registry');
        watch.delayMs = this.retryMs;
        if (wire.version <= watch.lastVersion) continue;
        watch.lastVersion = wire.version;
        const snapshot = serviceSnapshot(watch.service, wire.version, wire.providers.map((p) => providerEntry(p)));
        try {
          watch.subscriber.onSnapshot(snapshot);
        } catch (error) {
          this.onError(error);
        }
      }
    };
    consume().then(
      () => this.watchBroke(watch, abort, 'the registry ended the watch'),
      (error: unknown) => this.watchBroke(watch, abort, (error as Error)?.message ?? String(error)),
    );
  }

  private watchBroke(watch: Watch, abort: AbortController, reason: string): void {
    if (watch.abort !== abort) return;
    watch.abort = null;
    if (watch.closed || this.closed) return;
    this.setState(watch, 'UNREACHABLE', reason);
    watch.retryNs = this.client.nanoTime() + watch.delayMs * MS;
    watch.delayMs = Math.min(5000, watch.delayMs * 2);
  }

  private setState(watch: Watch, state: RegistryState, reason: string): void {
    watch.state = state;
    try {
      watch.subscriber.onRegistryState?.(state, reason);
    } catch (error) {
      this.onError(error);
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new SkeinError(ErrorCode.CLOSED, 'the embedded registry client is closed');
  }
}

function toWire(entry: ProviderEntry): WireEntry {
  return { address: entry.address, incarnation: entry.incarnation, weight: entry.weight, metadata: { ...entry.metadata } };
}

/** @internal Both ends are agents. */
export type RegistryRoles = [Implements<Agent, RegistryServer>, Implements<Agent, EmbeddedRegistry>];
