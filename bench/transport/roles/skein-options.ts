import type { Skein, SkeinOptions } from '../../../src/index.js';
import { CounterTypeId } from '../../../src/agent/counter-types.js';
import type { Metrics } from '../../support/child-messages.js';

/**
 * Skein as an application would launch it, with default driver settings, except that counters
 * are not published to the skein directory (so runs leave no files behind) and driver errors are
 * counted and written to stderr, which the runner keeps for its error report.
 */
export function benchSkeinOptions(errors: { count: number }, idle?: SkeinOptions['idle']): SkeinOptions {
  return {
    driver: { publishSnapshots: false },
    ...(idle === undefined ? {} : { idle }),
    errorHandler: (error: unknown) => {
      errors.count++;
      if (errors.count <= 5) process.stderr.write(`skein error: ${error instanceof Error ? error.message : String(error)}\n`);
    },
  };
}

export function udpChannel(port: number): string {
  return `aeron:udp?endpoint=127.0.0.1:${port}`;
}

/** CPU used by this process since `start`, as a percentage of one core over `elapsedMs`. */
export function cpuPercent(start: NodeJS.CpuUsage, elapsedMs: number): number {
  const used = process.cpuUsage(start);
  return elapsedMs > 0 ? (used.user + used.system) / 10 / elapsedMs : 0;
}

/**
 * The driver's non-zero system counters (bytes and datagrams sent, status messages, NAKs,
 * retransmits, duty cycles, …), keyed `<prefix>.<label>`, to explain a result.
 */
export function systemCounters(skein: Skein, prefix: string): Metrics {
  const out: Metrics = {};
  skein.driver.counters.forEach((_counterId, typeId, value, label) => {
    if (typeId === CounterTypeId.SYSTEM && value !== 0) out[`${prefix}.${label}`] = value;
  });
  return out;
}
