import { readFileSync } from 'node:fs';
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
  /** Linux pressure stall information: % of the last 10 s some task waited for a CPU (null elsewhere). */
  readonly cpuPressure10sPct: number | null;
}

/** How busy the machine is right now: other load distorts every number of a benchmark. */
export interface MachineLoad {
  readonly loadAverage1m: number;
  readonly cpuPressure10sPct: number | null;
}

export function machineLoad(): MachineLoad {
  return { loadAverage1m: Math.round(loadavg()[0]! * 100) / 100, cpuPressure10sPct: cpuPressure10sPct() };
}

function cpuPressure10sPct(): number | null {
  try {
    const match = /^some avg10=([\d.]+)/m.exec(readFileSync('/proc/pressure/cpu', 'utf8'));
    return match === null ? null : Number(match[1]);
  } catch {
    return null;
  }
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
    ...machineLoad(),
  };
}
