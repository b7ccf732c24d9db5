/**
 * Configuration and API misuse: every bad channel URI, option value (as an option and as its
 * SKEIN_* variable), stream id and message length, and every call on a closed object, gives a
 * SkeinError with a stable ERR_SKEIN_ code whose message names the bad value and what is allowed;
 * hot-path calls on closed objects return values (CLOSED, 0) instead; nothing hangs.
 */
import { describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { Skein } from '../../../src/skein.js';
import { SkeinError } from '../../../src/util/errors.js';
import { DRIVER_OPTIONS, resolveDriverSettings, type OptionSpec } from '../../../src/driver/driver-context.js';
import { BufferClaim } from '../../../src/logbuffer/buffer-claim.js';
import { CLOSED } from '../../../src/client/publication-codes.js';
import { SimWorld } from '../../../src/sim/sim-world.js';
import { settle, simNode } from '../../support/sim-node.js';

type Coded = Error & { code?: string };

function expectSkeinError(error: unknown, code: string, ...patterns: (string | RegExp)[]): void {
  assert.ok(error instanceof SkeinError, `a SkeinError, got ${String(error)}`);
  assert.equal(error.code, code, error.message);
  for (const pattern of patterns) {
    if (typeof pattern === 'string') assert.ok(error.message.includes(pattern), `message names '${pattern}': ${error.message}`);
    else assert.match(error.message, pattern);
  }
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail('expected the promise to reject');
}

const E = 'aeron:udp?endpoint=127.0.0.1:40456';

/** Bad channels: the code, and what the message must name (the bad value and what is allowed). */
const BAD_CHANNELS: { channel: string; for: 'pub' | 'sub' | 'both'; code: string; names: (string | RegExp)[] }[] = [
  { channel: '', for: 'both', code: 'ERR_SKEIN_URI_INVALID', names: ["must start with 'aeron:'"] },
  { channel: 'udp://localhost:40456', for: 'both', code: 'ERR_SKEIN_URI_INVALID', names: ['udp://localhost:40456', "must start with 'aeron:'"] },
  { channel: 'aeron:tcp?endpoint=127.0.0.1:1', for: 'both', code: 'ERR_SKEIN_URI_INVALID', names: ["'tcp'", "expected 'udp' or 'ipc'"] },
  { channel: 'aeron:udp', for: 'both', code: 'ERR_SKEIN_URI_INVALID', names: ['needs parameters'] },
  { channel: `${E}|endpoint=127.0.0.1:40457`, for: 'both', code: 'ERR_SKEIN_URI_INVALID', names: ["'endpoint' appears more than once"] },
  { channel: `${E}||mtu=1408`, for: 'both', code: 'ERR_SKEIN_URI_INVALID', names: ['empty parameter'] },
  { channel: `${E}|mtu`, for: 'both', code: 'ERR_SKEIN_URI_INVALID', names: ["'mtu' has no '=value'"] },
  { channel: `aeron:udp?alias=${'x'.repeat(5000)}`, for: 'both', code: 'ERR_SKEIN_URI_INVALID', names: ['length 5016', 'maximum of 4095'] },
  { channel: 'aeron:udp?mtu=1408', for: 'both', code: 'ERR_SKEIN_URI_INVALID', names: ['at least one of endpoint, control, tags'] },
  { channel: 'aeron:udp?endpoint=127.0.0.1:99999', for: 'both', code: 'ERR_SKEIN_URI_PARAM_INVALID', names: ['endpoint=127.0.0.1:99999', '0..65535'] },
  { channel: 'aeron:udp?endpoint=127.0.0.1', for: 'both', code: 'ERR_SKEIN_URI_PARAM_INVALID', names: ['endpoint=127.0.0.1', 'host:port'] },
  { channel: 'aeron:udp?endpoint=example.com:40456', for: 'both', code: 'ERR_SKEIN_URI_PARAM_INVALID', names: ["'example.com'", 'IPv4 address'] },
  { channel: 'aeron:udp?endpoint=::1:40456', for: 'both', code: 'ERR_SKEIN_URI_PARAM_INVALID', names: ['in brackets'] },
  { channel: 'aeron:udp?endpoint=239.1.1.2:40456', for: 'both', code: 'ERR_SKEIN_URI_PARAM_INVALID', names: ['239.1.1.2', 'odd last octet'] },
  { channel: `${E}|session-id=abc`, for: 'both', code: 'ERR_SKEIN_URI_PARAM_INVALID', names: ['session-id=abc', '-2147483648..2147483647'] },
  { channel: `${E}|session-id=2147483648`, for: 'both', code: 'ERR_SKEIN_URI_PARAM_INVALID', names: ['session-id=2147483648', '-2147483648..2147483647'] },
  { channel: `${E}|so-rcvbuf=0`, for: 'both', code: 'ERR_SKEIN_URI_PARAM_INVALID', names: ['so-rcvbuf=0', '1..2147483647'] },
  { channel: `${E}|control-mode=broadcast`, for: 'both', code: 'ERR_SKEIN_URI_PARAM_INVALID', names: ['control-mode=broadcast', 'dynamic, manual, response'] },
  { channel: `${E}|mtu=100`, for: 'pub', code: 'ERR_SKEIN_URI_PARAM_INVALID', names: ['mtu=100', 'multiple of 32'] },
  { channel: `${E}|mtu=65536`, for: 'pub', code: 'ERR_SKEIN_URI_PARAM_INVALID', names: ['mtu=65536', '<= 65504'] },
  { channel: `${E}|term-length=1000`, for: 'pub', code: 'ERR_SKEIN_URI_PARAM_INVALID', names: ['term-length=1000', 'power of two in 64k..1g'] },
  { channel: `${E}|term-length=2g`, for: 'pub', code: 'ERR_SKEIN_URI_PARAM_INVALID', names: ['term-length=2g', 'power of two in 64k..1g'] },
  { channel: `${E}|linger=soon`, for: 'pub', code: 'ERR_SKEIN_URI_PARAM_INVALID', names: ['linger=soon', 'ns, us, ms or s'] },
  { channel: `${E}|eos=yes`, for: 'pub', code: 'ERR_SKEIN_URI_PARAM_INVALID', names: ['eos=yes', "'true' or 'false'"] },
  { channel: `${E}|init-term-id=1`, for: 'pub', code: 'ERR_SKEIN_URI_PARAM_INVALID', names: ['init-term-id=1', 'must be used together'] },
  { channel: `${E}|term-length=64k|pub-wnd=1m`, for: 'pub', code: 'ERR_SKEIN_URI_PARAM_INVALID', names: ['pub-wnd=1m', 'term-length/2 (32768)'] },
  { channel: `${E}|max-resend=1000`, for: 'pub', code: 'ERR_SKEIN_URI_PARAM_INVALID', names: ['max-resend=1000', '1..256'] },
  { channel: `${E}|ttl=256`, for: 'pub', code: 'ERR_SKEIN_URI_PARAM_INVALID', names: ['ttl=256', '0..255'] },
  { channel: `aeron-spy:${E}`, for: 'pub', code: 'ERR_SKEIN_URI_INVALID', names: ["'aeron-spy:' is for subscriptions only"] },
  { channel: `${E}|rcv-wnd=0`, for: 'sub', code: 'ERR_SKEIN_URI_PARAM_INVALID', names: ['rcv-wnd=0', '1..2147483647'] },
  { channel: `${E}|nak-delay=-1ms`, for: 'sub', code: 'ERR_SKEIN_URI_PARAM_INVALID', names: ['nak-delay=-1ms', 'non-negative integer'] },
  { channel: `${E}|cc=reno`, for: 'sub', code: 'ERR_SKEIN_URI_PARAM_INVALID', names: ['cc=reno', 'static, cubic'] },
  { channel: 'aeron:ipc?term-length=3k', for: 'pub', code: 'ERR_SKEIN_URI_PARAM_INVALID', names: ['term-length=3k', 'power of two'] },
  { channel: `${E}|term-lenght=65536`, for: 'both', code: 'ERR_SKEIN_URI_INVALID', names: ["unknown parameter 'term-lenght'", "did you mean 'term-length'?"] },
  { channel: 'aeron:ipc?alais=x', for: 'both', code: 'ERR_SKEIN_URI_INVALID', names: ["unknown parameter 'alais'", "did you mean 'alias'?"] },
];

describe('bad channel URIs', () => {
  const world = new SimWorld({ seed: 201 });
  const { client } = simNode(world);
  for (const bad of BAD_CHANNELS) {
    const shown = bad.channel.length > 60 ? `${bad.channel.slice(0, 60)}…` : bad.channel;
    for (const kind of bad.for === 'both' ? (['pub', 'sub'] as const) : [bad.for]) {
      it(`${kind} '${shown}' → ${bad.code}`, async () => {
        const promise = kind === 'pub' ? client.addPublication(bad.channel, 1) : client.addSubscription(bad.channel, 1);
        const error = await settle(world, rejection(promise), 200);
        expectSkeinError(error, bad.code, ...bad.names);
      });
    }
  }
  it('a channel that is not a string → ERR_SKEIN_URI_INVALID naming its type', async () => {
    const error = await rejection(client.addPublication(42 as unknown as string, 1));
    expectSkeinError(error, 'ERR_SKEIN_URI_INVALID', 'got number', 'aeron:ipc');
  });
});

describe('stream ids outside int32', () => {
  const world = new SimWorld({ seed: 202 });
  const { client } = simNode(world);
  for (const streamId of [2 ** 31, -(2 ** 31) - 1, 1.5, Number.NaN, '7' as unknown as number]) {
    it(`${String(streamId)} → ERR_SKEIN_ARG_INVALID naming it and the int32 range`, async () => {
      const error = await rejection(client.addSubscription('aeron:ipc', streamId));
      expectSkeinError(error, 'ERR_SKEIN_ARG_INVALID', `stream id ${String(streamId)}`, '-2147483648..2147483647');
    });
  }
  it('the int32 extremes are accepted', async () => {
    await settle(world, client.addSubscription('aeron:ipc', 2 ** 31 - 1), 200);
    await settle(world, client.addPublication('aeron:ipc', -(2 ** 31)), 200);
  });
});

/** Values just outside what an option accepts, each with how it is wrong. */
function badValues(spec: OptionSpec): { value: number | boolean | string; why: string }[] {
  if (spec.kind === 'bool') return [{ value: 1, why: 'not a boolean' }, { value: 'yes', why: 'not a boolean' }];
  const out: { value: number | boolean | string; why: string }[] = [];
  if (spec.min !== undefined) out.push({ value: spec.min - 1, why: 'below the minimum' });
  if (spec.max !== undefined) out.push({ value: spec.max + 1, why: 'above the maximum' });
  if (spec.powerOfTwo === true) out.push({ value: spec.min! + spec.min! / 2, why: 'not a power of two' });
  if (spec.multipleOf !== undefined) out.push({ value: spec.min! + 1, why: `not a multiple of ${spec.multipleOf}` });
  out.push({ value: 1.5, why: 'not an integer' });
  return out;
}

function envText(value: number | boolean | string): string {
  return String(value);
}

describe('every driver option with an out-of-range value', () => {
  for (const [name, spec] of Object.entries(DRIVER_OPTIONS) as [string, OptionSpec][]) {
    for (const bad of badValues(spec)) {
      it(`${name}=${String(bad.value)} (${bad.why}) as an option → ERR_SKEIN_CONFIG_INVALID`, () => {
        assert.throws(
          () => resolveDriverSettings({ [name]: bad.value } as never),
          (error: unknown) => {
            expectSkeinError(error, 'ERR_SKEIN_CONFIG_INVALID', `option ${name}`, `got ${String(bad.value)}`, 'allowed');
            if (spec.min !== undefined) expectSkeinError(error, 'ERR_SKEIN_CONFIG_INVALID', `[${spec.min}, ${spec.max}]`);
            return true;
          },
        );
      });
      // In the environment 1 and 0 are how a boolean is written.
      if (spec.kind === 'bool' && bad.value === 1) continue;
      it(`${spec.env}=${envText(bad.value)} (${bad.why}) in the environment → ERR_SKEIN_CONFIG_INVALID`, () => {
        assert.throws(
          () => resolveDriverSettings({}, { [spec.env]: envText(bad.value) }),
          (error: unknown) => {
            expectSkeinError(error, 'ERR_SKEIN_CONFIG_INVALID', `${spec.env}=${envText(bad.value)}`, 'allowed');
            if (spec.min !== undefined) expectSkeinError(error, 'ERR_SKEIN_CONFIG_INVALID', `[${spec.min}, ${spec.max}]`);
            return true;
          },
        );
      });
    }
  }

  it('every problem is in one error, and Skein.launch throws it before starting anything', () => {
    const before = process.getActiveResourcesInfo().filter((r) => /UDP|Timeout|Immediate/.test(r)).length;
    assert.throws(
      () => Skein.launch({ driver: { mtuLength: 100, termBufferLength: 3 }, env: { SKEIN_CLIENTS_MAX: '0' } }),
      (error: unknown) => {
        expectSkeinError(error, 'ERR_SKEIN_CONFIG_INVALID', 'option mtuLength', 'option termBufferLength', 'SKEIN_CLIENTS_MAX=0');
        return true;
      },
    );
    const after = process.getActiveResourcesInfo().filter((r) => /UDP|Timeout|Immediate/.test(r)).length;
    assert.equal(after, before, 'nothing was left running');
  });

  it('reservedSessionIdLow above reservedSessionIdHigh names both values', () => {
    assert.throws(
      () => resolveDriverSettings({ reservedSessionIdLow: 10, reservedSessionIdHigh: 5 }),
      (error: unknown) => {
        expectSkeinError(error, 'ERR_SKEIN_CONFIG_INVALID', 'reservedSessionIdLow (10)', 'reservedSessionIdHigh (5)');
        return true;
      },
    );
  });
});

describe('Skein.launch options', () => {
  it('an unknown option → ERR_SKEIN_CONFIG_UNKNOWN_OPTION with a hint', () => {
    assert.throws(
      () => Skein.launch({ drvier: {} } as never),
      (error: unknown) => {
        expectSkeinError(error, 'ERR_SKEIN_CONFIG_UNKNOWN_OPTION', 'drvier', "did you mean 'driver'?");
        return true;
      },
    );
  });
  it('an unknown fault direction → ERR_SKEIN_CONFIG_UNKNOWN_OPTION', () => {
    assert.throws(
      () => Skein.launch({ faults: { recieve: { lossRate: 0.1 } } } as never),
      (error: unknown) => {
        expectSkeinError(error, 'ERR_SKEIN_CONFIG_UNKNOWN_OPTION', 'faults.recieve', "did you mean 'faults.receive'?");
        return true;
      },
    );
  });
  it('a fault rate outside [0, 1] → ERR_SKEIN_CONFIG_INVALID', () => {
    assert.throws(
      () => Skein.launch({ faults: { send: { lossRate: 1.5 } }, testProfile: true }),
      (error: unknown) => {
        expectSkeinError(error, 'ERR_SKEIN_CONFIG_INVALID', 'lossRate=1.5', '[0, 1]');
        return true;
      },
    );
  });
  for (const driverTimeoutMs of [0, -1, Number.NaN, Infinity]) {
    it(`driverTimeoutMs=${driverTimeoutMs} → ERR_SKEIN_CONFIG_INVALID`, () => {
      assert.throws(
        () => Skein.launch({ driverTimeoutMs, testProfile: true }),
        (error: unknown) => {
          expectSkeinError(error, 'ERR_SKEIN_CONFIG_INVALID', `driverTimeoutMs=${driverTimeoutMs}`, '(0, 2147483647]');
          return true;
        },
      );
    });
  }
  it('a seed that is not a safe integer → ERR_SKEIN_ARG_INVALID', () => {
    assert.throws(
      () => Skein.launch({ seed: 0.5, testProfile: true }),
      (error: unknown) => {
        expectSkeinError(error, 'ERR_SKEIN_ARG_INVALID', 'safe integer', '0.5');
        return true;
      },
    );
  });
});

test('message lengths: above the maximum → ERR_SKEIN_MESSAGE_TOO_LONG, bad ranges → ERR_SKEIN_ARG_INVALID', async () => {
  const skein = Skein.launch({ testProfile: true, seed: 203, errorHandler: () => {} });
  try {
    const publication = await skein.addPublication('aeron:ipc', 9);
    const max = publication.maxMessageLength;
    assert.equal(max, 65536 / 8, 'test profile: 64 KiB terms allow 8 KiB messages');
    assert.doesNotThrow(() => publication.offer(new Uint8Array(max)), 'the maximum itself is fine');
    const tooLong = new Uint8Array(max + 1);
    assert.throws(() => publication.offer(tooLong), (e: unknown) => (expectSkeinError(e, 'ERR_SKEIN_MESSAGE_TOO_LONG', `length ${max + 1}`, `0..${max}`), true));
    assert.throws(() => publication.offerV([new Uint8Array(max), new Uint8Array(1)]), (e: unknown) => (expectSkeinError(e, 'ERR_SKEIN_MESSAGE_TOO_LONG', `length ${max + 1}`), true));
    const claim = new BufferClaim();
    const payloadMax = publication.maxPayloadLength;
    assert.throws(() => publication.tryClaim(payloadMax + 1, claim), (e: unknown) => (expectSkeinError(e, 'ERR_SKEIN_MESSAGE_TOO_LONG', `${payloadMax + 1}`, `0..${payloadMax}`), true));
    assert.throws(() => publication.tryClaim(-1, claim), (e: unknown) => (expectSkeinError(e, 'ERR_SKEIN_MESSAGE_TOO_LONG', '-1', `0..${payloadMax}`), true));
    const buffer = new Uint8Array(16);
    for (const [offset, length] of [[-1, 4], [0, 17], [10, 7], [0.5, 2], [0, -1]] as const) {
      assert.throws(
        () => publication.offer(buffer, offset, length),
        (e: unknown) => (expectSkeinError(e, 'ERR_SKEIN_ARG_INVALID', `offset=${offset} length=${length}`, 'buffer of 16 bytes'), true),
      );
    }
  } finally {
    await skein.close();
  }
});

test('payloads that are not bytes → ERR_SKEIN_ARG_INVALID naming what was passed; nothing is written', async () => {
  const skein = Skein.launch({ testProfile: true, seed: 206, errorHandler: () => {} });
  try {
    const publication = await skein.addPublication('aeron:ipc', 13);
    await skein.addSubscription('aeron:ipc', 13);
    await publication.connected({ timeoutMs: 5000 });
    const before = publication.position;
    const offer = publication.offer.bind(publication) as (buffer: unknown) => number;
    const cases: [unknown, string[]][] = [
      ['hello', ['got string', 'new TextEncoder().encode(text)']],
      [new ArrayBuffer(8), ['got ArrayBuffer', 'new Uint8Array(buffer)']],
      [42, ['got number']],
      [null, ['got null']],
      [new DataView(new ArrayBuffer(4)), ['got DataView']],
    ];
    for (const [payload, names] of cases) {
      assert.throws(() => offer(payload), (e: unknown) => (expectSkeinError(e, 'ERR_SKEIN_ARG_INVALID', 'must be a Uint8Array', ...names), true));
    }
    const offerV = publication.offerV.bind(publication) as (buffers: unknown) => number;
    assert.throws(() => offerV([new Uint8Array(2), 'x']), (e: unknown) => (expectSkeinError(e, 'ERR_SKEIN_ARG_INVALID', 'offerV buffers[1]', 'got string'), true));
    assert.throws(() => offerV('xy'), (e: unknown) => (expectSkeinError(e, 'ERR_SKEIN_ARG_INVALID', 'offerV', 'got string'), true));
    assert.equal(publication.position, before, 'nothing was appended');
    assert.ok(publication.offer(Buffer.from('a Buffer is a Uint8Array')) > before);
  } finally {
    await skein.close();
  }
});

test('poll limits below 1 and handlers that are not functions → ERR_SKEIN_ARG_INVALID, not a silent 0', async () => {
  const skein = Skein.launch({ testProfile: true, seed: 207, errorHandler: () => {} });
  try {
    const subscription = await skein.addSubscription('aeron:ipc', 14);
    const publication = await skein.addPublication('aeron:ipc', 14);
    await subscription.connected({ timeoutMs: 5000 });
    const image = subscription.images[0]!;
    const handler = (): void => {};
    for (const limit of [0, -1, Number.NaN]) {
      for (const [what, call] of [
        ['subscription.poll', () => subscription.poll(handler, limit)],
        ['subscription.controlledPoll', () => subscription.controlledPoll(() => 1, limit)],
        ['image.poll', () => image.poll(handler, limit)],
        ['image.controlledPoll', () => image.controlledPoll(() => 1, limit)],
      ] as const) {
        assert.throws(call, (e: unknown) => (expectSkeinError(e, 'ERR_SKEIN_ARG_INVALID', `fragmentLimit ${limit} is invalid`, 'streamId=14'), true), what);
      }
    }
    assert.throws(() => subscription.poll('nope' as never, 10), (e: unknown) => (expectSkeinError(e, 'ERR_SKEIN_ARG_INVALID', 'handler must be a function, got string'), true));
    publication.offer(new Uint8Array(4));
    const deadline = Date.now() + 5000;
    let read = 0;
    while (read === 0 && Date.now() < deadline) {
      read = subscription.poll(handler, 1);
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(read, 1, 'a limit of 1 reads');
  } finally {
    await skein.close();
  }
});

test('calls on closed objects: CLOSED and 0 on hot paths, ERR_SKEIN_CLOSED elsewhere, nothing hangs', async () => {
  const skein = Skein.launch({ testProfile: true, seed: 204, errorHandler: () => {} });
  const subscription = await skein.addSubscription('aeron:ipc', 11);
  const publication = await skein.addPublication('aeron:ipc', 11);
  const other = await skein.addPublication('aeron:ipc', 12);
  const otherSubscription = await skein.addSubscription('aeron:ipc', 12);
  const claim = new BufferClaim();
  const fragment = (): void => assert.fail('no fragment from a closed subscription');

  publication.close();
  publication.close();
  assert.equal(publication.isClosed, true);
  assert.equal(publication.offer(new Uint8Array(8)), CLOSED);
  assert.equal(publication.offer(new Uint8Array(1 << 20)), CLOSED, 'CLOSED even for a message that is too long');
  assert.equal(publication.offerV([new Uint8Array(8)]), CLOSED);
  assert.equal(publication.tryClaim(8, claim), CLOSED);
  assert.equal(publication.position, CLOSED);
  assert.equal(publication.positionLimit, CLOSED);
  assert.equal(publication.isConnected, false);

  subscription.close();
  subscription.close();
  assert.equal(subscription.poll(fragment, 10), 0);
  assert.equal(subscription.controlledPoll(fragment as never, 10), 0);
  assert.equal(subscription.imageCount, 0);
  assert.equal(subscription.isConnected, false);
  assert.throws(() => subscription.onFragment(fragment), (e: unknown) => (expectSkeinError(e, 'ERR_SKEIN_CLOSED', 'closed subscription', 'state=CLOSED'), true));
  const iterated: unknown[] = [];
  for await (const message of subscription.messages()) iterated.push(message);
  assert.deepEqual(iterated, [], 'the async iterator of a closed subscription ends at once');

  await skein.close();
  await skein.close();
  skein.destroy();
  assert.equal(skein.isClosed, true);
  assert.equal(other.offer(new Uint8Array(8)), CLOSED, 'publications of a closed Skein return CLOSED');
  assert.equal(otherSubscription.poll(fragment, 10), 0);
  const started = Date.now();
  expectSkeinError(await rejection(skein.addPublication('aeron:ipc', 1)), 'ERR_SKEIN_CLOSED', 'client is closed', 'state=CLOSED');
  expectSkeinError(await rejection(skein.addExclusivePublication('aeron:ipc', 1)), 'ERR_SKEIN_CLOSED');
  expectSkeinError(await rejection(skein.addSubscription('aeron:ipc', 1)), 'ERR_SKEIN_CLOSED');
  assert.ok(Date.now() - started < 1000, 'rejected at once');
  assert.throws(() => skein.driver.connect(), (e: unknown) => (expectSkeinError(e, 'ERR_SKEIN_CLOSED', 'closed driver'), true));
});

test('a command the driver never answers times out with ERR_SKEIN_DRIVER_TIMEOUT naming the timeout', async () => {
  const world = new SimWorld({ seed: 205 });
  const { driver, client } = simNode(world);
  world.removeAgent(driver.conductor);
  const error = (await settle(world, rejection(client.addPublication('aeron:ipc', 3)), 200_000)) as Coded;
  expectSkeinError(error, 'ERR_SKEIN_DRIVER_TIMEOUT', 'timeoutMs=10000', 'channel=aeron:ipc');
  world.close();
});
