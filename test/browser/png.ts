// Decodes a PNG screenshot in the page itself (createImageBitmap; no fetch, so it works under any
// Content-Security-Policy) and describes it: size, dark and non-black pixels, distinct colours,
// the centre.

import type { BrowserPage } from './driver';

/** What a screenshot shows. */
export interface PngStats {
  width: number;
  height: number;
  /** pixels whose r + g + b > 30 */
  nonBlack: number;
  /** pixels whose r + g + b < 384 (the darker half) */
  dark: number;
  /** distinct RGB colours */
  colours: number;
  /** [r, g, b] of the centre pixel */
  centre: number[];
}

/** Decodes `png` in `page` and returns its PngStats. */
export function pngStats(page: BrowserPage, png: Buffer): Promise<PngStats> {
  return page.evaluate(async (b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
    const canvas = document.createElement('canvas');
    canvas.width = bitmap.width;
    canvas.height = bitmap.height;
    const ctx = canvas.getContext('2d')!;
    ctx.drawImage(bitmap, 0, 0);
    const { data } = ctx.getImageData(0, 0, bitmap.width, bitmap.height);
    let nonBlack = 0;
    let dark = 0;
    const colours = new Set<number>();
    for (let i = 0; i < data.length; i += 4) {
      const sum = data[i] + data[i + 1] + data[i + 2];
      if (sum > 30) nonBlack++;
      if (sum < 384) dark++;
      colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
    }
    const c = 4 * ((bitmap.height >> 1) * bitmap.width + (bitmap.width >> 1));
    return { width: bitmap.width, height: bitmap.height, nonBlack, dark, colours: colours.size, centre: [data[c], data[c + 1], data[c + 2]] };
  }, png.toString('base64'));
}
