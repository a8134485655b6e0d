//! Two-sided packing for graphs where at most two usages are live at any op (pure chains).

use super::{Packing, Usage};

/// Packs `blocks` (aligned sizes) at exactly LOAD when no three of them are live at one op.
///
/// - With at most two usages live at a time, the graph of intersecting intervals has no triangle;
///   an interval graph without a triangle is a forest, so it has two colours.
/// - Colour it by a walk from each uncoloured usage; colour 0 goes at offset 0, colour 1 at
///   `load - size`, flush with the top.
/// - Two usages that meet are live together, so their sizes add up to at most `load`: the bottom
///   one ends at or below where the top one starts. The arena is exactly `load`.
/// - Returns `None` if the graph is not two-coloured (more than two usages live at once).
pub(crate) fn two_sided(blocks: &[Usage], neighbours: &[Vec<u32>], load: u64) -> Option<Packing> {
    let mut colour: Vec<Option<bool>> = vec![None; blocks.len()];
    let mut stack: Vec<u32> = Vec::new();
    for root in 0..blocks.len() {
        if colour[root].is_some() {
            continue;
        }
        colour[root] = Some(false);
        stack.push(root as u32);
        while let Some(i) = stack.pop() {
            let here = colour[i as usize].expect("coloured before pushed");
            for &j in &neighbours[i as usize] {
                match colour[j as usize] {
                    None => {
                        colour[j as usize] = Some(!here);
                        stack.push(j);
                    }
                    Some(there) if there == here => return None,
                    Some(_) => {}
                }
            }
        }
    }
    let offsets: Vec<u64> = blocks
        .iter()
        .zip(&colour)
        .map(|(b, c)| if c == &Some(true) { load - b.size } else { 0 })
        .collect();
    let arena = blocks
        .iter()
        .zip(&offsets)
        .map(|(b, o)| o + b.size)
        .max()
        .unwrap_or(0);
    Some(Packing {
        offsets,
        arena,
        method: "two-sided",
        optimal: arena == load,
    })
}
