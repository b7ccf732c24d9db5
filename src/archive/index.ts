export { Archive, type ArchiveLaunchOptions } from './archive.js';
export { ArchiveClient, ArchiveRequestError, type ArchiveClientOptions, type ArchiveClientState, type RecordingSignalEvent, type RecordingSubscriptionDescriptor, type ReplicateOptions } from './archive-client.js';
export { ReplayMerge, LIVE_ADD_MAX_WINDOW, type ReplayMergeOptions, type ReplayMergeState } from './replay-merge.js';
export { ARCHIVE_OPTIONS, ARCHIVE_DEFAULTS, resolveArchiveSettings, type ArchiveOptions, type ArchiveSettings } from './archive-context.js';
export { ArchiveErrorCode, RecordingSignal, RECORDING_POSITION_TYPE_ID, REPLAY_ALL_AND_FOLLOW, REPLAY_ALL_AND_STOP, type SourceLocation, type ControlSessionEnd } from './archive-codes.js';
export { RecordingState, type RecordingDescriptor } from './catalog-layout.js';
