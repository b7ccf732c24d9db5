/**
 * Skein response server for the rr suite: echoes every request's bytes (the raw, zero-allocation
 * handler) and measures its CPU over a spacing measurement's window (see spaced-requests.ts).
 */
import { Skein } from '../../../src/skein.js';
import { ResponseServer } from '../../../src/response/response-server.js';
import type { ChildConfig, ChildContext, RoleHandle } from '../../support/child-runtime.js';
import { benchSkeinOptions } from '../../transport/roles/skein-options.js';
import { EchoWindowCpu, MARKER_OFFSET, SPIN_IDLE } from './spaced-requests.js';

export interface SkeinRrServerConfig extends ChildConfig {
  readonly requestPort: number;
  readonly controlPort: number;
  /** Skein idles by spinning (see SPIN_IDLE). */
  readonly spin?: boolean;
}

export async function skeinRrServer(config: SkeinRrServerConfig, context: ChildContext): Promise<RoleHandle> {
  const errors = { count: 0 };
  const skein = Skein.launch(benchSkeinOptions(errors, config.spin === true ? SPIN_IDLE : undefined));
  const windowCpu = new EchoWindowCpu();
  let answered = 0;
  const server = await ResponseServer.start(skein.client, {
    requestChannel: `aeron:udp?endpoint=127.0.0.1:${config.requestPort}`,
    responseControlChannel: `aeron:udp?control=127.0.0.1:${config.controlPort}`,
    onRequest: (session, correlationId, buffer, offset, length) => {
      answered++;
      if (length > MARKER_OFFSET) windowCpu.onRequest(buffer[offset + MARKER_OFFSET]!);
      session.respond(correlationId, buffer, offset, length);
    },
  });
  context.ready();
  return {
    stop: async () => {
      server.close();
      await skein.close({ timeoutMs: 1000 });
      return { answered, skeinErrors: errors.count, serverCpuPct: windowCpu.serverCpuPct };
    },
  };
}
