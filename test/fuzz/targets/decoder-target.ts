/**
 * The fuzz target shared by every decoder family: two fast-check properties run from the target's
 * seed.
 *
 * 1. No throw on hostile bytes: random bytes (often with the family's type and version 0 in the
 *    header, so they reach the decoder), mutated valid frames and mutated captured vectors, each
 *    placed at a random offset in an ArrayBuffer that ends exactly where the datagram ends. The
 *    acceptance gate must not throw; when it accepts a datagram of the family, every field the
 *    family's flyweights offer must read without throwing and the gate's verdict must agree with
 *    the header.
 * 2. Round trip: a valid frame generated from random fields passes the gate with its type and
 *    decodes to the same fields, also at an odd offset inside a larger buffer.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { validateDatagram } from '../../../src/protocol/frame-validator.js';
import { frameTypeName } from '../../../src/protocol/frame-constants.js';
import { loadVectors } from '../../support/vectors.js';
import { applyMutations, mutationsArb } from '../harness/mutations.js';
import { FuzzFailure, type FuzzRunOptions, type FuzzRunReport, type FuzzTarget } from '../fuzz-target.js';

export interface ValidFrame {
  readonly bytes: Uint8Array;
  /** What {@link DecoderFamily.decode} must return for these bytes. */
  readonly expected: unknown;
}

export interface DecoderFamily {
  readonly name: string;
  readonly description: string;
  /** Gate results (frame type codes) this family decodes. */
  readonly types: readonly number[];
  /** Smallest datagram the gate accepts for the family (used to shape random inputs). */
  readonly lengthMin: number;
  /** Valid datagrams of the family with the fields they were written from. */
  readonly valid: fc.Arbitrary<ValidFrame>;
  /**
   * Reads everything the family's flyweights offer from an accepted datagram, as a plain value
   * (bigints and strings included) comparable with {@link ValidFrame.expected}.
   */
  decode(buffer: Uint8Array, offset: number, length: number): unknown;
  /** Invariants of any accepted datagram's decoded value; throws when one fails. */
  check?(decoded: unknown, length: number): void;
}

const DEFAULT_RUNS = 2000;
let vectorCache: Uint8Array[] | undefined;

/** Every captured datagram of test/vectors/wire, loaded once. */
export function vectorBytes(): readonly Uint8Array[] {
  vectorCache ??= loadVectors().map((d) => d.bytes);
  return vectorCache;
}

function typeOf(bytes: Uint8Array): number {
  return bytes.length >= 8 ? bytes[6]! | (bytes[7]! << 8) : -1;
}

/** Copies `bytes` to `offset` of a fresh ArrayBuffer that ends exactly after them. */
function placeTight(bytes: Uint8Array, offset: number): Uint8Array {
  const buffer = new Uint8Array(offset + bytes.length);
  buffer.fill(0xa5, 0, offset);
  buffer.set(bytes, offset);
  return buffer;
}

function hostileInput(family: DecoderFamily): fc.Arbitrary<Uint8Array> {
  const own = vectorBytes().filter((v) => family.types.includes(typeOf(v)));
  const donors = vectorBytes();
  const headed = fc
    .record({ body: fc.uint8Array({ maxLength: family.lengthMin + 96 }), type: fc.constantFrom(...family.types), frameLength: fc.integer({ min: -64, max: family.lengthMin + 128 }) })
    .map(({ body, type, frameLength }) => {
      const bytes = new Uint8Array(Math.max(8, body.length));
      bytes.set(body);
      new DataView(bytes.buffer).setInt32(0, frameLength, true);
      bytes[4] = 0;
      bytes[6] = type & 0xff;
      bytes[7] = type >>> 8;
      return bytes;
    });
  const sources: fc.Arbitrary<Uint8Array>[] = [
    fc.uint8Array({ maxLength: 160 }),
    headed,
    fc.tuple(family.valid, mutationsArb()).map(([v, m]) => applyMutations(v.bytes, m, donors, 4096)),
  ];
  if (own.length > 0) sources.push(fc.tuple(fc.constantFrom(...own), mutationsArb()).map(([v, m]) => applyMutations(v, m, donors, 4096)));
  return fc.oneof(...sources);
}

function noThrowProperty(family: DecoderFamily): fc.IPropertyWithHooks<[Uint8Array, number]> {
  return fc.property(hostileInput(family), fc.integer({ min: 0, max: 15 }), (bytes, offset) => {
    const buffer = placeTight(bytes, offset);
    const result = validateDatagram(buffer, offset, bytes.length);
    if (result < 0) return;
    assert.equal(result, typeOf(bytes), 'the gate returns the type in the header');
    assert.equal(bytes[4], 0, 'accepted datagrams have version 0');
    if (!family.types.includes(result)) return;
    assert.ok(bytes.length >= family.lengthMin, `accepted ${frameTypeName(result)} of ${bytes.length} bytes`);
    const decoded = family.decode(buffer, offset, bytes.length);
    family.check?.(decoded, bytes.length);
  });
}

function roundTripProperty(family: DecoderFamily): fc.IPropertyWithHooks<[ValidFrame, number]> {
  return fc.property(family.valid, fc.integer({ min: 1, max: 13 }), (frame, offset) => {
    const tight = placeTight(frame.bytes, 0);
    const type = validateDatagram(tight, 0, frame.bytes.length);
    assert.ok(family.types.includes(type), `valid ${family.name} frame accepted, got ${type}`);
    assert.deepEqual(family.decode(tight, 0, frame.bytes.length), frame.expected);
    const shifted = new Uint8Array(offset + frame.bytes.length + 7);
    shifted.set(frame.bytes, offset);
    assert.equal(validateDatagram(shifted, offset, frame.bytes.length), type);
    assert.deepEqual(family.decode(shifted, offset, frame.bytes.length), frame.expected);
  });
}

/** A fuzz target over one decoder family. */
export function decoderTarget(family: DecoderFamily): FuzzTarget {
  return {
    name: family.name,
    description: family.description,
    defaultRuns: DEFAULT_RUNS,
    async run(options: FuzzRunOptions): Promise<FuzzRunReport> {
      const startMs = Date.now();
      const runs = options.runs ?? DEFAULT_RUNS;
      const timeLimit = options.timeLimitMs === undefined ? {} : { interruptAfterTimeLimit: Math.max(1, options.timeLimitMs / 2), markInterruptAsFailure: false };
      let executed = 0;
      for (const [label, property, share] of [
        ['no throw on hostile bytes', noThrowProperty(family), 0.75],
        ['valid frames round trip', roundTripProperty(family), 0.25],
      ] as const) {
        const numRuns = Math.max(1, Math.round(runs * share));
        const details = fc.check(property as fc.IProperty<unknown[]>, { seed: options.seed, numRuns, ...timeLimit });
        executed += details.numRuns;
        if (details.failed) {
          throw new FuzzFailure(family.name, options.seed, `${label}: ${fc.defaultReportMessage(details) ?? 'failed'}`, {
            cause: details.errorInstance,
            runs,
          });
        }
        options.log?.(`${family.name}: ${label}: ${details.numRuns} cases`);
      }
      return { target: family.name, seed: options.seed, runs: executed, elapsedMs: Date.now() - startMs, details: {} };
    },
  };
}
