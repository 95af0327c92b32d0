// "No garbage stripes": a detiled picture of a tiled framebuffer is as smooth
// across tile edges as inside tiles. A wrong tiling (or none) breaks the
// picture into tile-sized blocks whose edges differ far more than
// neighbouring pixels inside them.
import type { RgbaImage } from 'vfio-display';

export interface Seams {
  /** Mean RGB difference of neighbouring pixels across tile edges... */
  readonly seam: number;
  /** ...and inside tiles. */
  readonly interior: number;
}

/** Tile edges every `tileWidth` pixels and `tileHeight` rows. */
export function seams(image: RgbaImage, tileWidth: number, tileHeight: number): Seams {
  const { width, height, data } = image;
  const sum = { seam: 0, seamCount: 0, interior: 0, interiorCount: 0 };
  const add = (d: number, atEdge: boolean): void => {
    if (atEdge) {
      sum.seam += d;
      sum.seamCount++;
    } else {
      sum.interior += d;
      sum.interiorCount++;
    }
  };
  const diff = (a: number, b: number): number => Math.abs((data[a] ?? 0) - (data[b] ?? 0)) + Math.abs((data[a + 1] ?? 0) - (data[b + 1] ?? 0)) + Math.abs((data[a + 2] ?? 0) - (data[b + 2] ?? 0));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      if (x + 1 < width) add(diff(i, i + 4), (x + 1) % tileWidth === 0);
      if (y + 1 < height) add(diff(i, i + width * 4), (y + 1) % tileHeight === 0);
    }
  }
  return { seam: sum.seamCount ? sum.seam / sum.seamCount : 0, interior: sum.interiorCount ? sum.interior / sum.interiorCount : 0 };
}
