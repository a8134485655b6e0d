//! Plain CPU reference implementations of every op, written for clarity, not speed. They compute in f64
//! and are the oracle of the kernel tests (and of the `WGSD_CHECK` debug mode).

pub mod attention;
pub mod conv2d;
pub mod elementwise;
pub mod embedding;
pub mod graph;
pub mod matmul;
pub mod norm;
pub mod sampler;
pub mod shape;
pub mod tile;

/// Relative L2 error `‖got − want‖ / ‖want‖` (absolute when `want` is all zeros).
pub fn rel_l2(got: &[f32], want: &[f32]) -> f64 {
    assert_eq!(
        got.len(),
        want.len(),
        "rel_l2 of slices of different lengths"
    );
    let (mut num, mut den) = (0f64, 0f64);
    for (&g, &w) in got.iter().zip(want) {
        num += (g as f64 - w as f64).powi(2);
        den += (w as f64).powi(2);
    }
    if den == 0.0 {
        num.sqrt()
    } else {
        (num / den).sqrt()
    }
}
