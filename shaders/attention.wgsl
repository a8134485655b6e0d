// Multi-head attention, flash-style: y = softmax(scale · Q Kᵀ [+ causal mask]) V per (batch, head), with an
// online softmax over key tiles, so the [heads, Nq, Nk] score matrix is never stored.
//
// `Elem` (f32 or f16) is defined by the prelude the GPU layer prepends; scores, softmax and the output
// accumulator are f32.
//
// q: [B, Nq, H·D], k and v: [B, Nk, H·D], y: [B, Nq, H·D]; head h uses columns h·D .. h·D + D.
//
// Grid = (ceil(Nq / BQ), H · slices, B). A workgroup owns BQ queries of one head and one slice of the
// output's D columns (slices = ceil(D / 64), so the accumulator fits in registers for any D; with more than
// one slice the scores are recomputed per slice, which only the VAE's D = 512 and D = 160 need). For each
// tile of BK keys:
//   1. scores S[BQ, BK] = Q Kᵀ over D in chunks of DC (Q and K chunks staged in workgroup memory; for
//      D ≤ DC the Q tile is loaded once);
//   2. one thread per query row: new running max m, p = exp(s − m), rescale factor alpha = exp(m_old − m),
//      running sum l = l · alpha + Σ p;
//   3. the V tile slice [BK, dv] is staged and each thread updates its output values o = o · alpha + P V.
// At the end y = o / l.

struct Params {
    nq: u32,        // queries per batch
    nk: u32,        // keys per batch
    heads: u32,     // H
    head_dim: u32,  // D
    dv: u32,        // output columns per slice (≤ DV_MAX)
    slices: u32,    // ceil(D / dv)
    causal: u32,    // 1: key j is visible to query i iff j ≤ i
    scale: f32,     // multiplies Q Kᵀ (1/√D normally)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> q: array<Elem>;  // [B, Nq, H·D]
@group(0) @binding(2) var<storage, read_write> k: array<Elem>;  // [B, Nk, H·D]
@group(0) @binding(3) var<storage, read_write> v: array<Elem>;  // [B, Nk, H·D]
@group(0) @binding(4) var<storage, read_write> y: array<Elem>;  // [B, Nq, H·D]

const WG: u32 = 64u;       // threads
const BQ: u32 = 16u;       // queries per workgroup
const BK: u32 = 32u;       // keys per tile
const DC: u32 = 64u;       // D chunk of the score phase
const KS: u32 = DC + 1u;   // row stride of the staged K chunk (odd: no bank conflicts)
const QPT: u32 = 8u;       // queries per thread in the score phase: BQ · BK / WG
const QSTEP: u32 = 2u;     // WG / BK
const VPT: u32 = 16u;      // output values per thread: BQ · DV_MAX / WG, DV_MAX = 64

var<workgroup> qs: array<f32, 1024>;   // Q chunk [BQ, DC]
var<workgroup> kvs: array<f32, 2080>;  // K chunk [BK, KS], then the V slice [BK, dv]
var<workgroup> ps: array<f32, 512>;    // scores, then probabilities [BQ, BK]
var<workgroup> row_m: array<f32, BQ>;      // running max per query
var<workgroup> row_l: array<f32, BQ>;      // running sum per query
var<workgroup> row_alpha: array<f32, BQ>;  // rescale factor of this tile per query

// Stages Q[q0 .. q0 + BQ, c0 .. c0 + cw] of head column `col0` into `qs` (zeros past Nq).
fn load_q(lid: u32, qbase: u32, q0: u32, col0: u32, cw: u32) {
    let hd = p.heads * p.head_dim;
    for (var e = lid; e < BQ * cw; e += WG) {
        let r = e / cw;
        let c = e % cw;
        var val = 0.0;
        if (q0 + r < p.nq) {
            val = f32(q[(qbase + q0 + r) * hd + col0 + c]);
        }
        qs[r * DC + c] = val;
    }
}

@compute @workgroup_size(WG)
fn attention(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    let d = p.head_dim;
    let hd = p.heads * d;
    let q0 = wid.x * BQ;
    let h = wid.y / p.slices;
    let d0 = (wid.y % p.slices) * p.dv;
    let dvh = min(p.dv, d - d0);  // output columns of this slice
    let b = wid.z;
    let qbase = b * p.nq;
    let kbase = b * p.nk;
    let causal = p.causal == 1u;

    // Keys past the last visible one of this workgroup's last query are skipped altogether.
    var k_end = p.nk;
    if (causal) {
        k_end = min(p.nk, q0 + BQ);
    }
    if (lid < BQ) {
        row_m[lid] = -3.0e38;
        row_l[lid] = 0.0;
    }
    var acc: array<f32, VPT>;
    for (var i = 0u; i < VPT; i++) {
        acc[i] = 0.0;
    }
    let q_once = d <= DC;
    if (q_once) {
        load_q(lid, qbase, q0, h * d, d);
    }
    // Score-phase mapping: this thread's key column and its first query row.
    let kc = lid % BK;
    let qr = lid / BK;

    for (var k0 = 0u; k0 < k_end; k0 += BK) {
        // 1. Scores.
        var s: array<f32, QPT>;
        for (var j = 0u; j < QPT; j++) {
            s[j] = 0.0;
        }
        for (var c0 = 0u; c0 < d; c0 += DC) {
            let cw = min(DC, d - c0);
            if (!q_once) {
                load_q(lid, qbase, q0, h * d + c0, cw);
            }
            for (var e = lid; e < BK * cw; e += WG) {
                let r = e / cw;
                let c = e % cw;
                var val = 0.0;
                if (k0 + r < p.nk) {
                    val = f32(k[(kbase + k0 + r) * hd + h * d + c0 + c]);
                }
                kvs[r * KS + c] = val;
            }
            workgroupBarrier();
            for (var c = 0u; c < cw; c++) {
                let kv = kvs[kc * KS + c];
                for (var j = 0u; j < QPT; j++) {
                    s[j] += qs[(qr + j * QSTEP) * DC + c] * kv;
                }
            }
            workgroupBarrier();
        }
        for (var j = 0u; j < QPT; j++) {
            ps[(qr + j * QSTEP) * BK + kc] = s[j] * p.scale;
        }
        workgroupBarrier();

        // 2. Online softmax, one thread per query row.
        if (lid < BQ) {
            var visible = p.nk;  // keys [0, visible) are visible to this query
            if (causal) {
                visible = min(p.nk, q0 + lid + 1u);
            }
            let m_old = row_m[lid];
            var m = m_old;
            for (var c = 0u; c < BK; c++) {
                if (k0 + c < visible) {
                    m = max(m, ps[lid * BK + c]);
                }
            }
            var sum = 0.0;
            for (var c = 0u; c < BK; c++) {
                var pr = 0.0;
                if (k0 + c < visible) {
                    pr = exp(ps[lid * BK + c] - m);
                }
                ps[lid * BK + c] = pr;
                sum += pr;
            }
            let alpha = exp(m_old - m);
            row_m[lid] = m;
            row_l[lid] = row_l[lid] * alpha + sum;
            row_alpha[lid] = alpha;
        }
        // 3. Stage the V slice (K is no longer read: the barrier after the last chunk saw to that).
        for (var e = lid; e < BK * dvh; e += WG) {
            let r = e / dvh;
            let c = e % dvh;
            var val = 0.0;
            if (k0 + r < p.nk) {
                val = f32(v[(kbase + k0 + r) * hd + h * d + d0 + c]);
            }
            kvs[r * dvh + c] = val;
        }
        workgroupBarrier();
        for (var i = 0u; i < VPT; i++) {
            let e = lid + i * WG;
            if (e < BQ * dvh) {
                let r = e / dvh;
                let c = e % dvh;
                var o = acc[i] * row_alpha[r];
                for (var kk = 0u; kk < BK; kk++) {
                    o += ps[r * BK + kk] * kvs[kk * dvh + c];
                }
                acc[i] = o;
            }
        }
        workgroupBarrier();
    }

    for (var i = 0u; i < VPT; i++) {
        let e = lid + i * WG;
        if (e < BQ * dvh) {
            let r = e / dvh;
            let c = e % dvh;
            if (q0 + r < p.nq) {
                y[(qbase + q0 + r) * hd + h * d + d0 + c] = Elem(acc[i] / row_l[r]);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// `attention_rows`: the variant for software adapters (lavapipe), where one CPU thread runs a whole
// workgroup, workgroup memory is accessed lane by lane and every barrier switches between coroutines
// (measured there: 2.5–3× faster than the tiled kernel at D = 40). It uses neither: one invocation per
// query keeps its scaled query row and its output row in registers, as ceil(D / 4) vec4s (ROW_D, the head
// size, is a pipeline constant, so every loop over D has a constant trip count), and walks the keys in
// blocks of ROW_BLOCK with the same online softmax. Only for D ≤ 4 · ROW_V_MAX = 64; on a GPU, whose
// registers it would exhaust, the tiled `attention` above is the kernel.
//
// Grid (ceil(Nq / ROW_WG), H, B): batch, head and key offsets are the same for every lane.

override ROW_D: u32 = 64u;   // head size D (≤ 4 · ROW_V_MAX)
override ROW_V: u32 = (ROW_D + 3u) / 4u;
const ROW_V_MAX: u32 = 16u;
const ROW_WG: u32 = 32u;
const ROW_BLOCK: u32 = 4u;

// Elements off .. off + 4 of q / k / v that lie below column ROW_D of the head (`c` is the vec4 index
// within the head), zeros past it.
fn load_q4(off: u32, c: u32) -> vec4<f32> {
    if (4u * c + 4u <= ROW_D) {
        return vec4<f32>(f32(q[off]), f32(q[off + 1u]), f32(q[off + 2u]), f32(q[off + 3u]));
    }
    var r = vec4<f32>(0.0);
    for (var e = 0u; e < 4u; e++) {
        if (4u * c + e < ROW_D) { r[e] = f32(q[off + e]); }
    }
    return r;
}

fn load_k4(off: u32, c: u32) -> vec4<f32> {
    if (4u * c + 4u <= ROW_D) {
        return vec4<f32>(f32(k[off]), f32(k[off + 1u]), f32(k[off + 2u]), f32(k[off + 3u]));
    }
    var r = vec4<f32>(0.0);
    for (var e = 0u; e < 4u; e++) {
        if (4u * c + e < ROW_D) { r[e] = f32(k[off + e]); }
    }
    return r;
}

fn load_v4(off: u32, c: u32) -> vec4<f32> {
    if (4u * c + 4u <= ROW_D) {
        return vec4<f32>(f32(v[off]), f32(v[off + 1u]), f32(v[off + 2u]), f32(v[off + 3u]));
    }
    var r = vec4<f32>(0.0);
    for (var e = 0u; e < 4u; e++) {
        if (4u * c + e < ROW_D) { r[e] = f32(v[off + e]); }
    }
    return r;
}

@compute @workgroup_size(ROW_WG)
fn attention_rows(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    let q0 = wid.x * ROW_WG;
    let h = wid.y;
    let b = wid.z;
    let qi = min(q0 + lid, p.nq - 1u);  // lanes past Nq redo the last query and store nothing
    let hd = p.heads * ROW_D;
    let col0 = h * ROW_D;
    var qv: array<vec4<f32>, ROW_V_MAX>;
    var o: array<vec4<f32>, ROW_V_MAX>;
    let qoff = (b * p.nq + qi) * hd + col0;
    for (var c = 0u; c < ROW_V; c++) {
        qv[c] = load_q4(qoff + 4u * c, c) * p.scale;
        o[c] = vec4<f32>(0.0);
    }
    var visible = p.nk;  // keys [0, visible) are visible to this lane's query
    var k_end = p.nk;    // and [0, k_end) to some lane of the workgroup
    if (p.causal == 1u) {
        visible = min(p.nk, qi + 1u);
        k_end = min(p.nk, q0 + ROW_WG);
    }
    var m = -3.0e38;
    var l = 0.0;
    for (var j0 = 0u; j0 < k_end; j0 += ROW_BLOCK) {
        var s: array<f32, ROW_BLOCK>;
        var bm = m;
        for (var jj = 0u; jj < ROW_BLOCK; jj++) {
            let j = min(j0 + jj, k_end - 1u);
            let koff = (b * p.nk + j) * hd + col0;
            var acc = vec4<f32>(0.0);
            for (var c = 0u; c < ROW_V; c++) {
                acc += qv[c] * load_k4(koff + 4u * c, c);
            }
            let sc = select(-3.0e38, acc.x + acc.y + acc.z + acc.w, j0 + jj < visible);
            s[jj] = sc;
            bm = max(bm, sc);
        }
        let alpha = exp(m - bm);
        l *= alpha;
        for (var c = 0u; c < ROW_V; c++) {
            o[c] *= alpha;
        }
        for (var jj = 0u; jj < ROW_BLOCK; jj++) {
            let j = min(j0 + jj, k_end - 1u);
            let pr = select(0.0, exp(s[jj] - bm), j0 + jj < visible);
            l += pr;
            let voff = (b * p.nk + j) * hd + col0;
            for (var c = 0u; c < ROW_V; c++) {
                o[c] += pr * load_v4(voff + 4u * c, c);
            }
        }
        m = bm;
    }
    if (q0 + lid < p.nq) {
        for (var c = 0u; c < ROW_V; c++) {
            let r = o[c] / l;
            for (var e = 0u; e < 4u; e++) {
                if (4u * c + e < ROW_D) { y[qoff + 4u * c + e] = Elem(r[e]); }
            }
        }
    }
}
