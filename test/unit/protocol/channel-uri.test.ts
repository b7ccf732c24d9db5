import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ChannelUri,
  parseBoolean,
  parseDurationNs,
  parsePublicationParams,
  parseSize,
  parseSocketAddress,
  parseSubscriptionParams,
} from '../../../src/protocol/index.js';
import { CHANNEL_PARAM_KEYS } from '../../../src/protocol/channel-params.js';
import { ErrorCode, SkeinError } from '../../../src/util/errors.js';

/** Asserts that `fn` throws a SkeinError with `code` whose message contains every `parts` entry. */
function assertSkeinError(fn: () => unknown, code: string, parts: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof SkeinError, `expected SkeinError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    for (const part of parts) assert.ok(e.message.includes(part), `message '${e.message}' lacks '${part}'`);
    return true;
  });
}

test('parses udp, ipc and spy URIs, keeping parameter order', () => {
  const udp = ChannelUri.parse('aeron:udp?endpoint=127.0.0.1:40456|mtu=1408|alias=a=b');
  assert.equal(udp.media, 'udp');
  assert.equal(udp.prefix, '');
  assert.equal(udp.isSpy, false);
  assert.equal(udp.get('endpoint'), '127.0.0.1:40456');
  assert.equal(udp.get('alias'), 'a=b', 'values may contain =');
  assert.equal(udp.has('mtu'), true);
  assert.equal(udp.get('term-length'), undefined);
  assert.deepEqual([...udp.entries()], [['endpoint', '127.0.0.1:40456'], ['mtu', '1408'], ['alias', 'a=b']]);
  assert.equal(udp.toString(), 'aeron:udp?endpoint=127.0.0.1:40456|mtu=1408|alias=a=b');

  const ipc = ChannelUri.parse('aeron:ipc');
  assert.equal(ipc.media, 'ipc');
  assert.deepEqual([...ipc.entries()], []);
  assert.equal(ipc.toString(), 'aeron:ipc');
  assert.equal(ChannelUri.parse('aeron:ipc?term-length=64k').get('term-length'), '64k');

  const spy = ChannelUri.parse('aeron-spy:aeron:udp?endpoint=localhost:40456');
  assert.equal(spy.isSpy, true);
  assert.equal(spy.prefix, 'aeron-spy:');
  assert.equal(spy.toString(), 'aeron-spy:aeron:udp?endpoint=localhost:40456');
});

test('withParam returns a new URI, replacing in place or appending', () => {
  const uri = ChannelUri.parse('aeron:udp?endpoint=127.0.0.1:1|mtu=1408');
  const replaced = uri.withParam('endpoint', '127.0.0.1:2');
  const appended = uri.withParam('session-id', '7');
  assert.equal(replaced.toString(), 'aeron:udp?endpoint=127.0.0.1:2|mtu=1408');
  assert.equal(appended.toString(), 'aeron:udp?endpoint=127.0.0.1:1|mtu=1408|session-id=7');
  assert.equal(uri.toString(), 'aeron:udp?endpoint=127.0.0.1:1|mtu=1408', 'original unchanged');
  assert.equal(ChannelUri.parse('aeron:ipc').withParam('alias', 'x').toString(), 'aeron:ipc?alias=x');
  assertSkeinError(() => uri.withParam('a|b', 'x'), ErrorCode.URI_INVALID, ["'a|b'"]);
  assertSkeinError(() => uri.withParam('k', 'x|y'), ErrorCode.URI_INVALID, ["'x|y'", "'k'"]);
  assertSkeinError(() => uri.withParam('k', ''), ErrorCode.URI_INVALID, ["'k'", 'empty value']);
});

const BAD_URIS: [string, string][] = [
  ['', "must start with 'aeron:'"],
  ['udp?endpoint=127.0.0.1:1', "must start with 'aeron:'"],
  ['aeron:tcp?endpoint=127.0.0.1:1', "media 'tcp'"],
  ['aeron:udp', 'needs parameters'],
  ['aeron:udp?', 'empty parameter'],
  ['aeron:ipc?', 'empty parameter'],
  ['aeron:udp?endpoint=127.0.0.1:1|', 'empty parameter'],
  ['aeron:udp?endpoint', "parameter 'endpoint' has no '=value'"],
  ['aeron:udp?endpoint=', "parameter 'endpoint' has an empty value"],
  ['aeron:udp?=127.0.0.1:1', 'empty key'],
  ['aeron:udp?mtu=1408|mtu=4096', "parameter 'mtu' appears more than once"],
  ['aeron-spy:udp?endpoint=127.0.0.1:1', "must start with 'aeron:'"],
  [`aeron:udp?alias=${'x'.repeat(4090)}`, 'exceeds the maximum of 4095'],
];

test('rejects malformed URIs with URI_INVALID naming the URI and the problem', () => {
  for (const [uri, problem] of BAD_URIS) {
    assertSkeinError(() => ChannelUri.parse(uri), ErrorCode.URI_INVALID, [problem, uri.slice(0, 40)]);
  }
  assert.doesNotThrow(() => ChannelUri.parse(`aeron:udp?alias=${'x'.repeat(4095 - 'aeron:udp?alias='.length)}`));
});

test('parseSocketAddress: IPv4, [IPv6] and localhost with port 0..65535', () => {
  assert.deepEqual(parseSocketAddress('127.0.0.1:40456', 'endpoint', 'u'), { host: '127.0.0.1', port: 40456, family: 4 });
  assert.deepEqual(parseSocketAddress('[::1]:0', 'endpoint', 'u'), { host: '::1', port: 0, family: 6 });
  assert.deepEqual(parseSocketAddress('[fe80::1:2]:65535', 'control', 'u'), { host: 'fe80::1:2', port: 65535, family: 6 });
  assert.deepEqual(parseSocketAddress('localhost:9', 'endpoint', 'u'), { host: '127.0.0.1', port: 9, family: 4 });
  const bad: [string, string][] = [
    ['127.0.0.1', 'host:port'],
    ['127.0.0.1:65536', 'port'],
    ['127.0.0.1:-1', 'port'],
    ['127.0.0.1:', 'port'],
    ['256.0.0.1:1', "host '256.0.0.1'"],
    ['example.com:80', 'name resolution is not supported'],
    ['[::zz]:1', 'not an IPv6 address'],
    ['::1:80', 'must be in brackets'],
  ];
  for (const [value, problem] of bad) {
    assertSkeinError(() => parseSocketAddress(value, 'endpoint', 'aeron:udp?endpoint=' + value), ErrorCode.URI_PARAM_INVALID, [
      `endpoint=${value}`,
      problem,
      `channel=aeron:udp?endpoint=${value}`,
    ]);
  }
});

test('parseSize, parseDurationNs and parseBoolean', () => {
  assert.equal(parseSize('65536', 'mtu', 'u'), 65536);
  assert.equal(parseSize('64k', 'mtu', 'u'), 65536);
  assert.equal(parseSize('16M', 'mtu', 'u'), 16 * 1024 * 1024);
  assert.equal(parseSize('1g', 'mtu', 'u'), 1024 ** 3);
  assert.equal(parseDurationNs('5', 'linger', 'u'), 5);
  assert.equal(parseDurationNs('5ns', 'linger', 'u'), 5);
  assert.equal(parseDurationNs('5us', 'linger', 'u'), 5_000);
  assert.equal(parseDurationNs('5MS', 'linger', 'u'), 5_000_000);
  assert.equal(parseDurationNs('5s', 'linger', 'u'), 5_000_000_000);
  assert.equal(parseBoolean('true', 'eos', 'u'), true);
  assert.equal(parseBoolean('false', 'eos', 'u'), false);
  for (const value of ['', '1.5k', '-1', '64kb', 'k', '99999999999999999g']) {
    assertSkeinError(() => parseSize(value, 'term-length', 'aeron:ipc'), ErrorCode.URI_PARAM_INVALID, [`term-length=${value}`, 'k, m or g', 'aeron:ipc']);
  }
  for (const value of ['', '5m', '1.5s', '-5ms', 'ms']) {
    assertSkeinError(() => parseDurationNs(value, 'linger', 'aeron:ipc'), ErrorCode.URI_PARAM_INVALID, [`linger=${value}`, 'ns, us, ms or s']);
  }
  assertSkeinError(() => parseBoolean('yes', 'eos', 'aeron:ipc'), ErrorCode.URI_PARAM_INVALID, ['eos=yes', "'true' or 'false'"]);
});

test('publication params: every known key parsed, typed and frozen', () => {
  const uri = ChannelUri.parse(
    'aeron:udp?endpoint=127.0.0.1:40456|interface=127.0.0.1/24|mtu=8k|term-length=64k|init-term-id=100|term-id=102' +
      '|term-offset=1024|session-id=-5|linger=2s|eos=false|sparse=true|pub-wnd=32k|ssc=true|max-resend=3' +
      '|fc=tagged,g:99/2,t:5s|ttl=4|so-sndbuf=1m|so-rcvbuf=2m|alias=pub|tags=1,2|channel-snd-ts-offset=reserved' +
      '|media-rcv-ts-offset=8|untethered-linger-timeout=1s|ats=false|stream-id=10|rcv-wnd=ignored',
  );
  const p = parsePublicationParams(uri);
  assert.ok(Object.isFrozen(p));
  assert.deepEqual(p, {
    media: 'udp',
    endpoint: { host: '127.0.0.1', port: 40456, family: 4 },
    interface: '127.0.0.1/24',
    sessionId: -5,
    sparse: true,
    socketSndbufLength: 1024 * 1024,
    socketRcvbufLength: 2 * 1024 * 1024,
    mediaReceiveTimestampOffset: 8,
    channelSendTimestampOffset: 'reserved',
    untetheredLingerTimeoutNs: 1e9,
    ats: false,
    alias: 'pub',
    tags: { channelTag: 1n, entityTag: 2n },
    streamId: 10,
    mtu: 8192,
    termLength: 65536,
    initialTermId: 100,
    termId: 102,
    termOffset: 1024,
    lingerNs: 2e9,
    eos: false,
    publicationWindowLength: 32768,
    spiesSimulateConnection: true,
    maxResend: 3,
    fc: { strategy: 'tagged', groupTag: 99n, groupMinSize: 2, timeoutNs: 5e9 },
    ttl: 4,
  });
  assert.equal(uri.get('rcv-wnd'), 'ignored', 'a subscription key on a publication stays in the URI, unread');
});

test('a key Aeron does not define is refused with a hint; every key it defines is accepted by both sides', () => {
  for (const parse of [parsePublicationParams, parseSubscriptionParams]) {
    assertSkeinError(() => parse(ChannelUri.parse('aeron:udp?endpoint=127.0.0.1:40456|term-lenght=65536')), ErrorCode.URI_INVALID, [
      "unknown parameter 'term-lenght'",
      "did you mean 'term-length'?",
      'channel=aeron:udp?endpoint=127.0.0.1:40456|term-lenght=65536',
    ]);
    assertSkeinError(() => parse(ChannelUri.parse('aeron:ipc?colour=blue')), ErrorCode.URI_INVALID, ["unknown parameter 'colour'", 'known parameters: endpoint']);
  }
  const other = new Set(['endpoint', 'control', 'control-mode']);
  const keys = CHANNEL_PARAM_KEYS.filter((key) => !other.has(key));
  assert.ok(keys.length > 30);
  // Values are not checked for the other side's keys; for one's own they are, so give valid ones.
  const valid: Record<string, string> = {
    interface: '127.0.0.1', ttl: '1', mtu: '1408', 'term-length': '64k', 'init-term-id': '0', 'term-id': '0', 'term-offset': '0',
    'session-id': '5', linger: '1s', eos: 'true', sparse: 'true', 'pub-wnd': '32k', ssc: 'false', 'max-resend': '2', fc: 'max',
    reliable: 'true', tether: 'true', rejoin: 'true', group: 'false', gtag: '1', cc: 'static', 'rcv-wnd': '64k', 'nak-delay': '1ms',
    'so-sndbuf': '64k', 'so-rcvbuf': '64k', 'media-rcv-ts-offset': 'reserved', 'channel-rcv-ts-offset': 'reserved',
    'channel-snd-ts-offset': 'reserved', 'response-correlation-id': '5', 'untethered-window-limit-timeout': '1s',
    'untethered-linger-timeout': '1s', 'untethered-resting-timeout': '1s', tags: '1', ats: 'false', alias: 'a', 'stream-id': '3',
  };
  assert.deepEqual(keys.filter((key) => valid[key] === undefined), [], 'every key has a value here');
  const uri = ChannelUri.parse(`aeron:udp?endpoint=127.0.0.1:40456|${keys.map((key) => `${key}=${valid[key]}`).join('|')}`);
  assert.doesNotThrow(() => parsePublicationParams(uri));
  assert.doesNotThrow(() => parseSubscriptionParams(uri));
});

test('subscription params: every known key parsed, typed and frozen', () => {
  const uri = ChannelUri.parse(
    'aeron-spy:aeron:udp?endpoint=[::1]:40456|control=127.0.0.1:40457|control-mode=dynamic|reliable=false|tether=false' +
      '|rejoin=true|group=infer|gtag=-99|cc=cubic|rcv-wnd=128k|nak-delay=1us|session-id=7|mtu=bogus-ignored',
  );
  const p = parseSubscriptionParams(uri);
  assert.ok(Object.isFrozen(p));
  assert.deepEqual(p, {
    media: 'udp',
    spy: true,
    endpoint: { host: '::1', port: 40456, family: 6 },
    control: { host: '127.0.0.1', port: 40457, family: 4 },
    controlMode: 'dynamic',
    sessionId: 7,
    reliable: false,
    tether: false,
    rejoin: true,
    group: 'infer',
    groupTag: -99n,
    congestionControl: 'cubic',
    receiverWindowLength: 131072,
    nakDelayNs: 1000,
  });
  assert.deepEqual(parseSubscriptionParams(ChannelUri.parse('aeron:ipc')), { media: 'ipc', spy: false });
});

test('UDP channels need endpoint, control, tags or control-mode=manual|response', () => {
  for (const ok of ['aeron:udp?control=127.0.0.1:1', 'aeron:udp?tags=5', 'aeron:udp?control-mode=manual', 'aeron:udp?control-mode=response|response-correlation-id=2']) {
    assert.doesNotThrow(() => parsePublicationParams(ChannelUri.parse(ok)), ok);
  }
  assertSkeinError(() => parseSubscriptionParams(ChannelUri.parse('aeron:udp?alias=x')), ErrorCode.URI_INVALID, [
    'needs at least one of endpoint, control, tags',
    'aeron:udp?alias=x',
  ]);
  assertSkeinError(() => parsePublicationParams(ChannelUri.parse('aeron-spy:aeron:ipc')), ErrorCode.URI_INVALID, ['subscriptions only']);
});

const BAD_PUBLICATION_PARAMS: [string, string, string][] = [
  ['mtu=32', 'mtu=32', 'multiple of 32'],
  ['mtu=1400', 'mtu=1400', '<= 65504'],
  ['mtu=65536', 'mtu=65536', '<= 65504'],
  ['mtu=abc', 'mtu=abc', 'size in bytes'],
  ['term-length=32k', 'term-length=32k', 'power of two in 64k..1g'],
  ['term-length=100000', 'term-length=100000', 'power of two'],
  ['term-length=2g', 'term-length=2g', '64k..1g'],
  ['init-term-id=1|term-id=1', 'init-term-id=1', 'missing: term-offset'],
  ['init-term-id=1|term-id=1|term-offset=33', 'term-offset=33', 'multiple of 32'],
  ['term-length=64k|init-term-id=1|term-id=1|term-offset=65568', 'term-offset=65568', '0..65536'],
  ['init-term-id=10|term-id=9|term-offset=0', 'term-id=9', 'must be >= 0'],
  ['init-term-id=2147483648|term-id=9|term-offset=0', 'init-term-id=2147483648', '-2147483648..2147483647'],
  ['session-id=x', 'session-id=x', 'integer'],
  ['session-id=tag:5', 'session-id=tag:5', 'not supported yet'],
  ['linger=5 ms', 'linger=5 ms', 'duration'],
  ['eos=yes', 'eos=yes', "'true' or 'false'"],
  ['pub-wnd=512|mtu=1408', 'pub-wnd=512', '>= mtu (1408)'],
  ['pub-wnd=64k|term-length=64k', 'pub-wnd=64k', 'term-length/2 (32768)'],
  ['max-resend=0', 'max-resend=0', '1..256'],
  ['max-resend=257', 'max-resend=257', '1..256'],
  ['fc=fast', 'fc=fast', 'max, min, tagged'],
  ['fc=min,x:1', 'fc=min,x:1', "option 'x:1'"],
  ['fc=min,g:', 'fc=min,g:', "option 'g:'"],
  ['ttl=256', 'ttl=256', '0..255'],
  ['response-correlation-id=-2', 'response-correlation-id=-2', "or 'prototype'"],
  ['control-mode=response', 'control-mode=response', 'needs response-correlation-id'],
  ['control-mode=static', 'control-mode=static', 'dynamic, manual, response'],
  ['control-mode=dynamic|tags=1', 'control-mode=dynamic', 'needs a control address'],
  ['so-sndbuf=0', 'so-sndbuf=0', '1..2147483647'],
  ['tags=1,2,3', 'tags=1,2,3', '<channelTag>[,<entityTag>]'],
  ['tags=x', 'tags=x', 'int64'],
  ['channel-rcv-ts-offset=-1', 'channel-rcv-ts-offset=-1', "or 'reserved'"],
];

test('bad publication values: URI_PARAM_INVALID naming parameter, value, range and channel', () => {
  for (const [params, named, range] of BAD_PUBLICATION_PARAMS) {
    const text = `aeron:udp?endpoint=127.0.0.1:40456|${params}`;
    assertSkeinError(() => parsePublicationParams(ChannelUri.parse(text)), ErrorCode.URI_PARAM_INVALID, [named, range, `channel=${text}`]);
  }
});

const BAD_SUBSCRIPTION_PARAMS: [string, string, string][] = [
  ['endpoint=224.0.1.2:40456', 'endpoint=224.0.1.2:40456', 'odd last octet'],
  ['endpoint=host.example:1', 'endpoint=host.example:1', 'name resolution'],
  ['control=127.0.0.1', 'control=127.0.0.1', 'host:port'],
  ['reliable=0', 'reliable=0', "'true' or 'false'"],
  ['group=maybe', 'group=maybe', 'true, false, infer'],
  ['gtag=9223372036854775808', 'gtag=9223372036854775808', 'int64'],
  ['cc=reno', 'cc=reno', 'static, cubic'],
  ['rcv-wnd=0', 'rcv-wnd=0', '1..2147483647'],
  ['rcv-wnd=4g', 'rcv-wnd=4g', '1..2147483647'],
  ['nak-delay=1h', 'nak-delay=1h', 'duration'],
];

test('bad subscription values: URI_PARAM_INVALID naming parameter, value, range and channel', () => {
  for (const [params, named, range] of BAD_SUBSCRIPTION_PARAMS) {
    const text = `aeron:udp?${params.startsWith('endpoint') ? '' : 'endpoint=127.0.0.1:40456|'}${params}`;
    assertSkeinError(() => parseSubscriptionParams(ChannelUri.parse(text)), ErrorCode.URI_PARAM_INVALID, [named, range, `channel=${text}`]);
  }
  assert.deepEqual(parseSubscriptionParams(ChannelUri.parse('aeron:udp?endpoint=224.0.1.1:40456')).endpoint, {
    host: '224.0.1.1',
    port: 40456,
    family: 4,
  });
});
