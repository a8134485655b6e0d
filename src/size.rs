//! Byte sizes as the command line reads and prints them.
//!
//! - `KiB`, `MiB`, `GiB`, `TiB` are binary (1024³ for GiB); `KB`, `MB`, `GB`, `TB` are decimal.
//! - The short forms `K`, `M`, `G`, `T` are read as binary (`512M` = 512 MiB), as `ls -h` prints them.
//! - A bare number is bytes; a suffix `B` alone is bytes too. Fractions are allowed (`1.5GB`).
//! - Case and a space before the unit do not matter.
//! - Sizes are printed in MiB.
//!
//! # Example usage
//! ```
//! use wgsd::size::{parse_size, format_mib};
//! assert_eq!(parse_size("300MiB").unwrap(), 300 << 20);
//! assert_eq!(parse_size("1.5GB").unwrap(), 1_500_000_000);
//! assert_eq!(format_mib(3 << 19), "1.50 MiB");
//! ```

use crate::{Error, Result};

/// Bytes in a MiB.
pub const MIB: u64 = 1 << 20;

/// Parses a size such as `300MiB`, `2GiB`, `1.5GB`, `512M` or `1048576` into bytes (rounded down).
pub fn parse_size(text: &str) -> Result<u64> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let bad = |why: &str| {
        Error::Invalid(format!(
            "cannot read size {text:?}: {why} (use e.g. 300MiB, 2GiB, 1.5GB, 512M or a number of bytes)"
        ))
    };
    if num.is_empty() {
        return Err(bad("no number"));
    }
    let value: f64 = num.parse().map_err(|_| bad("bad number"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        _ => return Err(bad("unknown unit")),
    };
    let bytes = value * mult as f64;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(bad("too large"));
    }
    if bytes < 1.0 {
        return Err(bad("must be at least one byte"));
    }
    Ok(bytes as u64)
}

/// `bytes` in MiB with two decimals: `547.23 MiB`.
pub fn format_mib(bytes: u64) -> String {
    format!("{:.2} MiB", mib(bytes))
}

/// `bytes` in MiB as a float.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / MIB as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let ok = [
            ("0.5KiB", 512),
            ("300MiB", 300 << 20),
            ("300 mib", 300 << 20),
            ("2GiB", 2 << 30),
            ("1.5GB", 1_500_000_000),
            ("512M", 512 << 20),
            ("512MB", 512_000_000),
            ("4096", 4096),
            ("4096B", 4096),
            ("1K", 1024),
        ];
        for (text, want) in ok {
            assert_eq!(parse_size(text).unwrap(), want, "{text}");
        }
        for bad in [
            "",
            "MiB",
            "-5MiB",
            "0",
            "1.2.3G",
            "12 parsecs",
            "1e400GB",
            "0.1",
        ] {
            assert!(parse_size(bad).is_err(), "{bad:?} should fail");
        }
    }
}
