// The readback of one sample, into slot `params.slot` of `out`: the fine, coarse and
// adjusted states as bytes (four cells per word, little-endian, fine counts capped at
// 255), then the row totals, the clocks and the status word. Layout: `reference::SlotLayout`.

override WG: u32 = 64u;

#import grid
#import coffee

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> cells: array<u32>;
@group(0) @binding(2) var<storage, read> coarse: array<u32>;
@group(0) @binding(3) var<storage, read> adjusted: array<u32>;
@group(0) @binding(4) var<storage, read> row_totals: array<u32>;
@group(0) @binding(5) var<storage, read> clock: array<u32>;
@group(0) @binding(6) var<storage, read> status: array<u32>;
@group(0) @binding(7) var<storage, read_write> out: array<u32>;

fn bytes_of(i: u32, capped: bool, src: u32) -> u32 {
    var word = 0u;
    for (var b = 0u; b < 4u; b = b + 1u) {
        var v = 0u;
        if (src == 0u) {
            v = cells[4u * i + b];
        } else if (src == 1u) {
            v = coarse[4u * i + b];
        } else {
            v = adjusted[4u * i + b];
        }
        if (capped) {
            v = min(v, 255u);
        }
        word = word | (v << (8u * b));
    }
    return word;
}

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = linear_workgroup(wid, nwg) * WG + lid;
    let words = params.replicas * params.n * params.n / 4u;
    let rows = params.replicas * params.n;
    let clocks = params.replicas * CLOCK_WORDS;
    let slot = params.slot * (3u * words + rows + clocks + 1u);
    if (i < words) {
        out[slot + i] = bytes_of(i, true, 0u);
        out[slot + words + i] = bytes_of(i, false, 1u);
        out[slot + 2u * words + i] = bytes_of(i, false, 2u);
    }
    if (i < rows) {
        out[slot + 3u * words + i] = row_totals[i];
    }
    if (i < clocks) {
        out[slot + 3u * words + rows + i] = clock[i];
    }
    if (i == 0u) {
        out[slot + 3u * words + rows + clocks] = status[0];
    }
}
