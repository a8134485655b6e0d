//! References for the embeddings, in f64.

/// diffusers' `get_timestep_embedding` (scale 1) in exact f64 arithmetic: t `[B]` → `[B, dim]`.
/// `half = dim / 2`, `freq[j] = exp(−ln(max_period) · j / (half − shift))`, rows `[sin(t·freq),
/// cos(t·freq)]`, or `[cos, sin]` with `flip_sin_to_cos`, and a zero column appended when dim is odd.
pub fn timestep_embedding(
    t: &[f32],
    dim: usize,
    flip_sin_to_cos: bool,
    downscale_freq_shift: f32,
    max_period: f64,
) -> Vec<f32> {
    let half = dim / 2;
    let mut y = Vec::with_capacity(t.len() * dim);
    for &tv in t {
        let args: Vec<f64> = (0..half)
            .map(|j| {
                let e = -max_period.ln() * j as f64 / (half as f64 - downscale_freq_shift as f64);
                tv as f64 * e.exp()
            })
            .collect();
        let sin = args.iter().map(|a| a.sin() as f32);
        let cos = args.iter().map(|a| a.cos() as f32);
        if flip_sin_to_cos {
            y.extend(cos.chain(sin));
        } else {
            y.extend(sin.chain(cos));
        }
        if dim % 2 == 1 {
            y.push(0.0);
        }
    }
    y
}

/// `y[b, n] = token[min(ids[b, n], V − 1)] + position[n]` with `tokens` = N and `channels` = C.
pub fn token_embedding(
    ids: &[u32],
    token: &[f32],
    position: &[f32],
    tokens: usize,
    channels: usize,
) -> Vec<f32> {
    let vocab = token.len() / channels;
    ids.iter()
        .enumerate()
        .flat_map(|(row, &id)| {
            let id = (id as usize).min(vocab - 1);
            let n = row % tokens;
            (0..channels).map(move |c| {
                (token[id * channels + c] as f64 + position[n * channels + c] as f64) as f32
            })
        })
        .collect()
}
