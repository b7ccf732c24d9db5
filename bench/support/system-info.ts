import { cpus, loadavg, platform, release, arch, totalmem } from 'node:os';

/** The machine and runtime a benchmark ran on, recorded with every result. */
export interface SystemInfo {
  readonly node: string;
  readonly v8: string;
  readonly platform: string;
  readonly osRelease: string;
  readonly arch: string;
  readonly cpuModel: string;
  readonly cores: number;
  readonly totalMemoryGiB: number;
  readonly loadAverage1m: number;
}

export function systemInfo(): SystemInfo {
  const list = cpus();
  return {
    node: process.version,
    v8: process.versions.v8,
    platform: platform(),
    osRelease: release(),
    arch: arch(),
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    totalMemoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    loadAverage1m: Math.round(loadavg()[0]! * 100) / 100,
  };
}
