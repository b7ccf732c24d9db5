import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { Skein } from '../../../src/skein.js';
import { CounterTypeId, SystemCounterId } from '../../../src/agent/counter-types.js';
import { SetupFlyweight } from '../../../src/protocol/setup-flyweight.js';
import { DataHeaderFlyweight } from '../../../src/protocol/data-header-flyweight.js';
import { FrameFlags, FrameType, SETUP_LENGTH } from '../../../src/protocol/frame-constants.js';
import { waitFor, freeUdpPort } from '../../support/wait.js';

const SESSION = 0x5eed;
const STREAM = 1001;
const INITIAL_TERM_ID = 7;

function setup(): Uint8Array {
  const bytes = new Uint8Array(SETUP_LENGTH);
  new SetupFlyweight().wrap(bytes, 0, SETUP_LENGTH).write({
    flags: 0,
    termOffset: 0,
    sessionId: SESSION,
    streamId: STREAM,
    initialTermId: INITIAL_TERM_ID,
    activeTermId: INITIAL_TERM_ID,
    termLength: 65536,
    mtu: 1408,
    ttl: 0,
  });
  return bytes;
}

/** A DATA frame (32-byte header + 32 bytes) at `termOffset`, or a heartbeat when `payload` is false. */
function data(termOffset: number, payload: boolean): Uint8Array {
  const bytes = new Uint8Array(payload ? 64 : 32);
  new DataHeaderFlyweight().wrap(bytes, 0, bytes.length).writeHeader(payload ? 64 : 0, FrameFlags.UNFRAGMENTED, FrameType.DATA, termOffset, SESSION, STREAM, INITIAL_TERM_ID);
  return bytes;
}

function countNaks(socket: Socket): { naks: number } {
  const seen = { naks: 0 };
  socket.on('message', (message: Buffer) => {
    if (message.length >= 8 && message.readUInt16LE(6) === FrameType.NAK) seen.naks++;
  });
  return seen;
}

test('a forged SETUP and one DATA frame cannot turn the receiver into a NAK reflector', { timeout: 20_000 }, async () => {
  const port = await freeUdpPort();
  const skein = Skein.launch({ testProfile: true, seed: 5, driver: { naksWithoutPacketMax: 8 } });
  const attacker = createSocket('udp4');
  try {
    await skein.addSubscription(`aeron:udp?endpoint=127.0.0.1:${port}`, STREAM);
    await new Promise<void>((resolve) => attacker.bind(0, '127.0.0.1', resolve));
    const seen = countNaks(attacker);
    const send = (bytes: Uint8Array): void => attacker.send(bytes, port, '127.0.0.1');
    send(setup());
    await new Promise((resolve) => setTimeout(resolve, 100));
    // One frame past a gap at the start of the term: the image would NAK the gap every 100 µs.
    send(data(1024, true));
    await waitFor(() => seen.naks >= 8, 3000, 'the first NAKs');
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(seen.naks, 8, 'at most naksWithoutPacketMax NAKs go out before the sender is heard again');
    const heldBack = skein.driver.counters.find(CounterTypeId.SYSTEM, SystemCounterId.NAKS_HELD_BACK);
    assert.ok(skein.driver.counters.get(heldBack) > 0, 'the NAKs not sent are counted (NAKs held back)');
    // A packet from the "sender" (a heartbeat) allows another round, no more.
    send(data(1088, false));
    await waitFor(() => seen.naks >= 16, 3000, 'the NAKs after a heartbeat');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(seen.naks, 16);
  } finally {
    attacker.close();
    skein.destroy();
  }
});
