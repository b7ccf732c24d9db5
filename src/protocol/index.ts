/** Wire protocol: frame constants and flyweights, the datagram acceptance gate, channel URIs. */
export * from './frame-constants.js';
export { Flyweight } from './flyweight.js';
export { HeaderFlyweight, HeaderLayout } from './header-flyweight.js';
export { DataHeaderFlyweight, DataHeaderLayout } from './data-header-flyweight.js';
export { SetupFlyweight, SetupLayout, type SetupFields } from './setup-flyweight.js';
export { StatusMessageFlyweight, StatusMessageLayout } from './status-message-flyweight.js';
export { NakFlyweight, NakLayout } from './nak-flyweight.js';
export { RttMeasurementFlyweight, RttMeasurementLayout } from './rtt-measurement-flyweight.js';
export { ErrorFlyweight, ErrorLayout, type ErrorFields } from './error-flyweight.js';
export { ResponseSetupFlyweight, ResponseSetupLayout } from './response-setup-flyweight.js';
export {
  ResolutionEntryFlyweight,
  ResolutionEntryLayout,
  ResolutionType,
  type ResolutionEntryFields,
} from './resolution-entry-flyweight.js';
export { validateDatagram, InvalidFrameReason, invalidFrameReasonName, type InvalidFrameReasonCode } from './frame-validator.js';
export {
  ChannelUri,
  CHANNEL_URI_LENGTH_MAX,
  SPY_PREFIX,
  paramError,
  parseBoolean,
  parseDurationNs,
  parseSize,
  parseSocketAddress,
  type ChannelMedia,
  type SocketAddress,
} from './channel-uri.js';
export {
  parsePublicationParams,
  parseSubscriptionParams,
  MAX_RESEND_MAX,
  TERM_LENGTH_MAX,
  TERM_LENGTH_MIN,
  type ChannelTags,
  type CommonChannelParams,
  type ControlMode,
  type FlowControlParams,
  type PublicationParams,
  type SubscriptionParams,
  type TimestampOffset,
} from './channel-params.js';
