//! References for the elementwise ops.

use crate::graph::{Activation, BroadcastShape};

/// erf in f64 (Abramowitz–Stegun 7.1.26 is not accurate enough for a reference; this is the
/// series/continued-fraction pair, accurate to ~1e-15).
pub fn erf(x: f64) -> f64 {
    if x.abs() < 2.5 {
        // Maclaurin series: erf x = 2/√π Σ (−1)^n x^(2n+1) / (n! (2n+1)).
        let mut sum = 0.0f64;
        let mut term = x;
        let mut n = 0.0;
        while term.abs() > 1e-17 * sum.abs().max(1e-300) {
            sum += term / (2.0 * n + 1.0);
            n += 1.0;
            term *= -x * x / n;
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    } else {
        // Continued fraction for erfc, evaluated bottom-up (Lentz is unnecessary at this depth).
        let z = x.abs();
        let mut f = 0.0;
        for k in (1..60).rev() {
            f = (k as f64 / 2.0) / (z + f);
        }
        let erfc = (-z * z).exp() / std::f64::consts::PI.sqrt() / (z + f);
        (1.0 - erfc).copysign(x)
    }
}

/// The activation `f` at `x`.
pub fn activate(x: f64, f: Activation) -> f64 {
    let sigmoid = |v: f64| 1.0 / (1.0 + (-v).exp());
    match f {
        Activation::None => x,
        Activation::Silu => x * sigmoid(x),
        Activation::Gelu => 0.5 * x * (1.0 + erf(x / std::f64::consts::SQRT_2)),
        Activation::GeluTanh => {
            0.5 * x
                * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x.powi(3))).tanh())
        }
        Activation::QuickGelu => x * sigmoid(1.702 * x),
    }
}

fn broadcast(
    a: &[f32],
    b: &[f32],
    shape: &BroadcastShape,
    f: impl Fn(f64, f64) -> f64,
) -> Vec<f32> {
    let [_, d1, d2, d3] = shape.a.map(|d| d as usize);
    let bd = shape.b.map(|d| d as usize);
    (0..a.len())
        .map(|i| {
            let idx = [
                i / (d1 * d2 * d3),
                (i / (d2 * d3)) % d1,
                (i / d3) % d2,
                i % d3,
            ];
            // Index into b: a broadcast dim contributes 0.
            let mut j = 0;
            for d in 0..4 {
                j = j * bd[d] + if bd[d] == 1 { 0 } else { idx[d] };
            }
            f(a[i] as f64, b[j] as f64) as f32
        })
        .collect()
}

/// `a + b`, broadcast.
pub fn add(a: &[f32], b: &[f32], shape: &BroadcastShape) -> Vec<f32> {
    broadcast(a, b, shape, |x, y| x + y)
}

/// `a · b`, broadcast.
pub fn mul(a: &[f32], b: &[f32], shape: &BroadcastShape) -> Vec<f32> {
    broadcast(a, b, shape, |x, y| x * y)
}

/// `alpha · x + beta`.
pub fn scale(x: &[f32], alpha: f32, beta: f32) -> Vec<f32> {
    x.iter()
        .map(|&v| (alpha as f64 * v as f64 + beta as f64) as f32)
        .collect()
}

/// `f(x)`.
pub fn unary(x: &[f32], f: Activation) -> Vec<f32> {
    x.iter().map(|&v| activate(v as f64, f) as f32).collect()
}

/// GEGLU over rows of `2 · half_width`.
pub fn geglu(x: &[f32], half_width: usize) -> Vec<f32> {
    x.chunks_exact(2 * half_width)
        .flat_map(|row| {
            (0..half_width).map(move |c| {
                (row[c] as f64 * activate(row[half_width + c] as f64, Activation::Gelu)) as f32
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_matches_known_values() {
        // Values from mpmath: erf(0.5), erf(1), erf(2), erf(3).
        for (x, want) in [
            (0.5, 0.5204998778130465),
            (1.0, 0.8427007929497149),
            (2.0, 0.9953222650189527),
            (3.0, 0.9999779095030014),
        ] {
            assert!((erf(x) - want).abs() < 1e-14, "erf({x}) = {}", erf(x));
            assert!((erf(-x) + want).abs() < 1e-14);
        }
    }
}
