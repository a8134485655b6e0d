// Multi-head attention for software adapters (lavapipe) on head sizes that are multiples of 4: the
// `attention_rows` design of shaders/attention.wgsl (same `Params`, one invocation per query, the same
// online softmax), with the key and value rows shared through the subgroup instead of read by every lane.
//
//   y = softmax(scale · Q Kᵀ [+ causal mask]) V per (batch, head)
//
// q: [B, Nq, H·D], k and v: [B, Nk, H·D], y: [B, Nq, H·D], all read as vec4s ("quads"): head h's row is
// quads h·D/4 .. (h+1)·D/4.
//
// Why this shape: on lavapipe a storage load goes lane by lane with a bounds check, so in the scalar
// rows kernel, where all 8 lanes of a subgroup read the same key row, loads cost far more than the
// arithmetic (1.5 GFLOP/s at 4096 tokens, D = 40). Here a workgroup is 8 invocations, one subgroup (the
// Rust side checks `subgroup_min_size` ≥ 8), owning 8 queries; keys go in blocks of 8, lane l loading
// the rows of key j0 + l, and each key's quads reach every lane by a broadcast from a constant lane.
// Every lane so loads 1/8 of what it reads.
//
// Every row is a set of named registers qr_i, kr_i, o_i for quad i < ROW_V (ROW_D, the head size, is a
// pipeline constant, so the `if (ROW_V > i)` lines vanish at compile time): a dynamically indexed
// private array would become per-lane scratch memory on lavapipe. Up to 40 quads, D = 160; wider heads
// run `attention_rows_wide` below.
//
// Grid (ceil(Nq / 8), H, B). Lanes past Nq redo the last query and store nothing.

struct Params {
    nq: u32,        // queries per batch
    nk: u32,        // keys per batch
    heads: u32,     // H
    head_dim: u32,  // D (= ROW_D)
    dv: u32,        // unused here (the tiled kernel's slice width)
    slices: u32,    // output slices per head (`attention_rows_wide`)
    causal: u32,    // 1: key j is visible to query i iff j ≤ i
    scale: f32,     // multiplies Q Kᵀ (1/√D normally)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> q: array<vec4<Elem>>;  // [B, Nq, H·D]
@group(0) @binding(2) var<storage, read_write> k: array<vec4<Elem>>;  // [B, Nk, H·D]
@group(0) @binding(3) var<storage, read_write> v: array<vec4<Elem>>;  // [B, Nk, H·D]
@group(0) @binding(4) var<storage, read_write> y: array<vec4<Elem>>;  // [B, Nq, H·D]

override ROW_D: u32 = 64u;         // head size D: a multiple of 4 (at most 160 for `attention_rows`)
override ROW_V: u32 = ROW_D / 4u;  // quads per head row
const LANES: u32 = 8u;             // invocations per workgroup = queries = keys per block

// The block's 8 partial scores, advanced by one quad: acc[j] += qv · (lane j's kv).
fn dot8(acc: array<vec4<f32>, LANES>, qv: vec4<f32>, kv: vec4<f32>) -> array<vec4<f32>, LANES> {
    return array<vec4<f32>, LANES>(
        fma(qv, subgroupBroadcast(kv, 0u), acc[0]),
        fma(qv, subgroupBroadcast(kv, 1u), acc[1]),
        fma(qv, subgroupBroadcast(kv, 2u), acc[2]),
        fma(qv, subgroupBroadcast(kv, 3u), acc[3]),
        fma(qv, subgroupBroadcast(kv, 4u), acc[4]),
        fma(qv, subgroupBroadcast(kv, 5u), acc[5]),
        fma(qv, subgroupBroadcast(kv, 6u), acc[6]),
        fma(qv, subgroupBroadcast(kv, 7u), acc[7]));
}

// One output quad after the block: o + Σ_j pr[j] · (lane j's kv).
fn mix8(o: vec4<f32>, pr: array<f32, LANES>, kv: vec4<f32>) -> vec4<f32> {
    var r = o;
    r = fma(vec4<f32>(pr[0]), subgroupBroadcast(kv, 0u), r);
    r = fma(vec4<f32>(pr[1]), subgroupBroadcast(kv, 1u), r);
    r = fma(vec4<f32>(pr[2]), subgroupBroadcast(kv, 2u), r);
    r = fma(vec4<f32>(pr[3]), subgroupBroadcast(kv, 3u), r);
    r = fma(vec4<f32>(pr[4]), subgroupBroadcast(kv, 4u), r);
    r = fma(vec4<f32>(pr[5]), subgroupBroadcast(kv, 5u), r);
    r = fma(vec4<f32>(pr[6]), subgroupBroadcast(kv, 6u), r);
    r = fma(vec4<f32>(pr[7]), subgroupBroadcast(kv, 7u), r);
    return r;
}

fn hsum(a: vec4<f32>) -> f32 {
    return (a.x + a.y) + (a.z + a.w);
}

// The keys a block walks for this lane's query: [0, visible) are visible to it, [0, end) to some lane
// of the workgroup (causal: key j is visible to query i iff j ≤ i).
struct Keys {
    visible: u32,
    end: u32,
}

fn key_range(q0: u32, qi: u32) -> Keys {
    if (p.causal == 1u) {
        return Keys(min(p.nk, qi + 1u), min(p.nk, q0 + LANES));
    }
    return Keys(p.nk, p.nk);
}

// The online softmax after a block of keys: the running max m of the scores and sum l of
// exp(score − m), the factor alpha that rescales what was accumulated under the previous max, and the
// block's probabilities exp(score − m).
struct Online {
    m: f32,
    l: f32,
    alpha: f32,
    pr: array<f32, LANES>,
}

// `prev` advanced by the block of keys j0 .. j0+7, whose scores are `scale` · hsum(acc[j]).
fn online_step(acc: array<vec4<f32>, LANES>, scale: f32, j0: u32, keys: Keys, prev: Online) -> Online {
    var s: array<f32, LANES>;
    var next: Online;
    next.m = prev.m;
    for (var j = 0u; j < LANES; j++) {
        s[j] = select(-3.0e38, hsum(acc[j]) * scale, j0 + j < keys.visible);
        next.m = max(next.m, s[j]);
    }
    next.alpha = exp(prev.m - next.m);
    next.l = prev.l * next.alpha;
    for (var j = 0u; j < LANES; j++) {
        // 0 for a masked key: key j0 is visible to every lane (j0 ≤ q0 ≤ its query), so m is a score.
        next.pr[j] = exp(s[j] - next.m);
        next.l += next.pr[j];
    }
    return next;
}

@compute @workgroup_size(LANES)
fn attention_rows(@builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) lane: u32,
                  @builtin(workgroup_id) wid: vec3<u32>) {
    let q0 = wid.x * LANES;
    let h = wid.y;
    let b = wid.z;
    let qi = min(q0 + lid, p.nq - 1u);
    let hq = p.heads * ROW_V;  // quads per token
    let col0 = h * ROW_V;
    let qoff = (b * p.nq + qi) * hq + col0;
    // qr: this lane's scaled query row; kr: the key (then value) row it loads for the block; o: its output.
    var qr0 = vec4<f32>(0.0); var kr0 = vec4<f32>(0.0); var o0 = vec4<f32>(0.0);
    var qr1 = vec4<f32>(0.0); var kr1 = vec4<f32>(0.0); var o1 = vec4<f32>(0.0);
    var qr2 = vec4<f32>(0.0); var kr2 = vec4<f32>(0.0); var o2 = vec4<f32>(0.0);
    var qr3 = vec4<f32>(0.0); var kr3 = vec4<f32>(0.0); var o3 = vec4<f32>(0.0);
    var qr4 = vec4<f32>(0.0); var kr4 = vec4<f32>(0.0); var o4 = vec4<f32>(0.0);
    var qr5 = vec4<f32>(0.0); var kr5 = vec4<f32>(0.0); var o5 = vec4<f32>(0.0);
    var qr6 = vec4<f32>(0.0); var kr6 = vec4<f32>(0.0); var o6 = vec4<f32>(0.0);
    var qr7 = vec4<f32>(0.0); var kr7 = vec4<f32>(0.0); var o7 = vec4<f32>(0.0);
    var qr8 = vec4<f32>(0.0); var kr8 = vec4<f32>(0.0); var o8 = vec4<f32>(0.0);
    var qr9 = vec4<f32>(0.0); var kr9 = vec4<f32>(0.0); var o9 = vec4<f32>(0.0);
    var qr10 = vec4<f32>(0.0); var kr10 = vec4<f32>(0.0); var o10 = vec4<f32>(0.0);
    var qr11 = vec4<f32>(0.0); var kr11 = vec4<f32>(0.0); var o11 = vec4<f32>(0.0);
    var qr12 = vec4<f32>(0.0); var kr12 = vec4<f32>(0.0); var o12 = vec4<f32>(0.0);
    var qr13 = vec4<f32>(0.0); var kr13 = vec4<f32>(0.0); var o13 = vec4<f32>(0.0);
    var qr14 = vec4<f32>(0.0); var kr14 = vec4<f32>(0.0); var o14 = vec4<f32>(0.0);
    var qr15 = vec4<f32>(0.0); var kr15 = vec4<f32>(0.0); var o15 = vec4<f32>(0.0);
    var qr16 = vec4<f32>(0.0); var kr16 = vec4<f32>(0.0); var o16 = vec4<f32>(0.0);
    var qr17 = vec4<f32>(0.0); var kr17 = vec4<f32>(0.0); var o17 = vec4<f32>(0.0);
    var qr18 = vec4<f32>(0.0); var kr18 = vec4<f32>(0.0); var o18 = vec4<f32>(0.0);
    var qr19 = vec4<f32>(0.0); var kr19 = vec4<f32>(0.0); var o19 = vec4<f32>(0.0);
    var qr20 = vec4<f32>(0.0); var kr20 = vec4<f32>(0.0); var o20 = vec4<f32>(0.0);
    var qr21 = vec4<f32>(0.0); var kr21 = vec4<f32>(0.0); var o21 = vec4<f32>(0.0);
    var qr22 = vec4<f32>(0.0); var kr22 = vec4<f32>(0.0); var o22 = vec4<f32>(0.0);
    var qr23 = vec4<f32>(0.0); var kr23 = vec4<f32>(0.0); var o23 = vec4<f32>(0.0);
    var qr24 = vec4<f32>(0.0); var kr24 = vec4<f32>(0.0); var o24 = vec4<f32>(0.0);
    var qr25 = vec4<f32>(0.0); var kr25 = vec4<f32>(0.0); var o25 = vec4<f32>(0.0);
    var qr26 = vec4<f32>(0.0); var kr26 = vec4<f32>(0.0); var o26 = vec4<f32>(0.0);
    var qr27 = vec4<f32>(0.0); var kr27 = vec4<f32>(0.0); var o27 = vec4<f32>(0.0);
    var qr28 = vec4<f32>(0.0); var kr28 = vec4<f32>(0.0); var o28 = vec4<f32>(0.0);
    var qr29 = vec4<f32>(0.0); var kr29 = vec4<f32>(0.0); var o29 = vec4<f32>(0.0);
    var qr30 = vec4<f32>(0.0); var kr30 = vec4<f32>(0.0); var o30 = vec4<f32>(0.0);
    var qr31 = vec4<f32>(0.0); var kr31 = vec4<f32>(0.0); var o31 = vec4<f32>(0.0);
    var qr32 = vec4<f32>(0.0); var kr32 = vec4<f32>(0.0); var o32 = vec4<f32>(0.0);
    var qr33 = vec4<f32>(0.0); var kr33 = vec4<f32>(0.0); var o33 = vec4<f32>(0.0);
    var qr34 = vec4<f32>(0.0); var kr34 = vec4<f32>(0.0); var o34 = vec4<f32>(0.0);
    var qr35 = vec4<f32>(0.0); var kr35 = vec4<f32>(0.0); var o35 = vec4<f32>(0.0);
    var qr36 = vec4<f32>(0.0); var kr36 = vec4<f32>(0.0); var o36 = vec4<f32>(0.0);
    var qr37 = vec4<f32>(0.0); var kr37 = vec4<f32>(0.0); var o37 = vec4<f32>(0.0);
    var qr38 = vec4<f32>(0.0); var kr38 = vec4<f32>(0.0); var o38 = vec4<f32>(0.0);
    var qr39 = vec4<f32>(0.0); var kr39 = vec4<f32>(0.0); var o39 = vec4<f32>(0.0);
    if (ROW_V > 0u) { qr0 = vec4<f32>(q[qoff + 0u]) * p.scale; }
    if (ROW_V > 1u) { qr1 = vec4<f32>(q[qoff + 1u]) * p.scale; }
    if (ROW_V > 2u) { qr2 = vec4<f32>(q[qoff + 2u]) * p.scale; }
    if (ROW_V > 3u) { qr3 = vec4<f32>(q[qoff + 3u]) * p.scale; }
    if (ROW_V > 4u) { qr4 = vec4<f32>(q[qoff + 4u]) * p.scale; }
    if (ROW_V > 5u) { qr5 = vec4<f32>(q[qoff + 5u]) * p.scale; }
    if (ROW_V > 6u) { qr6 = vec4<f32>(q[qoff + 6u]) * p.scale; }
    if (ROW_V > 7u) { qr7 = vec4<f32>(q[qoff + 7u]) * p.scale; }
    if (ROW_V > 8u) { qr8 = vec4<f32>(q[qoff + 8u]) * p.scale; }
    if (ROW_V > 9u) { qr9 = vec4<f32>(q[qoff + 9u]) * p.scale; }
    if (ROW_V > 10u) { qr10 = vec4<f32>(q[qoff + 10u]) * p.scale; }
    if (ROW_V > 11u) { qr11 = vec4<f32>(q[qoff + 11u]) * p.scale; }
    if (ROW_V > 12u) { qr12 = vec4<f32>(q[qoff + 12u]) * p.scale; }
    if (ROW_V > 13u) { qr13 = vec4<f32>(q[qoff + 13u]) * p.scale; }
    if (ROW_V > 14u) { qr14 = vec4<f32>(q[qoff + 14u]) * p.scale; }
    if (ROW_V > 15u) { qr15 = vec4<f32>(q[qoff + 15u]) * p.scale; }
    if (ROW_V > 16u) { qr16 = vec4<f32>(q[qoff + 16u]) * p.scale; }
    if (ROW_V > 17u) { qr17 = vec4<f32>(q[qoff + 17u]) * p.scale; }
    if (ROW_V > 18u) { qr18 = vec4<f32>(q[qoff + 18u]) * p.scale; }
    if (ROW_V > 19u) { qr19 = vec4<f32>(q[qoff + 19u]) * p.scale; }
    if (ROW_V > 20u) { qr20 = vec4<f32>(q[qoff + 20u]) * p.scale; }
    if (ROW_V > 21u) { qr21 = vec4<f32>(q[qoff + 21u]) * p.scale; }
    if (ROW_V > 22u) { qr22 = vec4<f32>(q[qoff + 22u]) * p.scale; }
    if (ROW_V > 23u) { qr23 = vec4<f32>(q[qoff + 23u]) * p.scale; }
    if (ROW_V > 24u) { qr24 = vec4<f32>(q[qoff + 24u]) * p.scale; }
    if (ROW_V > 25u) { qr25 = vec4<f32>(q[qoff + 25u]) * p.scale; }
    if (ROW_V > 26u) { qr26 = vec4<f32>(q[qoff + 26u]) * p.scale; }
    if (ROW_V > 27u) { qr27 = vec4<f32>(q[qoff + 27u]) * p.scale; }
    if (ROW_V > 28u) { qr28 = vec4<f32>(q[qoff + 28u]) * p.scale; }
    if (ROW_V > 29u) { qr29 = vec4<f32>(q[qoff + 29u]) * p.scale; }
    if (ROW_V > 30u) { qr30 = vec4<f32>(q[qoff + 30u]) * p.scale; }
    if (ROW_V > 31u) { qr31 = vec4<f32>(q[qoff + 31u]) * p.scale; }
    if (ROW_V > 32u) { qr32 = vec4<f32>(q[qoff + 32u]) * p.scale; }
    if (ROW_V > 33u) { qr33 = vec4<f32>(q[qoff + 33u]) * p.scale; }
    if (ROW_V > 34u) { qr34 = vec4<f32>(q[qoff + 34u]) * p.scale; }
    if (ROW_V > 35u) { qr35 = vec4<f32>(q[qoff + 35u]) * p.scale; }
    if (ROW_V > 36u) { qr36 = vec4<f32>(q[qoff + 36u]) * p.scale; }
    if (ROW_V > 37u) { qr37 = vec4<f32>(q[qoff + 37u]) * p.scale; }
    if (ROW_V > 38u) { qr38 = vec4<f32>(q[qoff + 38u]) * p.scale; }
    if (ROW_V > 39u) { qr39 = vec4<f32>(q[qoff + 39u]) * p.scale; }
    let keys = key_range(q0, qi);
    let kbase = b * p.nk * hq + col0;
    let kl = lane % LANES;
    var sm: Online;  // the online softmax of this lane's query
    sm.m = -3.0e38;
    for (var j0 = 0u; j0 < keys.end; j0 += LANES) {
        // This lane loads key j0 + kl (keys past the end repeat the last one and are masked).
        let koff = kbase + min(j0 + kl, keys.end - 1u) * hq;
        if (ROW_V > 0u) { kr0 = vec4<f32>(k[koff + 0u]); }
        if (ROW_V > 1u) { kr1 = vec4<f32>(k[koff + 1u]); }
        if (ROW_V > 2u) { kr2 = vec4<f32>(k[koff + 2u]); }
        if (ROW_V > 3u) { kr3 = vec4<f32>(k[koff + 3u]); }
        if (ROW_V > 4u) { kr4 = vec4<f32>(k[koff + 4u]); }
        if (ROW_V > 5u) { kr5 = vec4<f32>(k[koff + 5u]); }
        if (ROW_V > 6u) { kr6 = vec4<f32>(k[koff + 6u]); }
        if (ROW_V > 7u) { kr7 = vec4<f32>(k[koff + 7u]); }
        if (ROW_V > 8u) { kr8 = vec4<f32>(k[koff + 8u]); }
        if (ROW_V > 9u) { kr9 = vec4<f32>(k[koff + 9u]); }
        if (ROW_V > 10u) { kr10 = vec4<f32>(k[koff + 10u]); }
        if (ROW_V > 11u) { kr11 = vec4<f32>(k[koff + 11u]); }
        if (ROW_V > 12u) { kr12 = vec4<f32>(k[koff + 12u]); }
        if (ROW_V > 13u) { kr13 = vec4<f32>(k[koff + 13u]); }
        if (ROW_V > 14u) { kr14 = vec4<f32>(k[koff + 14u]); }
        if (ROW_V > 15u) { kr15 = vec4<f32>(k[koff + 15u]); }
        if (ROW_V > 16u) { kr16 = vec4<f32>(k[koff + 16u]); }
        if (ROW_V > 17u) { kr17 = vec4<f32>(k[koff + 17u]); }
        if (ROW_V > 18u) { kr18 = vec4<f32>(k[koff + 18u]); }
        if (ROW_V > 19u) { kr19 = vec4<f32>(k[koff + 19u]); }
        if (ROW_V > 20u) { kr20 = vec4<f32>(k[koff + 20u]); }
        if (ROW_V > 21u) { kr21 = vec4<f32>(k[koff + 21u]); }
        if (ROW_V > 22u) { kr22 = vec4<f32>(k[koff + 22u]); }
        if (ROW_V > 23u) { kr23 = vec4<f32>(k[koff + 23u]); }
        if (ROW_V > 24u) { kr24 = vec4<f32>(k[koff + 24u]); }
        if (ROW_V > 25u) { kr25 = vec4<f32>(k[koff + 25u]); }
        if (ROW_V > 26u) { kr26 = vec4<f32>(k[koff + 26u]); }
        if (ROW_V > 27u) { kr27 = vec4<f32>(k[koff + 27u]); }
        if (ROW_V > 28u) { kr28 = vec4<f32>(k[koff + 28u]); }
        if (ROW_V > 29u) { kr29 = vec4<f32>(k[koff + 29u]); }
        if (ROW_V > 30u) { kr30 = vec4<f32>(k[koff + 30u]); }
        if (ROW_V > 31u) { kr31 = vec4<f32>(k[koff + 31u]); }
        if (ROW_V > 32u) { kr32 = vec4<f32>(k[koff + 32u]); }
        if (ROW_V > 33u) { kr33 = vec4<f32>(k[koff + 33u]); }
        if (ROW_V > 34u) { kr34 = vec4<f32>(k[koff + 34u]); }
        if (ROW_V > 35u) { kr35 = vec4<f32>(k[koff + 35u]); }
        if (ROW_V > 36u) { kr36 = vec4<f32>(k[koff + 36u]); }
        if (ROW_V > 37u) { kr37 = vec4<f32>(k[koff + 37u]); }
        if (ROW_V > 38u) { kr38 = vec4<f32>(k[koff + 38u]); }
        if (ROW_V > 39u) { kr39 = vec4<f32>(k[koff + 39u]); }
        var acc: array<vec4<f32>, LANES>;
        if (ROW_V > 0u) { acc = dot8(acc, qr0, kr0); }
        if (ROW_V > 1u) { acc = dot8(acc, qr1, kr1); }
        if (ROW_V > 2u) { acc = dot8(acc, qr2, kr2); }
        if (ROW_V > 3u) { acc = dot8(acc, qr3, kr3); }
        if (ROW_V > 4u) { acc = dot8(acc, qr4, kr4); }
        if (ROW_V > 5u) { acc = dot8(acc, qr5, kr5); }
        if (ROW_V > 6u) { acc = dot8(acc, qr6, kr6); }
        if (ROW_V > 7u) { acc = dot8(acc, qr7, kr7); }
        if (ROW_V > 8u) { acc = dot8(acc, qr8, kr8); }
        if (ROW_V > 9u) { acc = dot8(acc, qr9, kr9); }
        if (ROW_V > 10u) { acc = dot8(acc, qr10, kr10); }
        if (ROW_V > 11u) { acc = dot8(acc, qr11, kr11); }
        if (ROW_V > 12u) { acc = dot8(acc, qr12, kr12); }
        if (ROW_V > 13u) { acc = dot8(acc, qr13, kr13); }
        if (ROW_V > 14u) { acc = dot8(acc, qr14, kr14); }
        if (ROW_V > 15u) { acc = dot8(acc, qr15, kr15); }
        if (ROW_V > 16u) { acc = dot8(acc, qr16, kr16); }
        if (ROW_V > 17u) { acc = dot8(acc, qr17, kr17); }
        if (ROW_V > 18u) { acc = dot8(acc, qr18, kr18); }
        if (ROW_V > 19u) { acc = dot8(acc, qr19, kr19); }
        if (ROW_V > 20u) { acc = dot8(acc, qr20, kr20); }
        if (ROW_V > 21u) { acc = dot8(acc, qr21, kr21); }
        if (ROW_V > 22u) { acc = dot8(acc, qr22, kr22); }
        if (ROW_V > 23u) { acc = dot8(acc, qr23, kr23); }
        if (ROW_V > 24u) { acc = dot8(acc, qr24, kr24); }
        if (ROW_V > 25u) { acc = dot8(acc, qr25, kr25); }
        if (ROW_V > 26u) { acc = dot8(acc, qr26, kr26); }
        if (ROW_V > 27u) { acc = dot8(acc, qr27, kr27); }
        if (ROW_V > 28u) { acc = dot8(acc, qr28, kr28); }
        if (ROW_V > 29u) { acc = dot8(acc, qr29, kr29); }
        if (ROW_V > 30u) { acc = dot8(acc, qr30, kr30); }
        if (ROW_V > 31u) { acc = dot8(acc, qr31, kr31); }
        if (ROW_V > 32u) { acc = dot8(acc, qr32, kr32); }
        if (ROW_V > 33u) { acc = dot8(acc, qr33, kr33); }
        if (ROW_V > 34u) { acc = dot8(acc, qr34, kr34); }
        if (ROW_V > 35u) { acc = dot8(acc, qr35, kr35); }
        if (ROW_V > 36u) { acc = dot8(acc, qr36, kr36); }
        if (ROW_V > 37u) { acc = dot8(acc, qr37, kr37); }
        if (ROW_V > 38u) { acc = dot8(acc, qr38, kr38); }
        if (ROW_V > 39u) { acc = dot8(acc, qr39, kr39); }
        sm = online_step(acc, 1.0, j0, keys, sm);
        // The same lane loads the value row of its key.
        if (ROW_V > 0u) { kr0 = vec4<f32>(v[koff + 0u]); }
        if (ROW_V > 1u) { kr1 = vec4<f32>(v[koff + 1u]); }
        if (ROW_V > 2u) { kr2 = vec4<f32>(v[koff + 2u]); }
        if (ROW_V > 3u) { kr3 = vec4<f32>(v[koff + 3u]); }
        if (ROW_V > 4u) { kr4 = vec4<f32>(v[koff + 4u]); }
        if (ROW_V > 5u) { kr5 = vec4<f32>(v[koff + 5u]); }
        if (ROW_V > 6u) { kr6 = vec4<f32>(v[koff + 6u]); }
        if (ROW_V > 7u) { kr7 = vec4<f32>(v[koff + 7u]); }
        if (ROW_V > 8u) { kr8 = vec4<f32>(v[koff + 8u]); }
        if (ROW_V > 9u) { kr9 = vec4<f32>(v[koff + 9u]); }
        if (ROW_V > 10u) { kr10 = vec4<f32>(v[koff + 10u]); }
        if (ROW_V > 11u) { kr11 = vec4<f32>(v[koff + 11u]); }
        if (ROW_V > 12u) { kr12 = vec4<f32>(v[koff + 12u]); }
        if (ROW_V > 13u) { kr13 = vec4<f32>(v[koff + 13u]); }
        if (ROW_V > 14u) { kr14 = vec4<f32>(v[koff + 14u]); }
        if (ROW_V > 15u) { kr15 = vec4<f32>(v[koff + 15u]); }
        if (ROW_V > 16u) { kr16 = vec4<f32>(v[koff + 16u]); }
        if (ROW_V > 17u) { kr17 = vec4<f32>(v[koff + 17u]); }
        if (ROW_V > 18u) { kr18 = vec4<f32>(v[koff + 18u]); }
        if (ROW_V > 19u) { kr19 = vec4<f32>(v[koff + 19u]); }
        if (ROW_V > 20u) { kr20 = vec4<f32>(v[koff + 20u]); }
        if (ROW_V > 21u) { kr21 = vec4<f32>(v[koff + 21u]); }
        if (ROW_V > 22u) { kr22 = vec4<f32>(v[koff + 22u]); }
        if (ROW_V > 23u) { kr23 = vec4<f32>(v[koff + 23u]); }
        if (ROW_V > 24u) { kr24 = vec4<f32>(v[koff + 24u]); }
        if (ROW_V > 25u) { kr25 = vec4<f32>(v[koff + 25u]); }
        if (ROW_V > 26u) { kr26 = vec4<f32>(v[koff + 26u]); }
        if (ROW_V > 27u) { kr27 = vec4<f32>(v[koff + 27u]); }
        if (ROW_V > 28u) { kr28 = vec4<f32>(v[koff + 28u]); }
        if (ROW_V > 29u) { kr29 = vec4<f32>(v[koff + 29u]); }
        if (ROW_V > 30u) { kr30 = vec4<f32>(v[koff + 30u]); }
        if (ROW_V > 31u) { kr31 = vec4<f32>(v[koff + 31u]); }
        if (ROW_V > 32u) { kr32 = vec4<f32>(v[koff + 32u]); }
        if (ROW_V > 33u) { kr33 = vec4<f32>(v[koff + 33u]); }
        if (ROW_V > 34u) { kr34 = vec4<f32>(v[koff + 34u]); }
        if (ROW_V > 35u) { kr35 = vec4<f32>(v[koff + 35u]); }
        if (ROW_V > 36u) { kr36 = vec4<f32>(v[koff + 36u]); }
        if (ROW_V > 37u) { kr37 = vec4<f32>(v[koff + 37u]); }
        if (ROW_V > 38u) { kr38 = vec4<f32>(v[koff + 38u]); }
        if (ROW_V > 39u) { kr39 = vec4<f32>(v[koff + 39u]); }
        if (ROW_V > 0u) { o0 = mix8(o0 * sm.alpha, sm.pr, kr0); }
        if (ROW_V > 1u) { o1 = mix8(o1 * sm.alpha, sm.pr, kr1); }
        if (ROW_V > 2u) { o2 = mix8(o2 * sm.alpha, sm.pr, kr2); }
        if (ROW_V > 3u) { o3 = mix8(o3 * sm.alpha, sm.pr, kr3); }
        if (ROW_V > 4u) { o4 = mix8(o4 * sm.alpha, sm.pr, kr4); }
        if (ROW_V > 5u) { o5 = mix8(o5 * sm.alpha, sm.pr, kr5); }
        if (ROW_V > 6u) { o6 = mix8(o6 * sm.alpha, sm.pr, kr6); }
        if (ROW_V > 7u) { o7 = mix8(o7 * sm.alpha, sm.pr, kr7); }
        if (ROW_V > 8u) { o8 = mix8(o8 * sm.alpha, sm.pr, kr8); }
        if (ROW_V > 9u) { o9 = mix8(o9 * sm.alpha, sm.pr, kr9); }
        if (ROW_V > 10u) { o10 = mix8(o10 * sm.alpha, sm.pr, kr10); }
        if (ROW_V > 11u) { o11 = mix8(o11 * sm.alpha, sm.pr, kr11); }
        if (ROW_V > 12u) { o12 = mix8(o12 * sm.alpha, sm.pr, kr12); }
        if (ROW_V > 13u) { o13 = mix8(o13 * sm.alpha, sm.pr, kr13); }
        if (ROW_V > 14u) { o14 = mix8(o14 * sm.alpha, sm.pr, kr14); }
        if (ROW_V > 15u) { o15 = mix8(o15 * sm.alpha, sm.pr, kr15); }
        if (ROW_V > 16u) { o16 = mix8(o16 * sm.alpha, sm.pr, kr16); }
        if (ROW_V > 17u) { o17 = mix8(o17 * sm.alpha, sm.pr, kr17); }
        if (ROW_V > 18u) { o18 = mix8(o18 * sm.alpha, sm.pr, kr18); }
        if (ROW_V > 19u) { o19 = mix8(o19 * sm.alpha, sm.pr, kr19); }
        if (ROW_V > 20u) { o20 = mix8(o20 * sm.alpha, sm.pr, kr20); }
        if (ROW_V > 21u) { o21 = mix8(o21 * sm.alpha, sm.pr, kr21); }
        if (ROW_V > 22u) { o22 = mix8(o22 * sm.alpha, sm.pr, kr22); }
        if (ROW_V > 23u) { o23 = mix8(o23 * sm.alpha, sm.pr, kr23); }
        if (ROW_V > 24u) { o24 = mix8(o24 * sm.alpha, sm.pr, kr24); }
        if (ROW_V > 25u) { o25 = mix8(o25 * sm.alpha, sm.pr, kr25); }
        if (ROW_V > 26u) { o26 = mix8(o26 * sm.alpha, sm.pr, kr26); }
        if (ROW_V > 27u) { o27 = mix8(o27 * sm.alpha, sm.pr, kr27); }
        if (ROW_V > 28u) { o28 = mix8(o28 * sm.alpha, sm.pr, kr28); }
        if (ROW_V > 29u) { o29 = mix8(o29 * sm.alpha, sm.pr, kr29); }
        if (ROW_V > 30u) { o30 = mix8(o30 * sm.alpha, sm.pr, kr30); }
        if (ROW_V > 31u) { o31 = mix8(o31 * sm.alpha, sm.pr, kr31); }
        if (ROW_V > 32u) { o32 = mix8(o32 * sm.alpha, sm.pr, kr32); }
        if (ROW_V > 33u) { o33 = mix8(o33 * sm.alpha, sm.pr, kr33); }
        if (ROW_V > 34u) { o34 = mix8(o34 * sm.alpha, sm.pr, kr34); }
        if (ROW_V > 35u) { o35 = mix8(o35 * sm.alpha, sm.pr, kr35); }
        if (ROW_V > 36u) { o36 = mix8(o36 * sm.alpha, sm.pr, kr36); }
        if (ROW_V > 37u) { o37 = mix8(o37 * sm.alpha, sm.pr, kr37); }
        if (ROW_V > 38u) { o38 = mix8(o38 * sm.alpha, sm.pr, kr38); }
        if (ROW_V > 39u) { o39 = mix8(o39 * sm.alpha, sm.pr, kr39); }
    }
    if (q0 + lid < p.nq) {
        let inv = 1.0 / sm.l;
        if (ROW_V > 0u) { y[qoff + 0u] = vec4<Elem>(o0 * inv); }
        if (ROW_V > 1u) { y[qoff + 1u] = vec4<Elem>(o1 * inv); }
        if (ROW_V > 2u) { y[qoff + 2u] = vec4<Elem>(o2 * inv); }
        if (ROW_V > 3u) { y[qoff + 3u] = vec4<Elem>(o3 * inv); }
        if (ROW_V > 4u) { y[qoff + 4u] = vec4<Elem>(o4 * inv); }
        if (ROW_V > 5u) { y[qoff + 5u] = vec4<Elem>(o5 * inv); }
        if (ROW_V > 6u) { y[qoff + 6u] = vec4<Elem>(o6 * inv); }
        if (ROW_V > 7u) { y[qoff + 7u] = vec4<Elem>(o7 * inv); }
        if (ROW_V > 8u) { y[qoff + 8u] = vec4<Elem>(o8 * inv); }
        if (ROW_V > 9u) { y[qoff + 9u] = vec4<Elem>(o9 * inv); }
        if (ROW_V > 10u) { y[qoff + 10u] = vec4<Elem>(o10 * inv); }
        if (ROW_V > 11u) { y[qoff + 11u] = vec4<Elem>(o11 * inv); }
        if (ROW_V > 12u) { y[qoff + 12u] = vec4<Elem>(o12 * inv); }
        if (ROW_V > 13u) { y[qoff + 13u] = vec4<Elem>(o13 * inv); }
        if (ROW_V > 14u) { y[qoff + 14u] = vec4<Elem>(o14 * inv); }
        if (ROW_V > 15u) { y[qoff + 15u] = vec4<Elem>(o15 * inv); }
        if (ROW_V > 16u) { y[qoff + 16u] = vec4<Elem>(o16 * inv); }
        if (ROW_V > 17u) { y[qoff + 17u] = vec4<Elem>(o17 * inv); }
        if (ROW_V > 18u) { y[qoff + 18u] = vec4<Elem>(o18 * inv); }
        if (ROW_V > 19u) { y[qoff + 19u] = vec4<Elem>(o19 * inv); }
        if (ROW_V > 20u) { y[qoff + 20u] = vec4<Elem>(o20 * inv); }
        if (ROW_V > 21u) { y[qoff + 21u] = vec4<Elem>(o21 * inv); }
        if (ROW_V > 22u) { y[qoff + 22u] = vec4<Elem>(o22 * inv); }
        if (ROW_V > 23u) { y[qoff + 23u] = vec4<Elem>(o23 * inv); }
        if (ROW_V > 24u) { y[qoff + 24u] = vec4<Elem>(o24 * inv); }
        if (ROW_V > 25u) { y[qoff + 25u] = vec4<Elem>(o25 * inv); }
        if (ROW_V > 26u) { y[qoff + 26u] = vec4<Elem>(o26 * inv); }
        if (ROW_V > 27u) { y[qoff + 27u] = vec4<Elem>(o27 * inv); }
        if (ROW_V > 28u) { y[qoff + 28u] = vec4<Elem>(o28 * inv); }
        if (ROW_V > 29u) { y[qoff + 29u] = vec4<Elem>(o29 * inv); }
        if (ROW_V > 30u) { y[qoff + 30u] = vec4<Elem>(o30 * inv); }
        if (ROW_V > 31u) { y[qoff + 31u] = vec4<Elem>(o31 * inv); }
        if (ROW_V > 32u) { y[qoff + 32u] = vec4<Elem>(o32 * inv); }
        if (ROW_V > 33u) { y[qoff + 33u] = vec4<Elem>(o33 * inv); }
        if (ROW_V > 34u) { y[qoff + 34u] = vec4<Elem>(o34 * inv); }
        if (ROW_V > 35u) { y[qoff + 35u] = vec4<Elem>(o35 * inv); }
        if (ROW_V > 36u) { y[qoff + 36u] = vec4<Elem>(o36 * inv); }
        if (ROW_V > 37u) { y[qoff + 37u] = vec4<Elem>(o37 * inv); }
        if (ROW_V > 38u) { y[qoff + 38u] = vec4<Elem>(o38 * inv); }
        if (ROW_V > 39u) { y[qoff + 39u] = vec4<Elem>(o39 * inv); }
    }
}

// --- attention_rows_wide: head sizes past 160 (the VAE's single head of 512) ---
//
// The query and key rows no longer fit in registers: the scores read them from memory quad by quad
// (each key row still loaded once per subgroup and broadcast), and the output row is split into
// `p.slices` slices of at most WIDE_SV_MAX quads, one workgroup per slice (grid y = H · slices), each
// recomputing the scores. Per key and quad that is two loads per lane where `attention_rows` has one
// per block, which is still far fewer than the tiled kernel's workgroup-memory traffic on lavapipe.

override WIDE_SV: u32 = 32u;   // quads per output slice (≤ WIDE_SV_MAX)
const WIDE_SV_MAX: u32 = 32u;

@compute @workgroup_size(LANES)
fn attention_rows_wide(@builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) lane: u32,
                       @builtin(workgroup_id) wid: vec3<u32>) {
    let q0 = wid.x * LANES;
    let h = wid.y / p.slices;
    let s0 = (wid.y % p.slices) * WIDE_SV;  // this slice's first quad in the head row
    let b = wid.z;
    let qi = min(q0 + lid, p.nq - 1u);
    let hq = p.heads * ROW_V;
    let col0 = h * ROW_V;
    let qoff = (b * p.nq + qi) * hq + col0;
    let last = ROW_V - 1u;  // quads of a partial last slice past the row read its last quad
    // vr: the value row slice this lane loads for the block; o: this lane's output slice.
    var vr0 = vec4<f32>(0.0); var o0 = vec4<f32>(0.0);
    var vr1 = vec4<f32>(0.0); var o1 = vec4<f32>(0.0);
    var vr2 = vec4<f32>(0.0); var o2 = vec4<f32>(0.0);
    var vr3 = vec4<f32>(0.0); var o3 = vec4<f32>(0.0);
    var vr4 = vec4<f32>(0.0); var o4 = vec4<f32>(0.0);
    var vr5 = vec4<f32>(0.0); var o5 = vec4<f32>(0.0);
    var vr6 = vec4<f32>(0.0); var o6 = vec4<f32>(0.0);
    var vr7 = vec4<f32>(0.0); var o7 = vec4<f32>(0.0);
    var vr8 = vec4<f32>(0.0); var o8 = vec4<f32>(0.0);
    var vr9 = vec4<f32>(0.0); var o9 = vec4<f32>(0.0);
    var vr10 = vec4<f32>(0.0); var o10 = vec4<f32>(0.0);
    var vr11 = vec4<f32>(0.0); var o11 = vec4<f32>(0.0);
    var vr12 = vec4<f32>(0.0); var o12 = vec4<f32>(0.0);
    var vr13 = vec4<f32>(0.0); var o13 = vec4<f32>(0.0);
    var vr14 = vec4<f32>(0.0); var o14 = vec4<f32>(0.0);
    var vr15 = vec4<f32>(0.0); var o15 = vec4<f32>(0.0);
    var vr16 = vec4<f32>(0.0); var o16 = vec4<f32>(0.0);
    var vr17 = vec4<f32>(0.0); var o17 = vec4<f32>(0.0);
    var vr18 = vec4<f32>(0.0); var o18 = vec4<f32>(0.0);
    var vr19 = vec4<f32>(0.0); var o19 = vec4<f32>(0.0);
    var vr20 = vec4<f32>(0.0); var o20 = vec4<f32>(0.0);
    var vr21 = vec4<f32>(0.0); var o21 = vec4<f32>(0.0);
    var vr22 = vec4<f32>(0.0); var o22 = vec4<f32>(0.0);
    var vr23 = vec4<f32>(0.0); var o23 = vec4<f32>(0.0);
    var vr24 = vec4<f32>(0.0); var o24 = vec4<f32>(0.0);
    var vr25 = vec4<f32>(0.0); var o25 = vec4<f32>(0.0);
    var vr26 = vec4<f32>(0.0); var o26 = vec4<f32>(0.0);
    var vr27 = vec4<f32>(0.0); var o27 = vec4<f32>(0.0);
    var vr28 = vec4<f32>(0.0); var o28 = vec4<f32>(0.0);
    var vr29 = vec4<f32>(0.0); var o29 = vec4<f32>(0.0);
    var vr30 = vec4<f32>(0.0); var o30 = vec4<f32>(0.0);
    var vr31 = vec4<f32>(0.0); var o31 = vec4<f32>(0.0);
    let keys = key_range(q0, qi);
    let kbase = b * p.nk * hq + col0;
    let kl = lane % LANES;
    var sm: Online;
    sm.m = -3.0e38;
    for (var j0 = 0u; j0 < keys.end; j0 += LANES) {
        let koff = kbase + min(j0 + kl, keys.end - 1u) * hq;
        var acc: array<vec4<f32>, LANES>;
        for (var c = 0u; c < ROW_V; c++) {
            acc = dot8(acc, vec4<f32>(q[qoff + c]), vec4<f32>(k[koff + c]));
        }
        sm = online_step(acc, p.scale, j0, keys, sm);
        if (WIDE_SV > 0u) { vr0 = vec4<f32>(v[koff + min(s0 + 0u, last)]); }
        if (WIDE_SV > 1u) { vr1 = vec4<f32>(v[koff + min(s0 + 1u, last)]); }
        if (WIDE_SV > 2u) { vr2 = vec4<f32>(v[koff + min(s0 + 2u, last)]); }
        if (WIDE_SV > 3u) { vr3 = vec4<f32>(v[koff + min(s0 + 3u, last)]); }
        if (WIDE_SV > 4u) { vr4 = vec4<f32>(v[koff + min(s0 + 4u, last)]); }
        if (WIDE_SV > 5u) { vr5 = vec4<f32>(v[koff + min(s0 + 5u, last)]); }
        if (WIDE_SV > 6u) { vr6 = vec4<f32>(v[koff + min(s0 + 6u, last)]); }
        if (WIDE_SV > 7u) { vr7 = vec4<f32>(v[koff + min(s0 + 7u, last)]); }
        if (WIDE_SV > 8u) { vr8 = vec4<f32>(v[koff + min(s0 + 8u, last)]); }
        if (WIDE_SV > 9u) { vr9 = vec4<f32>(v[koff + min(s0 + 9u, last)]); }
        if (WIDE_SV > 10u) { vr10 = vec4<f32>(v[koff + min(s0 + 10u, last)]); }
        if (WIDE_SV > 11u) { vr11 = vec4<f32>(v[koff + min(s0 + 11u, last)]); }
        if (WIDE_SV > 12u) { vr12 = vec4<f32>(v[koff + min(s0 + 12u, last)]); }
        if (WIDE_SV > 13u) { vr13 = vec4<f32>(v[koff + min(s0 + 13u, last)]); }
        if (WIDE_SV > 14u) { vr14 = vec4<f32>(v[koff + min(s0 + 14u, last)]); }
        if (WIDE_SV > 15u) { vr15 = vec4<f32>(v[koff + min(s0 + 15u, last)]); }
        if (WIDE_SV > 16u) { vr16 = vec4<f32>(v[koff + min(s0 + 16u, last)]); }
        if (WIDE_SV > 17u) { vr17 = vec4<f32>(v[koff + min(s0 + 17u, last)]); }
        if (WIDE_SV > 18u) { vr18 = vec4<f32>(v[koff + min(s0 + 18u, last)]); }
        if (WIDE_SV > 19u) { vr19 = vec4<f32>(v[koff + min(s0 + 19u, last)]); }
        if (WIDE_SV > 20u) { vr20 = vec4<f32>(v[koff + min(s0 + 20u, last)]); }
        if (WIDE_SV > 21u) { vr21 = vec4<f32>(v[koff + min(s0 + 21u, last)]); }
        if (WIDE_SV > 22u) { vr22 = vec4<f32>(v[koff + min(s0 + 22u, last)]); }
        if (WIDE_SV > 23u) { vr23 = vec4<f32>(v[koff + min(s0 + 23u, last)]); }
        if (WIDE_SV > 24u) { vr24 = vec4<f32>(v[koff + min(s0 + 24u, last)]); }
        if (WIDE_SV > 25u) { vr25 = vec4<f32>(v[koff + min(s0 + 25u, last)]); }
        if (WIDE_SV > 26u) { vr26 = vec4<f32>(v[koff + min(s0 + 26u, last)]); }
        if (WIDE_SV > 27u) { vr27 = vec4<f32>(v[koff + min(s0 + 27u, last)]); }
        if (WIDE_SV > 28u) { vr28 = vec4<f32>(v[koff + min(s0 + 28u, last)]); }
        if (WIDE_SV > 29u) { vr29 = vec4<f32>(v[koff + min(s0 + 29u, last)]); }
        if (WIDE_SV > 30u) { vr30 = vec4<f32>(v[koff + min(s0 + 30u, last)]); }
        if (WIDE_SV > 31u) { vr31 = vec4<f32>(v[koff + min(s0 + 31u, last)]); }
        if (WIDE_SV > 0u) { o0 = mix8(o0 * sm.alpha, sm.pr, vr0); }
        if (WIDE_SV > 1u) { o1 = mix8(o1 * sm.alpha, sm.pr, vr1); }
        if (WIDE_SV > 2u) { o2 = mix8(o2 * sm.alpha, sm.pr, vr2); }
        if (WIDE_SV > 3u) { o3 = mix8(o3 * sm.alpha, sm.pr, vr3); }
        if (WIDE_SV > 4u) { o4 = mix8(o4 * sm.alpha, sm.pr, vr4); }
        if (WIDE_SV > 5u) { o5 = mix8(o5 * sm.alpha, sm.pr, vr5); }
        if (WIDE_SV > 6u) { o6 = mix8(o6 * sm.alpha, sm.pr, vr6); }
        if (WIDE_SV > 7u) { o7 = mix8(o7 * sm.alpha, sm.pr, vr7); }
        if (WIDE_SV > 8u) { o8 = mix8(o8 * sm.alpha, sm.pr, vr8); }
        if (WIDE_SV > 9u) { o9 = mix8(o9 * sm.alpha, sm.pr, vr9); }
        if (WIDE_SV > 10u) { o10 = mix8(o10 * sm.alpha, sm.pr, vr10); }
        if (WIDE_SV > 11u) { o11 = mix8(o11 * sm.alpha, sm.pr, vr11); }
        if (WIDE_SV > 12u) { o12 = mix8(o12 * sm.alpha, sm.pr, vr12); }
        if (WIDE_SV > 13u) { o13 = mix8(o13 * sm.alpha, sm.pr, vr13); }
        if (WIDE_SV > 14u) { o14 = mix8(o14 * sm.alpha, sm.pr, vr14); }
        if (WIDE_SV > 15u) { o15 = mix8(o15 * sm.alpha, sm.pr, vr15); }
        if (WIDE_SV > 16u) { o16 = mix8(o16 * sm.alpha, sm.pr, vr16); }
        if (WIDE_SV > 17u) { o17 = mix8(o17 * sm.alpha, sm.pr, vr17); }
        if (WIDE_SV > 18u) { o18 = mix8(o18 * sm.alpha, sm.pr, vr18); }
        if (WIDE_SV > 19u) { o19 = mix8(o19 * sm.alpha, sm.pr, vr19); }
        if (WIDE_SV > 20u) { o20 = mix8(o20 * sm.alpha, sm.pr, vr20); }
        if (WIDE_SV > 21u) { o21 = mix8(o21 * sm.alpha, sm.pr, vr21); }
        if (WIDE_SV > 22u) { o22 = mix8(o22 * sm.alpha, sm.pr, vr22); }
        if (WIDE_SV > 23u) { o23 = mix8(o23 * sm.alpha, sm.pr, vr23); }
        if (WIDE_SV > 24u) { o24 = mix8(o24 * sm.alpha, sm.pr, vr24); }
        if (WIDE_SV > 25u) { o25 = mix8(o25 * sm.alpha, sm.pr, vr25); }
        if (WIDE_SV > 26u) { o26 = mix8(o26 * sm.alpha, sm.pr, vr26); }
        if (WIDE_SV > 27u) { o27 = mix8(o27 * sm.alpha, sm.pr, vr27); }
        if (WIDE_SV > 28u) { o28 = mix8(o28 * sm.alpha, sm.pr, vr28); }
        if (WIDE_SV > 29u) { o29 = mix8(o29 * sm.alpha, sm.pr, vr29); }
        if (WIDE_SV > 30u) { o30 = mix8(o30 * sm.alpha, sm.pr, vr30); }
        if (WIDE_SV > 31u) { o31 = mix8(o31 * sm.alpha, sm.pr, vr31); }
    }
    if (q0 + lid < p.nq) {
        let inv = 1.0 / sm.l;
        let n = min(WIDE_SV, ROW_V - s0);  // quads of this slice inside the row
        if (WIDE_SV > 0u) { if (0u < n) { y[qoff + s0 + 0u] = vec4<Elem>(o0 * inv); } }
        if (WIDE_SV > 1u) { if (1u < n) { y[qoff + s0 + 1u] = vec4<Elem>(o1 * inv); } }
        if (WIDE_SV > 2u) { if (2u < n) { y[qoff + s0 + 2u] = vec4<Elem>(o2 * inv); } }
        if (WIDE_SV > 3u) { if (3u < n) { y[qoff + s0 + 3u] = vec4<Elem>(o3 * inv); } }
        if (WIDE_SV > 4u) { if (4u < n) { y[qoff + s0 + 4u] = vec4<Elem>(o4 * inv); } }
        if (WIDE_SV > 5u) { if (5u < n) { y[qoff + s0 + 5u] = vec4<Elem>(o5 * inv); } }
        if (WIDE_SV > 6u) { if (6u < n) { y[qoff + s0 + 6u] = vec4<Elem>(o6 * inv); } }
        if (WIDE_SV > 7u) { if (7u < n) { y[qoff + s0 + 7u] = vec4<Elem>(o7 * inv); } }
        if (WIDE_SV > 8u) { if (8u < n) { y[qoff + s0 + 8u] = vec4<Elem>(o8 * inv); } }
        if (WIDE_SV > 9u) { if (9u < n) { y[qoff + s0 + 9u] = vec4<Elem>(o9 * inv); } }
        if (WIDE_SV > 10u) { if (10u < n) { y[qoff + s0 + 10u] = vec4<Elem>(o10 * inv); } }
        if (WIDE_SV > 11u) { if (11u < n) { y[qoff + s0 + 11u] = vec4<Elem>(o11 * inv); } }
        if (WIDE_SV > 12u) { if (12u < n) { y[qoff + s0 + 12u] = vec4<Elem>(o12 * inv); } }
        if (WIDE_SV > 13u) { if (13u < n) { y[qoff + s0 + 13u] = vec4<Elem>(o13 * inv); } }
        if (WIDE_SV > 14u) { if (14u < n) { y[qoff + s0 + 14u] = vec4<Elem>(o14 * inv); } }
        if (WIDE_SV > 15u) { if (15u < n) { y[qoff + s0 + 15u] = vec4<Elem>(o15 * inv); } }
        if (WIDE_SV > 16u) { if (16u < n) { y[qoff + s0 + 16u] = vec4<Elem>(o16 * inv); } }
        if (WIDE_SV > 17u) { if (17u < n) { y[qoff + s0 + 17u] = vec4<Elem>(o17 * inv); } }
        if (WIDE_SV > 18u) { if (18u < n) { y[qoff + s0 + 18u] = vec4<Elem>(o18 * inv); } }
        if (WIDE_SV > 19u) { if (19u < n) { y[qoff + s0 + 19u] = vec4<Elem>(o19 * inv); } }
        if (WIDE_SV > 20u) { if (20u < n) { y[qoff + s0 + 20u] = vec4<Elem>(o20 * inv); } }
        if (WIDE_SV > 21u) { if (21u < n) { y[qoff + s0 + 21u] = vec4<Elem>(o21 * inv); } }
        if (WIDE_SV > 22u) { if (22u < n) { y[qoff + s0 + 22u] = vec4<Elem>(o22 * inv); } }
        if (WIDE_SV > 23u) { if (23u < n) { y[qoff + s0 + 23u] = vec4<Elem>(o23 * inv); } }
        if (WIDE_SV > 24u) { if (24u < n) { y[qoff + s0 + 24u] = vec4<Elem>(o24 * inv); } }
        if (WIDE_SV > 25u) { if (25u < n) { y[qoff + s0 + 25u] = vec4<Elem>(o25 * inv); } }
        if (WIDE_SV > 26u) { if (26u < n) { y[qoff + s0 + 26u] = vec4<Elem>(o26 * inv); } }
        if (WIDE_SV > 27u) { if (27u < n) { y[qoff + s0 + 27u] = vec4<Elem>(o27 * inv); } }
        if (WIDE_SV > 28u) { if (28u < n) { y[qoff + s0 + 28u] = vec4<Elem>(o28 * inv); } }
        if (WIDE_SV > 29u) { if (29u < n) { y[qoff + s0 + 29u] = vec4<Elem>(o29 * inv); } }
        if (WIDE_SV > 30u) { if (30u < n) { y[qoff + s0 + 30u] = vec4<Elem>(o30 * inv); } }
        if (WIDE_SV > 31u) { if (31u < n) { y[qoff + s0 + 31u] = vec4<Elem>(o31 * inv); } }
    }
}
