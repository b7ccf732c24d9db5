import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SkeinError } from '../../../src/util/errors.js';
import {
  LOG_ACTIVE_TERM_COUNT_OFFSET,
  LOG_ACTIVE_TRANSPORT_COUNT_OFFSET,
  LOG_CORRELATION_ID_OFFSET,
  LOG_DEFAULT_FRAME_HEADER_LENGTH_OFFSET,
  LOG_DEFAULT_FRAME_HEADER_OFFSET,
  LOG_END_OF_STREAM_POSITION_OFFSET,
  LOG_ENTITY_TAG_OFFSET,
  LOG_GROUP_OFFSET,
  LOG_INITIAL_TERM_ID_OFFSET,
  LOG_IS_CONNECTED_OFFSET,
  LOG_IS_PUBLICATION_REVOKED_OFFSET,
  LOG_IS_RESPONSE_OFFSET,
  LOG_LINGER_TIMEOUT_NS_OFFSET,
  LOG_MAX_RESEND_OFFSET,
  LOG_META_DATA_LENGTH,
  LOG_MTU_LENGTH_OFFSET,
  LOG_OS_DEFAULT_SOCKET_RCVBUF_LENGTH_OFFSET,
  LOG_OS_DEFAULT_SOCKET_SNDBUF_LENGTH_OFFSET,
  LOG_OS_MAX_SOCKET_RCVBUF_LENGTH_OFFSET,
  LOG_OS_MAX_SOCKET_SNDBUF_LENGTH_OFFSET,
  LOG_PAGE_SIZE_OFFSET,
  LOG_PUBLICATION_WINDOW_LENGTH_OFFSET,
  LOG_RECEIVER_WINDOW_LENGTH_OFFSET,
  LOG_REJOIN_OFFSET,
  LOG_RELIABLE_OFFSET,
  LOG_RESPONSE_CORRELATION_ID_OFFSET,
  LOG_SIGNAL_EOS_OFFSET,
  LOG_SOCKET_RCVBUF_LENGTH_OFFSET,
  LOG_SOCKET_SNDBUF_LENGTH_OFFSET,
  LOG_SPARSE_OFFSET,
  LOG_SPIES_SIMULATE_CONNECTION_OFFSET,
  LOG_TERM_LENGTH_OFFSET,
  LOG_TETHER_OFFSET,
  LOG_TYPE_OFFSET,
  LOG_UNTETHERED_LINGER_TIMEOUT_NS_OFFSET,
  LOG_UNTETHERED_RESTING_TIMEOUT_NS_OFFSET,
  LOG_UNTETHERED_WINDOW_LIMIT_TIMEOUT_NS_OFFSET,
  PAGE_MAX_SIZE,
  PAGE_MIN_SIZE,
  PARTITION_COUNT,
  TERM_MAX_LENGTH,
  TERM_MIN_LENGTH,
  TERM_TAIL_COUNTERS_OFFSET,
  checkPageSize,
  checkTermLength,
  computeFragmentedFrameLength,
  computeLogLength,
  computeMaxMessageLength,
  computePosition,
  computeTermBeginPosition,
  computeTermIdFromPosition,
  computeTermOffsetFromPosition,
  indexByPosition,
  indexByTerm,
  indexByTermCount,
  maxPossiblePosition,
  positionBitsToShift,
} from '../../../src/logbuffer/log-buffer-descriptor.js';

describe('log buffer descriptor constants', () => {
  test('sizes are those of PROTOCOL.md §5', () => {
    assert.equal(PARTITION_COUNT, 3);
    assert.equal(LOG_META_DATA_LENGTH, 4096);
    assert.equal(TERM_MIN_LENGTH, 65536);
    assert.equal(TERM_MAX_LENGTH, 1 << 30);
    assert.equal(PAGE_MIN_SIZE, 4096);
    assert.equal(PAGE_MAX_SIZE, 1 << 30);
  });

  test('metadata offsets follow the §5 table', () => {
    const expected: [number, number][] = [
      [TERM_TAIL_COUNTERS_OFFSET, 0],
      [LOG_ACTIVE_TERM_COUNT_OFFSET, 24],
      [LOG_END_OF_STREAM_POSITION_OFFSET, 128],
      [LOG_IS_CONNECTED_OFFSET, 136],
      [LOG_ACTIVE_TRANSPORT_COUNT_OFFSET, 140],
      [LOG_CORRELATION_ID_OFFSET, 256],
      [LOG_INITIAL_TERM_ID_OFFSET, 264],
      [LOG_DEFAULT_FRAME_HEADER_LENGTH_OFFSET, 268],
      [LOG_MTU_LENGTH_OFFSET, 272],
      [LOG_TERM_LENGTH_OFFSET, 276],
      [LOG_PAGE_SIZE_OFFSET, 280],
      [LOG_PUBLICATION_WINDOW_LENGTH_OFFSET, 284],
      [LOG_RECEIVER_WINDOW_LENGTH_OFFSET, 288],
      [LOG_SOCKET_SNDBUF_LENGTH_OFFSET, 292],
      [LOG_OS_DEFAULT_SOCKET_SNDBUF_LENGTH_OFFSET, 296],
      [LOG_OS_MAX_SOCKET_SNDBUF_LENGTH_OFFSET, 300],
      [LOG_SOCKET_RCVBUF_LENGTH_OFFSET, 304],
      [LOG_OS_DEFAULT_SOCKET_RCVBUF_LENGTH_OFFSET, 308],
      [LOG_OS_MAX_SOCKET_RCVBUF_LENGTH_OFFSET, 312],
      [LOG_MAX_RESEND_OFFSET, 316],
      [LOG_DEFAULT_FRAME_HEADER_OFFSET, 320],
      [LOG_ENTITY_TAG_OFFSET, 448],
      [LOG_RESPONSE_CORRELATION_ID_OFFSET, 456],
      [LOG_LINGER_TIMEOUT_NS_OFFSET, 464],
      [LOG_UNTETHERED_WINDOW_LIMIT_TIMEOUT_NS_OFFSET, 472],
      [LOG_UNTETHERED_RESTING_TIMEOUT_NS_OFFSET, 480],
      [LOG_GROUP_OFFSET, 488],
      [LOG_IS_RESPONSE_OFFSET, 489],
      [LOG_REJOIN_OFFSET, 490],
      [LOG_RELIABLE_OFFSET, 491],
      [LOG_SPARSE_OFFSET, 492],
      [LOG_SIGNAL_EOS_OFFSET, 493],
      [LOG_SPIES_SIMULATE_CONNECTION_OFFSET, 494],
      [LOG_TETHER_OFFSET, 495],
      [LOG_IS_PUBLICATION_REVOKED_OFFSET, 496],
      [LOG_TYPE_OFFSET, 497],
      [LOG_UNTETHERED_LINGER_TIMEOUT_NS_OFFSET, 500],
    ];
    for (const [actual, wanted] of expected) {
      assert.equal(actual, wanted);
    }
  });
});

describe('checkTermLength / checkPageSize', () => {
  test('accept every power of two in range', () => {
    for (let n = TERM_MIN_LENGTH; n <= TERM_MAX_LENGTH; n *= 2) checkTermLength(n);
    for (let n = PAGE_MIN_SIZE; n <= PAGE_MAX_SIZE; n *= 2) checkPageSize(n);
  });

  test('reject out-of-range and non-power-of-two values with CONFIG_INVALID naming value and range', () => {
    for (const bad of [0, -65536, 32768, 65535, 65536 * 3, 2 ** 31, 1.5, Number.NaN]) {
      assert.throws(
        () => checkTermLength(bad),
        (e: unknown) =>
          e instanceof SkeinError &&
          e.code === 'ERR_SKEIN_CONFIG_INVALID' &&
          e.message.includes(`termLength=${bad}`) &&
          e.message.includes('[65536, 1073741824]'),
      );
    }
    for (const bad of [0, 2048, 4095, 4096 * 3, 2 ** 31]) {
      assert.throws(
        () => checkPageSize(bad),
        (e: unknown) => e instanceof SkeinError && e.code === 'ERR_SKEIN_CONFIG_INVALID' && e.message.includes(`pageSize=${bad}`),
      );
    }
  });
});

describe('position arithmetic', () => {
  test('positionBitsToShift is log2 of the term length', () => {
    assert.equal(positionBitsToShift(65536), 16);
    assert.equal(positionBitsToShift(16 * 1024 * 1024), 24);
    assert.equal(positionBitsToShift(1 << 30), 30);
    assert.throws(() => positionBitsToShift(1000), SkeinError);
  });

  test('the worked example of §4: initial 100, term 102, offset 1024, 64 KiB → 132096', () => {
    assert.equal(computePosition(102, 1024, 16, 100), 132096);
    assert.equal(computeTermIdFromPosition(132096, 16, 100), 102);
    assert.equal(computeTermOffsetFromPosition(132096, 16), 1024);
    assert.equal(computeTermBeginPosition(102, 16, 100), 131072);
    assert.equal(indexByPosition(132096, 16), 2);
    assert.equal(indexByTerm(100, 102), 2);
  });

  test('term ids wrap as int32 around initialTermId near the int32 limits', () => {
    const max = 0x7fffffff;
    const min = -0x80000000;
    assert.equal(computePosition(min, 0, 16, max), 65536);
    assert.equal(computePosition(min + 1, 32, 16, max), 2 * 65536 + 32);
    assert.equal(computeTermIdFromPosition(65536, 16, max), min);
    assert.equal(computeTermIdFromPosition(3 * 65536, 16, max - 1), min + 1);
    assert.equal(indexByTerm(max, min + 1), 2);
    assert.equal(computeTermBeginPosition(min, 30, max), 2 ** 30);
  });

  test('positions beyond 2^32 are exact', () => {
    const shift = 30;
    const termCount = 2 ** 22 + 3;
    const position = computePosition(termCount, 4096, shift, 0);
    assert.equal(position, termCount * 2 ** 30 + 4096);
    assert.equal(computeTermOffsetFromPosition(position, shift), 4096);
    assert.equal(computeTermIdFromPosition(position, shift, 0), termCount);
    assert.equal(indexByPosition(position, shift), termCount % 3);
  });

  test('indexByTermCount cycles through the three partitions', () => {
    assert.deepEqual([0, 1, 2, 3, 4, 5].map(indexByTermCount), [0, 1, 2, 0, 1, 2]);
  });

  test('maxPossiblePosition is termLength × 2^31, capped below 2^53 on whole terms', () => {
    assert.equal(maxPossiblePosition(65536), 2 ** 47);
    assert.equal(maxPossiblePosition(2 ** 22), 2 ** 53 - 2 ** 22);
    assert.equal(maxPossiblePosition(2 ** 30), 2 ** 53 - 2 ** 30);
    for (let n = TERM_MIN_LENGTH; n <= TERM_MAX_LENGTH; n *= 2) {
      const max = maxPossiblePosition(n);
      assert.ok(Number.isSafeInteger(max));
      assert.equal(max % n, 0);
    }
  });
});

describe('lengths', () => {
  test('computeMaxMessageLength = min(termLength / 8, 16 MiB)', () => {
    assert.equal(computeMaxMessageLength(65536), 8192);
    assert.equal(computeMaxMessageLength(16 * 1024 * 1024), 2 * 1024 * 1024);
    assert.equal(computeMaxMessageLength(128 * 1024 * 1024), 16 * 1024 * 1024);
    assert.equal(computeMaxMessageLength(1 << 30), 16 * 1024 * 1024);
  });

  test('computeFragmentedFrameLength matches the captured 3000-byte message at MTU 1408', () => {
    assert.equal(computeFragmentedFrameLength(3000, 1376), 1408 + 1408 + 288);
    assert.equal(computeFragmentedFrameLength(2752, 1376), 2816);
    assert.equal(computeFragmentedFrameLength(1, 1376), 64);
    assert.equal(computeFragmentedFrameLength(0, 1376), 0);
  });

  test('computeLogLength aligns three terms plus metadata to the page size', () => {
    assert.equal(computeLogLength(65536, 4096), 3 * 65536 + 4096);
    assert.equal(computeLogLength(65536, 1 << 20), 1 << 20);
    assert.equal(computeLogLength(1 << 30, 4096), 3 * 2 ** 30 + 4096);
    assert.equal(computeLogLength(1 << 30, 1 << 30), 4 * 2 ** 30);
  });
});
