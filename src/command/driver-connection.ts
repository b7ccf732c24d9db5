import type { CountersManager } from '../agent/counters.js';
import type { DistinctErrorLog } from '../agent/distinct-error-log.js';
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
  readonly counters: CountersManager;
  readonly errorLog: DistinctErrorLog;
  /** Wakes the agents that run the driver (and, in the embedded mode, the client conductor). */
  wake(): void;
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
