export * from './publication-codes.js';
export { Publication } from './publication.js';
export { Subscription, type ReceivedMessage, type ImageHandler } from './subscription.js';
export { Image } from './image.js';
export { SkeinClient, type SkeinClientOptions, type SubscriptionOptions } from './skein-client.js';
export type { ConnectionEvent, ConnectionEventType, ConnectionListener, ConnectedOptions } from './connection-status.js';
