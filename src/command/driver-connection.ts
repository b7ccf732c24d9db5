import type { DriverCommand, DriverResponse } from './driver-messages.js';
import { MessageQueue } from './message-queue.js';

/** Size of each direction's queue; a full queue is reported to the offering side. */
export const DRIVER_QUEUE_CAPACITY = 4096;

/**
 * What a client needs to talk to a media driver: the two message queues, the driver's counters
 * (positions and limits the client reads and writes) and the hooks that wake each side's agents
 * when there is something for them.
 */
export interface DriverConnection {
  /** Id of the client this connection belongs to; every command carries it. */
  readonly clientId: number;
  readonly toDriver: MessageQueue<DriverCommand>;
  /** Responses and events for this client only. */
  readonly toClient: MessageQueue<DriverResponse>;
  /** The driver's counter values (a Float64Array over a SharedArrayBuffer), indexed by counter id. */
  /** The driver's counter values; `isAllocated` where the driver is in this thread (not for a worker's client). */
  readonly counters: { readonly values: Float64Array; isAllocated?(counterId: number): boolean };
  /** Id of the counter a client increments when an application handler throws. */
  readonly handlerErrorsCounterId: number;
  /** Wakes the agents that run the driver (and, in the embedded mode, the client conductor). */
  wake(): void;
  /**
   * A subscriber consumed fragments or a publisher met back-pressure. A driver that runs in the
   * client's own thread sees this in its next duty cycle and needs nothing (a no-op); a client in
   * a worker thread wakes a sleeping driver, so limits and status messages move on at once.
   */
  notifyProgress(): void;
  /** Allocates an id unique within this driver, for correlation and registration ids. */
  nextCorrelationId(): number;
  /** Driver timeout after which a silent client is considered dead. */
  readonly clientLivenessTimeoutNs: number;
  /** True once the driver has been closed; clients then close too. */
  readonly isDriverClosed: boolean;
}

export function createCommandQueue(): MessageQueue<DriverCommand> {
  return new MessageQueue<DriverCommand>(DRIVER_QUEUE_CAPACITY);
}

export function createResponseQueue(): MessageQueue<DriverResponse> {
  return new MessageQueue<DriverResponse>(DRIVER_QUEUE_CAPACITY);
}
