import type { Agent } from '../agent/agent.js';
import type { DutyCycleTracker } from '../agent/duty-cycle-tracker.js';
import type { PublicationImage } from './publication-image.js';

/**
 * Runs the images' periodic work: loss detection and NAKs, status messages. Datagrams themselves
 * are written into images as they arrive, by the receive endpoints.
 */
export class Receiver implements Agent {
  readonly roleName = 'receiver';
  private images: PublicationImage[] = [];

  /** @param dutyCycleTracker where a composite runner times this agent's duty cycles */
  constructor(readonly dutyCycleTracker?: DutyCycleTracker) {}

  add(image: PublicationImage): void {
    this.images = [...this.images, image];
  }

  remove(image: PublicationImage): void {
    this.images = this.images.filter((i) => i !== image);
  }

  doWork(nowNs: number): number {
    const images = this.images;
    let work = 0;
    for (let i = 0; i < images.length; i++) work += images[i]!.doWork(nowNs);
    return work;
  }
}
