import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Skein } from '../../../src/skein.js';
import type { Image } from '../../../src/client/image.js';
import type { Publication } from '../../../src/client/publication.js';
import type { Subscription } from '../../../src/client/subscription.js';
import { SkeinError } from '../../../src/util/errors.js';
import { waitFor, freeUdpPort } from '../../support/wait.js';

const REQUEST_STREAM = 10000;
const RESPONSE_STREAM = 10001;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface EchoServer {
  readonly skein: Skein;
  readonly responses: Map<number, Publication>;
  readonly requestSubscription: Subscription;
  stop(): void;
}

/** A transport-level echo server: one response publication per request image, as Aeron's sample does. */
async function startServer(requestChannel: string, responseControl: string, seed: number): Promise<EchoServer> {
  const skein = Skein.launch({ testProfile: true, seed, errorHandler: () => {} });
  const responses = new Map<number, Publication>();
  const requestSubscription = await skein.addSubscription(requestChannel, REQUEST_STREAM, {
    onAvailableImage: (image: Image) => {
      void skein
        .addPublication(`${responseControl}|control-mode=response|response-correlation-id=${image.correlationId}`, RESPONSE_STREAM)
        .then((publication) => responses.set(image.sessionId, publication), () => {});
    },
    onUnavailableImage: (image: Image) => {
      responses.get(image.sessionId)?.close();
      responses.delete(image.sessionId);
    },
  });
  requestSubscription.onFragment((buffer, offset, length, header) => {
    const reply = encoder.encode(`responding to message: ${decoder.decode(buffer.subarray(offset, offset + length))}`);
    responses.get(header.sessionId)?.offer(reply);
  });
  return { skein, responses, requestSubscription, stop: () => skein.destroy() };
}

interface RequestClient {
  readonly skein: Skein;
  readonly subscription: Subscription;
  readonly publication: Publication;
  readonly received: string[];
}

async function startClient(requestChannel: string, responseControl: string, seed: number): Promise<RequestClient> {
  const skein = Skein.launch({ testProfile: true, seed, errorHandler: () => {} });
  const subscription = await skein.addSubscription(`${responseControl}|control-mode=response`, RESPONSE_STREAM);
  const publication = await skein.addPublication(`${requestChannel}|response-correlation-id=${subscription.registrationId}`, REQUEST_STREAM);
  const received: string[] = [];
  subscription.onFragment((buffer, offset, length) => received.push(decoder.decode(buffer.subarray(offset, offset + length))));
  return { skein, subscription, publication, received };
}

/** Offers `text` until it is accepted and its answer arrives. */
async function roundTrip(client: RequestClient, text: string, timeoutMs: number): Promise<void> {
  const expected = `responding to message: ${text}`;
  const deadline = Date.now() + timeoutMs;
  let nextOfferMs = 0;
  while (!client.received.includes(expected)) {
    if (Date.now() > deadline) throw new Error(`no answer to '${text}' within ${timeoutMs} ms (received ${JSON.stringify(client.received.slice(-3))})`);
    if (Date.now() >= nextOfferMs && client.subscription.isConnected) {
      if (client.publication.offer(encoder.encode(text)) > 0) nextOfferMs = Date.now() + 500;
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

async function channels(): Promise<{ request: string; control: string }> {
  return { request: `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`, control: `aeron:udp?control=127.0.0.1:${await freeUdpPort()}` };
}

test('a request publication and a response subscription reach an echo server and get only their own answers', { timeout: 30_000 }, async () => {
  const { request, control } = await channels();
  const server = await startServer(request, control, 11);
  const clients: RequestClient[] = [];
  try {
    for (let i = 0; i < 3; i++) clients.push(await startClient(request, control, 100 + i));
    for (let round = 0; round < 3; round++) {
      await Promise.all(clients.map((client, i) => roundTrip(client, `client ${i} round ${round}`, 10_000)));
    }
    for (const [i, client] of clients.entries()) {
      for (const text of client.received) assert.match(text, new RegExp(`^responding to message: client ${i} round \\d$`), 'each client sees only its own answers');
      // The server picks the request session id as the response session id.
      assert.equal(client.subscription.images[0]?.sessionId, client.publication.sessionId);
    }
    assert.equal(server.responses.size, 3);
  } finally {
    for (const client of clients) client.skein.destroy();
    server.stop();
  }
});

test('a response publication naming no request image, and a request naming no response subscription, are refused', { timeout: 10_000 }, async () => {
  const { request, control } = await channels();
  const skein = Skein.launch({ testProfile: true, seed: 3, errorHandler: () => {} });
  try {
    await assert.rejects(skein.addPublication(`${control}|control-mode=response|response-correlation-id=987654`, RESPONSE_STREAM), (error: unknown) => {
      assert.ok(error instanceof SkeinError);
      assert.match(error.message, /response-correlation-id=987654 names no live image/);
      return true;
    });
    await assert.rejects(skein.addPublication(`${request}|response-correlation-id=424242`, REQUEST_STREAM), /response-correlation-id=424242 names no response subscription/);
    await assert.rejects(skein.addSubscription(`${control}|control-mode=response|session-id=7`, RESPONSE_STREAM), /session-id=7 cannot be combined with control-mode=response/);
    await assert.rejects(skein.addPublication(`aeron:udp?control-mode=response|response-correlation-id=1`, RESPONSE_STREAM), /control=host:port/);
    const prototype = await skein.addPublication(`${control}|control-mode=response|response-correlation-id=prototype`, RESPONSE_STREAM);
    assert.equal(prototype.isConnected, false);
    prototype.close();
  } finally {
    skein.destroy();
  }
});

for (const when of ['inside', 'after'] as const) {
  test(`the client rebinds to a restarted server's response stream (restart ${when} the image liveness timeout)`, { timeout: 40_000 }, async () => {
    const { request, control } = await channels();
    let server = await startServer(request, control, 21);
    const client = await startClient(request, control, 31);
    try {
      await roundTrip(client, 'before', 10_000);
      server.stop();
      const livenessMs = client.skein.driver.settings.imageLivenessTimeoutNs / 1e6;
      if (when === 'after') await waitFor(() => client.subscription.imageCount === 0, livenessMs * 3 + 2000, 'the old response image to time out');
      else assert.equal(client.subscription.imageCount, 1, 'the old response image is still live');
      // Another seed: the new response publication is another stream instance (new initial term id).
      server = await startServer(request, control, when === 'after' ? 22 : 23);
      await roundTrip(client, 'after restart', 15_000);
      assert.equal(client.subscription.imageCount, 1);
    } finally {
      client.skein.destroy();
      server.stop();
    }
  });
}
