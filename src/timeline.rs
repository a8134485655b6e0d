//! The arena timeline as SVG: arena offset (y, MiB) against op index (x), one rectangle per tensor,
//! coloured by phase, with LOAD and the budget as horizontal lines.
//!
//! To keep the file small (a few hundred KB), only the largest [`MAX_RECTS`] tensors are drawn; the
//! legend says how many smaller ones were left out.

use crate::plan_cmd::Timeline;
use crate::size::mib;
use std::fmt::Write as _;

/// Most rectangles drawn.
pub const MAX_RECTS: usize = 2500;

const W: f64 = 1200.0;
const H: f64 = 640.0;
const LEFT: f64 = 80.0;
const TOP: f64 = 60.0;
const RIGHT: f64 = 220.0;
const BOTTOM: f64 = 60.0;
const COLOURS: [&str; 6] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#76b7b2",
];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A "nice" tick step for `max` over about eight ticks.
fn tick_step(max: f64) -> f64 {
    let raw = (max / 8.0).max(1e-9);
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
}

/// Renders `t` as an SVG document.
pub fn render_svg(t: &Timeline) -> String {
    let ops = t.phases.last().map_or(1, |p| p.2).max(
        t.tensors
            .iter()
            .map(|x| x.last as usize + 1)
            .max()
            .unwrap_or(1),
    );
    let top = [t.arena, t.load, t.budget.unwrap_or(0)]
        .into_iter()
        .max()
        .unwrap_or(1)
        .max(1);
    let top_mib = mib(top) * 1.05;
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let x = |op: f64| LEFT + op / ops as f64 * pw;
    let y = |m: f64| TOP + ph - m / top_mib * ph;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="24" font-size="16" font-weight="bold">Arena timeline: {}</text>"#,
        esc(&t.title)
    );
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="44">arena {:.2} MiB, LOAD {:.2} MiB, ratio {:.3}; {} tensors</text>"#,
        mib(t.arena),
        mib(t.load),
        t.arena as f64 / t.load.max(1) as f64,
        t.tensors.len()
    );
    // phase bands
    for (i, (name, a, b)) in t.phases.iter().enumerate() {
        let c = COLOURS[i % COLOURS.len()];
        let _ = writeln!(
            s,
            r#"<rect x="{:.1}" y="{TOP}" width="{:.1}" height="{ph}" fill="{c}" opacity="0.06"/>"#,
            x(*a as f64),
            x(*b as f64) - x(*a as f64)
        );
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" fill="{c}" font-size="11">{}</text>"#,
            x(*a as f64) + 2.0,
            TOP + 12.0 + 13.0 * (i % 2) as f64,
            esc(name)
        );
    }
    // tensors: the largest first
    let mut order: Vec<usize> = (0..t.tensors.len()).collect();
    order.sort_by(|&a, &b| t.tensors[b].bytes.cmp(&t.tensors[a].bytes));
    let drawn = order.len().min(MAX_RECTS);
    let phase_of = |op: u32| {
        t.phases
            .iter()
            .position(|p| (p.1..p.2).contains(&(op as usize)))
            .unwrap_or(0)
    };
    for &i in &order[..drawn] {
        let r = &t.tensors[i];
        let c = COLOURS[phase_of(r.first) % COLOURS.len()];
        let (x0, x1) = (x(f64::from(r.first)), x(f64::from(r.last) + 1.0));
        let (y0, y1) = (y(mib(r.offset + r.bytes)), y(mib(r.offset)));
        let _ = writeln!(
            s,
            r#"<rect x="{x0:.1}" y="{y0:.1}" width="{:.1}" height="{:.2}" fill="{c}" fill-opacity="0.75" stroke="white" stroke-width="0.2"><title>{} {:.2} MiB ops {}..={}</title></rect>"#,
            (x1 - x0).max(0.5),
            (y1 - y0).max(0.3),
            esc(&r.name),
            mib(r.bytes),
            r.first,
            r.last
        );
    }
    // axes and ticks
    let _ = writeln!(
        s,
        r#"<line x1="{LEFT}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="black"/><line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{:.1}" stroke="black"/>"#,
        TOP + ph,
        LEFT + pw,
        TOP + ph,
        TOP + ph
    );
    let ys = tick_step(top_mib);
    let mut v = 0.0;
    while v <= top_mib {
        let _ = writeln!(
            s,
            r#"<line x1="{:.1}" y1="{:.1}" x2="{LEFT}" y2="{:.1}" stroke="black"/><text x="{:.1}" y="{:.1}" text-anchor="end">{v}</text>"#,
            LEFT - 5.0,
            y(v),
            y(v),
            LEFT - 8.0,
            y(v) + 4.0
        );
        v += ys;
    }
    let xs = tick_step(ops as f64);
    let mut v = 0.0;
    while v <= ops as f64 {
        let _ = writeln!(
            s,
            r#"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="black"/><text x="{:.1}" y="{:.1}" text-anchor="middle">{v}</text>"#,
            x(v),
            TOP + ph,
            x(v),
            TOP + ph + 5.0,
            x(v),
            TOP + ph + 18.0
        );
        v += xs;
    }
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">op index</text>"#,
        LEFT + pw / 2.0,
        H - 18.0
    );
    let _ = writeln!(
        s,
        r#"<text transform="translate(24 {:.1}) rotate(-90)" text-anchor="middle">arena offset (MiB)</text>"#,
        TOP + ph / 2.0
    );
    // LOAD and budget lines
    let mut lines = if t.arena == t.load {
        vec![("LOAD = arena", t.load, "black", "6 3")]
    } else {
        vec![
            ("LOAD", t.load, "black", "6 3"),
            ("arena", t.arena, "#555", "2 2"),
        ]
    };
    if let Some(b) = t.budget {
        lines.push(("budget − weights", b, "#d00", "none"));
    }
    for (label, bytes, colour, dash) in &lines {
        let yy = y(mib(*bytes));
        let _ = writeln!(
            s,
            r#"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="{colour}" stroke-width="1.5" stroke-dasharray="{dash}"/><text x="{:.1}" y="{:.1}" fill="{colour}">{label} {:.2}</text>"#,
            LEFT + pw,
            LEFT + pw + 4.0,
            yy + 4.0,
            mib(*bytes)
        );
    }
    // legend
    let lx = LEFT + pw + 90.0;
    let _ = writeln!(
        s,
        r#"<text x="{lx:.1}" y="{:.1}" font-weight="bold">phases</text>"#,
        TOP + 80.0
    );
    for (i, (name, _, _)) in t.phases.iter().enumerate() {
        let yy = TOP + 96.0 + 18.0 * i as f64;
        let c = COLOURS[i % COLOURS.len()];
        let _ = writeln!(
            s,
            r#"<rect x="{lx:.1}" y="{:.1}" width="12" height="12" fill="{c}"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            yy - 10.0,
            lx + 16.0,
            yy,
            esc(name)
        );
    }
    if drawn < t.tensors.len() {
        let _ = writeln!(
            s,
            r#"<text x="{lx:.1}" y="{:.1}" font-size="10">{} smaller tensors</text><text x="{lx:.1}" y="{:.1}" font-size="10">not drawn</text>"#,
            TOP + 110.0 + 18.0 * t.phases.len() as f64,
            t.tensors.len() - drawn,
            TOP + 122.0 + 18.0 * t.phases.len() as f64
        );
    }
    s.push_str("</svg>\n");
    s
}
