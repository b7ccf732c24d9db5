/**
 * The RPC layer's public API (docs/rpc.md). The etcd registry is a separate entry point,
 * `skein/rpc-etcd`, so that importing Skein does not load the etcd client.
 */
export { defineService, unary, oneway, serverStream, type ServiceDescriptor, type MethodDescriptor, type MethodOptions, type RetryPolicy, type CallContext, type CallOptions, type StreamSink, type ServiceImplementation, type ServiceStub, type MethodKind } from './service.js';
export { rawCodec, jsonCodec, msgpackCodec, type Codec, type CodecName } from './codec.js';
export { RpcError, RpcStatus, statusName, type RpcStatusName, type RpcErrorContext } from './rpc-status.js';
export { RpcProvider, type RpcProviderOptions, type ProviderServerState } from './rpc-provider.js';
export { RpcConsumer, type RpcConsumerOptions } from './rpc-consumer.js';
export { StaticRegistry, providerEntry, serviceSnapshot, providerId, type Registry, type Registration, type RegistrySubscriber, type RegistrySubscription, type RegistryState, type ServiceSnapshot, type ProviderEntry } from './registry.js';
export { RegistryServer, EmbeddedRegistry, DEFAULT_REGISTRY_ADDRESS, DEFAULT_LEASE_MS, type RegistryServerOptions, type EmbeddedRegistryOptions } from './embedded-registry.js';
export { BALANCER_NAMES, DEFAULT_BALANCER, type BalancerName } from './balancer.js';
export { type HolderOptions } from './holder-options.js';
export { type HolderState, type ProviderView } from './connection-holder.js';
export { type ProviderState, type ProviderTransition } from './provider-connection.js';
export { RPC_DEFAULTS } from './rpc-defaults.js';
export { RetryBudget, type RetryBudgetOptions } from './retry.js';
