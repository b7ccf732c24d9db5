/**
 * Name resolution for addresses that are not IP literals (RPC providers listed by host name).
 * The driver takes IP literals only; this turns a name into one with the system resolver.
 */
import { lookup } from 'node:dns/promises';

/** The first address of `host` (IPv4 preferred); rejects with the resolver's error (ENOTFOUND, EAI_AGAIN, ...). */
export async function resolveHost(host: string): Promise<string> {
  const result = await lookup(host, { family: 0, order: 'ipv4first' });
  return result.address;
}
