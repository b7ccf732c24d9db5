/**
 * A stand-in for the network under the connection holder: provider processes at addresses that
 * can be up, dead, frozen or draining, names that stop resolving, and links whose outcome
 * arrives after a delay on the simulated clock. Every open link is tracked, so a test can check
 * that nothing the holder closed is still open.
 */
import type { Prng } from '../../src/env/prng.js';
import type { LinkFactory, LinkFailure, LinkListener, ProviderLink } from '../../src/rpc/provider-connection.js';
import type { ProviderEntry } from '../../src/rpc/registry.js';

export type FakeProcessState = 'up' | 'dead' | 'frozen' | 'draining';

interface FakeLink extends ProviderLink {
  readonly address: string;
  readonly incarnation: string;
  readonly listener: LinkListener;
  open: boolean;
  ready: boolean;
  /** When the pending outcome (ready or failure) is due; -1: none pending. */
  dueNs: number;
  silentSinceNs: number;
}

export class FakeLinks implements LinkFactory {
  /** address -> the process listening there now. */
  private readonly processes = new Map<string, { incarnation: string; state: FakeProcessState }>();
  private readonly unresolvable = new Set<string>();
  private readonly links = new Set<FakeLink>();
  opened = 0;
  openedTo = new Map<string, number>();

  constructor(
    private readonly nanoTime: () => number,
    private readonly prng: Prng,
    /** Handshake round trip. */
    private readonly rttNs = 200_000,
    /** Silence after which a READY link counts as lost (the heartbeat timeout). */
    private readonly heartbeatTimeoutNs = 3_000_000_000,
  ) {}

  /** A provider process starts at `address` (replacing whatever was there). */
  start(address: string, incarnation: string): void {
    this.processes.set(address, { incarnation, state: 'up' });
  }

  set(address: string, state: FakeProcessState): void {
    const p = this.processes.get(address);
    if (p === undefined) return;
    p.state = state;
    if (state === 'draining') for (const l of this.links) if (l.open && l.ready && l.address === address) l.listener.onLinkDraining();
  }

  /** The process dies: its links notice at once if it was killed (the kernel answers), or after the heartbeat timeout when frozen. */
  kill(address: string): void {
    this.processes.delete(address);
    for (const l of [...this.links]) if (l.open && l.address === address) this.fail(l, 'lost', 'the provider went away');
  }

  setResolvable(host: string, resolvable: boolean): void {
    if (resolvable) this.unresolvable.delete(host);
    else this.unresolvable.add(host);
  }

  isUp(address: string): boolean {
    return this.processes.get(address)?.state === 'up';
  }

  get openCount(): number {
    let n = 0;
    for (const l of this.links) if (l.open) n++;
    return n;
  }

  open(entry: ProviderEntry, listener: LinkListener): ProviderLink {
    this.opened++;
    this.openedTo.set(entry.address, (this.openedTo.get(entry.address) ?? 0) + 1);
    const link: FakeLink = {
      address: entry.address,
      incarnation: entry.incarnation,
      listener,
      open: true,
      ready: false,
      dueNs: this.nanoTime() + this.rttNs + this.prng.nextInt(this.rttNs),
      silentSinceNs: -1,
      close: () => {
        link.open = false;
        this.links.delete(link);
      },
    };
    this.links.add(link);
    return link;
  }

  /** Delivers the outcomes due by now; returns how many. */
  doWork(nowNs: number): number {
    let work = 0;
    for (const link of [...this.links]) {
      if (!link.open) continue;
      const host = link.address.slice(0, link.address.lastIndexOf(':'));
      const p = this.processes.get(link.address);
      const answers = p !== undefined && p.incarnation === link.incarnation && (p.state === 'up' || p.state === 'draining');
      if (!link.ready) {
        if (link.dueNs < 0 || nowNs < link.dueNs) continue;
        link.dueNs = -1;
        work++;
        if (this.unresolvable.has(host)) this.fail(link, 'unresolved', `${host}: ENOTFOUND`);
        else if (p === undefined || p.incarnation !== link.incarnation) this.fail(link, 'refused', 'nothing listens there (or another incarnation)');
        else if (p.state === 'up') {
          link.ready = true;
          link.listener.onLinkReady();
        } else if (p.state === 'draining') this.fail(link, 'refused', 'the provider is draining');
        // dead or frozen: no answer; the holder's connect timeout decides.
        continue;
      }
      if (answers) link.silentSinceNs = -1;
      else {
        if (link.silentSinceNs < 0) link.silentSinceNs = nowNs;
        if (nowNs - link.silentSinceNs >= this.heartbeatTimeoutNs) {
          this.fail(link, 'lost', `no heartbeat for ${this.heartbeatTimeoutNs / 1e6} ms`);
          work++;
        }
      }
    }
    return work;
  }

  private fail(link: FakeLink, kind: LinkFailure, reason: string): void {
    // A failed link stays open until its owner closes it, as a real one does.
    link.dueNs = -1;
    link.ready = false;
    link.silentSinceNs = -1;
    link.listener.onLinkFailed(kind, reason);
  }
}
