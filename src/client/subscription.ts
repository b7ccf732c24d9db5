import { SkeinAbortError, SkeinError, ErrorCode, handlerFailed } from '../util/errors.js';
import type { FragmentHandler, ControlledFragmentHandler } from '../logbuffer/header.js';
import { ControlledFragmentAssembler } from '../logbuffer/fragment-assembler.js';
import { ControlledPollAction } from '../logbuffer/controlled-poll-action.js';
import { badPollArguments, type Image } from './image.js';
import { ConnectionStatus, checkConnectedOptions, type ConnectedOptions, type ConnectionEvent, type ConnectionListener, type ConnectionStatusHost } from './connection-status.js';

export type ImageHandler = (image: Image) => void;

/** What a subscription needs from the client that created it. */
export interface SubscriptionOwner extends ConnectionStatusHost {
  releaseSubscription(subscription: Subscription): void;
  startPolling(subscription: Subscription): void;
  stopPolling(subscription: Subscription): void;
  /** Fragments consumed: lets a driver in another thread know (see DriverConnection.notifyProgress). */
  notifyProgress(): void;
  destinationCommand(
    type: 'ADD_RCV_DESTINATION' | 'REMOVE_RCV_DESTINATION',
    target: { readonly registrationId: number; readonly channel: string; readonly streamId: number },
    channel: string,
  ): Promise<void>;
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

/** Fragments one poll of `messages()` may read to complete a message (a 16 MiB message at the smallest MTU). */
const MESSAGE_FRAGMENTS_MAX = 1 << 20;

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
  /** What the client's agent runs on each duty cycle for this subscription (onFragment or messages()). */
  private autoPoller: (() => number) | null = null;
  private readonly pollWithHandler = (): number => this.poll(this.autoHandler!, this.autoFragmentLimit);
  /** Ends the wait of a `messages()` loop when the subscription closes. */
  private closeWaiter: (() => void) | null = null;
  private readonly status: ConnectionStatus;

  constructor(init: SubscriptionInit) {
    this.owner = init.owner;
    this.channel = init.channel;
    this.resolvedChannel = init.resolvedChannel;
    this.streamId = init.streamId;
    this.registrationId = init.registrationId;
    this.availableImageHandler = init.onAvailableImage;
    this.unavailableImageHandler = init.onUnavailableImage;
    this.status = new ConnectionStatus(init.owner, { channel: init.channel, streamId: init.streamId }, 'subscription');
  }

  /**
   * Resolves once an image (a publisher's stream) is available. Rejects with ERR_SKEIN_TIMEOUT
   * after `timeoutMs` (no limit by default), with an AbortError whose cause is `signal.reason`
   * when `signal` aborts, and with ERR_SKEIN_CLOSED when the subscription closes.
   */
  connected(options: ConnectedOptions = {}): Promise<void> {
    return this.status.wait(options, this.isConnected);
  }

  /**
   * Adds a destination to a multi-destination subscription (`aeron:udp?control-mode=manual`): a
   * socket on the address `channel` names (`aeron:udp?endpoint=127.0.0.1:40456`, with
   * `|control=host:port` to join a dynamic MDC publication) whose frames feed this
   * subscription's images; frames of one stream arriving through several destinations make one
   * image. Resolves once the socket is bound.
   */
  addDestination(channel: string): Promise<void> {
    if (this.closed) return Promise.reject(new SkeinError(ErrorCode.CLOSED, 'addDestination on a closed subscription', { channel: this.channel, streamId: this.streamId, state: 'CLOSED' }));
    return this.owner.destinationCommand('ADD_RCV_DESTINATION', this, channel);
  }

  /** Removes a destination added with {@link addDestination}: its socket closes; images fed by other destinations go on. */
  removeDestination(channel: string): Promise<void> {
    if (this.closed) return Promise.reject(new SkeinError(ErrorCode.CLOSED, 'removeDestination on a closed subscription', { channel: this.channel, streamId: this.streamId, state: 'CLOSED' }));
    return this.owner.destinationCommand('REMOVE_RCV_DESTINATION', this, channel);
  }

  /**
   * Calls `listener` on every later event: `image-available` and `image-unavailable` per
   * publisher, `connected` (first image) and `disconnected` (last image gone), and `closed`.
   * Returns the function that stops it.
   */
  onConnectionChange(listener: ConnectionListener): () => void {
    return this.status.listen(listener);
  }

  /** Later connection events as an async iterator; ends after `closed`, throws an AbortError when `signal` aborts. */
  connectionEvents(options: { signal?: AbortSignal } = {}): AsyncIterableIterator<ConnectionEvent> {
    return this.status.events(options);
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

  /**
   * Reads up to `fragmentLimit` fragments (a number >= 1) across all images; returns how many were
   * read. Throws ERR_SKEIN_ARG_INVALID for a handler that is not a function or a limit below 1.
   */
  poll(handler: FragmentHandler, fragmentLimit: number): number {
    if (typeof handler !== 'function' || !(fragmentLimit >= 1)) badPollArguments('poll', handler, fragmentLimit, this);
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

  /** Like {@link poll}, with a handler that steers each fragment (see Image.controlledPoll). */
  controlledPoll(handler: ControlledFragmentHandler, fragmentLimit: number): number {
    if (typeof handler !== 'function' || !(fragmentLimit >= 1)) badPollArguments('controlledPoll', handler, fragmentLimit, this);
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
    this.setAutoPoller(this.pollWithHandler);
  }

  /** Stops the polling `onFragment` (or a waiting `messages()` loop) asked for. */
  stopFragments(): void {
    this.autoHandler = null;
    this.autoPoller = null;
    this.owner.stopPolling(this);
  }

  /** @internal Called by the client's agent on each duty cycle while polling was asked for. */
  pollAuto(): number {
    const poller = this.autoPoller;
    return poller === null ? 0 : poller();
  }

  private setAutoPoller(poller: () => number): void {
    this.autoPoller = poller;
    this.owner.startPolling(this);
  }

  /**
   * Whole messages as an async iterator (each payload copied). Convenient, not zero-copy: use
   * `poll` or `onFragment` on hot paths. A message is taken from the stream only when the loop
   * asks for the next one, so leaving the loop (`break`, a throw in its body) loses nothing: a
   * later `messages()` or `poll` starts with the message after the last one the loop saw. Ends
   * when the subscription closes; when `signal` aborts, it throws an AbortError whose cause is
   * `signal.reason` (as Node's `events.on` does). Replaces an `onFragment` handler while it runs.
   */
  async *messages(options: { signal?: AbortSignal } = {}): AsyncGenerator<ReceivedMessage, void, undefined> {
    const signal = options.signal;
    if (signal !== undefined) checkConnectedOptions({ signal }, { channel: this.channel, streamId: this.streamId });
    if (this.closed) return;
    let taken: ReceivedMessage | null = null;
    let wake: (() => void) | null = null;
    const assembler = new ControlledFragmentAssembler((buffer, offset, length, header) => {
      taken = { data: buffer.slice(offset, offset + length), sessionId: header.sessionId, streamId: header.streamId, position: header.position, reservedValue: header.reservedValue };
      return ControlledPollAction.BREAK;
    });
    const take = (): ReceivedMessage | null => {
      taken = null;
      this.controlledPoll(assembler.onFragment, MESSAGE_FRAGMENTS_MAX);
      return taken;
    };
    const resume = (): void => {
      const w = wake;
      wake = null;
      if (w !== null) w();
    };
    // While the loop waits, the client's agent looks for the next message on every duty cycle.
    const poller = (): number => {
      if (wake === null || take() === null) return 0;
      resume();
      return 1;
    };
    signal?.addEventListener('abort', resume);
    try {
      while (!this.closed) {
        if (signal?.aborted === true) throw new SkeinAbortError('message iteration aborted', signal, { channel: this.channel, streamId: this.streamId });
        const message = take();
        if (message !== null) {
          yield message;
          continue;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
          this.closeWaiter = resolve;
          this.setAutoPoller(poller);
        });
        // The agent took a message for this wait: hand it over before anything else.
        const arrived: ReceivedMessage | null = taken;
        if (arrived !== null) {
          taken = null;
          yield arrived;
        }
      }
    } finally {
      signal?.removeEventListener('abort', resume);
      this.closeWaiter = null;
      if (!this.closed && this.autoPoller === poller) this.stopFragments();
    }
  }

  /** Releases the subscription and its images. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.owner.releaseSubscription(this);
    this.internalClose();
  }

  /** @internal Called by the client conductor when an image joins. */
  internalAddImage(image: Image): void {
    this.imageList = [...this.imageList, image];
    this.callImageHandler(this.availableImageHandler, image, 'onAvailableImage');
    this.status.emit('image-available', image.sessionId, { sourceIdentity: image.sourceIdentity, imageCount: this.imageList.length });
    this.status.update(true);
  }

  /** @internal Called by the client conductor when an image leaves; returns it if it was here. */
  internalRemoveImage(correlationId: number, finalPosition?: number): Image | undefined {
    const image = this.imageList.find((i) => i.correlationId === correlationId);
    if (image === undefined) return undefined;
    this.imageList = this.imageList.filter((i) => i !== image);
    image.internalClose(finalPosition);
    this.callImageHandler(this.unavailableImageHandler, image, 'onUnavailableImage');
    this.status.emit('image-unavailable', image.sessionId, { sourceIdentity: image.sourceIdentity, imageCount: this.imageList.length });
    this.status.update(this.isConnected);
    return image;
  }

  /** @internal Marks the subscription and its images closed; `cause` when the client or driver failed. */
  internalClose(cause?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.autoHandler = null;
    this.autoPoller = null;
    for (const image of this.imageList) image.internalClose();
    this.imageList = [];
    this.status.close(cause);
    const waiter = this.closeWaiter;
    this.closeWaiter = null;
    if (waiter !== null) waiter();
  }

  private callImageHandler(handler: ImageHandler | undefined, image: Image, name: string): void {
    if (handler === undefined) return;
    try {
      handler(image);
    } catch (thrown) {
      this.owner.reportHandlerError(handlerFailed(name, thrown, { channel: this.channel, streamId: this.streamId, sessionId: image.sessionId }));
    }
  }
}
