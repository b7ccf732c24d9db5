/** Skein: Aeron-class messaging for TypeScript on Node.js. */
export { Skein, type SkeinOptions } from './skein.js';
export { SkeinWorker, type SkeinWorkerOptions } from './skein-worker.js';
export type { WorkerLink } from './worker-link.js';
export * from './client/index.js';
export { MediaDriver, type MediaDriverComponents } from './driver/media-driver.js';
export { DRIVER_OPTIONS, TEST_PROFILE, resolveDriverSettings, type DriverOptions, type DriverSettings } from './driver/driver-context.js';
export { SkeinError, SkeinAbortError, ErrorCode, isAbortError, type SkeinErrorCode, type ErrorSubject, type ErrorCategory } from './util/errors.js';
export { FragmentAssembler } from './logbuffer/fragment-assembler.js';
export { BufferClaim } from './logbuffer/buffer-claim.js';
export { Header, type FragmentHandler, type ControlledFragmentHandler } from './logbuffer/header.js';
export { ControlledPollAction } from './logbuffer/controlled-poll-action.js';
export { ChannelUri } from './protocol/channel-uri.js';
export * from './response/index.js';
export * from './archive/index.js';
export * from './rpc/index.js';
export * from './cluster/index.js';
