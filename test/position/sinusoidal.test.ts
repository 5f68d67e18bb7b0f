// sinusoidal.test.ts — fixed sinusoidal encodings: interleaved (Vaswani et al. §3.5) and
// concatenated (Transformer-XL) layouts against the formulas, offsets and explicit positions
// (Transformer-XL's descending klen − 1 … 0), and argument errors. Values are float32 roundings of
// float64 sin/cos: compared within 1 float32 ulp (6e-8 relative, 1e-7 absolute).

import { describe, expect, it } from 'vitest';
import { AttentionError, sinusoidalPositions } from '../../src/index';
import { mismatch } from '../helpers/numeric';

describe('sinusoidalPositions', () => {
  it('interleaved: PE[p, 2i] = sin(p/10000^(2i/d)), PE[p, 2i+1] = cos(…)', () => {
    const pe = sinusoidalPositions(7, 6);
    expect(pe.shape).toEqual([7, 6]);
    const want: number[] = [];
    for (let p = 0; p < 7; p++) for (let i = 0; i < 3; i++) want.push(Math.sin(p / 10000 ** ((2 * i) / 6)), Math.cos(p / 10000 ** ((2 * i) / 6)));
    expect(mismatch(pe.data, want, 1e-7, 6e-8)).toBeUndefined();
    expect(Array.from(pe.data.subarray(0, 6))).toEqual([0, 1, 0, 1, 0, 1]);
  });

  it('concatenated (Transformer-XL): all sines then all cosines; offset and explicit positions', () => {
    const d = 8;
    const pe = sinusoidalPositions(4, d, { layout: 'concatenated', offset: 3, base: 500 });
    const want: number[] = [];
    for (let p = 3; p < 7; p++) {
      const row = new Array<number>(d);
      for (let i = 0; i < d / 2; i++) {
        row[i] = Math.sin(p * 500 ** ((-2 * i) / d));
        row[d / 2 + i] = Math.cos(p * 500 ** ((-2 * i) / d));
      }
      want.push(...row);
    }
    expect(mismatch(pe.data, want, 1e-7, 6e-8)).toBeUndefined();
    const desc = sinusoidalPositions(5, d, { layout: 'concatenated', positions: [4, 3, 2, 1, 0] });
    const asc = sinusoidalPositions(5, d, { layout: 'concatenated' });
    for (let r = 0; r < 5; r++) expect(Array.from(desc.data.subarray(r * d, (r + 1) * d))).toEqual(Array.from(asc.data.subarray((4 - r) * d, (5 - r) * d)));
  });

  it('rejects bad arguments with AttentionError', () => {
    expect(() => sinusoidalPositions(3, 5)).toThrow(AttentionError);
    expect(() => sinusoidalPositions(3, 5)).toThrow(/dim must be a positive even integer/);
    expect(() => sinusoidalPositions(-1, 4)).toThrow(/length must be a non-negative integer/);
    expect(() => sinusoidalPositions(3, 4, { layout: 'sideways' as never })).toThrow(/options.layout must be 'interleaved' or 'concatenated'/);
    expect(() => sinusoidalPositions(3, 4, { positions: [1, 2] })).toThrow(/options.positions has 2 entries but length is 3/);
  });
});
