import type { LogBuffers } from '../logbuffer/log-buffers.js';
import { LogCleaner } from '../logbuffer/log-cleaner.js';
import type { LogMetaData } from '../logbuffer/log-meta-data.js';
import {
  computeTermBeginPosition,
  indexByTermCount,
} from '../logbuffer/log-buffer-descriptor.js';
import { unblock } from '../logbuffer/term-unblocker.js';
import type { Position } from '../agent/counters.js';
import type { DriverComponents } from './driver-components.js';
import type { SubscriberPosition } from './publication-image.js';

/** Zeroing happens in chunks of at least this many bytes (or a quarter term). */
const CLEAN_CHUNK_LENGTH = 256 * 1024;

export type IpcPublicationState = 'ACTIVE' | 'DRAINING' | 'DONE';

export interface IpcPublicationInit {
  readonly registrationId: number;
  readonly channel: string;
  readonly streamId: number;
  readonly sessionId: number;
  readonly exclusive: boolean;
  readonly logBuffers: LogBuffers;
  readonly publisherLimit: Position;
  /** Where the publisher has appended to, updated each conductor duty cycle. */
  readonly publisherPosition: Position;
  readonly termWindowLength: number;
  readonly components: DriverComponents;
}

/**
 * A publication inside this process: subscribers read its log directly (zero copy) and the
 * slowest of them bounds how far the publisher may write. States ACTIVE → DRAINING → DONE.
 */
export class IpcPublication {
  readonly registrationId: number;
  readonly channel: string;
  readonly streamId: number;
  readonly sessionId: number;
  readonly exclusive: boolean;
  readonly logBuffers: LogBuffers;
  readonly publisherLimit: Position;
  /** Where the publisher has appended to, updated each conductor duty cycle. */
  readonly publisherPosition: Position;
  readonly termWindowLength: number;
  readonly initialTermId: number;
  readonly termLength: number;
  readonly positionBitsToShift: number;

  state: IpcPublicationState = 'ACTIVE';
  refCount = 1;
  subscribers: SubscriberPosition[] = [];
  /** Image ids handed to subscribers, by subscription registration id. */
  readonly imageIds = new Map<number, number>();

  private readonly components: DriverComponents;
  private readonly metaData: LogMetaData;
  private readonly termBuffers: readonly Uint8Array[];
  private readonly cleaner: LogCleaner;
  private lastConsumerPosition: number;
  private timeOfLastConsumerChangeNs: number;
  private endOfStreamPosition = Number.MAX_SAFE_INTEGER;

  constructor(init: IpcPublicationInit) {
    this.registrationId = init.registrationId;
    this.channel = init.channel;
    this.streamId = init.streamId;
    this.sessionId = init.sessionId;
    this.exclusive = init.exclusive;
    this.logBuffers = init.logBuffers;
    this.publisherLimit = init.publisherLimit;
    this.publisherPosition = init.publisherPosition;
    this.termWindowLength = init.termWindowLength;
    this.components = init.components;
    this.metaData = init.logBuffers.metaData;
    this.termBuffers = init.logBuffers.termBuffers;
    this.initialTermId = this.metaData.initialTermId;
    this.termLength = init.logBuffers.termLength;
    this.positionBitsToShift = init.logBuffers.positionBitsToShift;
    const start = this.producerPosition();
    this.cleaner = new LogCleaner(this.termBuffers, this.positionBitsToShift, start, Math.min(this.termLength / 4, CLEAN_CHUNK_LENGTH));
    this.lastConsumerPosition = start;
    this.timeOfLastConsumerChangeNs = init.components.clock.nanoTime();
    this.publisherLimit.set(start);
  }

  producerPosition(): number {
    const meta = this.metaData;
    const index = indexByTermCount(meta.activeTermCount);
    const termOffset = Math.min(meta.rawTailOffset(index), this.termLength);
    return computeTermBeginPosition(meta.rawTailTermId(index), this.positionBitsToShift, this.initialTermId) + termOffset;
  }

  minSubscriberPosition(): number {
    const subscribers = this.subscribers;
    let min = Number.MAX_SAFE_INTEGER;
    for (let i = 0; i < subscribers.length; i++) {
      const p = subscribers[i]!.position.get();
      if (p < min) min = p;
    }
    return min;
  }

  /** Conductor work each duty cycle: the publisher limit follows the slowest subscriber. */
  updatePublisherLimit(): number {
    this.publisherPosition.set(this.producerPosition());
    if (this.state !== 'ACTIVE') return 0;
    if (this.subscribers.length === 0) {
      const producer = this.producerPosition();
      if (this.publisherLimit.get() > producer) this.publisherLimit.set(producer);
      if (this.metaData.isConnected) this.metaData.isConnected = false;
      return 0;
    }
    if (!this.metaData.isConnected) this.metaData.isConnected = true;
    const minPosition = this.minSubscriberPosition();
    const proposed = minPosition + this.termWindowLength;
    if (proposed > this.publisherLimit.get()) {
      this.cleanBufferTo(minPosition - this.termLength);
      this.publisherLimit.set(proposed);
      return 1;
    }
    return 0;
  }

  private cleanBufferTo(position: number): void {
    this.cleaner.cleanTo(position);
  }


  onTimeEvent(nowNs: number): void {
    if (this.state === 'ACTIVE') {
      this.checkForBlockedPublisher(nowNs);
      return;
    }
    if (this.state === 'DRAINING') {
      if (this.subscribers.length === 0 || this.minSubscriberPosition() >= this.endOfStreamPosition) this.state = 'DONE';
      // A client that died (or closed) between a claim and its commit leaves a frame nobody will publish.
      else this.checkForBlockedPublisher(nowNs);
    }
  }

  private checkForBlockedPublisher(nowNs: number): void {
    if (this.subscribers.length === 0) return;
    const consumer = this.minSubscriberPosition();
    if (consumer !== this.lastConsumerPosition) {
      this.lastConsumerPosition = consumer;
      this.timeOfLastConsumerChangeNs = nowNs;
      return;
    }
    if (nowNs - this.timeOfLastConsumerChangeNs < this.components.settings.publicationUnblockTimeoutNs) return;
    if (this.producerPosition() > consumer && unblock(this.termBuffers, this.metaData, consumer, this.producerPosition())) {
      this.timeOfLastConsumerChangeNs = nowNs;
      this.components.driverCounters.unblockedPublications.increment();
    }
  }

  startDraining(): void {
    if (this.state !== 'ACTIVE') return;
    this.endOfStreamPosition = this.producerPosition();
    this.metaData.endOfStreamPosition = this.endOfStreamPosition;
    this.state = 'DRAINING';
  }
}
