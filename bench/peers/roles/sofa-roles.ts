/**
 * sofa-rpc-node 2.x (bolt protocol, hessian serialisation), direct connection to the provider as
 * the issue measured it: a provider process with one `echo(string)` method and a consumer
 * process with N calls in flight. Requests carry the request driver's bytes as a latin1 string
 * (hessian has no cheaper byte type in this API), echoed back unchanged.
 */
import type { ChildConfig, ChildContext, RoleHandle } from '../../support/child-runtime.js';
import type { ThroughputWindow } from '../../transport/throughput-meter.js';
import { loadPeer, type SofaLogger } from '../peer-modules.js';
import { phaseCommand } from '../phases.js';
import { RequestDriver } from './request-driver.js';

const INTERFACE = 'com.skein.bench.Echo';
const QUIET: SofaLogger = { info() {}, warn() {}, debug() {}, error() {} };

export interface SofaServerConfig extends ChildConfig {
  readonly port: number;
}

export async function sofaServer(config: SofaServerConfig, context: ChildContext): Promise<RoleHandle> {
  const sofa = loadPeer('sofa-rpc-node');
  const server = new sofa.server.RpcServer({ logger: QUIET, port: config.port });
  let calls = 0;
  server.addService({ interfaceName: INTERFACE }, {
    echo: async (text: unknown) => {
      calls++;
      return text;
    },
  });
  await server.start();
  context.ready({ port: config.port });
  return {
    stop: async () => {
      await server.close();
      return { calls };
    },
  };
}

export interface SofaClientConfig extends ChildConfig, ThroughputWindow {
  readonly port: number;
}

export async function sofaRequester(config: SofaClientConfig, context: ChildContext): Promise<RoleHandle> {
  const sofa = loadPeer('sofa-rpc-node');
  const client = new sofa.client.RpcClient({ logger: QUIET });
  const consumer = client.createConsumer({ interfaceName: INTERFACE, serverHost: `127.0.0.1:${config.port}` });
  await consumer.ready();
  let failed = 0;
  const driver = new RequestDriver(
    {
      send: (_slot, buffer) => {
        consumer.invoke('echo', [buffer.toString('latin1')], { responseTimeout: 10_000 }).then(
          (answer) => driver.onResponse(Buffer.from(String(answer), 'latin1'), 0),
          () => failed++,
        );
      },
    },
    context,
    config,
  );
  context.ready();
  return {
    command: (data) => driver.start(phaseCommand(data)),
    stop: async () => {
      driver.stop();
      await client.close();
      return { completed: driver.completedTotal, stale: driver.stale, failed };
    },
  };
}
