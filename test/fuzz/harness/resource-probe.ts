/**
 * Reads the sizes of a driver's per-peer and per-session collections, so that a fuzz run can
 * check that hostile input cannot grow them past their limits. The collections are private to
 * the driver; the probe reads them by name and fails loudly when a name or shape changed, so that
 * a refactor updates the probe instead of silently checking nothing.
 */
import type { MediaDriver } from '../../../src/driver/media-driver.js';

export interface ResourceSizes {
  /** Images of the driver (all endpoints) not yet freed. */
  readonly images: number;
  /** Largest number of session marks (pending setup, cool-down) of one stream of one endpoint. */
  readonly sessionMarksMax: number;
  /** Largest number of gap NAK timers of one image. */
  readonly nakTimersMax: number;
  /** Largest number of receivers tracked by one network publication. */
  readonly receiversMax: number;
  /** Distinct errors in the driver's error log. */
  readonly distinctErrors: number;
  /** Counters allocated. */
  readonly counters: number;
  /** Largest sum of 3 × term length over the images of one receive endpoint. */
  readonly imageLogsLength: number;
  /** Largest number of unestablished images (answered SETUPs, no log) of one receive endpoint. */
  readonly pendingImages: number;
}

function field(owner: object, name: string, what: string): unknown {
  if (!(name in owner)) throw new Error(`resource probe: ${what} has no field '${name}'; update test/fuzz/harness/resource-probe.ts`);
  return Reflect.get(owner, name);
}

function mapField(owner: object, name: string, what: string): Map<unknown, unknown> {
  const value = field(owner, name, what);
  if (!(value instanceof Map)) throw new Error(`resource probe: ${what}.${name} is not a Map; update test/fuzz/harness/resource-probe.ts`);
  return value;
}

function numberField(owner: object, name: string, what: string): number {
  const value = field(owner, name, what);
  if (typeof value !== 'number') throw new Error(`resource probe: ${what}.${name} is not a number; update test/fuzz/harness/resource-probe.ts`);
  return value;
}

function arrayField(owner: object, name: string, what: string): object[] {
  const value = field(owner, name, what);
  if (!Array.isArray(value)) throw new Error(`resource probe: ${what}.${name} is not an array; update test/fuzz/harness/resource-probe.ts`);
  return value as object[];
}

export function probeResources(driver: MediaDriver): ResourceSizes {
  const conductor = driver.conductor as object;
  // Images freed since the last timer event (state DONE) are still listed until the next one.
  const images = arrayField(conductor, 'images', 'DriverConductor').filter((i) => field(i, 'state', 'PublicationImage') !== 'DONE');
  let sessionMarksMax = 0;
  let imageLogsLength = 0;
  let pendingImages = 0;
  for (const endpoint of mapField(conductor, 'receiveEndpoints', 'DriverConductor').values()) {
    imageLogsLength = Math.max(imageLogsLength, numberField(endpoint as object, 'imageLogsLength', 'ReceiveChannelEndpoint'));
    pendingImages = Math.max(pendingImages, numberField(endpoint as object, 'pendingImageCount', 'ReceiveChannelEndpoint'));
    for (const interest of mapField(endpoint as object, 'streams', 'ReceiveChannelEndpoint').values()) {
      sessionMarksMax = Math.max(sessionMarksMax, mapField(interest as object, 'marks', 'stream interest').size);
    }
  }
  let nakTimersMax = 0;
  for (const image of images) nakTimersMax = Math.max(nakTimersMax, mapField(image, 'nakDeadlines', 'PublicationImage').size);
  let receiversMax = 0;
  for (const publication of arrayField(conductor, 'networkPublications', 'DriverConductor')) {
    receiversMax = Math.max(receiversMax, mapField(publication, 'receivers', 'NetworkPublication').size);
  }
  return {
    images: images.length,
    sessionMarksMax,
    nakTimersMax,
    receiversMax,
    distinctErrors: driver.errorLog.entries().length,
    counters: driver.counters.allocatedCount,
    imageLogsLength,
    pendingImages,
  };
}

/** The limits the driver's settings promise for {@link ResourceSizes}; Infinity where there is no setting. */
export function resourceLimits(driver: MediaDriver): Record<keyof ResourceSizes, number> {
  const settings = driver.settings as unknown as Record<string, number | boolean | undefined>;
  const number = (name: string): number => (typeof settings[name] === 'number' ? (settings[name] as number) : Infinity);
  return {
    images: number('maxImagesPerEndpoint'),
    sessionMarksMax: number('pendingSetupsMax'),
    nakTimersMax: number('nakGapsMax'),
    receiversMax: number('receiversPerPublicationMax'),
    distinctErrors: number('errorLogCapacity'),
    counters: number('countersCapacity'),
    imageLogsLength: number('imageLogsLengthMax'),
    pendingImages: number('pendingImagesMax'),
  };
}

/** Names of the sizes above their limits, with both numbers; empty when everything is bounded. */
export function overLimits(sizes: ResourceSizes, limits: Record<keyof ResourceSizes, number>): string[] {
  return (Object.keys(sizes) as (keyof ResourceSizes)[])
    .filter((k) => sizes[k] > limits[k])
    .map((k) => `${k}=${sizes[k]} > limit ${limits[k]}`);
}
