/**
 * Options of the connection holder (docs/rpc.md, "Defaults"), validated once: an unknown name
 * (with a did-you-mean hint) or a bad value is one ERR_SKEIN_CONFIG_INVALID error naming every
 * problem. Durations are milliseconds, named with the unit last.
 */
import { ErrorCode, SkeinError } from '../util/errors.js';
import { closest } from '../util/closest.js';

export interface HolderOptions {
  /** A connect (publication, response image, handshake) must finish within this. @default 1000 */
  readonly connectTimeoutMs?: number;
  /**
   * Providers CONNECTING at once; the others wait for a slot in their state (IDLE, BACKOFF or
   * QUARANTINED), and their connect timeout starts when their connect does. Keeps a thousand
   * providers listed at once from all connecting together and timing out together. @default 64
   */
  readonly maxConnecting?: number;
  /** First wait after a failed connect; later waits grow by `backoffMultiplier`. @default 250 */
  readonly backoffInitialMs?: number;
  /** @default 1.6 */
  readonly backoffMultiplier?: number;
  /** @default 30000 */
  readonly backoffMaxMs?: number;
  /** Each wait is drawn from [1 - jitter, 1 + jitter] times its base. @default 0.2 */
  readonly backoffJitter?: number;
  /** The backoff starts over only after READY lasted this long (a provider that accepts and drops keeps backing off). @default 5000 */
  readonly stableAfterMs?: number;
  /** Retry budget: this many failed connects in a row … @default 10 */
  readonly maxConnectAttempts?: number;
  /** … and dead (not READY) for at least this long: QUARANTINED. @default 60000 */
  readonly minDeadTimeMs?: number;
  /** A name that fails to resolve this many times in a row: QUARANTINED at once. @default 3 */
  readonly maxUnresolved?: number;
  /** A QUARANTINED provider is tried again after this long; 0: only when a newer snapshot lists it. @default 0 */
  readonly quarantineProbeMs?: number;
  /** Calls failing in a row that eject a READY provider to DEGRADED. @default 5 */
  readonly ejectConsecutiveFailures?: number;
  /** First ejection's length; the n-th in a row lasts n times this, up to `ejectionMaxMs`. @default 30000 */
  readonly ejectionBaseMs?: number;
  /** @default 300000 */
  readonly ejectionMaxMs?: number;
  /** Never more than this share of the providers ejected at once (at least one may be). @default 50 */
  readonly maxEjectionPercent?: number;
  /** A DRAINING provider is closed once its calls end, or after this long. @default 5000 */
  readonly drainTimeoutMs?: number;
}

export type HolderSettings = Required<HolderOptions>;

interface Spec {
  readonly defaultValue: number;
  readonly min: number;
  readonly max: number;
  readonly integer: boolean;
}

const MS_MAX = 24 * 3600 * 1000;

export const HOLDER_OPTIONS: Readonly<Record<keyof HolderOptions, Spec>> = {
  connectTimeoutMs: { defaultValue: 1000, min: 1, max: MS_MAX, integer: false },
  maxConnecting: { defaultValue: 64, min: 1, max: 1_000_000, integer: true },
  backoffInitialMs: { defaultValue: 250, min: 0, max: MS_MAX, integer: false },
  backoffMultiplier: { defaultValue: 1.6, min: 1, max: 100, integer: false },
  backoffMaxMs: { defaultValue: 30_000, min: 0, max: MS_MAX, integer: false },
  backoffJitter: { defaultValue: 0.2, min: 0, max: 1, integer: false },
  stableAfterMs: { defaultValue: 5000, min: 0, max: MS_MAX, integer: false },
  maxConnectAttempts: { defaultValue: 10, min: 1, max: 1_000_000, integer: true },
  minDeadTimeMs: { defaultValue: 60_000, min: 0, max: MS_MAX, integer: false },
  maxUnresolved: { defaultValue: 3, min: 1, max: 1_000_000, integer: true },
  quarantineProbeMs: { defaultValue: 0, min: 0, max: MS_MAX, integer: false },
  ejectConsecutiveFailures: { defaultValue: 5, min: 1, max: 1_000_000, integer: true },
  ejectionBaseMs: { defaultValue: 30_000, min: 0, max: MS_MAX, integer: false },
  ejectionMaxMs: { defaultValue: 300_000, min: 0, max: MS_MAX, integer: false },
  maxEjectionPercent: { defaultValue: 50, min: 0, max: 100, integer: false },
  drainTimeoutMs: { defaultValue: 5000, min: 0, max: MS_MAX, integer: false },
};

export function resolveHolderOptions(options: HolderOptions = {}): HolderSettings {
  const problems: string[] = [];
  const known = Object.keys(HOLDER_OPTIONS);
  for (const key of Object.keys(options)) {
    if (!(key in HOLDER_OPTIONS)) {
      const hint = closest(key, known);
      problems.push(`unknown option '${key}'${hint === undefined ? '' : ` (did you mean '${hint}'?)`}`);
    }
  }
  const out: Record<string, number> = {};
  for (const [name, spec] of Object.entries(HOLDER_OPTIONS)) {
    const value = (options as Record<string, unknown>)[name] ?? spec.defaultValue;
    if (typeof value !== 'number' || Number.isNaN(value) || value < spec.min || value > spec.max || (spec.integer && !Number.isInteger(value))) {
      problems.push(`${name}=${String(value)} is invalid; expected ${spec.integer ? 'an integer' : 'a number'} in [${spec.min}, ${spec.max}]`);
    } else out[name] = value;
  }
  if (problems.length === 0 && out.backoffMaxMs! < out.backoffInitialMs!) problems.push(`backoffMaxMs=${out.backoffMaxMs} is below backoffInitialMs=${out.backoffInitialMs}`);
  if (problems.length === 0 && out.ejectionMaxMs! < out.ejectionBaseMs!) problems.push(`ejectionMaxMs=${out.ejectionMaxMs} is below ejectionBaseMs=${out.ejectionBaseMs}`);
  if (problems.length > 0) throw new SkeinError(ErrorCode.CONFIG_INVALID, `invalid connection holder configuration: ${problems.join('; ')}`);
  return Object.freeze(out) as unknown as HolderSettings;
}
