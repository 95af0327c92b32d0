// PNG encoding of RGBA8 images with pngjs. Its defaults (adaptive filter,
// zlib level 9, Z_RLE) are slow and large for screen content; filter 1 (Sub)
// with deflate level 6 and the default strategy is 4x faster and 23% smaller
// on a 1920x1080 desktop-like frame (docs/bench/image.json, `PNG` rows: ~80 ms,
// 1.26 MB). A writer of our own on node:zlib produced the same bytes in the
// same time, so the maintained library wins.
import pngjs from 'pngjs';
import { InvalidArgumentError } from '../errors.js';
import type { RgbaImage } from './convert.js';
import { checkInt, MAX_DIMENSION } from './tiling.js';

export interface PngOptions {
  /** zlib level 0-9 (default 6): 1 is faster and a few percent larger. */
  readonly level?: number;
}

/** The image as a PNG file (8-bit RGBA, not interlaced). */
export function encodePng(image: RgbaImage, options: PngOptions = {}): Buffer {
  const width = checkInt('width', image.width, 1, MAX_DIMENSION);
  const height = checkInt('height', image.height, 1, MAX_DIMENSION);
  const level = checkInt('level', options.level ?? 6, 0, 9);
  if (image.data.length !== width * height * 4) {
    throw new InvalidArgumentError(`an RGBA image of ${width}x${height} has ${width * height * 4} bytes, not ${image.data.length}`);
  }
  // Sized after construction: given a size, the constructor allocates (and
  // page-faults in) a zeroed buffer of its own.
  const png = new pngjs.PNG();
  png.width = width;
  png.height = height;
  png.data = Buffer.from(image.data.buffer, image.data.byteOffset, image.data.length);
  return pngjs.PNG.sync.write(png, { filterType: 1, deflateLevel: level, deflateStrategy: 0 });
}
