/**
 * Ping of the paired round-trip measurement: the same two processes run Skein ping-pong and raw
 * node:dgram ping-pong alternately, in slices of `sliceMs`, one message in flight. Both see the
 * same CPU placement and the same moments of machine load, so their ratio is steadier than that of
 * two measurements in different process pairs. After `warmupMs`, round trips are recorded for
 * `measureMs` in one histogram per transport.
 */
import { createSocket, type Socket } from 'node:dgram';
import { Skein, ADMIN_ACTION, publicationCodeName, type FragmentHandler, type Publication } from '../../../src/index.js';
import type { ChildContext, RoleHandle } from '../../support/child-runtime.js';
import type { Metrics } from '../../support/child-messages.js';
import { createHistogram, summarizeHistogram } from '../latency-meter.js';
import { patternPayload, readSequence, waitUntil, writeSequence } from '../payload.js';
import { benchSkeinOptions, systemCounters, udpChannel } from './skein-options.js';
import type { SkeinPingConfig } from './skein-ping.js';

export interface PairedPingConfig extends SkeinPingConfig {
  readonly rawPongPort: number;
  readonly sliceMs: number;
}

const LOST_AFTER_MS = 100;

export async function pairedPing(config: PairedPingConfig, context: ChildContext): Promise<RoleHandle> {
  const errors = { count: 0 };
  const skein = Skein.launch(benchSkeinOptions(errors));
  const subscription = await skein.addSubscription(udpChannel(config.pingPort), config.pongStreamId);
  const publication = await skein.addPublication(udpChannel(config.pongPort), config.pingStreamId);
  await waitUntil(() => publication.isConnected && subscription.imageCount > 0, config.connectTimeoutMs, 'the pong to connect');
  const socket = createSocket({ type: 'udp4', reuseAddr: false });
  await new Promise<void>((resolve) => socket.bind({ port: 0, address: '127.0.0.1' }, resolve));
  const run = new PairedPingRun(config, context, publication, socket);
  const handler: FragmentHandler = (buffer, offset) => run.onReply(true, buffer, offset);
  subscription.onFragment(handler, 16);
  socket.on('message', (message: Buffer) => run.onReply(false, message, 0));
  const watchdog = setInterval(() => run.checkLost(), LOST_AFTER_MS);
  context.ready();
  run.send();
  return {
    stop: () => {
      run.running = false;
      clearInterval(watchdog);
      socket.close();
      const final = { roundTrips: run.sequence, skeinErrors: errors.count, ...systemCounters(skein, 'ping') };
      skein.destroy();
      return final;
    },
  };
}

class PairedPingRun {
  running = true;
  sequence = 0;
  private readonly skeinHistogram = createHistogram();
  private readonly rawHistogram = createHistogram();
  private readonly payload: Uint8Array;
  private readonly rawPayload: Buffer;
  private readonly recordFromMs: number;
  private readonly recordUntilMs: number;
  private useSkein = true;
  private sentMs = 0;
  private lost = 0;
  private sliceEndMs: number;

  constructor(
    private readonly config: PairedPingConfig,
    private readonly context: ChildContext,
    private readonly publication: Publication,
    private readonly socket: Socket,
  ) {
    this.payload = patternPayload(config.messageLength);
    this.rawPayload = Buffer.from(this.payload);
    const startMs = performance.now();
    this.recordFromMs = startMs + config.warmupMs;
    this.recordUntilMs = this.recordFromMs + config.measureMs;
    this.sliceEndMs = startMs + config.sliceMs;
  }

  send(): void {
    if (!this.useSkein) {
      writeSequence(this.rawPayload, 0, this.sequence);
      this.sentMs = performance.now();
      this.socket.send(this.rawPayload, 0, this.rawPayload.length, this.config.rawPongPort, '127.0.0.1');
      return;
    }
    writeSequence(this.payload, 0, this.sequence);
    let result = ADMIN_ACTION;
    for (let attempt = 0; attempt < 3 && result === ADMIN_ACTION; attempt++) {
      this.sentMs = performance.now();
      result = this.publication.offer(this.payload, 0, this.payload.length);
    }
    if (result < 0) {
      this.running = false;
      this.context.fail(new Error(`ping offer failed with ${publicationCodeName(result)}`));
    }
  }

  onReply(fromSkein: boolean, buffer: Uint8Array, offset: number): void {
    const nowMs = performance.now();
    if (!this.running || fromSkein !== this.useSkein || readSequence(buffer, offset) !== this.sequence) return;
    if (nowMs >= this.recordFromMs) {
      (fromSkein ? this.skeinHistogram : this.rawHistogram).recordValue(Math.max(1, Math.round((nowMs - this.sentMs) * 1e6)));
    }
    this.sequence = (this.sequence + 1) >>> 0;
    if (nowMs >= this.recordUntilMs) {
      this.running = false;
      this.context.result({
        ...prefixed('skein', summarizeHistogram(this.skeinHistogram)),
        ...prefixed('raw', summarizeHistogram(this.rawHistogram)),
        lost: this.lost,
      });
      return;
    }
    if (nowMs >= this.sliceEndMs) {
      this.useSkein = !this.useSkein;
      this.sliceEndMs = nowMs + this.config.sliceMs;
    }
    this.send();
  }

  /** A raw ping lost on the way is replaced by the next one. */
  checkLost(): void {
    if (this.running && !this.useSkein && performance.now() - this.sentMs > LOST_AFTER_MS) {
      this.lost++;
      this.sequence = (this.sequence + 1) >>> 0;
      this.send();
    }
  }
}

function prefixed(prefix: string, metrics: Metrics): Metrics {
  const out: Metrics = {};
  for (const [key, value] of Object.entries(metrics)) out[`${prefix}.${key}`] = value;
  return out;
}
