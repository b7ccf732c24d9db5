/**
 * A ClusterClient for one CLI command that talks to a cluster over the network (`skein cluster kv`,
 * `skein cluster-tool --ingress`): its own embedded Skein in a temporary directory, a session with
 * the members' ingress endpoints, and everything closed and removed afterwards, whatever the body
 * does.
 */
import type { ClusterClient } from '../cluster/cluster-client.js';

export interface ClusterSessionOptions {
  /** The members' ingress endpoints as Aeron writes them: `0=host:port,1=host:port,…`. */
  readonly ingress: string;
  /** How long to look for the leader and to wait for each answer. */
  readonly timeoutMs: number;
}

/** Runs `body` with a connected client; rejects with RECONNECT_FAILED naming the members when no session opens within the timeout. */
export async function withClusterSession<T>(options: ClusterSessionOptions, body: (client: ClusterClient) => Promise<T>): Promise<T> {
  const { Skein } = await import('../skein.js');
  const { ClusterClient } = await import('../cluster/cluster-client.js');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'skein-cluster-client-'));
  try {
    const skein = Skein.launch({ dir, driver: { publishSnapshots: false } });
    try {
      const client = await ClusterClient.connect(skein.client, {
        ingressEndpoints: options.ingress,
        reconnectDeadlineMs: options.timeoutMs,
        messageTimeoutMs: options.timeoutMs,
        commandTimeoutMs: options.timeoutMs,
      });
      try {
        return await body(client);
      } finally {
        await client.close();
      }
    } finally {
      await skein.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
