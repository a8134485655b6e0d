//! Reference for multi-head attention: the full score matrix and an exact softmax, in f64.

/// `y = softmax(scale · Q Kᵀ [causal mask]) V` per (batch, head). q `[batch, nq, heads·d]`, k and v
/// `[batch, nk, heads·d]`, y `[batch, nq, heads·d]`. With `causal`, key j is visible to query i iff
/// j ≤ i.
#[allow(clippy::too_many_arguments)]
pub fn attention(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    batch: usize,
    nq: usize,
    nk: usize,
    heads: usize,
    d: usize,
    scale: f32,
    causal: bool,
) -> Vec<f32> {
    let hd = heads * d;
    assert_eq!(q.len(), batch * nq * hd);
    assert_eq!(k.len(), batch * nk * hd);
    assert_eq!(v.len(), batch * nk * hd);
    let mut y = vec![0f32; q.len()];
    let mut scores = vec![0f64; nk];
    for b in 0..batch {
        for h in 0..heads {
            for i in 0..nq {
                let qi = &q[(b * nq + i) * hd + h * d..][..d];
                let visible = if causal { nk.min(i + 1) } else { nk };
                for (j, s) in scores.iter_mut().enumerate().take(visible) {
                    let kj = &k[(b * nk + j) * hd + h * d..][..d];
                    let dot: f64 = qi.iter().zip(kj).map(|(&a, &c)| a as f64 * c as f64).sum();
                    *s = dot * scale as f64;
                }
                let m = scores[..visible].iter().cloned().fold(f64::MIN, f64::max);
                let mut sum = 0.0;
                for s in &mut scores[..visible] {
                    *s = (*s - m).exp();
                    sum += *s;
                }
                for c in 0..d {
                    let o: f64 = (0..visible)
                        .map(|j| scores[j] * v[(b * nk + j) * hd + h * d + c] as f64)
                        .sum();
                    y[(b * nq + i) * hd + h * d + c] = (o / sum) as f32;
                }
            }
        }
    }
    y
}
