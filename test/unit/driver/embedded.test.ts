import { test } from 'node:test';
import { createSocket } from 'node:dgram';
import assert from 'node:assert/strict';
import { Skein } from '../../../src/skein.js';
import { FragmentAssembler } from '../../../src/logbuffer/fragment-assembler.js';
import { BufferClaim } from '../../../src/logbuffer/buffer-claim.js';
import { BACK_PRESSURED, CLOSED, NOT_CONNECTED, ADMIN_ACTION } from '../../../src/client/publication-codes.js';
import type { Publication } from '../../../src/client/publication.js';
import { waitFor, freeUdpPort } from '../../support/wait.js';
import { ErrorCode, type SkeinError } from '../../../src/util/errors.js';

function message(sequence: number, length: number): Uint8Array {
  const data = new Uint8Array(length);
  new DataView(data.buffer).setUint32(0, sequence, true);
  for (let i = 4; i < length; i++) data[i] = (sequence + i) & 0xff;
  return data;
}

function checkMessage(buffer: Uint8Array, offset: number, length: number, expected: number): void {
  const sequence = new DataView(buffer.buffer, buffer.byteOffset + offset, 4).getUint32(0, true);
  assert.equal(sequence, expected, 'messages arrive in order, once');
  for (let i = 4; i < length; i++) {
    if (buffer[offset + i] !== ((sequence + i) & 0xff)) assert.fail(`byte ${i} of message ${sequence} differs`);
  }
}

async function offerAll(publication: Publication, messages: Uint8Array[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let i = 0;
  while (i < messages.length) {
    const result = publication.offer(messages[i]!);
    if (result > 0) {
      i++;
      continue;
    }
    assert.ok(result === BACK_PRESSURED || result === ADMIN_ACTION || result === NOT_CONNECTED, `unexpected offer result ${result}`);
    if (Date.now() > deadline) assert.fail(`offer stalled at message ${i} with code ${result}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

for (const media of ['udp', 'ipc'] as const) {
  test(`${media}: messages of mixed sizes arrive once, in order, byte-identical`, { timeout: 30_000 }, async () => {
    const skein = Skein.launch({ testProfile: true, seed: 7 });
    try {
      const channel = media === 'ipc' ? 'aeron:ipc' : `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`;
      const available: number[] = [];
      const subscription = await skein.addSubscription(channel, 1001, { onAvailableImage: (image) => available.push(image.sessionId) });
      const publication = await skein.addPublication(channel, 1001);
      await waitFor(() => publication.isConnected && subscription.isConnected, 5000, 'connection');
      assert.deepEqual(available, [publication.sessionId]);
      const sizes = [0, 1, 31, 32, 100, 1376, 1377, 3000, 8192];
      const count = 3000;
      const messages = Array.from({ length: count }, (_, i) => message(i, Math.max(4, sizes[i % sizes.length]!)));
      let received = 0;
      const assembler = new FragmentAssembler((buffer, offset, length, header) => {
        assert.equal(header.sessionId, publication.sessionId);
        assert.equal(length, messages[received]!.length);
        checkMessage(buffer, offset, length, received);
        received++;
      });
      subscription.onFragment(assembler.onFragment, 100);
      await offerAll(publication, messages, 20_000);
      await waitFor(() => received === count, 20_000, `all ${count} messages (got ${received})`);
      publication.close();
      assert.equal(publication.offer(new Uint8Array(8)), CLOSED);
      publication.close();
    } finally {
      await skein.close();
    }
    assert.equal(skein.isClosed, true);
  });
}

test('tryClaim writes in place and the subscriber sees the reserved value-free payload', { timeout: 10_000 }, async () => {
  const skein = Skein.launch({ testProfile: true, seed: 3 });
  try {
    const subscription = await skein.addSubscription('aeron:ipc', 7);
    const publication = await skein.addExclusivePublication('aeron:ipc', 7);
    await waitFor(() => publication.isConnected, 5000, 'connection');
    const claim = new BufferClaim();
    const position = publication.tryClaim(16, claim);
    assert.ok(position > 0, `tryClaim returned ${position}`);
    claim.buffer.fill(0x5a, claim.offset, claim.offset + 16);
    claim.commit();
    const seen: number[][] = [];
    await waitFor(() => {
      subscription.poll((buffer, offset, length) => seen.push([...buffer.subarray(offset, offset + length)]), 10);
      return seen.length === 1;
    }, 5000, 'claimed message');
    assert.deepEqual(seen[0], new Array(16).fill(0x5a));
  } finally {
    await skein.close();
  }
});

for (const kind of ['ipc', 'udp'] as const) {
  test(`a ${kind} publication closed with a claim left uncommitted drains past it: the message before it arrives, the image goes away, the publication is freed`, { timeout: 15_000 }, async () => {
    const skein = Skein.launch({ testProfile: true, seed: 5, driver: { publicationUnblockTimeoutNs: 100_000_000, publicationLingerTimeoutNs: 0 } });
    try {
      const channel = kind === 'ipc' ? 'aeron:ipc' : `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`;
      const subscription = await skein.addSubscription(channel, 8);
      const publication = await skein.addExclusivePublication(channel, 8);
      await waitFor(() => publication.isConnected && subscription.imageCount === 1, 5000, 'connection');
      const lengths: number[] = [];
      subscription.onFragment((_buffer, _offset, length) => lengths.push(length));
      assert.ok(publication.offer(new Uint8Array(40)) > 0);
      assert.ok(publication.tryClaim(64, new BufferClaim()) > 0);
      // The claim is neither committed nor aborted when the publication goes (as when its client dies mid-claim).
      publication.close();
      await waitFor(() => subscription.imageCount === 0, 10_000, `the image of the closed ${kind} publication to go away`);
      assert.deepEqual(lengths, [40]);
      const key = kind === 'ipc' ? 'ipcPublications' : 'networkPublications';
      await waitFor(() => skein.driver.conductor.resourceCounts()[key] === 0, 5000, `the ${kind} publication to be freed`);
    } finally {
      await skein.close();
    }
  });
}

test('a publication whose control address is taken is refused naming the address, and leaves nothing behind; once free it binds', { timeout: 15_000 }, async () => {
  const port = await freeUdpPort();
  const blocker = createSocket('udp4');
  await new Promise<void>((resolve) => blocker.bind(port, '127.0.0.1', resolve));
  let blocking = true;
  const skein = Skein.launch({ testProfile: true, seed: 6 });
  try {
    const before = skein.driver.conductor.resourceCounts();
    for (const channel of [`aeron:udp?control=127.0.0.1:${port}|control-mode=response|response-correlation-id=prototype`, `aeron:udp?control=127.0.0.1:${port}|control-mode=dynamic`]) {
      await assert.rejects(
        skein.addPublication(channel, 9),
        (e: SkeinError) => e.code === ErrorCode.TRANSPORT_BIND_FAILED && e.message.includes(`127.0.0.1:${port} for publication`) && /EADDRINUSE/.test(e.message),
        channel,
      );
    }
    await waitFor(() => {
      const counts = skein.driver.conductor.resourceCounts();
      return counts.networkPublications === before.networkPublications && counts.sendEndpoints === before.sendEndpoints && counts.publicationLinks === before.publicationLinks;
    }, 5000, 'the refused publications and their endpoints to be released');
    await new Promise<void>((resolve) => blocker.close(resolve));
    blocking = false;
    const publication = await skein.addPublication(`aeron:udp?control=127.0.0.1:${port}|control-mode=response|response-correlation-id=prototype`, 9);
    assert.equal(skein.driver.conductor.resourceCounts().sendEndpoints, before.sendEndpoints + 1);
    publication.close();
  } finally {
    if (blocking) blocker.close();
    await skein.close();
  }
});

test('a publication without subscribers reports NOT_CONNECTED', { timeout: 10_000 }, async () => {
  const skein = Skein.launch({ testProfile: true, seed: 4 });
  try {
    const port = await freeUdpPort();
    const publication = await skein.addPublication(`aeron:udp?endpoint=127.0.0.1:${port}`, 1001);
    assert.equal(publication.isConnected, false);
    assert.equal(publication.offer(new Uint8Array(8)), NOT_CONNECTED);
  } finally {
    await skein.close();
  }
});

test('a slow IPC subscriber back-pressures the publisher and loses nothing', { timeout: 20_000 }, async () => {
  const skein = Skein.launch({ testProfile: true, seed: 5 });
  try {
    const subscription = await skein.addSubscription('aeron:ipc', 9);
    const publication = await skein.addPublication('aeron:ipc', 9);
    await waitFor(() => publication.isConnected, 5000, 'connection');
    let backPressured = 0;
    let sent = 0;
    const payload = new Uint8Array(512);
    while (backPressured === 0 && sent < 10_000) {
      new DataView(payload.buffer).setUint32(0, sent, true);
      const result = publication.offer(payload);
      if (result > 0) sent++;
      else if (result === BACK_PRESSURED) backPressured++;
    }
    assert.ok(backPressured > 0, 'publisher was back-pressured before the subscriber read anything');
    let received = 0;
    const deadline = Date.now() + 10_000;
    while (received < sent && Date.now() < deadline) {
      received += subscription.poll((buffer, offset) => {
        assert.equal(new DataView(buffer.buffer, buffer.byteOffset + offset, 4).getUint32(0, true), received);
      }, 1);
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(received, sent);
  } finally {
    await skein.close();
  }
});

test('bad channels and stream ids are rejected with errors that name them', { timeout: 10_000 }, async () => {
  const skein = Skein.launch({ testProfile: true, seed: 6 });
  try {
    await assert.rejects(skein.addPublication('aeron:udp?endpoint=127.0.0.1:40001|mtu=100', 1), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'ERR_SKEIN_URI_PARAM_INVALID');
      assert.match(error.message, /mtu/);
      assert.match(error.message, /100/);
      return true;
    });
    await assert.rejects(skein.addSubscription('aeron:tcp?endpoint=x', 1), /aeron:tcp|tcp/);
    await assert.rejects(skein.addSubscription('aeron:ipc', 2 ** 40), /stream id/);
  } finally {
    await skein.close();
  }
});

test('per-stream counters follow publisher, sender, receiver and subscriber positions', { timeout: 10_000 }, async () => {
  const skein = Skein.launch({ testProfile: true, seed: 8 });
  try {
    const channel = `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`;
    const subscription = await skein.addSubscription(channel, 11);
    const publication = await skein.addPublication(channel, 11);
    await waitFor(() => publication.isConnected, 5000, 'connection');
    const payload = new Uint8Array(100);
    let sent = 0;
    while (sent < 50) if (publication.offer(payload) > 0) sent++;
    let received = 0;
    subscription.onFragment(() => received++);
    await waitFor(() => received === 50, 5000, 'all messages');
    const end = publication.position;
    const byType = (label: string): number[] => {
      const values: number[] = [];
      skein.driver.counters.forEach((_id, _typeId, value, counterLabel) => {
        if (counterLabel.startsWith(label)) values.push(value);
      });
      return values;
    };
    await waitFor(() => ['pub-pos', 'snd-pos', 'rcv-hwm', 'rcv-pos', 'sub-pos'].every((l) => byType(l)[0] === end), 5000, `counters at ${end}`);
    assert.ok(byType('pub-lmt')[0]! > end, 'publisher limit is ahead of the publisher');
    assert.ok(byType('snd-lmt')[0]! > end, 'sender limit is ahead of the sender');
  } finally {
    await skein.close();
  }
});

function systemCounter(skein: Skein, label: string): number {
  let found = -1;
  skein.driver.counters.forEach((_id, typeId, value, counterLabel) => {
    if (typeId === 0 && counterLabel === label) found = value;
  });
  return found;
}

test('a closing subscriber tells the publisher at once; no SETUP follows the connection', { timeout: 15_000 }, async () => {
  // The publisher's own connection timeout is long, so only the subscriber's end-of-stream status
  // messages can make it see the subscriber leave within the bound below.
  const publisherSide = Skein.launch({ testProfile: true, seed: 9, driver: { publicationConnectionTimeoutNs: 30e9 } });
  const subscriberSide = Skein.launch({ testProfile: true, seed: 10 });
  try {
    const channel = `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`;
    await subscriberSide.addSubscription(channel, 12);
    const publication = await publisherSide.addPublication(channel, 12);
    await waitFor(() => publication.isConnected, 5000, 'connection');
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.equal(systemCounter(publisherSide, 'Setup messages sent'), 1, 'one SETUP, none after the first status message');
    const closedAt = Date.now();
    await subscriberSide.close();
    await waitFor(() => !publication.isConnected, 3000, 'the publication to see the subscriber leave');
    assert.ok(Date.now() - closedAt < 3000);
    assert.equal(publication.offer(new Uint8Array(8)), NOT_CONNECTED);
  } finally {
    await subscriberSide.close();
    await publisherSide.close();
  }
});

test('several IPC subscribers each get every message; the slowest bounds the publisher', { timeout: 15_000 }, async () => {
  const skein = Skein.launch({ testProfile: true, seed: 11 });
  try {
    const fast = await skein.addSubscription('aeron:ipc', 13);
    const slow = await skein.addSubscription('aeron:ipc', 13);
    const publication = await skein.addPublication('aeron:ipc', 13);
    await waitFor(() => fast.imageCount === 1 && slow.imageCount === 1, 5000, 'both images');
    const payload = new Uint8Array(256);
    let sent = 0;
    let fastReceived = 0;
    let slowReceived = 0;
    const sequenceOf = (buffer: Uint8Array, offset: number): number => new DataView(buffer.buffer, buffer.byteOffset + offset, 4).getUint32(0, true);
    const onFast = (buffer: Uint8Array, offset: number): void => assert.equal(sequenceOf(buffer, offset), fastReceived++);
    const onSlow = (buffer: Uint8Array, offset: number): void => assert.equal(sequenceOf(buffer, offset), slowReceived++);
    let backPressured = 0;
    // Only the fast subscriber reads while the publisher fills the window.
    while (backPressured === 0 && sent < 5000) {
      new DataView(payload.buffer).setUint32(0, sent, true);
      const result = publication.offer(payload);
      if (result > 0) sent++;
      else if (result === BACK_PRESSURED) backPressured++;
      fast.poll(onFast, 10);
    }
    assert.ok(backPressured > 0, 'the slow subscriber back-pressured the publisher');
    assert.equal(slow.images[0]!.position < publication.position, true);
    const deadline = Date.now() + 10_000;
    while ((slowReceived < sent || fastReceived < sent) && Date.now() < deadline) {
      slow.poll(onSlow, 100);
      fast.poll(onFast, 100);
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(slowReceived, sent);
    assert.equal(fastReceived, sent);
  } finally {
    await skein.close();
  }
});

test('the async iterator yields whole messages (copied) until its signal aborts, then throws an AbortError', { timeout: 10_000 }, async () => {
  const skein = Skein.launch({ testProfile: true, seed: 12 });
  try {
    const subscription = await skein.addSubscription('aeron:ipc', 14);
    const publication = await skein.addPublication('aeron:ipc', 14);
    await waitFor(() => publication.isConnected, 5000, 'connection');
    const sizes = [5, 3000, 17];
    for (const size of sizes) {
      const data = new Uint8Array(size).fill(size & 0xff);
      while (publication.offer(data) < 0) await new Promise((resolve) => setImmediate(resolve));
    }
    const controller = new AbortController();
    const seen: number[] = [];
    const reason = new Error('enough');
    await assert.rejects(
      (async () => {
        for await (const message of subscription.messages({ signal: controller.signal })) {
          assert.equal(message.sessionId, publication.sessionId);
          assert.ok(message.data.every((b) => b === (message.data.length & 0xff)));
          seen.push(message.data.length);
          if (seen.length === sizes.length) controller.abort(reason);
        }
      })(),
      (error: Error) => error.name === 'AbortError' && error.cause === reason && (error as SkeinError).code === ErrorCode.ABORTED,
    );
    assert.deepEqual(seen, sizes);
  } finally {
    await skein.close();
  }
});
