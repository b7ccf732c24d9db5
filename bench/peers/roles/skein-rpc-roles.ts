/**
 * Skein RPC in the request/response scenario: a provider process serving one unary method that
 * echoes its raw bytes, and a consumer process calling it through an RpcConsumer (static
 * registry, the default balancer) with N calls in flight. The counterpart of gRPC unary.
 */
import { Skein } from '../../../src/index.js';
import { RpcProvider } from '../../../src/rpc/rpc-provider.js';
import { RpcConsumer } from '../../../src/rpc/rpc-consumer.js';
import { StaticRegistry } from '../../../src/rpc/registry.js';
import { defineService, unary } from '../../../src/rpc/service.js';
import { rawCodec } from '../../../src/rpc/codec.js';
import type { ChildConfig, ChildContext, RoleHandle } from '../../support/child-runtime.js';
import type { ThroughputWindow } from '../../transport/throughput-meter.js';
import { RequestDriver } from './request-driver.js';
import { benchSkeinOptions, systemCounters } from '../../transport/roles/skein-options.js';
import { phaseCommand } from '../phases.js';

export const BenchEcho = defineService('bench', { echo: unary<Uint8Array, Uint8Array>({ requestCodec: rawCodec, responseCodec: rawCodec, maxConcurrent: 1 << 16 }) });

export interface SkeinRpcConfig extends ChildConfig, ThroughputWindow {
  /** The provider's request port; its responses leave from the next one. */
  readonly port: number;
  readonly connectTimeoutMs: number;
}

export async function skeinRpcServer(config: SkeinRpcConfig, context: ChildContext): Promise<RoleHandle> {
  const errors = { count: 0 };
  const skein = Skein.launch(benchSkeinOptions(errors));
  const provider = await RpcProvider.start(skein.client, {
    service: BenchEcho, implementation: { echo: (bytes: Uint8Array) => bytes }, address: `127.0.0.1:${config.port}`, incarnation: 'bench', onError: () => errors.count++,
  });
  context.ready();
  return {
    stop: async () => {
      const calls = provider.stats.calls;
      provider.closeNow();
      const final = { calls, skeinErrors: errors.count, ...systemCounters(skein, 'rpcserver') };
      skein.destroy();
      return final;
    },
  };
}

export async function skeinRpcRequester(config: SkeinRpcConfig, context: ChildContext): Promise<RoleHandle> {
  const errors = { count: 0 };
  const skein = Skein.launch(benchSkeinOptions(errors));
  const consumer = RpcConsumer.create(skein.client, BenchEcho, { registry: new StaticRegistry({ bench: [`127.0.0.1:${config.port}`] }), seed: 1, onError: () => errors.count++ });
  const deadline = Date.now() + config.connectTimeoutMs;
  while (consumer.state !== 'READY') {
    if (Date.now() > deadline) throw new Error(`no READY provider within ${config.connectTimeoutMs} ms: ${consumer.describe()}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  let callErrors = 0;
  const driver = new RequestDriver(
    {
      send: (_slot, buffer) => {
        consumer.stub.echo(buffer, { timeoutMs: 10_000 }).then(
          (answer) => driver.onResponse(answer, 0),
          () => callErrors++,
        );
      },
    },
    context,
    config,
  );
  context.ready();
  return {
    command: (data) => driver.start(phaseCommand(data)),
    stop: () => {
      driver.stop();
      const final = { completed: driver.completedTotal, stale: driver.stale, callErrors, retries: consumer.stats.retries, skeinErrors: errors.count, ...systemCounters(skein, 'rpcclient') };
      consumer.close();
      skein.destroy();
      return final;
    },
  };
}
