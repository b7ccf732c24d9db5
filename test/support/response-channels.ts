/** Request and response channels on free loopback ports, for request/response tests. */
import { freeUdpPort } from './wait.js';

export interface ResponseChannels {
  readonly requestChannel: string;
  readonly responseControlChannel: string;
}

export async function responseChannels(): Promise<ResponseChannels> {
  return {
    requestChannel: `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`,
    responseControlChannel: `aeron:udp?control=127.0.0.1:${await freeUdpPort()}`,
  };
}

const decoder = new TextDecoder();

/** A payload as UTF-8 text. */
export const text = (bytes: Uint8Array): string => decoder.decode(bytes);
