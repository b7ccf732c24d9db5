/**
 * Option parsers and the options shared by the commands that start a Skein (pub, sub, ping, pong,
 * demo). Parsers throw commander's InvalidArgumentError, which commander reports as
 * `error: option '--x <v>' argument 'bad' is invalid. <reason>`; the program maps it to exit code 2.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { ChannelUri } from '../protocol/channel-uri.js';
import { parseFaultSpec, type FaultOptions } from '../env/fault-injection.js';
import { isPowerOfTwo } from '../util/bits.js';
import type { Skein, SkeinOptions } from '../skein.js';
import type { DriverOptions } from '../driver/driver-context.js';

/** Smallest and largest term length a publication accepts (PROTOCOL.md: 64 KiB to 1 GiB, a power of two). */
export const TERM_LENGTH_MIN = 64 * 1024;
export const TERM_LENGTH_MAX = 1024 * 1024 * 1024;

const SIZE_SUFFIX: Record<string, number> = { '': 1, k: 1024, m: 1024 * 1024, g: 1024 * 1024 * 1024 };

/** An integer in [min, max]; `_` separators are allowed (`10_000_000`). */
export function integerOption(min: number, max: number): (value: string) => number {
  return (value: string): number => {
    const text = value.trim().replace(/_/g, '');
    const n = /^[-+]?\d+$/.test(text) ? Number(text) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`Expected an integer in [${min}, ${max}].`);
    }
    return n;
  };
}

/** A size in bytes in [min, max], with an optional suffix k, m or g (powers of 1024). */
export function sizeOption(min: number, max: number, options: { powerOfTwo?: boolean } = {}): (value: string) => number {
  return (value: string): number => {
    const match = /^(\d+)([kmg]?)$/i.exec(value.trim().replace(/_/g, ''));
    const n = match === null ? Number.NaN : Number(match[1]) * SIZE_SUFFIX[match[2]!.toLowerCase()]!;
    const shape = options.powerOfTwo === true ? 'a power of two ' : '';
    if (!Number.isSafeInteger(n) || n < min || n > max || (options.powerOfTwo === true && !isPowerOfTwo(n))) {
      throw new InvalidArgumentError(`Expected ${shape}bytes in [${min}, ${max}] (suffix k, m or g allowed).`);
    }
    return n;
  };
}

/** A channel URI, checked with the same parser the client uses. */
export function channelOption(value: string): string {
  try {
    ChannelUri.parse(value);
  } catch (error) {
    throw new InvalidArgumentError(`Not a valid channel: ${(error as Error).message}`);
  }
  return value;
}

/** A fault specification in the grammar of `parseFaultSpec` (e.g. `loss=0.1,dup=0.05,reorder=0.05`). */
export function faultOption(value: string): FaultOptions {
  try {
    return parseFaultSpec(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

/** Options every Skein-starting command accepts. */
export interface SkeinCliOptions {
  faults?: FaultOptions;
  sendFaults?: FaultOptions;
  receiveFaults?: FaultOptions;
  seed?: number;
  termLength?: number;
  dir?: string;
  testProfile?: boolean;
}

/** Adds --faults, --send-faults, --receive-faults, --seed, --term-length, --dir and the hidden --test-profile. */
export function addSkeinOptions(command: Command): Command {
  return command
    .option('--faults <spec>', 'inject faults on sent and received datagrams, e.g. loss=0.1,dup=0.05,reorder=0.05,delay=0.01:1-5', faultOption)
    .option('--send-faults <spec>', 'inject faults on sent datagrams only (overrides --faults for sending)', faultOption)
    .option('--receive-faults <spec>', 'inject faults on received datagrams only (overrides --faults for receiving)', faultOption)
    .option('--seed <n>', 'seed of session ids and fault decisions (default: random)', integerOption(-(2 ** 53 - 1), 2 ** 53 - 1))
    .option(
      '--term-length <bytes>',
      'term buffer length of UDP and IPC publications, a power of two in 64k..1g (default: driver default, 16m UDP / 64m IPC, or SKEIN_TERM_BUFFER_LENGTH)',
      sizeOption(TERM_LENGTH_MIN, TERM_LENGTH_MAX, { powerOfTwo: true }),
    )
    .option('--dir <path>', 'directory where counters and errors are published for `skein stat` (default: SKEIN_DIR or /dev/shm/skein-<user>)')
    .addOption(new Option('--test-profile', 'small terms and short timeouts, for tests').hideHelp());
}

/**
 * The Skein launch options for parsed command-line options. With the test profile, counters are
 * still published when --dir names a directory, so tests can read them with `skein stat`.
 */
export function skeinLaunchOptions(options: SkeinCliOptions, driver: DriverOptions = {}): SkeinOptions {
  const merged: DriverOptions = { ...driver };
  if (options.termLength !== undefined) {
    merged.termBufferLength = options.termLength;
    merged.ipcTermBufferLength = options.termLength;
  }
  if (options.testProfile === true && merged.publishSnapshots === undefined) {
    merged.publishSnapshots = options.dir !== undefined;
  }
  const send = options.sendFaults ?? options.faults;
  const receive = options.receiveFaults ?? options.faults;
  return {
    driver: merged,
    ...(options.seed === undefined ? {} : { seed: options.seed }),
    ...(send === undefined && receive === undefined ? {} : { faults: { ...(send === undefined ? {} : { send }), ...(receive === undefined ? {} : { receive }) } }),
    ...(options.testProfile === true ? { testProfile: true } : {}),
    ...(options.dir === undefined ? {} : { dir: options.dir }),
  };
}

/**
 * Launches an embedded Skein for parsed command-line options (and, where a command needs it, its
 * runner's idle options). The driver and client are loaded here, on first use, so `--help` and
 * option errors answer without loading them.
 */
export async function launchSkein(options: SkeinCliOptions, driver: DriverOptions = {}, idle?: SkeinOptions['idle']): Promise<Skein> {
  const { Skein: SkeinClass } = await import('../skein.js');
  return SkeinClass.launch({ ...skeinLaunchOptions(options, driver), ...(idle === undefined ? {} : { idle }) });
}
