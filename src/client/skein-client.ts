import { SkeinError, ErrorCode, messageOf } from '../util/errors.js';
import { AssertionFailure } from '../util/assert.js';
import type { Implements } from '../util/implements.js';
import type { Agent } from '../agent/agent.js';
import type { NanoClock } from '../env/clock.js';
import type { DriverConnection } from '../command/driver-connection.js';
import type { CounterKeyFields, DriverCommand, DriverResponse } from '../command/driver-messages.js';
import { ChannelUri } from '../protocol/channel-uri.js';
import { Publication, type PublicationOwner } from './publication.js';
import { Subscription, type ImageHandler, type SubscriptionOwner } from './subscription.js';
import { Image, type ImageErrorReporter } from './image.js';
import { Counter, type CounterOwner } from './counter.js';
import type { ConnectionStatus, ConnectionStatusHost } from './connection-status.js';

export interface SkeinClientOptions {
  readonly connection: DriverConnection;
  readonly clock: NanoClock;
  /** How long to wait for the driver to answer a command. Default 10 s. */
  readonly driverTimeoutMs?: number;
  /** Receives errors the client cannot return to a caller. */
  readonly errorHandler?: (error: unknown) => void;
}

export interface SubscriptionOptions {
  readonly onAvailableImage?: ImageHandler;
  readonly onUnavailableImage?: ImageHandler;
}

type PendingKind = 'publication' | 'subscription' | 'remove' | 'destination' | 'counter';

interface Pending {
  readonly kind: PendingKind;
  readonly channel: string;
  readonly streamId: number;
  readonly deadlineNs: number;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly subscriptionOptions?: SubscriptionOptions;
  /** For a counter request: what the counter is. */
  readonly counter?: { readonly typeId: number; readonly label: string };
}

/**
 * A client of a media driver: creates publications and subscriptions and keeps them in step with
 * the driver. Its agent (`conductor`) must run for commands to complete and images to appear; the
 * embedded `Skein` entry point runs it together with the driver.
 */
export class SkeinClient {
  /** @internal */
  readonly roleName = 'client-conductor';
  readonly clientId: number;

  private readonly connection: DriverConnection;
  /** The client's injected clock (nanoseconds), for layers built on the client. */
  readonly clock: NanoClock;
  private agents: Agent[] = [];
  private readonly driverTimeoutNs: number;
  private readonly errorHandler: (error: unknown) => void;
  private readonly pending = new Map<number, Pending>();
  private readonly publications = new Map<number, Publication>();
  private readonly subscriptions = new Map<number, Subscription>();
  private readonly counters = new Map<number, Counter>();
  private polled: Subscription[] = [];
  private watched: ConnectionStatus[] = [];
  private closed = false;
  /** Why the client closed when it did not close by itself (the driver failed). */
  private closeCause: SkeinError | null = null;
  private readonly onResponseBound: (response: DriverResponse) => void;

  constructor(options: SkeinClientOptions) {
    this.connection = options.connection;
    this.clientId = options.connection.clientId;
    this.clock = options.clock;
    const timeoutMs = options.driverTimeoutMs ?? 10_000;
    if (!(timeoutMs > 0)) {
      throw new SkeinError(ErrorCode.CONFIG_INVALID, `driverTimeoutMs must be > 0, got ${timeoutMs}`);
    }
    this.driverTimeoutNs = timeoutMs * 1e6;
    this.errorHandler = options.errorHandler ?? ((error) => console.error(error));
    this.onResponseBound = (response) => this.onResponse(response);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Adds a publication that shares its session with other publications on the same channel and stream. */
  addPublication(channel: string, streamId: number): Promise<Publication> {
    return this.addPublicationCommand(channel, streamId, false);
  }

  /** Adds a publication with a session of its own. */
  addExclusivePublication(channel: string, streamId: number): Promise<Publication> {
    return this.addPublicationCommand(channel, streamId, true);
  }

  addSubscription(channel: string, streamId: number, options: SubscriptionOptions = {}): Promise<Subscription> {
    const check = this.checkAdd(channel, streamId);
    if (check !== null) return Promise.reject(check);
    return this.send('subscription', channel, streamId, (correlationId) => ({
      type: 'ADD_SUBSCRIPTION',
      clientId: this.clientId,
      correlationId,
      channel,
      streamId,
    }), options) as Promise<Subscription>;
  }

  /** Closes every publication and subscription of this client and tells the driver. Idempotent. */
  close(): void {
    this.closeWith(null);
  }

  /**
   * @internal Closes because the driver failed: pending and later calls fail with
   * ERR_SKEIN_DRIVER_FAILED carrying `cause`, and closed publications and subscriptions say why.
   */
  fail(cause: unknown): void {
    this.closeWith(
      cause instanceof SkeinError && cause.code === ErrorCode.DRIVER_FAILED
        ? cause
        : new SkeinError(ErrorCode.DRIVER_FAILED, `the driver stopped: ${messageOf(cause)}`, { state: 'FAILED', cause }),
    );
  }

  /** The error that closed this client when the driver failed, or null. */
  get failure(): SkeinError | null {
    return this.closeCause;
  }

  private closeWith(cause: SkeinError | null): void {
    if (this.closed) return;
    this.closeCause = cause;
    // Layers on the client say goodbye first (their publications are still open).
    const agents = this.agents;
    this.agents = [];
    for (const agent of agents) {
      try {
        agent.onClose?.();
      } catch (error) {
        this.errorHandler(error);
      }
    }
    this.closed = true;
    const reason = cause ?? undefined;
    for (const publication of this.publications.values()) publication.internalClose(reason);
    for (const subscription of this.subscriptions.values()) subscription.internalClose(reason);
    for (const counter of this.counters.values()) counter.internalClose();
    this.publications.clear();
    this.subscriptions.clear();
    this.counters.clear();
    this.polled = [];
    this.watched = [];
    for (const [correlationId, pending] of this.pending) {
      pending.reject(this.closedError(`client closed before the driver answered the ${pending.kind} request`, { channel: pending.channel, streamId: pending.streamId, correlationId }));
    }
    this.pending.clear();
    this.connection.toDriver.offer({ type: 'CLIENT_CLOSE', clientId: this.clientId });
    this.connection.wake();
  }

  /** @internal */
  doWork(nowNs: number): number {
    if (this.closed) return 0;
    let work = this.connection.toClient.drain(this.onResponseBound, 64);
    if (this.pending.size > 0) work += this.checkTimeouts(nowNs);
    const polled = this.polled;
    for (let i = 0; i < polled.length; i++) work += polled[i]!.pollAuto();
    const watched = this.watched;
    for (let i = 0; i < watched.length; i++) work += watched[i]!.poll(nowNs);
    const agents = this.agents;
    for (let i = 0; i < agents.length; i++) {
      try {
        work += agents[i]!.doWork(nowNs);
      } catch (error) {
        if (error instanceof AssertionFailure) throw error;
        this.errorHandler(error);
      }
    }
    if (this.connection.isDriverClosed) this.close();
    return work;
  }

  /** @internal */
  onClose(): void {
    this.close();
  }

  /** @internal */
  releasePublication(publication: Publication): void {
    if (this.publications.delete(publication.registrationId)) this.removeCommand('REMOVE_PUBLICATION', publication.registrationId);
  }

  /**
   * Allocates a counter in the driver's counters, owned by this client: `typeId` says what kind
   * it is, `label` names it for people, `key` says what it is about (recording, session, stream,
   * source). Rejects with ERR_SKEIN_COUNTERS_FULL when the driver has no free counter. The driver
   * frees it when it is closed or this client closes.
   */
  addCounter(typeId: number, label: string, key: CounterKeyFields = {}): Promise<Counter> {
    if (this.closed) return Promise.reject(this.closedError('client is closed', {}));
    if (!(Number.isInteger(typeId) && typeId >= -0x80000000 && typeId <= 0x7fffffff) || typeof label !== 'string') {
      return Promise.reject(new SkeinError(ErrorCode.ARG_INVALID, `addCounter: typeId ${String(typeId)} must be a 32-bit integer and label a string`));
    }
    const correlationId = this.connection.nextCorrelationId();
    return new Promise<Counter>((resolve, reject) => {
      if (!this.connection.toDriver.offer({ type: 'ADD_COUNTER', clientId: this.clientId, correlationId, typeId, label, key })) {
        reject(new SkeinError(ErrorCode.DRIVER_COMMAND_FAILED, 'driver command queue is full', { correlationId }));
        return;
      }
      const deadlineNs = this.clock.nanoTime() + this.driverTimeoutNs;
      this.pending.set(correlationId, { kind: 'counter', channel: '', streamId: 0, deadlineNs, resolve: resolve as (v: unknown) => void, reject, counter: { typeId, label } });
      this.connection.wake();
    });
  }

  /** The value of the driver's counter `counterId` (any counter, not only this client's). */
  counterValue(counterId: number): number {
    return this.connection.counters.values[counterId] ?? 0;
  }

  /**
   * Whether `counterId` names a counter in use in the driver. A client in a worker thread cannot
   * tell and says true for any id in range.
   */
  counterIsAllocated(counterId: number): boolean {
    const counters = this.connection.counters;
    if (!(Number.isInteger(counterId) && counterId >= 0 && counterId < counters.values.length)) return false;
    return counters.isAllocated === undefined ? true : counters.isAllocated(counterId);
  }

  /** @internal */
  releaseCounter(counter: Counter): void {
    if (!this.counters.delete(counter.id)) return;
    this.connection.toDriver.offer({ type: 'REMOVE_COUNTER', clientId: this.clientId, correlationId: this.connection.nextCorrelationId(), counterId: counter.id });
    this.connection.wake();
  }

  /** @internal */
  releaseSubscription(subscription: Subscription): void {
    this.stopPolling(subscription);
    if (this.subscriptions.delete(subscription.registrationId)) this.removeCommand('REMOVE_SUBSCRIPTION', subscription.registrationId);
  }

  /**
   * @internal Runs `agent` on this client's duty cycle, after the subscriptions it polls: layers built on
   * the client (request/response sessions) keep their timers and polling there, on the same
   * thread and clock as the client. Its onClose runs when it is removed or the client closes.
   */
  addAgent(agent: Agent): void {
    if (this.closed) throw this.closedError(`cannot add agent '${agent.roleName}': the client is closed`, {});
    if (!this.agents.includes(agent)) this.agents = [...this.agents, agent];
    this.connection.wake();
  }

  /** @internal */
  removeAgent(agent: Agent): void {
    if (!this.agents.includes(agent)) return;
    this.agents = this.agents.filter((a) => a !== agent);
    agent.onClose?.();
  }

  /** @internal */
  startPolling(subscription: Subscription): void {
    if (!this.polled.includes(subscription)) this.polled = [...this.polled, subscription];
    this.connection.wake();
  }

  /** @internal */
  stopPolling(subscription: Subscription): void {
    this.polled = this.polled.filter((s) => s !== subscription);
  }

  /** @internal */
  wakeDriver(): void {
    this.connection.wake();
  }

  /** @internal Adds or removes a destination of a multi-destination publication or subscription. */
  destinationCommand(
    type: 'ADD_DESTINATION' | 'REMOVE_DESTINATION' | 'ADD_RCV_DESTINATION' | 'REMOVE_RCV_DESTINATION',
    target: { readonly registrationId: number; readonly channel: string; readonly streamId: number },
    channel: string,
  ): Promise<void> {
    if (this.closed) return Promise.reject(this.closedError('client is closed', { channel: target.channel, streamId: target.streamId }));
    if (typeof channel !== 'string') {
      return Promise.reject(new SkeinError(ErrorCode.URI_INVALID, `a destination is a channel such as 'aeron:udp?endpoint=127.0.0.1:40456', got ${typeof channel}`));
    }
    return this.send('destination', channel, target.streamId, (correlationId) => ({
      type,
      clientId: this.clientId,
      correlationId,
      registrationId: target.registrationId,
      channel,
    })) as Promise<void>;
  }

  /** @internal */
  nanoTime(): number {
    return this.clock.nanoTime();
  }

  /** @internal */
  watch(status: ConnectionStatus): void {
    if (this.closed || this.watched.includes(status)) return;
    this.watched = [...this.watched, status];
    this.connection.wake();
  }

  /** @internal */
  unwatch(status: ConnectionStatus): void {
    this.watched = this.watched.filter((s) => s !== status);
  }

  /** @internal Reports an error no caller can receive to this client's error handler (layers on the client use it). */
  reportError(error: unknown): void {
    this.errorHandler(error);
  }

  /**
   * @internal Reports an error thrown by an application callback (ERR_SKEIN_HANDLER_FAILED) to `handler`
   * (default: this client's error handler) and counts it in the driver's handler-errors counter.
   * Layers built on the client report their callbacks' errors here.
   */
  reportHandlerError(error: SkeinError, handler: (error: unknown) => void = this.errorHandler): void {
    const values = this.connection.counters.values;
    values[this.connection.handlerErrorsCounterId]!++;
    try {
      handler(error);
    } catch (thrown) {
      // An error handler that throws must not stop the duty cycle that called it.
      if (handler !== this.errorHandler) this.errorHandler(thrown);
    }
  }

  /** @internal A fragment handler threw: its fragment is consumed, the stream goes on. */
  onFragmentHandlerError(image: Image, thrown: unknown, position: number): void {
    this.reportHandlerError(
      new SkeinError(ErrorCode.HANDLER_FAILED, `fragment handler threw: ${messageOf(thrown)}; the fragment counts as consumed and the stream goes on`, {
        channel: image.channel,
        streamId: image.streamId,
        sessionId: image.sessionId,
        position,
        cause: thrown,
      }),
    );
  }

  /** @internal */
  notifyProgress(): void {
    this.connection.notifyProgress();
  }

  private addPublicationCommand(channel: string, streamId: number, exclusive: boolean): Promise<Publication> {
    const check = this.checkAdd(channel, streamId);
    if (check !== null) return Promise.reject(check);
    return this.send('publication', channel, streamId, (correlationId) => ({
      type: 'ADD_PUBLICATION',
      clientId: this.clientId,
      correlationId,
      channel,
      streamId,
      exclusive,
    })) as Promise<Publication>;
  }

  private closedError(message: string, subject: { channel?: string; streamId?: number; correlationId?: number }): SkeinError {
    const cause = this.closeCause;
    if (cause === null) return new SkeinError(ErrorCode.CLOSED, message, { ...subject, state: 'CLOSED' });
    return new SkeinError(ErrorCode.DRIVER_FAILED, `${message}: ${cause.detail}`, { ...subject, state: 'FAILED', cause });
  }

  private checkAdd(channel: string, streamId: number): Error | null {
    if (this.closed) return this.closedError('client is closed', { channel, streamId });
    if (typeof channel !== 'string') {
      return new SkeinError(ErrorCode.URI_INVALID, `channel must be a string such as 'aeron:udp?endpoint=127.0.0.1:40456' or 'aeron:ipc', got ${typeof channel}`);
    }
    if (!Number.isInteger(streamId) || streamId < -0x80000000 || streamId > 0x7fffffff) {
      return new SkeinError(ErrorCode.ARG_INVALID, `stream id ${String(streamId)} is not a 32-bit integer; allowed -2147483648..2147483647`, { channel });
    }
    try {
      ChannelUri.parse(channel);
    } catch (error) {
      return error as Error;
    }
    return null;
  }

  private send(
    kind: PendingKind,
    channel: string,
    streamId: number,
    build: (correlationId: number) => DriverCommand,
    subscriptionOptions?: SubscriptionOptions,
  ): Promise<unknown> {
    const correlationId = this.connection.nextCorrelationId();
    return new Promise((resolve, reject) => {
      if (!this.connection.toDriver.offer(build(correlationId))) {
        reject(new SkeinError(ErrorCode.DRIVER_COMMAND_FAILED, 'driver command queue is full', { channel, streamId, correlationId }));
        return;
      }
      const deadlineNs = this.clock.nanoTime() + this.driverTimeoutNs;
      const entry: Pending = { kind, channel, streamId, deadlineNs, resolve, reject };
      this.pending.set(correlationId, subscriptionOptions === undefined ? entry : { ...entry, subscriptionOptions });
      this.connection.wake();
    });
  }

  private removeCommand(type: 'REMOVE_PUBLICATION' | 'REMOVE_SUBSCRIPTION', registrationId: number): void {
    const correlationId = this.connection.nextCorrelationId();
    this.connection.toDriver.offer({ type, clientId: this.clientId, correlationId, registrationId });
    this.connection.wake();
  }

  private checkTimeouts(nowNs: number): number {
    let expired = 0;
    for (const [correlationId, pending] of this.pending) {
      if (nowNs < pending.deadlineNs) continue;
      this.pending.delete(correlationId);
      expired++;
      pending.reject(
        new SkeinError(ErrorCode.DRIVER_TIMEOUT, `driver did not answer the ${pending.kind} request in time`, {
          channel: pending.channel,
          streamId: pending.streamId,
          correlationId,
          timeoutMs: this.driverTimeoutNs / 1e6,
        }),
      );
    }
    return expired;
  }

  private onResponse(response: DriverResponse): void {
    try {
      this.dispatch(response);
    } catch (error) {
      this.errorHandler(error);
    }
  }

  private dispatch(response: DriverResponse): void {
    switch (response.type) {
      case 'PUBLICATION_READY': {
        const pending = this.takePending(response.correlationId);
        if (pending === undefined) return;
        const publication = new Publication({
          owner: this,
          channel: response.channel,
          streamId: response.streamId,
          sessionId: response.sessionId,
          registrationId: response.registrationId,
          exclusive: response.exclusive,
          logBuffers: response.logBuffers,
          counterValues: this.connection.counters.values,
          publisherLimitCounterId: response.publisherLimitCounterId,
        });
        this.publications.set(response.registrationId, publication);
        pending.resolve(publication);
        return;
      }
      case 'SUBSCRIPTION_READY': {
        const pending = this.takePending(response.correlationId);
        if (pending === undefined) return;
        const options = pending.subscriptionOptions ?? {};
        const subscription = new Subscription({
          owner: this,
          channel: pending.channel,
          resolvedChannel: response.resolvedChannel,
          streamId: pending.streamId,
          registrationId: response.correlationId,
          onAvailableImage: options.onAvailableImage,
          onUnavailableImage: options.onUnavailableImage,
        });
        this.subscriptions.set(response.correlationId, subscription);
        pending.resolve(subscription);
        return;
      }
      case 'COUNTER_READY': {
        const pending = this.takePending(response.correlationId);
        if (pending?.counter === undefined) return;
        const counter = new Counter(this, response.counterId, pending.counter.typeId, pending.counter.label, this.connection.counters.values);
        this.counters.set(counter.id, counter);
        pending.resolve(counter);
        return;
      }
      case 'OPERATION_SUCCESS':
        this.takePending(response.correlationId)?.resolve(undefined);
        return;
      case 'ERROR': {
        const pending = this.takePending(response.correlationId);
        const error = new SkeinError(response.code, response.message, { ...response.subject, correlationId: response.correlationId });
        if (pending === undefined) this.errorHandler(error);
        else pending.reject(error);
        return;
      }
      case 'AVAILABLE_IMAGE':
        this.onAvailableImage(response);
        return;
      case 'UNAVAILABLE_IMAGE': {
        const subscription = this.subscriptions.get(response.subscriptionRegistrationId);
        subscription?.internalRemoveImage(response.correlationId, response.finalPosition);
        return;
      }
      case 'PUBLICATION_ERROR':
        this.errorHandler(
          new SkeinError(ErrorCode.DRIVER_COMMAND_FAILED, `publication error ${response.errorCode}: ${response.message}`, {
            streamId: response.streamId,
            sessionId: response.sessionId,
          }),
        );
        return;
    }
  }

  private onAvailableImage(response: Extract<DriverResponse, { type: 'AVAILABLE_IMAGE' }>): void {
    const subscription = this.subscriptions.get(response.subscriptionRegistrationId);
    // One image of the driver may feed several subscriptions of this client, each with its own Image.
    if (subscription === undefined || subscription.images.some((i) => i.correlationId === response.correlationId)) return;
    const image = new Image({
      correlationId: response.correlationId,
      subscriptionRegistrationId: response.subscriptionRegistrationId,
      sessionId: response.sessionId,
      streamId: response.streamId,
      channel: subscription.channel,
      sourceIdentity: response.sourceIdentity,
      logBuffers: response.logBuffers,
      counterValues: this.connection.counters.values,
      subscriberPositionCounterId: response.subscriberPositionCounterId,
      errorReporter: this,
    });
    subscription.internalAddImage(image);
  }

  private takePending(correlationId: number): Pending | undefined {
    const pending = this.pending.get(correlationId);
    if (pending !== undefined) this.pending.delete(correlationId);
    return pending;
  }
}

/**
 * @internal What the client is to its parts: the agent its runner drives, the owner of its
 * publications and subscriptions, and the reporter of its images' handler errors.
 */
export type SkeinClientRoles = Implements<Agent & PublicationOwner & SubscriptionOwner & ConnectionStatusHost & ImageErrorReporter & CounterOwner, SkeinClient>;
