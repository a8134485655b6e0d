//! References for the normalisation ops, in f64 with exact two-pass statistics.

/// Group norm of x `[batch, channels, spatial]`: per (batch, group) mean and biased variance over
/// (channels/groups)·spatial elements, then `(x − mean) / sqrt(var + eps) · gamma[c] + beta[c]`, then
/// SiLU if `silu`. Matches `torch.nn.GroupNorm` (and diffusers' `ResnetBlock2D` norm + `nonlinearity`).
#[allow(clippy::too_many_arguments)]
pub fn group_norm(
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    batch: usize,
    channels: usize,
    spatial: usize,
    groups: usize,
    eps: f32,
    silu: bool,
) -> Vec<f32> {
    assert_eq!(x.len(), batch * channels * spatial);
    let cpg = channels / groups;
    let len = cpg * spatial;
    let mut y = vec![0f32; x.len()];
    for pair in 0..batch * groups {
        let g = &x[pair * len..(pair + 1) * len];
        let mean = g.iter().map(|&v| v as f64).sum::<f64>() / len as f64;
        let var = g.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / len as f64;
        let rstd = 1.0 / (var + eps as f64).sqrt();
        for (i, &v) in g.iter().enumerate() {
            let c = (pair % groups) * cpg + i / spatial;
            let mut o = (v as f64 - mean) * rstd * gamma[c] as f64 + beta[c] as f64;
            if silu {
                o /= 1.0 + (-o).exp();
            }
            y[pair * len + i] = o as f32;
        }
    }
    y
}

/// Layer norm over rows of `width`: `(x − mean) / sqrt(var + eps) · gamma + beta` with the biased
/// variance, like `torch.nn.LayerNorm`.
pub fn layer_norm(x: &[f32], gamma: &[f32], beta: &[f32], width: usize, eps: f32) -> Vec<f32> {
    x.chunks_exact(width)
        .flat_map(|row| {
            let mean = row.iter().map(|&v| v as f64).sum::<f64>() / width as f64;
            let var = row.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / width as f64;
            let rstd = 1.0 / (var + eps as f64).sqrt();
            row.iter()
                .zip(gamma.iter().zip(beta))
                .map(move |(&v, (&g, &b))| ((v as f64 - mean) * rstd * g as f64 + b as f64) as f32)
        })
        .collect()
}
