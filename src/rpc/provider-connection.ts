/**
 * One provider as the consumer sees it: an explicit state machine (docs/rpc.md, "The provider
 * state machine"; docs/reference/rpc-design.md §4):
 *
 *   IDLE --(listed)--> CONNECTING --(handshake within connectTimeoutMs)--> READY
 *   CONNECTING --(timeout, refused, unresolved, lost)--> BACKOFF --(timer)--> CONNECTING
 *   BACKOFF --(maxConnectAttempts failed and dead minDeadTimeMs, or unresolved maxUnresolved times)--> QUARANTINED
 *   READY --(link lost)--> BACKOFF (first retry at once)
 *   READY --(ejectConsecutiveFailures calls failed)--> DEGRADED --(ejection over)--> READY
 *   READY, DEGRADED --(provider drains, or unlisted with calls in flight)--> DRAINING
 *   DRAINING --(calls done or drainTimeoutMs; still listed)--> BACKOFF; (unlisted)--> CLOSED
 *   QUARANTINED --(newer snapshot lists it, or quarantineProbeMs)--> CONNECTING
 *   any --(unlisted while idle, holder closed)--> CLOSED
 *
 * Only the transitions above are taken (anything else is a bug and throws). A provider holds a
 * link only in CONNECTING, READY, DEGRADED and DRAINING; entering any other state closes it.
 * Time comes in as nanoseconds from the holder's clock; jitter from its PRNG.
 */
import type { Prng } from '../env/prng.js';
import { assert, failAssertion } from '../util/assert.js';
import type { HolderSettings } from './holder-options.js';
import { providerId, type ProviderEntry } from './registry.js';

export type ProviderState = 'IDLE' | 'CONNECTING' | 'READY' | 'DEGRADED' | 'BACKOFF' | 'DRAINING' | 'QUARANTINED' | 'CLOSED';

export const PROVIDER_STATES: readonly ProviderState[] = ['IDLE', 'CONNECTING', 'READY', 'DEGRADED', 'BACKOFF', 'DRAINING', 'QUARANTINED', 'CLOSED'];

const ALLOWED: Readonly<Record<ProviderState, readonly ProviderState[]>> = {
  IDLE: ['CONNECTING', 'CLOSED'],
  CONNECTING: ['READY', 'BACKOFF', 'CLOSED'],
  READY: ['BACKOFF', 'DEGRADED', 'DRAINING', 'CLOSED'],
  DEGRADED: ['READY', 'BACKOFF', 'DRAINING', 'CLOSED'],
  BACKOFF: ['CONNECTING', 'QUARANTINED', 'CLOSED'],
  DRAINING: ['BACKOFF', 'CLOSED'],
  QUARANTINED: ['CONNECTING', 'CLOSED'],
  CLOSED: [],
};

/** States in which the provider holds an open link. */
export function holdsLink(state: ProviderState): boolean {
  return state === 'CONNECTING' || state === 'READY' || state === 'DEGRADED' || state === 'DRAINING';
}

/** Why a link failed: `unresolved` counts towards maxUnresolved, the rest towards maxConnectAttempts. */
export type LinkFailure = 'timeout' | 'refused' | 'unresolved' | 'lost';

/** The transport to one provider, opened by a {@link LinkFactory}. */
export interface ProviderLink {
  /** Releases everything the link holds (publication, subscription, timers); idempotent. */
  close(): void;
}

/** What a link tells its provider. Each is called at most once per link except as noted. */
export interface LinkListener {
  /** The handshake completed: the provider answers. */
  onLinkReady(): void;
  /** The link failed to connect or was lost (heartbeats stopped, image gone, provider closed). */
  onLinkFailed(kind: LinkFailure, reason: string): void;
  /** The provider announced a graceful shutdown: no new calls, let the ones in flight finish. */
  onLinkDraining(): void;
}

export interface LinkFactory {
  open(entry: ProviderEntry, listener: LinkListener): ProviderLink;
}

export interface ProviderTransition {
  readonly id: string;
  readonly address: string;
  readonly from: ProviderState;
  readonly to: ProviderState;
  readonly reason: string;
  readonly atNs: number;
}

/** What a provider needs from its holder. */
export interface ProviderHost {
  readonly settings: HolderSettings;
  readonly prng: Prng;
  readonly links: LinkFactory;
  nanoTime(): number;
  onTransition(provider: ProviderConnection, transition: ProviderTransition): void;
  /** May this provider be ejected now (the ejection cap)? */
  mayEject(provider: ProviderConnection): boolean;
  /** Is a connect slot free (fewer than maxConnecting providers CONNECTING)? */
  mayConnect(): boolean;
}

const MS = 1_000_000;

export class ProviderConnection implements LinkListener {
  readonly id: string;
  private entryValue: ProviderEntry;
  private stateValue: ProviderState = 'IDLE';
  private link: ProviderLink | null = null;
  /** Generation of the current link: events of an older link are ignored. */
  private linkGeneration = 0;
  private readonly host: ProviderHost;
  /** The deadline of the current state's timer (connect, backoff, ejection, drain, probe); -1: none. */
  private deadlineNs = -1;
  /** Listed in the holder's current snapshot. */
  listed = true;
  /** Calls in flight to this provider. */
  active = 0;
  /** Failed connects in a row (the retry budget); 0 on READY. */
  consecutiveFailures = 0;
  /** Failed resolutions in a row. */
  consecutiveUnresolved = 0;
  /** Backoff step; starts over only after a stable READY period. */
  private backoffStep = 0;
  /** Since when the provider is not READY (-1 while READY or never failed). */
  deadSinceNs = -1;
  private readySinceNs = -1;
  /** Calls failed in a row while READY (outlier detection). */
  private consecutiveCallFailures = 0;
  /** Ejections in a row (each lasts longer); 0 after a successful call once re-admitted. */
  private ejectionStreak = 0;
  /** Why the provider is in its state (the last transition's reason). */
  reason = 'listed';
  /** Why it connects, while it waits for a connect slot (see maxConnecting); null when not waiting. */
  private waitingReason: string | null = null;
  transitions = 0;

  constructor(entry: ProviderEntry, host: ProviderHost) {
    this.entryValue = entry;
    this.id = providerId(entry);
    this.host = host;
  }

  get state(): ProviderState {
    return this.stateValue;
  }

  get entry(): ProviderEntry {
    return this.entryValue;
  }

  get address(): string {
    return this.entryValue.address;
  }

  get weight(): number {
    return this.entryValue.weight;
  }

  get hasLink(): boolean {
    return this.link !== null;
  }

  /** The open link (CONNECTING, READY, DEGRADED, DRAINING), or null. */
  get currentLink(): ProviderLink | null {
    return this.link;
  }

  /** When the state's timer fires, or -1. */
  get timerDeadlineNs(): number {
    return this.deadlineNs;
  }

  /** Waiting for a connect slot (maxConnecting providers are CONNECTING). */
  get waitingToConnect(): boolean {
    return this.waitingReason !== null;
  }

  /** The registry sent this entry again (its weight or metadata may differ). */
  updateEntry(entry: ProviderEntry): void {
    assert(providerId(entry) === this.id, 'entry of another provider');
    this.entryValue = entry;
  }

  /** IDLE or QUARANTINED: start connecting. */
  connect(reason: string): void {
    assert(this.stateValue === 'IDLE' || this.stateValue === 'QUARANTINED' || this.stateValue === 'BACKOFF', `connect from ${this.stateValue}`);
    if (!this.host.mayConnect()) {
      // Every connect slot is taken: wait in this state and try again on the holder's next duty cycle.
      this.waitingReason = reason;
      this.deadlineNs = this.host.nanoTime();
      return;
    }
    this.waitingReason = null;
    if (this.stateValue === 'QUARANTINED') {
      this.consecutiveFailures = 0;
      this.consecutiveUnresolved = 0;
      this.backoffStep = 0;
      this.deadSinceNs = this.host.nanoTime();
    }
    this.moveTo('CONNECTING', reason);
    const generation = ++this.linkGeneration;
    this.deadlineNs = this.host.nanoTime() + this.host.settings.connectTimeoutMs * MS;
    const listener: LinkListener = {
      onLinkReady: () => generation === this.linkGeneration && this.onLinkReady(),
      onLinkFailed: (kind, why) => generation === this.linkGeneration && this.onLinkFailed(kind, why),
      onLinkDraining: () => generation === this.linkGeneration && this.onLinkDraining(),
    };
    let link: ProviderLink;
    try {
      link = this.host.links.open(this.entryValue, listener);
    } catch (error) {
      if (this.state === 'CONNECTING') this.failed('refused', `link could not be opened: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    // The link may have reported already, from inside open().
    if (generation === this.linkGeneration && holdsLink(this.stateValue)) this.link = link;
    else link.close();
  }

  /** The registry no longer lists it: drain when calls are in flight on a live link, else close. */
  unlist(): void {
    this.listed = false;
    if ((this.stateValue === 'READY' || this.stateValue === 'DEGRADED') && this.active > 0) this.drain('removed from the registry with calls in flight');
    else if (this.stateValue === 'DRAINING') return;
    else this.close('removed from the registry');
  }

  /** A newer snapshot lists it again (same identity). */
  relist(newerVersion: boolean): void {
    this.listed = true;
    if (this.stateValue === 'QUARANTINED' && newerVersion) this.connect('a newer registry snapshot lists it');
  }

  /** Unconditional and idempotent: releases the link and every timer. */
  close(reason: string): void {
    if (this.stateValue === 'CLOSED') return;
    this.moveTo('CLOSED', reason);
  }

  onLinkReady(): void {
    if (this.stateValue !== 'CONNECTING') return;
    this.consecutiveFailures = 0;
    this.consecutiveUnresolved = 0;
    this.deadSinceNs = -1;
    this.readySinceNs = this.host.nanoTime();
    this.consecutiveCallFailures = 0;
    this.moveTo('READY', 'handshake answered');
  }

  onLinkFailed(kind: LinkFailure, reason: string): void {
    const s = this.stateValue;
    if (s === 'CONNECTING') this.failed(kind, reason);
    else if (s === 'READY' || s === 'DEGRADED') this.lost(reason);
    else if (s === 'DRAINING') this.endDrain(`link ${kind} while draining: ${reason}`);
  }

  onLinkDraining(): void {
    if (this.stateValue === 'READY' || this.stateValue === 'DEGRADED') this.drain('the provider is shutting down');
    else if (this.stateValue === 'CONNECTING') this.failed('refused', 'the provider is shutting down');
  }

  /** A call to this provider started. */
  callStarted(): void {
    this.active++;
  }

  /** A call ended: `ok` false for failures that speak of the provider (not of the request). */
  callEnded(ok: boolean): void {
    if (this.active <= 0) failAssertion(`call ended on ${this.id} with none active`);
    this.active--;
    if (ok) {
      this.consecutiveCallFailures = 0;
      if (this.stateValue === 'READY') this.ejectionStreak = 0;
    } else if (this.stateValue === 'READY') {
      this.consecutiveCallFailures++;
      if (this.consecutiveCallFailures >= this.host.settings.ejectConsecutiveFailures && this.host.mayEject(this)) {
        this.ejectionStreak++;
        const s = this.host.settings;
        this.consecutiveCallFailures = 0;
        this.moveTo('DEGRADED', `${s.ejectConsecutiveFailures} calls failed in a row (ejection ${this.ejectionStreak})`);
        this.deadlineNs = this.host.nanoTime() + Math.min(s.ejectionMaxMs, s.ejectionBaseMs * this.ejectionStreak) * MS;
      }
    }
    if (this.stateValue === 'DRAINING' && this.active === 0) this.endDrain('calls in flight finished');
  }

  /** @internal Fires the state's timer when due; returns 1 when it did. */
  doWork(nowNs: number): number {
    if (this.deadlineNs < 0 || nowNs < this.deadlineNs) return 0;
    this.deadlineNs = -1;
    if (this.waitingReason !== null) {
      this.connect(this.waitingReason);
      return this.waitingReason === null ? 1 : 0;
    }
    switch (this.stateValue) {
      case 'CONNECTING':
        this.failed('timeout', `no handshake within connectTimeoutMs=${this.host.settings.connectTimeoutMs}`);
        break;
      case 'BACKOFF':
        this.connect('backoff over');
        break;
      case 'DEGRADED':
        this.consecutiveCallFailures = 0;
        this.moveTo('READY', 'ejection over');
        break;
      case 'DRAINING':
        this.endDrain(`drainTimeoutMs=${this.host.settings.drainTimeoutMs} passed with ${this.active} calls in flight`);
        break;
      case 'QUARANTINED':
        this.connect(`quarantineProbeMs=${this.host.settings.quarantineProbeMs} passed`);
        break;
      default:
        break;
    }
    return 1;
  }

  private failed(kind: LinkFailure, reason: string): void {
    const s = this.host.settings;
    const nowNs = this.host.nanoTime();
    if (this.deadSinceNs < 0) this.deadSinceNs = nowNs;
    if (kind === 'unresolved') this.consecutiveUnresolved++;
    else this.consecutiveUnresolved = 0;
    this.consecutiveFailures++;
    const delayNs = this.nextBackoffNs();
    this.moveTo('BACKOFF', `connect failed (${kind}): ${reason}; attempt ${this.consecutiveFailures}`);
    if (this.consecutiveUnresolved >= s.maxUnresolved) {
      this.quarantine(`the name did not resolve ${this.consecutiveUnresolved} times in a row`);
    } else if (this.consecutiveFailures >= s.maxConnectAttempts && nowNs - this.deadSinceNs >= s.minDeadTimeMs * MS) {
      this.quarantine(`retry budget spent: ${this.consecutiveFailures} connects failed over ${Math.round((nowNs - this.deadSinceNs) / MS)} ms (maxConnectAttempts=${s.maxConnectAttempts} minDeadTimeMs=${s.minDeadTimeMs})`);
    } else {
      this.deadlineNs = nowNs + delayNs;
    }
  }

  private lost(reason: string): void {
    const nowNs = this.host.nanoTime();
    if (this.readySinceNs >= 0 && nowNs - this.readySinceNs >= this.host.settings.stableAfterMs * MS) this.backoffStep = 0;
    this.deadSinceNs = nowNs;
    this.moveTo('BACKOFF', `link lost: ${reason}`);
    // The first retry after a loss goes at once; later ones back off.
    this.deadlineNs = nowNs + (this.backoffStep === 0 ? 0 : this.nextBackoffNs());
    if (this.backoffStep === 0) this.backoffStep = 1;
  }

  private quarantine(reason: string): void {
    this.moveTo('QUARANTINED', reason);
    const probeMs = this.host.settings.quarantineProbeMs;
    this.deadlineNs = probeMs > 0 ? this.host.nanoTime() + probeMs * MS : -1;
  }

  private drain(reason: string): void {
    this.moveTo('DRAINING', reason);
    if (this.active === 0) {
      this.endDrain('no calls in flight');
      return;
    }
    this.deadlineNs = this.host.nanoTime() + this.host.settings.drainTimeoutMs * MS;
  }

  private endDrain(reason: string): void {
    if (!this.listed) {
      this.close(`drained (${reason}) and removed from the registry`);
      return;
    }
    const nowNs = this.host.nanoTime();
    this.deadSinceNs = nowNs;
    this.moveTo('BACKOFF', `drained: ${reason}`);
    this.deadlineNs = nowNs + this.nextBackoffNs();
  }

  private nextBackoffNs(): number {
    const s = this.host.settings;
    const baseMs = Math.min(s.backoffMaxMs, s.backoffInitialMs * s.backoffMultiplier ** Math.min(this.backoffStep, 200));
    this.backoffStep++;
    const factor = 1 - s.backoffJitter + 2 * s.backoffJitter * this.host.prng.nextDouble();
    return Math.round(baseMs * factor * MS);
  }

  private moveTo(to: ProviderState, reason: string): void {
    const from = this.stateValue;
    assert(ALLOWED[from].includes(to), `provider ${this.id}: no transition ${from} -> ${to} (${reason})`);
    this.stateValue = to;
    this.reason = reason;
    this.deadlineNs = -1;
    this.waitingReason = null;
    this.transitions++;
    if (!holdsLink(to)) {
      this.linkGeneration++;
      const link = this.link;
      this.link = null;
      link?.close();
    }
    if (to !== 'READY' && to !== 'DEGRADED') this.readySinceNs = -1;
    this.host.onTransition(this, { id: this.id, address: this.entryValue.address, from, to, reason, atNs: this.host.nanoTime() });
  }
}
