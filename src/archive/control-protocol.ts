/**
 * The archive's control protocol on the wire (schema 101): the encoder a control session sends
 * its responses with, and the link through which the conductor answers a session's requests
 * (responses, descriptors, recording signals), all queued by the session when they cannot go.
 */
import type { NanoClock } from '../env/clock.js';
import {
  ControlResponseEncoder as ControlResponseMessage,
  PingEncoder,
  RecordingDescriptorEncoder,
  RecordingSignalEventEncoder,
  RecordingSubscriptionDescriptorEncoder,
  ControlResponseCode,
  type RecordingSignal as WireRecordingSignal,
} from './codecs/archive-codecs.js';
import type { ArchiveErrorCode, ControlSessionLink, RecordingSignal } from './archive-conductor.js';
import type { RecordingDescriptor } from './catalog.js';
import { ARCHIVE_PROTOCOL_VERSION, type ControlResponseEncoder, type ControlSession } from './control-session.js';

/** Encodes ControlResponse and Ping with the generated codecs. */
export class WireResponseEncoder implements ControlResponseEncoder {
  private readonly response = new ControlResponseMessage();
  private readonly pingEncoder = new PingEncoder();

  controlResponse(buffer: Uint8Array, controlSessionId: number, correlationId: number, relevantId: bigint, code: number, errorMessage: string): number {
    return this.response
      .wrapAndApplyHeader(buffer, 0)
      .controlSessionId(controlSessionId)
      .correlationId(correlationId)
      .relevantId(relevantId)
      .code(code as ControlResponseCode)
      .version(ARCHIVE_PROTOCOL_VERSION)
      .errorMessage(errorMessage)
      .encodedLength();
  }

  ping(buffer: Uint8Array, controlSessionId: number): number {
    return this.pingEncoder.wrapAndApplyHeader(buffer, 0).controlSessionId(controlSessionId).encodedLength();
  }
}

/** Longest error text sent back; longer ones are cut (a response must fit its buffer). */
const ERROR_MESSAGE_MAX = 1500;

/** The conductor's view of one control session, encoding onto its response publication. */
export class ControlSessionProxy implements ControlSessionLink {
  private readonly buffer = new Uint8Array(8192);
  private readonly descriptor = new RecordingDescriptorEncoder();
  private readonly subscriptionDescriptor = new RecordingSubscriptionDescriptorEncoder();
  private readonly signal = new RecordingSignalEventEncoder();

  constructor(
    readonly session: ControlSession,
    private readonly clock: NanoClock,
  ) {}

  get controlSessionId(): number {
    return this.session.controlSessionId;
  }

  get isDone(): boolean {
    return this.session.state === 'DONE';
  }

  sendOk(correlationId: number, relevantId: bigint | number): void {
    this.session.sendResponse(this.clock.nanoTime(), correlationId, BigInt(relevantId), ControlResponseCode.OK);
  }

  sendError(correlationId: number, code: ArchiveErrorCode, message: string): void {
    this.session.sendResponse(this.clock.nanoTime(), correlationId, BigInt(code), ControlResponseCode.ERROR, asciiOf(message));
  }

  sendRecordingUnknown(correlationId: number, recordingId: number): void {
    this.session.sendResponse(this.clock.nanoTime(), correlationId, BigInt(recordingId), ControlResponseCode.RECORDING_UNKNOWN);
  }

  sendSubscriptionUnknown(correlationId: number): void {
    this.session.sendResponse(this.clock.nanoTime(), correlationId, 0n, ControlResponseCode.SUBSCRIPTION_UNKNOWN);
  }

  sendSignal(correlationId: number, recordingId: number, subscriptionId: number, position: number, signal: RecordingSignal): void {
    const length = this.signal
      .wrapAndApplyHeader(this.buffer, 0)
      .controlSessionId(this.controlSessionId)
      .correlationId(correlationId)
      .recordingId(recordingId)
      .subscriptionId(subscriptionId)
      .position(position)
      .signal(signal as WireRecordingSignal)
      .encodedLength();
    this.session.send(this.clock.nanoTime(), this.buffer, length);
  }

  sendDescriptor(correlationId: number, d: Readonly<RecordingDescriptor>): void {
    const length = this.descriptor
      .wrapAndApplyHeader(this.buffer, 0)
      .controlSessionId(this.controlSessionId)
      .correlationId(correlationId)
      .recordingId(d.recordingId)
      .startTimestamp(d.startTimestamp)
      .stopTimestamp(d.stopTimestamp)
      .startPosition(d.startPosition)
      .stopPosition(d.stopPosition)
      .initialTermId(d.initialTermId)
      .segmentFileLength(d.segmentFileLength)
      .termBufferLength(d.termBufferLength)
      .mtuLength(d.mtuLength)
      .sessionId(d.sessionId)
      .streamId(d.streamId)
      .strippedChannel(d.strippedChannel)
      .originalChannel(d.originalChannel)
      .sourceIdentity(d.sourceIdentity)
      .encodedLength();
    this.session.send(this.clock.nanoTime(), this.buffer, length);
  }

  sendSubscriptionDescriptor(correlationId: number, subscriptionId: number, streamId: number, strippedChannel: string): void {
    const length = this.subscriptionDescriptor
      .wrapAndApplyHeader(this.buffer, 0)
      .controlSessionId(this.controlSessionId)
      .correlationId(correlationId)
      .subscriptionId(subscriptionId)
      .streamId(streamId)
      .strippedChannel(strippedChannel)
      .encodedLength();
    this.session.send(this.clock.nanoTime(), this.buffer, length);
  }
}

/** Error texts go out as US-ASCII: other characters become '?', and long texts are cut. */
export function asciiOf(text: string): string {
  const cut = text.length > ERROR_MESSAGE_MAX ? `${text.slice(0, ERROR_MESSAGE_MAX)}...` : text;
  return cut.replace(/[^\x00-\x7f]/g, '?');
}
