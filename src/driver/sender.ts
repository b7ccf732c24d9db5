import type { Agent } from '../agent/agent.js';
import type { DutyCycleTracker } from '../agent/duty-cycle-tracker.js';
import type { NetworkPublication } from './network-publication.js';

/** Sends for every network publication: SETUP, DATA within flow control, heartbeats, retransmits. */
export class Sender implements Agent {
  readonly roleName = 'sender';
  private publications: NetworkPublication[] = [];
  private roundRobinIndex = 0;

  /** @param dutyCycleTracker where a composite runner times this agent's duty cycles */
  constructor(readonly dutyCycleTracker?: DutyCycleTracker) {}

  add(publication: NetworkPublication): void {
    this.publications = [...this.publications, publication];
  }

  remove(publication: NetworkPublication): void {
    this.publications = this.publications.filter((p) => p !== publication);
  }

  doWork(nowNs: number): number {
    const publications = this.publications;
    const length = publications.length;
    if (length === 0) return 0;
    let start = this.roundRobinIndex++;
    if (start >= length) {
      start = 0;
      this.roundRobinIndex = 1;
    }
    let work = 0;
    for (let i = start; i < length; i++) work += publications[i]!.send(nowNs);
    for (let i = 0; i < start; i++) work += publications[i]!.send(nowNs);
    return work;
  }
}
