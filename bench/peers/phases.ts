/**
 * What the runner and the children of the peers suite agree on: the phases a measurement goes
 * through, and the bytes at the front of every benchmark message.
 *
 * One-way message (at least 8 bytes):       request / response (echoed unchanged):
 * ```
 *   0: sequence (u32 LE, from 0 each phase)   0: request number (u32 LE)
 *   4: phase index (u32 LE)                   4: slot (u32 LE), which of the requests in flight
 *   8: pattern …                              8: pattern …
 * ```
 */
import type { Metrics } from '../support/child-messages.js';

export const SEQUENCE_OFFSET = 0;
export const PHASE_OFFSET = 4;
export const SLOT_OFFSET = 4;
export const HEADER_LENGTH = 8;

/** The command that starts a phase in a child that sends (or drives requests). */
export interface PhaseCommand {
  readonly phase: number;
  /** Message length in bytes. */
  readonly length: number;
  /** Requests in flight (request / response scenarios). */
  readonly inFlight: number;
}

export function phaseCommand(data: Metrics): PhaseCommand {
  const phase = data.phase;
  const length = data.length;
  const inFlight = data.inFlight;
  if (typeof phase !== 'number' || typeof length !== 'number' || length < HEADER_LENGTH) {
    throw new Error(`bad phase command ${JSON.stringify(data)}: phase and length (>= ${HEADER_LENGTH}) are required`);
  }
  return { phase, length, inFlight: typeof inFlight === 'number' ? inFlight : 1 };
}

/**
 * Messages a publisher may have sent that its slowest subscriber has not yet credited, for
 * systems whose publish/subscribe has no flow control of its own (NATS core, Redis): about 4 MiB,
 * between 16 and 16384 messages. Subscribers credit every quarter of it.
 */
export function creditWindowMessages(length: number): number {
  return Math.min(16_384, Math.max(16, Math.floor((4 * 1024 * 1024) / length)));
}

export function creditEveryMessages(length: number): number {
  return Math.max(1, Math.floor(creditWindowMessages(length) / 4));
}

/** Buffers a sender rotates through, so none is rewritten while a library may still hold it: about 32 MiB. */
export function payloadPoolSlots(length: number): number {
  return Math.min(32_768, Math.max(64, Math.floor((32 * 1024 * 1024) / length)));
}

/**
 * One number per fan-out phase from the results of its subscribers: `msgsPerSec` is the slowest
 * subscriber's rate (every subscriber gets every message, so that is the rate of the fan-out),
 * `deliveredMsgsPerSec` the sum over subscribers.
 */
export function combineSubscribers(results: readonly Metrics[]): Metrics {
  const rate = (m: Metrics, key: string): number => (typeof m[key] === 'number' ? (m[key] as number) : Number.NaN);
  const rates = results.map((m) => rate(m, 'msgsPerSec'));
  const losses = results.map((m) => rate(m, 'lossPct'));
  const cpus = results.map((m) => rate(m, 'receiverCpuPct'));
  const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0);
  return {
    msgsPerSec: Math.min(...rates),
    maxSubscriberMsgsPerSec: Math.max(...rates),
    deliveredMsgsPerSec: sum(rates),
    mbPerSec: Math.min(...results.map((m) => rate(m, 'mbPerSec'))),
    lossPct: Math.max(...losses),
    receiverCpuPct: sum(cpus) / Math.max(1, cpus.length),
    subscribers: results.length,
  };
}
