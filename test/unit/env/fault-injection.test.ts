import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DatagramHandler, DatagramSocket, DatagramSocketOptions, DatagramTransport, SocketStatus } from '../../../src/env/datagram.js';
import {
  FaultInjectingTransport,
  parseFaultSpec,
  resolveFaultOptions,
  type FaultOptions,
} from '../../../src/env/fault-injection.js';
import { SeededPrng } from '../../../src/env/prng.js';
import type { Scheduler } from '../../../src/env/scheduler.js';
import { ErrorCode, SkeinError } from '../../../src/util/errors.js';

test('parseFaultSpec accepts the documented grammar', () => {
  const cases: Array<[string, FaultOptions]> = [
    ['', {}],
    ['   ', {}],
    ['loss=0.1', { lossRate: 0.1 }],
    ['loss=0.1,dup=0.05,reorder=0.05,delay=0.01:1-5', { lossRate: 0.1, duplicateRate: 0.05, reorderRate: 0.05, delayRate: 0.01, delayMinMs: 1, delayMaxMs: 5 }],
    [' loss = 1 , duplicate=0 ', { lossRate: 1, duplicateRate: 0 }],
    ['delay=0.5', { delayRate: 0.5 }],
    ['delay=0.5:3', { delayRate: 0.5, delayMinMs: 3, delayMaxMs: 3 }],
    ['delay=1:0.5-2.5', { delayRate: 1, delayMinMs: 0.5, delayMaxMs: 2.5 }],
    ['reorder=.25', { reorderRate: 0.25 }],
    ['loss=1e-3', { lossRate: 0.001 }],
  ];
  for (const [spec, expected] of cases) {
    assert.deepEqual(parseFaultSpec(spec), expected, `spec '${spec}'`);
  }
});

test('parseFaultSpec rejects bad specs with CONFIG_INVALID naming the item', () => {
  const cases: Array<[string, RegExp]> = [
    ['loss', /at 'loss'.*key=value/],
    ['loss=', /key=value/],
    ['loss=1.5', /rate 1\.5 is out of range.*\[0, 1\]/],
    ['loss=-0.1', /'-0\.1' is not a valid rate/],
    ['loss=abc', /'abc' is not a valid rate/],
    ['jitter=0.1', /unknown key 'jitter'/],
    ['loss=0.1,loss=0.2', /given more than once/],
    ['dup=0.1,duplicate=0.2', /given more than once/],
    ['delay=0.1:5-1', /min > max/],
    ['delay=0.1:1-x', /'x' is not a valid delay in ms/],
    ['delay=0.1:1-70000', /delay must be in \[0, 60000\] ms/],
    ['loss=0.1,,dup=0.1', /key=value/],
  ];
  for (const [spec, message] of cases) {
    assert.throws(
      () => parseFaultSpec(spec),
      (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.CONFIG_INVALID && message.test(e.message) && e.message.includes(spec),
      `spec '${spec}'`,
    );
  }
});

test('resolveFaultOptions validates rates, delays and keys', () => {
  assert.deepEqual(resolveFaultOptions(undefined), {
    lossRate: 0,
    duplicateRate: 0,
    reorderRate: 0,
    delayRate: 0,
    delayMinMs: 1,
    delayMaxMs: 10,
  });
  assert.throws(
    () => resolveFaultOptions({ lossRate: 2 }, 'send'),
    (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.CONFIG_INVALID && /send\.lossRate=2 .*\[0, 1\]/.test(e.message),
  );
  assert.throws(
    () => resolveFaultOptions({ delayMinMs: 5, delayMaxMs: 2 }),
    (e: unknown) => e instanceof SkeinError && /delayMinMs=5 is greater than faults\.delayMaxMs=2/.test(e.message),
  );
  assert.throws(
    () => resolveFaultOptions({ los: 0.1 } as FaultOptions),
    (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.CONFIG_UNKNOWN_OPTION && /faults\.los/.test(e.message),
  );
});

/** Records what the wrapped transport is asked to send; lets a test inject received datagrams. */
class RecordingTransport implements DatagramTransport {
  readonly sockets: RecordingSocket[] = [];
  open(options: DatagramSocketOptions): DatagramSocket {
    const s = new RecordingSocket(options);
    this.sockets.push(s);
    return s;
  }
}

class RecordingSocket implements DatagramSocket {
  status: SocketStatus = 'bound';
  error: Error | null = null;
  localPort: number;
  localAddress: string;
  onDatagram: DatagramHandler | null = null;
  readonly sent: number[] = [];
  constructor(options: DatagramSocketOptions) {
    this.localPort = options.bindPort;
    this.localAddress = options.bindAddress;
  }
  send(data: Uint8Array, offset: number, _length: number, _address: string, _port: number): boolean {
    this.sent.push(data[offset] as number);
    return true;
  }
  close(): void {
    this.status = 'closed';
  }
  inject(value: number): void {
    const buffer = new Uint8Array([value]);
    this.onDatagram?.(buffer, 1, '10.0.0.1', 9);
  }
}

/** A scheduler driven by the test: `runAll()` fires everything pending in time order. */
class ManualScheduler implements Scheduler {
  private pending: Array<{ atMs: number; seq: number; fn: () => void }> = [];
  private seq = 0;
  schedule(delayMs: number, fn: () => void): void {
    this.pending.push({ atMs: delayMs, seq: this.seq++, fn });
  }
  cancelAll(): void {
    this.pending = [];
  }
  get size(): number {
    return this.pending.length;
  }
  runAll(): void {
    const due = this.pending.sort((a, b) => a.atMs - b.atMs || a.seq - b.seq);
    this.pending = [];
    for (const item of due) item.fn();
  }
}

function runSendScenario(seed: number, faults: FaultOptions, count: number) {
  const inner = new RecordingTransport();
  const scheduler = new ManualScheduler();
  const transport = new FaultInjectingTransport(inner, { send: faults, prng: new SeededPrng(seed), scheduler });
  const socket = transport.open({ family: 4, bindAddress: '127.0.0.1', bindPort: 1000 });
  const buffer = new Uint8Array(1);
  for (let i = 0; i < count; i++) {
    buffer[0] = i & 0xff; // the caller reuses its buffer: held and delayed datagrams must be copies
    assert.equal(socket.send(buffer, 0, 1, '127.0.0.1', 2000), true);
  }
  scheduler.runAll();
  return { stats: { ...transport.stats }, sent: (inner.sockets[0] as RecordingSocket).sent };
}

test('fault statistics from a fixed seed are exactly reproducible and near their rates', () => {
  const faults = { lossRate: 0.1, duplicateRate: 0.05, reorderRate: 0.05, delayRate: 0.02, delayMinMs: 1, delayMaxMs: 5 };
  const n = 20_000;
  const first = runSendScenario(1234, faults, n);
  const second = runSendScenario(1234, faults, n);
  assert.deepEqual(first, second);
  const other = runSendScenario(4321, faults, n);
  assert.notDeepEqual(first.stats, other.stats);

  const { dropped, duplicated, reordered, delayed } = first.stats;
  const near = (value: number, expected: number, what: string): void => {
    const sigma = Math.sqrt(expected);
    assert.ok(Math.abs(value - expected) < 5 * sigma, `${what}=${value}, expected about ${expected}`);
  };
  near(dropped, n * 0.1, 'dropped');
  near(delayed, n * 0.9 * 0.02, 'delayed');
  near(reordered, n * 0.9 * 0.98 * 0.05, 'reordered');
  near(duplicated, (n - dropped - delayed - reordered) * 0.05, 'duplicated');
  assert.equal(first.sent.length, n - dropped + duplicated, 'every datagram not dropped arrives, duplicates twice');
});

test('a reordered datagram is passed on right after the next one, from a copy', () => {
  const inner = new RecordingTransport();
  const scheduler = new ManualScheduler();
  const transport = new FaultInjectingTransport(inner, { send: { reorderRate: 1 }, prng: new SeededPrng(1), scheduler });
  const socket = transport.open({ family: 4, bindAddress: '127.0.0.1', bindPort: 1000 });
  const buffer = new Uint8Array(1);
  buffer[0] = 1;
  socket.send(buffer, 0, 1, 'h', 1); // held
  buffer[0] = 2;
  socket.send(buffer, 0, 1, 'h', 1); // a hold is pending, so this goes first, then the held one
  buffer[0] = 3;
  socket.send(buffer, 0, 1, 'h', 1); // held again, released by the timer
  assert.deepEqual((inner.sockets[0] as RecordingSocket).sent, [2, 1]);
  scheduler.runAll();
  assert.deepEqual((inner.sockets[0] as RecordingSocket).sent, [2, 1, 3]);
  assert.equal(transport.stats.reordered, 2);
});

test('receive faults apply to incoming datagrams; send and receive stats are separate', () => {
  const inner = new RecordingTransport();
  const scheduler = new ManualScheduler();
  const transport = new FaultInjectingTransport(inner, { receive: { lossRate: 0.5 }, prng: new SeededPrng(9), scheduler });
  const socket = transport.open({ family: 4, bindAddress: '127.0.0.1', bindPort: 1000 });
  const got: Array<[number, string, number]> = [];
  socket.onDatagram = (data, length, address, port) => {
    assert.equal(length, 1);
    got.push([data[0] as number, address, port]);
  };
  for (let i = 0; i < 1000; i++) (inner.sockets[0] as RecordingSocket).inject(i & 0xff);
  assert.equal(got.length + transport.receiveStats.dropped, 1000);
  assert.ok(transport.receiveStats.dropped > 400 && transport.receiveStats.dropped < 600);
  assert.equal(transport.sendStats.dropped, 0);
  assert.deepEqual(got[0]?.slice(1), ['10.0.0.1', 9]);
});

test('delayed datagrams are dropped when their socket closes first; close() cancels pending work', () => {
  const inner = new RecordingTransport();
  const scheduler = new ManualScheduler();
  const transport = new FaultInjectingTransport(inner, { send: { delayRate: 1 }, prng: new SeededPrng(3), scheduler });
  const socket = transport.open({ family: 4, bindAddress: '127.0.0.1', bindPort: 1000 });
  socket.send(new Uint8Array([5]), 0, 1, 'h', 1);
  socket.close();
  assert.equal(socket.status, 'closed');
  scheduler.runAll();
  assert.deepEqual((inner.sockets[0] as RecordingSocket).sent, []);
  const again = transport.open({ family: 4, bindAddress: '127.0.0.1', bindPort: 1001 });
  again.send(new Uint8Array([6]), 0, 1, 'h', 1);
  assert.equal(scheduler.size, 1);
  transport.close();
  assert.equal(scheduler.size, 0);
});
