export * from './publication-codes.js';
export { Publication } from './publication.js';
export { Subscription, type ReceivedMessage, type ImageHandler } from './subscription.js';
export { Image, type BlockHandler } from './image.js';
export { Counter } from './counter.js';
export { SkeinClient, type SkeinClientOptions, type SubscriptionOptions } from './skein-client.js';
export type { ConnectionEvent, ConnectionEventType, ConnectionListener, ConnectedOptions } from './connection-status.js';
