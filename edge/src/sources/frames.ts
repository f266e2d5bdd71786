// Synthetic camera frames for the people-counter service: a dark background with k bright
// rectangular "people" at seeded positions. Deterministic for a seed, so a Customer can
// regenerate its test inputs and a test can compare against a reference count.

export { prng } from "@surplus/core";

export interface FrameOptions {
  readonly width?: number;
  readonly height?: number;
  /** Most people in a frame. @default 6 */
  readonly maxPeople?: number;
}

/** Encodes a frame in the service's input format: u16 width, u16 height (LE), then pixels. */
export function encodeFrame(width: number, height: number, pixels: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + pixels.length);
  const view = new DataView(out.buffer);
  view.setUint16(0, width, true);
  view.setUint16(2, height, true);
  out.set(pixels, 4);
  return out;
}

/** One synthetic frame drawn from `random`. */
export function syntheticFrame(random: () => number, opts: FrameOptions = {}): Uint8Array {
  const width = opts.width ?? 64;
  const height = opts.height ?? 48;
  const pixels = new Uint8Array(width * height);
  for (let i = 0; i < pixels.length; i++) pixels[i] = Math.floor(random() * 100); // background noise < threshold
  const people = Math.floor(random() * ((opts.maxPeople ?? 6) + 1));
  for (let k = 0; k < people; k++) {
    const w = 2 + Math.floor(random() * 4);
    const h = 3 + Math.floor(random() * 6);
    const x0 = Math.floor(random() * (width - w));
    const y0 = Math.floor(random() * (height - h));
    for (let y = y0; y < y0 + h; y++)
      for (let x = x0; x < x0 + w; x++) pixels[y * width + x] = 200 + Math.floor(random() * 55);
  }
  return encodeFrame(width, height, pixels);
}
