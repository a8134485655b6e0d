//! Reading MiniMalloc's benchmark CSVs (`id,lower,upper,size`, half-open time `[lower, upper)`).

use super::Usage;

/// A line of a MiniMalloc CSV that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// Parses a MiniMalloc CSV into usages, in file order.
///
/// - The header, if present, must be `id,lower,upper,size`; blank lines are skipped.
/// - A buffer live over the half-open `[lower, upper)` is live at the ops `lower..=upper - 1`, so
///   `first = lower` and `last = upper - 1`; `lower < upper` is required.
pub fn parse_minimalloc_csv(text: &str) -> Result<Vec<Usage>, ParseError> {
    let mut lines = text.lines().enumerate().peekable();
    let first = lines.peek().map(|(_, l)| l.trim()).unwrap_or("");
    if first.starts_with(|c: char| c.is_ascii_alphabetic()) {
        if first != "id,lower,upper,size" {
            return Err(ParseError {
                line: 1,
                reason: format!("expected the header `id,lower,upper,size`, found `{first}`"),
            });
        }
        lines.next();
    }
    let mut usages = Vec::new();
    for (index, line) in lines {
        let line_number = index + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let error = |reason: String| ParseError {
            line: line_number,
            reason,
        };
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() != 4 {
            return Err(error(format!("expected 4 fields, found {}", fields.len())));
        }
        let number = |k: usize| -> Result<u64, ParseError> {
            fields[k].trim().parse::<u64>().map_err(|_| {
                error(format!(
                    "{} {:?} is not an integer",
                    ["id", "lower", "upper", "size"][k],
                    fields[k].trim()
                ))
            })
        };
        let size = fields[3]
            .trim()
            .parse::<i128>()
            .map_err(|_| error(format!("size {:?} is not an integer", fields[3].trim())))?;
        if size <= 0 || size > i128::from(u64::MAX) {
            return Err(error(format!("size {size} must be positive")));
        }
        let size = size as u64;
        let (lower, upper) = (number(1)?, number(2)?);
        if lower >= upper {
            return Err(error(format!("interval [{lower}, {upper}) is empty")));
        }
        let first =
            u32::try_from(lower).map_err(|_| error(format!("lower {lower} is too large")))?;
        let last =
            u32::try_from(upper - 1).map_err(|_| error(format!("upper {upper} is too large")))?;
        usages.push(Usage { size, first, last });
    }
    Ok(usages)
}
