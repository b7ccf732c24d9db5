/**
 * Option tables: every option of a component (the media driver, the archive) with its kind,
 * default, range and `SKEIN_*` environment override, resolved in one place (explicit option,
 * then environment, then default) with every problem reported in one error. Durations and sizes
 * in the environment take the channel URI syntax (`5s`, `64k`).
 */
import { SkeinError, ErrorCode } from '../util/errors.js';
import { isPowerOfTwo } from '../util/bits.js';
import { closest } from '../util/closest.js';
import { DURATION_ALLOWED, SIZE_ALLOWED, durationNsOf, sizeOf } from './channel-uri.js';

export type OptionKind = 'duration' | 'size' | 'int' | 'bool';

export interface OptionSpec {
  readonly kind: OptionKind;
  readonly env: string;
  readonly defaultValue: number | boolean;
  readonly min?: number;
  readonly max?: number;
  readonly powerOfTwo?: boolean;
  readonly multipleOf?: number;
  readonly doc: string;
}

/**
 * Resolves `options` against `table`: explicit values first, then `env`, then defaults. Unknown
 * names (with a did-you-mean hint) and bad values all go into one ERR_SKEIN_CONFIG_INVALID error
 * that says whose configuration (`what`) it is. With `problems` given, they are added there instead,
 * for a caller that checks more and reports everything together.
 */
export function resolveOptionTable(
  table: Readonly<Record<string, OptionSpec>>,
  options: Readonly<Record<string, unknown>>,
  env: Record<string, string | undefined>,
  what: string,
  collected?: string[],
): Record<string, number | boolean> {
  const problems: string[] = collected ?? [];
  const known = Object.keys(table);
  for (const key of Object.keys(options)) {
    if (!(key in table)) {
      const hint = closest(key, known);
      problems.push(`unknown option '${key}'${hint === undefined ? '' : ` (did you mean '${hint}'?)`}`);
    }
  }
  const out: Record<string, number | boolean> = {};
  for (const [name, spec] of Object.entries(table)) {
    let value: unknown = options[name];
    let source = `option ${name}`;
    if (value === undefined && env[spec.env] !== undefined) {
      source = `${spec.env}=${env[spec.env]}`;
      try {
        value = parseEnv(spec, env[spec.env]!);
      } catch (error) {
        problems.push(`${source}: ${(error as Error).message}; allowed ${allowedRange(spec)}`);
        continue;
      }
    }
    if (value === undefined) value = spec.defaultValue;
    const problem = check(spec, value);
    if (problem !== null) problems.push(`${source}: ${problem} (got ${String(value)}); allowed ${allowedRange(spec)}`);
    else out[name] = value as number | boolean;
  }
  if (collected === undefined && problems.length > 0) {
    throw new SkeinError(ErrorCode.CONFIG_INVALID, `invalid ${what} configuration: ${problems.join('; ')}`);
  }
  return out;
}

function parseEnv(spec: OptionSpec, text: string): number | boolean {
  switch (spec.kind) {
    case 'duration': {
      const durationNs = durationNsOf(text);
      if (Number.isNaN(durationNs)) throw new Error(DURATION_ALLOWED);
      return durationNs;
    }
    case 'size': {
      const size = sizeOf(text);
      if (Number.isNaN(size)) throw new Error(SIZE_ALLOWED);
      return size;
    }
    case 'int': {
      const n = Number(text);
      if (!Number.isInteger(n)) throw new Error(`not an integer`);
      return n;
    }
    case 'bool':
      if (text === 'true' || text === '1') return true;
      if (text === 'false' || text === '0') return false;
      throw new Error('expected true or false');
  }
}

/** The values an option accepts, in words: `an integer in [1, 256]`, `a power of two in [65536, 1073741824]`. */
export function allowedRange(spec: OptionSpec): string {
  if (spec.kind === 'bool') return 'true or false';
  const unit = spec.kind === 'duration' ? ' ns' : spec.kind === 'size' ? ' bytes' : '';
  const shape = spec.powerOfTwo === true ? 'a power of two' : spec.multipleOf !== undefined ? `a multiple of ${spec.multipleOf}` : 'an integer';
  return `${shape} in [${spec.min ?? -Infinity}, ${spec.max ?? Infinity}]${unit}`;
}

function check(spec: OptionSpec, value: unknown): string | null {
  if (spec.kind === 'bool') return typeof value === 'boolean' ? null : 'expected a boolean';
  if (typeof value !== 'number' || !Number.isInteger(value)) return 'expected an integer';
  if (spec.min !== undefined && value < spec.min) return `must be >= ${spec.min}`;
  if (spec.max !== undefined && value > spec.max) return `must be <= ${spec.max}`;
  if (spec.powerOfTwo === true && !isPowerOfTwo(value)) return 'must be a power of two';
  if (spec.multipleOf !== undefined && value % spec.multipleOf !== 0) return `must be a multiple of ${spec.multipleOf}`;
  return null;
}
