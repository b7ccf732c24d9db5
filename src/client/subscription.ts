import { SkeinError, ErrorCode } from '../util/errors.js';
import type { FragmentHandler, ControlledFragmentHandler } from '../logbuffer/header.js';
import { FragmentAssembler } from '../logbuffer/fragment-assembler.js';
import type { Image } from './image.js';

export type ImageHandler = (image: Image) => void;

/** What a subscription needs from the client that created it. */
export interface SubscriptionOwner {
  releaseSubscription(subscription: Subscription): void;
  startPolling(subscription: Subscription): void;
  stopPolling(subscription: Subscription): void;
  /** Fragments consumed: lets a driver in another thread know (see DriverConnection.notifyProgress). */
  notifyProgress(): void;
}

export interface SubscriptionInit {
  readonly owner: SubscriptionOwner;
  readonly channel: string;
  readonly resolvedChannel: string;
  readonly streamId: number;
  readonly registrationId: number;
  readonly onAvailableImage: ImageHandler | undefined;
  readonly onUnavailableImage: ImageHandler | undefined;
}

/** A message delivered by the async iterator: a copy of the payload and where it came from. */
export interface ReceivedMessage {
  readonly data: Uint8Array;
  readonly sessionId: number;
  readonly streamId: number;
  readonly position: number;
  readonly reservedValue: bigint;
}

/**
 * Receives a stream from every publisher whose images match. `poll` reads fragments from the
 * images in turn (round robin from a rotating start so no image starves); `onFragment` lets the
 * client's agent poll for you whenever data arrives; `messages()` is an async iterator.
 */
export class Subscription {
  readonly channel: string;
  readonly resolvedChannel: string;
  readonly streamId: number;
  readonly registrationId: number;

  private readonly owner: SubscriptionOwner;
  private readonly availableImageHandler: ImageHandler | undefined;
  private readonly unavailableImageHandler: ImageHandler | undefined;
  private imageList: Image[] = [];
  private roundRobinIndex = 0;
  private closed = false;
  private autoHandler: FragmentHandler | null = null;
  private autoFragmentLimit = 10;

  constructor(init: SubscriptionInit) {
    this.owner = init.owner;
    this.channel = init.channel;
    this.resolvedChannel = init.resolvedChannel;
    this.streamId = init.streamId;
    this.registrationId = init.registrationId;
    this.availableImageHandler = init.onAvailableImage;
    this.unavailableImageHandler = init.onUnavailableImage;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** True while at least one image (publisher) is connected. */
  get isConnected(): boolean {
    if (this.closed) return false;
    for (const image of this.imageList) if (!image.isClosed) return true;
    return false;
  }

  get images(): readonly Image[] {
    return this.imageList;
  }

  get imageCount(): number {
    return this.imageList.length;
  }

  imageBySessionId(sessionId: number): Image | undefined {
    return this.imageList.find((image) => image.sessionId === sessionId);
  }

  /** Reads up to `fragmentLimit` fragments across all images; returns how many were read. */
  poll(handler: FragmentHandler, fragmentLimit: number): number {
    const images = this.imageList;
    const length = images.length;
    if (length === 0) return 0;
    let fragments = 0;
    let start = this.roundRobinIndex++;
    if (start >= length) {
      start = 0;
      this.roundRobinIndex = 1;
    }
    for (let i = start; i < length && fragments < fragmentLimit; i++) {
      fragments += images[i]!.poll(handler, fragmentLimit - fragments);
    }
    for (let i = 0; i < start && fragments < fragmentLimit; i++) {
      fragments += images[i]!.poll(handler, fragmentLimit - fragments);
    }
    if (fragments > 0) this.owner.notifyProgress();
    return fragments;
  }

  controlledPoll(handler: ControlledFragmentHandler, fragmentLimit: number): number {
    const images = this.imageList;
    const length = images.length;
    if (length === 0) return 0;
    let fragments = 0;
    let start = this.roundRobinIndex++;
    if (start >= length) {
      start = 0;
      this.roundRobinIndex = 1;
    }
    for (let i = start; i < length && fragments < fragmentLimit; i++) {
      fragments += images[i]!.controlledPoll(handler, fragmentLimit - fragments);
    }
    for (let i = 0; i < start && fragments < fragmentLimit; i++) {
      fragments += images[i]!.controlledPoll(handler, fragmentLimit - fragments);
    }
    if (fragments > 0) this.owner.notifyProgress();
    return fragments;
  }

  /**
   * Has the client's agent poll this subscription with `handler` on every duty cycle, which runs
   * as soon as data arrives. Wrap the handler in a FragmentAssembler to receive whole messages.
   * Replaces any earlier handler; `stopFragments()` stops it.
   */
  onFragment(handler: FragmentHandler, fragmentLimit = 10): void {
    if (this.closed) {
      throw new SkeinError(ErrorCode.CLOSED, 'onFragment on a closed subscription: nothing would ever be delivered', {
        channel: this.channel,
        streamId: this.streamId,
        state: 'CLOSED',
      });
    }
    if (!Number.isInteger(fragmentLimit) || fragmentLimit < 1) {
      throw new SkeinError(ErrorCode.ARG_INVALID, `fragmentLimit ${String(fragmentLimit)} is invalid; allowed an integer >= 1`, {
        channel: this.channel,
        streamId: this.streamId,
      });
    }
    this.autoHandler = handler;
    this.autoFragmentLimit = fragmentLimit;
    this.owner.startPolling(this);
  }

  stopFragments(): void {
    this.autoHandler = null;
    this.owner.stopPolling(this);
  }

  /** Called by the client's agent: polls with the handler given to `onFragment`. */
  pollAuto(): number {
    const handler = this.autoHandler;
    return handler === null ? 0 : this.poll(handler, this.autoFragmentLimit);
  }

  /**
   * Whole messages as an async iterator (each payload copied). Convenient, not zero-copy: use
   * `poll` or `onFragment` on hot paths. Ends when the subscription closes or the signal aborts.
   */
  async *messages(options: { signal?: AbortSignal } = {}): AsyncGenerator<ReceivedMessage, void, undefined> {
    const pending: ReceivedMessage[] = [];
    let notify: (() => void) | null = null;
    const assembler = new FragmentAssembler((buffer, offset, length, header) => {
      pending.push({
        data: buffer.slice(offset, offset + length),
        sessionId: header.sessionId,
        streamId: header.streamId,
        position: header.position,
        reservedValue: header.reservedValue,
      });
      if (notify !== null) {
        const wake = notify;
        notify = null;
        wake();
      }
    });
    const signal = options.signal;
    const onAbort = (): void => {
      if (notify !== null) {
        const wake = notify;
        notify = null;
        wake();
      }
    };
    if (this.closed) return;
    signal?.addEventListener('abort', onAbort);
    this.onFragment(assembler.onFragment, 64);
    try {
      while (!this.closed && signal?.aborted !== true) {
        const message = pending.shift();
        if (message !== undefined) {
          yield message;
          continue;
        }
        await new Promise<void>((resolve) => {
          notify = resolve;
          this.closeWaiter = resolve;
        });
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.closeWaiter = null;
      if (!this.closed) this.stopFragments();
    }
  }

  private closeWaiter: (() => void) | null = null;

  /** Releases the subscription and its images. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.owner.releaseSubscription(this);
    this.internalClose();
  }

  /** Called by the client conductor when an image joins. */
  internalAddImage(image: Image): void {
    this.imageList = [...this.imageList, image];
    if (this.availableImageHandler !== undefined) this.availableImageHandler(image);
  }

  /** Called by the client conductor when an image leaves; returns it if it was here. */
  internalRemoveImage(correlationId: number): Image | undefined {
    const image = this.imageList.find((i) => i.correlationId === correlationId);
    if (image === undefined) return undefined;
    this.imageList = this.imageList.filter((i) => i !== image);
    image.internalClose();
    if (this.unavailableImageHandler !== undefined) this.unavailableImageHandler(image);
    return image;
  }

  /** Marks the subscription and its images closed. */
  internalClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.autoHandler = null;
    for (const image of this.imageList) image.internalClose();
    this.imageList = [];
    const waiter = this.closeWaiter;
    this.closeWaiter = null;
    if (waiter !== null) waiter();
  }
}
