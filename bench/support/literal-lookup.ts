/**
 * A `lookup` for `node:dgram` sockets that are only ever given IPv4 literals: the address as it is,
 * answered at once, so a datagram leaves within `send()` instead of after a DNS lookup's tick.
 */
export const literalLookup = (host: string, _options: unknown, callback: (error: Error | null, address: string, family: number) => void): void => callback(null, host, 4);
