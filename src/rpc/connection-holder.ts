/**
 * The consumer's picture of every provider of one service (scenario A004, docs/rpc.md). One
 * {@link ProviderConnection} state machine per provider identity; everything else is derived
 * from their states on each transition, never kept by hand: the list a balancer picks from
 * (READY, or DEGRADED when none is READY), the count per state, the aggregate state. Registry
 * snapshots are applied by diffing identities against the previous snapshot, which is neither
 * edited nor kept beyond the diff. Cleanup (closing links, forgetting providers) never depends
 * on a log level or a listener: events go out after the state has changed.
 *
 * The holder is an agent: `doWork` fires the providers' timers (connect deadline, backoff,
 * ejection, drain, quarantine probe).
 */
import type { Agent } from '../agent/agent.js';
import type { Prng } from '../env/prng.js';
import { ErrorCode, SkeinError } from '../util/errors.js';
import type { Implements } from '../util/implements.js';
import { resolveHolderOptions, type HolderOptions, type HolderSettings } from './holder-options.js';
import { PROVIDER_STATES, ProviderConnection, type LinkFactory, type ProviderHost, type ProviderState, type ProviderTransition } from './provider-connection.js';
import { providerId, type RegistryState, type ServiceSnapshot } from './registry.js';

/** READY if a provider is READY; else CONNECTING if one connects; else NO_PROVIDERS with an empty snapshot; else TRANSIENT_FAILURE. */
export type HolderState = 'READY' | 'CONNECTING' | 'NO_PROVIDERS' | 'TRANSIENT_FAILURE' | 'CLOSED';

export interface ProviderView {
  readonly id: string;
  readonly address: string;
  readonly incarnation: string;
  readonly weight: number;
  readonly state: ProviderState;
  readonly reason: string;
  readonly active: number;
  readonly consecutiveFailures: number;
  readonly listed: boolean;
}

export interface HolderDeps {
  readonly service: string;
  readonly links: LinkFactory;
  readonly prng: Prng;
  readonly nanoTime: () => number;
  /** Every provider transition, after it happened. A throwing listener is reported, never in the way. */
  readonly onTransition?: (transition: ProviderTransition) => void;
  readonly onError?: (error: unknown) => void;
}

export class ConnectionHolder implements ProviderHost {
  readonly roleName: string;
  readonly service: string;
  readonly settings: HolderSettings;
  readonly prng: Prng;
  readonly links: LinkFactory;
  private readonly clock: () => number;
  private readonly listener: ((transition: ProviderTransition) => void) | undefined;
  private readonly onError: (error: unknown) => void;
  private readonly providers = new Map<string, ProviderConnection>();
  private readonly counts = new Map<ProviderState, number>(PROVIDER_STATES.map((s) => [s, 0]));
  /** READY providers, rebuilt from the states after every transition that touches READY. */
  private readyList: ProviderConnection[] = [];
  private degradedList: ProviderConnection[] = [];
  private pickDirty = false;
  private snapshotVersion = -1;
  private snapshotAtNs = -1;
  private snapshotSize = 0;
  private registry: RegistryState = 'CONNECTING';
  private registryReason = 'not subscribed yet';
  private closed = false;
  /** Snapshots ignored because their version was not newer. */
  staleSnapshots = 0;
  /** Transitions so far, per target state (counters for `skein stat`). */
  readonly transitionsTo = new Map<ProviderState, number>(PROVIDER_STATES.map((s) => [s, 0]));

  constructor(deps: HolderDeps, options: HolderOptions = {}) {
    this.settings = resolveHolderOptions(options);
    this.service = deps.service;
    this.roleName = `rpc-holder ${deps.service}`;
    this.prng = deps.prng;
    this.links = deps.links;
    this.clock = deps.nanoTime;
    this.listener = deps.onTransition;
    this.onError = deps.onError ?? (() => {});
  }

  nanoTime(): number {
    return this.clock();
  }

  // ---------------------------------------------------------------------------------------------
  // Registry

  /**
   * Applies a snapshot: providers new to it are created and connect, providers gone from it are
   * drained (calls in flight) or closed, QUARANTINED ones listed by a newer version try again.
   * A snapshot whose version is not newer than the last is ignored (counted). An empty snapshot
   * is applied like any other.
   */
  applySnapshot(snapshot: ServiceSnapshot): void {
    this.checkOpen();
    if (snapshot.service !== this.service) throw new SkeinError(ErrorCode.ARG_INVALID, `snapshot of service '${snapshot.service}' given to the holder of '${this.service}'`);
    if (snapshot.version <= this.snapshotVersion) {
      this.staleSnapshots++;
      return;
    }
    this.snapshotVersion = snapshot.version;
    this.snapshotAtNs = this.clock();
    this.snapshotSize = snapshot.providers.length;
    const listed = new Set<string>();
    for (const entry of snapshot.providers) {
      const id = providerId(entry);
      listed.add(id);
      const existing = this.providers.get(id);
      if (existing === undefined || existing.state === 'CLOSED') {
        // A CLOSED one not yet forgotten leaves the map here, so it leaves the count too.
        if (existing !== undefined) this.counts.set('CLOSED', this.counts.get('CLOSED')! - 1);
        const provider = new ProviderConnection(entry, this);
        this.providers.set(id, provider);
        this.counts.set('IDLE', this.counts.get('IDLE')! + 1);
        provider.connect(`listed by ${this.service} snapshot version ${snapshot.version}`);
      } else {
        existing.updateEntry(entry);
        existing.relist(true);
      }
    }
    for (const provider of [...this.providers.values()]) {
      if (!listed.has(provider.id) && provider.listed) provider.unlist();
    }
    this.forgetClosed();
  }

  /** The registry's own state; the last snapshot stays in force whatever it is. */
  setRegistryState(state: RegistryState, reason: string): void {
    this.registry = state;
    this.registryReason = reason;
  }

  get registryState(): RegistryState {
    return this.registry;
  }

  get registryStateReason(): string {
    return this.registryReason;
  }

  /** Age of the snapshot in force, or -1 before the first. */
  snapshotAgeMs(nowNs = this.clock()): number {
    return this.snapshotAtNs < 0 ? -1 : (nowNs - this.snapshotAtNs) / 1e6;
  }

  get version(): number {
    return this.snapshotVersion;
  }

  // ---------------------------------------------------------------------------------------------
  // Picking and calls

  /** What a balancer may pick from: READY providers, or DEGRADED ones when none is READY (panic). Do not keep it. */
  pickable(): readonly ProviderConnection[] {
    if (this.pickDirty) this.rebuildPickLists();
    return this.readyList.length > 0 ? this.readyList : this.degradedList;
  }

  get readyCount(): number {
    return this.counts.get('READY')!;
  }

  callStarted(provider: ProviderConnection): void {
    provider.callStarted();
  }

  callEnded(provider: ProviderConnection, ok: boolean): void {
    provider.callEnded(ok);
    this.forgetClosed();
  }

  mayConnect(): boolean {
    return this.counts.get('CONNECTING')! < this.settings.maxConnecting;
  }

  /** The ejection cap: never more than maxEjectionPercent of the live providers DEGRADED, but at least one may be. */
  mayEject(_provider: ProviderConnection): boolean {
    const live = this.counts.get('READY')! + this.counts.get('DEGRADED')!;
    const allowed = Math.max(1, Math.floor((live * this.settings.maxEjectionPercent) / 100));
    return this.settings.maxEjectionPercent > 0 && this.counts.get('DEGRADED')! < allowed && this.counts.get('READY')! > 1;
  }

  // ---------------------------------------------------------------------------------------------
  // State

  get state(): HolderState {
    if (this.closed) return 'CLOSED';
    if (this.counts.get('READY')! > 0) return 'READY';
    if (this.counts.get('CONNECTING')! > 0) return 'CONNECTING';
    if (this.snapshotSize === 0) return 'NO_PROVIDERS';
    return 'TRANSIENT_FAILURE';
  }

  /** How many providers are in each state now. */
  countIn(state: ProviderState): number {
    return this.counts.get(state)!;
  }

  /** Says why nothing can be picked: the per-state counts and the registry's state. */
  describe(): string {
    const parts = PROVIDER_STATES.filter((s) => s !== 'CLOSED' && this.counts.get(s)! > 0).map((s) => `${s}=${this.counts.get(s)}`);
    let waiting = 0;
    for (const provider of this.providers.values()) if (provider.waitingToConnect) waiting++;
    if (waiting > 0) parts.push(`(${waiting} waiting for a connect slot, maxConnecting=${this.settings.maxConnecting})`);
    const snapshot = this.snapshotVersion < 0 ? 'no snapshot yet' : `snapshot version ${this.snapshotVersion} lists ${this.snapshotSize}`;
    return `${this.service}: ${snapshot}${parts.length > 0 ? `; providers ${parts.join(' ')}` : ''}; registry ${this.registry}`;
  }

  providerViews(): ProviderView[] {
    return [...this.providers.values()].map((p) => ({
      id: p.id, address: p.address, incarnation: p.entry.incarnation, weight: p.weight, state: p.state, reason: p.reason, active: p.active,
      consecutiveFailures: p.consecutiveFailures, listed: p.listed,
    }));
  }

  /** @internal For tests and invariant checks: the provider objects themselves. */
  get providerObjects(): readonly ProviderConnection[] {
    return [...this.providers.values()];
  }

  // ---------------------------------------------------------------------------------------------
  // Agent

  /** @internal */
  doWork(nowNs: number): number {
    if (this.closed) return 0;
    let work = 0;
    for (const provider of this.providers.values()) {
      const deadline = provider.timerDeadlineNs;
      if (deadline >= 0 && nowNs >= deadline) work += provider.doWork(nowNs);
    }
    if (work > 0) this.forgetClosed();
    if (this.pickDirty) this.rebuildPickLists();
    return work;
  }

  /** Closes every provider and its link; unconditional and idempotent. */
  close(): void {
    if (this.closed) return;
    for (const provider of this.providers.values()) provider.close('holder closed');
    this.forgetClosed();
    this.closed = true;
    this.readyList = [];
    this.degradedList = [];
  }

  /** @internal */
  onClose(): void {
    this.close();
  }

  // ---------------------------------------------------------------------------------------------
  // ProviderHost

  onTransition(_provider: ProviderConnection, t: ProviderTransition): void {
    this.counts.set(t.from, this.counts.get(t.from)! - 1);
    this.counts.set(t.to, this.counts.get(t.to)! + 1);
    this.transitionsTo.set(t.to, this.transitionsTo.get(t.to)! + 1);
    if (t.from === 'READY' || t.to === 'READY' || t.from === 'DEGRADED' || t.to === 'DEGRADED') this.pickDirty = true;
    if (this.listener !== undefined) {
      try {
        this.listener(t);
      } catch (error) {
        this.onError(error);
      }
    }
  }

  private rebuildPickLists(): void {
    this.pickDirty = false;
    const ready: ProviderConnection[] = [];
    const degraded: ProviderConnection[] = [];
    for (const p of this.providers.values()) {
      if (p.state === 'READY') ready.push(p);
      else if (p.state === 'DEGRADED') degraded.push(p);
    }
    this.readyList = ready;
    this.degradedList = degraded;
  }

  /** CLOSED providers are forgotten: nothing of them is kept. */
  private forgetClosed(): void {
    // Runs at the end of every call: look through the providers only when one is CLOSED.
    if (this.counts.get('CLOSED') === 0) return;
    for (const [id, p] of this.providers) {
      if (p.state !== 'CLOSED') continue;
      this.providers.delete(id);
      this.counts.set('CLOSED', this.counts.get('CLOSED')! - 1);
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new SkeinError(ErrorCode.CLOSED, `the connection holder of ${this.service} is closed`);
  }
}

/** @internal The holder is an agent. */
export type ConnectionHolderRoles = Implements<Agent, ConnectionHolder>;
