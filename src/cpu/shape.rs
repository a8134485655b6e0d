//! References for the shape ops (exact copies).

/// Nearest-neighbour 2× upsampling of `[planes, h, w]` → `[planes, 2h, 2w]`.
pub fn upsample2x(x: &[f32], h: usize, w: usize) -> Vec<f32> {
    let mut y = Vec::with_capacity(x.len() * 4);
    for plane in x.chunks_exact(h * w) {
        for oy in 0..2 * h {
            for ox in 0..2 * w {
                y.push(plane[(oy / 2) * w + ox / 2]);
            }
        }
    }
    y
}

/// Concatenation along channels of `[batch, Ca, ..]` and `[batch, Cb, ..]`.
pub fn concat(a: &[f32], b: &[f32], batch: usize) -> Vec<f32> {
    let (sa, sb) = (a.len() / batch, b.len() / batch);
    (0..batch)
        .flat_map(|i| {
            a[i * sa..(i + 1) * sa]
                .iter()
                .chain(&b[i * sb..(i + 1) * sb])
        })
        .copied()
        .collect()
}

/// `[batch, m, n]` → `[batch, n, m]`.
pub fn transpose(x: &[f32], batch: usize, m: usize, n: usize) -> Vec<f32> {
    let mut y = vec![0f32; x.len()];
    for b in 0..batch {
        for i in 0..m {
            for j in 0..n {
                y[(b * n + j) * m + i] = x[(b * m + i) * n + j];
            }
        }
    }
    y
}
