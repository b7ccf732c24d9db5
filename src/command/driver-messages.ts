/**
 * The messages a client and a media driver exchange: commands from clients to the driver and
 * responses and events from the driver to clients. Driver and client share these and the log
 * buffer formats only, so a client can work with a driver it did not create.
 *
 * In the embedded (shared) threading mode they travel through in-process queues; log buffers
 * are SharedArrayBuffers, so the same messages can later cross a worker boundary unchanged.
 */
import type { LogBuffers } from '../logbuffer/log-buffers.js';
import type { ErrorSubject, SkeinErrorCode } from '../util/errors.js';

export type DriverCommand =
  | AddPublicationCommand
  | RemoveCommand
  | AddSubscriptionCommand
  | ClientKeepaliveCommand
  | ClientCloseCommand
  | DestinationCommand
  | AddCounterCommand
  | RemoveCounterCommand;

/**
 * Allocates a counter in the driver's counters for this client (a recording position, say):
 * answered with COUNTER_READY naming its id, or ERROR when the counters are full. The counter is
 * freed by REMOVE_COUNTER or when the client closes.
 */
export interface AddCounterCommand {
  readonly type: 'ADD_COUNTER';
  readonly clientId: number;
  readonly correlationId: number;
  readonly typeId: number;
  readonly label: string;
  readonly key: CounterKeyFields;
}

export interface RemoveCounterCommand {
  readonly type: 'REMOVE_COUNTER';
  readonly clientId: number;
  readonly correlationId: number;
  readonly counterId: number;
}

/** What a counter is about, as the driver's counters keep it (see CounterKey in agent/counters). */
export interface CounterKeyFields {
  readonly registrationId?: number;
  readonly sessionId?: number;
  readonly streamId?: number;
  readonly channel?: string;
  readonly recordingId?: number;
  readonly archiveId?: number;
  readonly sourceIdentity?: string;
}

export interface AddPublicationCommand {
  readonly type: 'ADD_PUBLICATION';
  readonly clientId: number;
  readonly correlationId: number;
  readonly channel: string;
  readonly streamId: number;
  readonly exclusive: boolean;
}

export interface AddSubscriptionCommand {
  readonly type: 'ADD_SUBSCRIPTION';
  readonly clientId: number;
  readonly correlationId: number;
  readonly channel: string;
  readonly streamId: number;
}

export interface RemoveCommand {
  readonly type: 'REMOVE_PUBLICATION' | 'REMOVE_SUBSCRIPTION';
  readonly clientId: number;
  readonly correlationId: number;
  readonly registrationId: number;
}

/**
 * Adds or removes a destination of a multi-destination publication (`ADD_DESTINATION`) or
 * subscription (`ADD_RCV_DESTINATION`), both `control-mode=manual`, named by a channel such as
 * `aeron:udp?endpoint=127.0.0.1:40456`. Answered with OPERATION_SUCCESS or ERROR.
 */
export interface DestinationCommand {
  readonly type: 'ADD_DESTINATION' | 'REMOVE_DESTINATION' | 'ADD_RCV_DESTINATION' | 'REMOVE_RCV_DESTINATION';
  readonly clientId: number;
  readonly correlationId: number;
  /** The publication's or subscription's registration id. */
  readonly registrationId: number;
  readonly channel: string;
}

/**
 * A client that sends this (a client in a worker thread does, at least every 500 ms) is held to
 * the driver's client liveness timeout from then on: silent for longer, it is closed. Any command
 * counts as a sign of life.
 */
export interface ClientKeepaliveCommand {
  readonly type: 'CLIENT_KEEPALIVE';
  readonly clientId: number;
}

export interface ClientCloseCommand {
  readonly type: 'CLIENT_CLOSE';
  readonly clientId: number;
}

export type DriverResponse =
  | PublicationReadyResponse
  | SubscriptionReadyResponse
  | OperationSuccessResponse
  | ErrorResponse
  | AvailableImageResponse
  | UnavailableImageResponse
  | PublicationErrorResponse
  | ClientTimeoutResponse
  | CounterReadyResponse;

export interface CounterReadyResponse {
  readonly type: 'COUNTER_READY';
  readonly clientId: number;
  readonly correlationId: number;
  readonly counterId: number;
}

export interface PublicationReadyResponse {
  readonly type: 'PUBLICATION_READY';
  readonly clientId: number;
  readonly correlationId: number;
  readonly registrationId: number;
  readonly channel: string;
  readonly streamId: number;
  readonly sessionId: number;
  readonly exclusive: boolean;
  readonly logBuffers: LogBuffers;
  readonly publisherLimitCounterId: number;
}

export interface SubscriptionReadyResponse {
  readonly type: 'SUBSCRIPTION_READY';
  readonly clientId: number;
  readonly correlationId: number;
  /** The channel as resolved by the driver: an endpoint with port 0 names the bound port. */
  readonly resolvedChannel: string;
}

export interface OperationSuccessResponse {
  readonly type: 'OPERATION_SUCCESS';
  readonly clientId: number;
  readonly correlationId: number;
}

export interface ErrorResponse {
  readonly type: 'ERROR';
  readonly clientId: number;
  readonly correlationId: number;
  readonly code: SkeinErrorCode;
  /** What failed, without the subject: the client adds `subject` and the correlation id. */
  readonly message: string;
  readonly subject?: ErrorSubject;
}

export interface AvailableImageResponse {
  readonly type: 'AVAILABLE_IMAGE';
  readonly clientId: number;
  /** Identity of this image, unique within the driver. */
  readonly correlationId: number;
  readonly subscriptionRegistrationId: number;
  readonly sessionId: number;
  readonly streamId: number;
  readonly logBuffers: LogBuffers;
  readonly subscriberPositionCounterId: number;
  /** Joining position of this subscriber. */
  readonly joinPosition: number;
  /** `address:port` of the sender for UDP, `aeron:ipc` for IPC. */
  readonly sourceIdentity: string;
}

export interface UnavailableImageResponse {
  readonly type: 'UNAVAILABLE_IMAGE';
  readonly clientId: number;
  readonly correlationId: number;
  readonly subscriptionRegistrationId: number;
  readonly streamId: number;
  /**
   * The subscriber's position when the image went, read before its position counter is freed
   * (a freed counter reads 0, and its id may be reused at once).
   */
  readonly finalPosition: number;
}

export interface PublicationErrorResponse {
  readonly type: 'PUBLICATION_ERROR';
  readonly clientId: number;
  readonly registrationId: number;
  readonly sessionId: number;
  readonly streamId: number;
  readonly errorCode: number;
  readonly message: string;
}

/**
 * The driver closed this client because it sent nothing within the client liveness timeout after
 * it had started keeping alive (CLIENT_KEEPALIVE); its publications and subscriptions are gone.
 */
export interface ClientTimeoutResponse {
  readonly type: 'CLIENT_TIMEOUT';
  readonly clientId: number;
}
