// attention-pack.ts — packing K and V for the fused kernel's tile path (attention.ts).
//
// What:    packKeyPanels: K (nk, dh) → 8-key panels (⌈nk/8⌉, dh, 8), zero-padded, so S = Q·Kᵀ
//          runs on gemm.ts's 4×8 micro-kernel; packValueRows: V (nk, dv) → rows of dvp = ⌈dv/8⌉·8
//          columns, zero-padded, so P·V runs on the same micro-kernel, reporting whether V holds
//          NaN/±∞ (then P·V takes the zero-skipping micro-kernel).
// Shapes:  row strides in elements; destinations in the workspace (see attnTiles' layout).
// Tiling:  full key panels move 4×4 blocks with shuffles (a transpose of keys × dims); dh % 4
//          and the last partial panel go element by element.
// Error:   exact (copies).
// Reference: BLIS / XNNPACK packing of the B operand into nr-wide panels.

/**
 * Packs K (nk, dh) into 8-key panels (⌈nk/8⌉, dh, 8), zero-padding the last panel. Full panels
 * move 4×4 blocks with shuffles (a transpose of keys × dims); dh % 4 and the last partial panel
 * go element by element.
 */
export function packKeyPanels(k: usize, kStride: i32, nk: i32, dh: i32, dst: usize): void {
  const panels = (nk + 7) >> 3;
  const dh4 = dh & ~3;
  const rowBytes = <usize>kStride << 2;
  for (let jp = 0; jp < panels; jp++) {
    const panel = dst + <usize>jp * <usize>dh * 32;
    const j0 = jp << 3;
    if (j0 + 8 <= nk) {
      for (let half = 0; half < 2; half++) {
        const r0 = k + <usize>(j0 + 4 * half) * rowBytes;
        const r1 = r0 + rowBytes;
        const r2 = r1 + rowBytes;
        const r3 = r2 + rowBytes;
        const col = panel + (<usize>half << 4);
        for (let x = 0; x < dh4; x += 4) {
          const xo = <usize>x << 2;
          const a = v128.load(r0 + xo);
          const b = v128.load(r1 + xo);
          const c = v128.load(r2 + xo);
          const d = v128.load(r3 + xo);
          const ab0 = i32x4.shuffle(a, b, 0, 4, 1, 5);
          const ab1 = i32x4.shuffle(a, b, 2, 6, 3, 7);
          const cd0 = i32x4.shuffle(c, d, 0, 4, 1, 5);
          const cd1 = i32x4.shuffle(c, d, 2, 6, 3, 7);
          const out = col + <usize>x * 32;
          v128.store(out, i32x4.shuffle(ab0, cd0, 0, 1, 4, 5));
          v128.store(out, i32x4.shuffle(ab0, cd0, 2, 3, 6, 7), 32);
          v128.store(out, i32x4.shuffle(ab1, cd1, 0, 1, 4, 5), 64);
          v128.store(out, i32x4.shuffle(ab1, cd1, 2, 3, 6, 7), 96);
        }
        for (let x = dh4; x < dh; x++) {
          const xo = <usize>x << 2;
          const out = col + <usize>x * 32;
          store<f32>(out, load<f32>(r0 + xo));
          store<f32>(out, load<f32>(r1 + xo), 4);
          store<f32>(out, load<f32>(r2 + xo), 8);
          store<f32>(out, load<f32>(r3 + xo), 12);
        }
      }
      continue;
    }
    for (let c = 0; c < 8; c++) {
      const j = j0 + c;
      let d = panel + (<usize>c << 2);
      if (j < nk) {
        let src = k + <usize>j * rowBytes;
        for (let x = 0; x < dh; x++) {
          store<f32>(d, load<f32>(src));
          src += 4;
          d += 32;
        }
      } else {
        for (let x = 0; x < dh; x++) {
          store<f32>(d, 0);
          d += 32;
        }
      }
    }
  }
}

/**
 * Packs V (nk, dv) into rows of dvp columns (zero-padded). Returns 1 when any value is NaN or ±∞.
 */
export function packValueRows(v: usize, vStride: i32, nk: i32, dv: i32, dvp: i32, dst: usize): i32 {
  const expMask = i32x4.splat(0x7f800000);
  let nonFinite = i32x4.splat(0);
  let nonFiniteScalar = 0;
  const dv4 = dv & ~3;
  for (let j = 0; j < nk; j++) {
    const src = v + ((<usize>j * <usize>vStride) << 2);
    const row = dst + ((<usize>j * <usize>dvp) << 2);
    let x = 0;
    for (; x < dv4; x += 4) {
      const val = v128.load(src + (<usize>x << 2));
      nonFinite = v128.or(nonFinite, i32x4.eq(v128.and(val, expMask), expMask));
      v128.store(row + (<usize>x << 2), val);
    }
    for (; x < dv; x++) {
      const val = load<f32>(src + (<usize>x << 2));
      if (!isFinite(val)) nonFiniteScalar = 1;
      store<f32>(row + (<usize>x << 2), val);
    }
    for (; x < dvp; x++) store<f32>(row + (<usize>x << 2), 0);
  }
  return v128.any_true(nonFinite) || nonFiniteScalar ? 1 : 0;
}
