/**
 * etcd v3 as the RPC registry (docs/rpc.md, "Registries"), through the `etcd3` client. A
 * provider is the key `<prefix>/<service>/<address>#<incarnation>` with its entry as JSON,
 * attached to a lease that the client keeps alive; a provider whose process dies without a word
 * goes when its lease's TTL runs out. A subscription lists the service's prefix and delivers a
 * full snapshot whose version is etcd's revision, then watches the prefix and delivers a fresh
 * full snapshot on every change. When etcd cannot be reached the subscriber is told UNREACHABLE
 * (and keeps its last snapshot); when the watch reconnects, the list is read again.
 */
import { Etcd3, type IOptions, type Lease, type Watcher } from 'etcd3';
import { ConstantBackoff, noop } from 'cockatiel';
import { ErrorCode, SkeinError } from '../util/errors.js';
import { systemEpochClock, type EpochClock } from '../env/clock.js';
import { nodeTimers, type Timers } from '../env/timers.js';
import { providerEntry, providerId, serviceSnapshot, type ProviderEntry, type Registration, type Registry, type RegistryState, type RegistrySubscriber, type RegistrySubscription } from './registry.js';

type WatchBackoff = NonNullable<NonNullable<IOptions['faultHandling']>['watchBackoff']>;

export interface EtcdRegistryOptions {
  /** etcd client URLs. @default ['http://127.0.0.1:2379'] */
  readonly hosts?: readonly string[];
  /** Key prefix. @default '/skein/services' */
  readonly prefix?: string;
  /** Lease TTL of a registration, whole seconds (etcd's unit); at least 2. @default 10 */
  readonly leaseTtlSeconds?: number;
  /** Deadline of each etcd request. @default 3000 */
  readonly requestTimeoutMs?: number;
  readonly onError?: (error: unknown) => void;
  /** For request deadlines (etcd's client takes wall-clock dates). */
  readonly epochClock?: EpochClock;
  readonly timers?: Timers;
}

export class EtcdRegistry implements Registry {
  private readonly client: Etcd3;
  private readonly prefix: string;
  private readonly ttl: number;
  private readonly onError: (error: unknown) => void;
  private readonly leases = new Set<Lease>();
  private readonly watchers = new Set<{ close(): void }>();
  private readonly timers: Timers;
  private closed = false;

  constructor(options: EtcdRegistryOptions = {}) {
    this.prefix = (options.prefix ?? '/skein/services').replace(/\/+$/, '');
    this.ttl = options.leaseTtlSeconds ?? 10;
    if (!(Number.isInteger(this.ttl) && this.ttl >= 2 && this.ttl <= 86_400)) throw new SkeinError(ErrorCode.CONFIG_INVALID, `leaseTtlSeconds=${String(options.leaseTtlSeconds)} is invalid; expected an integer in 2..86400`);
    const hosts = [...(options.hosts ?? ['http://127.0.0.1:2379'])];
    const timeout = options.requestTimeoutMs ?? 3000;
    const clock = options.epochClock ?? systemEpochClock;
    this.timers = options.timers ?? nodeTimers;
    // No circuit breaker or growing watch backoff: a registry that comes back is seen within about a second.
    const etcdOptions: IOptions = {
      hosts, dialTimeout: timeout,
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: new Date(clock.epochMs() + timeout) }),
      // etcd3 calls next() on the watch backoff first, so a backoff factory is what it takes (its type says otherwise).
      faultHandling: { host: () => noop, global: noop, watchBackoff: new ConstantBackoff(500) as unknown as WatchBackoff },
    };
    this.client = new Etcd3(etcdOptions);
    this.onError = options.onError ?? (() => {});
  }

  private keyOf(service: string, entry: ProviderEntry): string {
    return `${this.prefix}/${service}/${providerId(entry)}`;
  }

  async register(service: string, entry: ProviderEntry): Promise<Registration> {
    this.checkOpen();
    const key = this.keyOf(service, entry);
    const value = JSON.stringify({ address: entry.address, incarnation: entry.incarnation, weight: entry.weight, metadata: entry.metadata });
    let lease: Lease | null = null;
    let closed = false;
    const grant = async (): Promise<void> => {
      const next = this.client.lease(this.ttl, { autoKeepAlive: true });
      lease = next;
      this.leases.add(next);
      // A lease lost (etcd unreachable past the TTL, or revoked elsewhere): register again.
      next.on('lost', (error) => {
        this.leases.delete(next);
        if (closed || this.closed) return;
        this.onError(new SkeinError(ErrorCode.RPC_UNAVAILABLE, `etcd lease of ${key} lost (${error.message}); registering again`));
        grant().catch((e: unknown) => this.onError(e));
      });
      await next.put(key).value(value);
    };
    await grant();
    return {
      service,
      entry,
      close: async () => {
        if (closed) return;
        closed = true;
        const current = lease as Lease | null;
        if (current === null) return;
        this.leases.delete(current);
        try {
          await current.revoke();
        } catch (error) {
          this.onError(error);
        }
      },
    };
  }

  subscribe(service: string, subscriber: RegistrySubscriber): RegistrySubscription {
    this.checkOpen();
    const prefix = `${this.prefix}/${service}/`;
    let state: RegistryState = 'CONNECTING';
    let closed = false;
    let watcher: Watcher | null = null;
    let lastVersion = -1;
    let listing: Promise<void> | null = null;
    let again = false;
    /** While the watch is not connected the prefix is listed again every second, so nothing is missed for long. */
    let watchConnected = false;
    let polling = false;
    const poll = (): void => {
      if (closed || watchConnected) {
        polling = false;
        return;
      }
      list();
      this.timers.scheduleTimeout(poll, 1000);
    };
    const startPolling = (): void => {
      if (polling || closed) return;
      polling = true;
      this.timers.scheduleTimeout(poll, 1000);
    };
    const setState = (next: RegistryState, reason: string): void => {
      if (state === next || closed) return;
      state = next;
      try {
        subscriber.onRegistryState?.(next, reason);
      } catch (error) {
        this.onError(error);
      }
    };
    const list = (): void => {
      // One listing at a time; a change during it asks for one more.
      if (listing !== null) {
        again = true;
        return;
      }
      listing = (async () => {
        do {
          again = false;
          const response = await this.client.getAll().prefix(prefix).exec();
          const version = Number(response.header.revision);
          if (closed) continue;
          setState('CONNECTED', `listed ${prefix} at revision ${version}`);
          if (version <= lastVersion) continue;
          lastVersion = version;
          const entries: ProviderEntry[] = [];
          for (const kv of response.kvs) {
            try {
              const parsed = JSON.parse(kv.value.toString()) as { address: string; incarnation: string; weight?: number; metadata?: Record<string, string> };
              entries.push(providerEntry(parsed));
            } catch (error) {
              this.onError(new SkeinError(ErrorCode.PROTOCOL_INVALID, `etcd key ${kv.key.toString()} does not hold a provider entry: ${(error as Error).message}`));
            }
          }
          try {
            subscriber.onSnapshot(serviceSnapshot(service, version, entries));
          } catch (error) {
            this.onError(error);
          }
        } while (again && !closed);
      })()
        .catch((error: unknown) => setState('UNREACHABLE', `listing ${prefix} failed: ${(error as Error)?.message ?? String(error)}`))
        .finally(() => {
          listing = null;
        });
    };
    const start = (): void => {
      this.client
        .watch()
        .prefix(prefix)
        .create()
        .then(
          (w) => {
            if (closed) {
              void w.cancel();
              return;
            }
            watcher = w;
            w.on('put', () => list());
            w.on('delete', () => list());
            w.on('connected', () => {
              watchConnected = true;
              list();
            });
            w.on('disconnected', (error) => {
              watchConnected = false;
              setState('UNREACHABLE', `watch of ${prefix} disconnected: ${error.message}`);
              startPolling();
            });
            w.on('error', (error) => {
              watchConnected = false;
              setState('UNREACHABLE', `watch of ${prefix} failed: ${error.message}`);
              startPolling();
            });
            watchConnected = true;
            list();
          },
          (error: unknown) => {
            setState('UNREACHABLE', `cannot watch ${prefix}: ${(error as Error)?.message ?? String(error)}`);
            if (!closed) this.timers.scheduleTimeout(start, 500);
          },
        );
    };
    start();
    const handle = {
      get state() {
        return state;
      },
      close: () => {
        if (closed) return;
        closed = true;
        state = 'CLOSED';
        void watcher?.cancel();
        this.watchers.delete(handle);
      },
    };
    this.watchers.add(handle);
    return handle;
  }

  /** Revokes every lease this registry holds (its providers go at once), ends every watch, closes the client. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of [...this.watchers]) w.close();
    await Promise.all([...this.leases].map((lease) => lease.revoke().catch(() => {})));
    this.leases.clear();
    this.client.close();
  }

  /** Closes the client without revoking leases: the registrations stay until their TTL runs out (what a crash leaves). */
  abandon(): void {
    this.closed = true;
    for (const w of [...this.watchers]) w.close();
    for (const lease of this.leases) lease.release();
    this.leases.clear();
    this.client.close();
  }

  private checkOpen(): void {
    if (this.closed) throw new SkeinError(ErrorCode.CLOSED, 'the etcd registry is closed');
  }
}
