/** ChannelUri: parse(toString()) is the identity, and parsing arbitrary text fails only with URI_INVALID. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ChannelUri } from '../../../src/protocol/index.js';
import { ErrorCode, SkeinError } from '../../../src/util/errors.js';

const RUNS = { numRuns: 200 };
const key = fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !/[=|]/.test(k));
const value = fc.string({ minLength: 1, maxLength: 20 }).filter((v) => !v.includes('|'));
const params = fc.uniqueArray(fc.tuple(key, value), { maxLength: 8, selector: ([k]) => k });

test('toString re-encodes canonically: parse(toString(uri)) has the same prefix, media and ordered params', () => {
  fc.assert(
    fc.property(fc.boolean(), fc.constantFrom('udp', 'ipc'), params, (spy, media, entries) => {
      if (media === 'udp' && entries.length === 0) return;
      const text = `${spy ? 'aeron-spy:' : ''}aeron:${media}${entries.length > 0 ? '?' : ''}${entries.map(([k, v]) => `${k}=${v}`).join('|')}`;
      const uri = ChannelUri.parse(text);
      assert.equal(uri.toString(), text);
      assert.deepEqual([...uri.entries()], entries);
      const again = ChannelUri.parse(uri.toString());
      assert.equal(again.isSpy, spy);
      assert.equal(again.media, media);
      assert.deepEqual([...again.entries()], entries);
    }),
    RUNS,
  );
});

test('withParam sets one key and keeps every other parameter in order', () => {
  fc.assert(
    fc.property(params, key, value, (entries, k, v) => {
      const base = ChannelUri.parse(`aeron:ipc${entries.length > 0 ? '?' : ''}${entries.map(([a, b]) => `${a}=${b}`).join('|')}`);
      const next = base.withParam(k, v);
      const expected = entries.some(([a]) => a === k) ? entries.map(([a, b]): [string, string] => [a, a === k ? v : b]) : [...entries, [k, v]];
      assert.deepEqual([...next.entries()], expected);
      assert.deepEqual([...base.entries()], entries);
    }),
    RUNS,
  );
});

test('arbitrary text either parses or throws URI_INVALID', () => {
  const text = fc.oneof(fc.string({ maxLength: 60 }), fc.string({ maxLength: 40 }).map((s) => `aeron:udp?${s}`));
  fc.assert(
    fc.property(text, (t) => {
      try {
        ChannelUri.parse(t);
      } catch (e) {
        assert.ok(e instanceof SkeinError && e.code === ErrorCode.URI_INVALID, String(e));
      }
    }),
    RUNS,
  );
});
