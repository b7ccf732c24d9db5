/** Ingress defaults, apart so that the command line shows them without loading the cluster. */

/**
 * Client messages (one fragment each) the leader takes from its ingress in one duty cycle. Aeron's
 * default is 50 (aeron.cluster.ingress.fragment.limit), for a consensus module that turns its duty
 * cycle millions of times a second; a member here turns it a few thousand times, and with 50 a
 * leader behind its clients took no more commands a cycle however many waited, so its intake fell
 * with its cycle rate. A larger batch per cycle is what lets it catch up.
 */
export const DEFAULT_INGRESS_FRAGMENT_LIMIT = 256;

/** The largest ingress fragment limit a member takes (the smallest is 1). */
export const MAX_INGRESS_FRAGMENT_LIMIT = 65_536;
