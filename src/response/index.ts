export { ResponseClient, type ResponseClientOptions, type ResponseClientState, type ResponseClientStateChange, type ResponseFraming, type ResponseHandler } from './response-client.js';
export { ResponseServer, ServerSession, type ResponseServerOptions, type RequestHandler, type RawRequestHandler, type RequestContext, type ServerSessionState } from './response-server.js';
export { MessageKind, RESPONSE_DEFAULTS, isRetryable, markerWord, messageKind } from './response-protocol.js';
export { Backoff } from './backoff.js';
