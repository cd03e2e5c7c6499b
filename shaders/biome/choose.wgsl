// Exclusive ops, second phase: every cell that is the target of proposals accepts one of
// them, uniformly at random. A neighbour in slot j proposing its slot 8 - j aims at this
// cell. Output: the accepted neighbour's slot, or NO_SLOT.
// An invocation walks a strip of BAND rows of one column (`Strip` in common/biome.wgsl)
// with the 3x3 window of proposals in registers, reading three new cells per row instead
// of eight.

override WG: u32 = 64u;
override BAND: u32 = 8u;

#import grid
#import biome/draws

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> proposal: array<u32>;
@group(0) @binding(2) var<storage, read_write> choice: array<u32>;
@group(0) @binding(3) var<storage, read> seeds: array<vec2<u32>>;

// What a cell outside the world proposes: no slot 8 - j of any neighbour.
const OUTSIDE: u32 = 0xffffffffu;

// The proposals of `row` at the strip's column and its two neighbours (left, centre,
// right).
fn proposals(s: Strip, row: i32) -> vec3<u32> {
    let c = strip_row(s, row);
    var r = vec3<u32>(OUTSIDE);
    for (var k = 0u; k < 3u; k = k + 1u) {
        if (c[k] >= 0) {
            r[k] = proposal[u32(c[k])];
        }
    }
    return r;
}

// Whether the neighbour in slot j of the window (rows above, here, below) aims here.
fn aims_here(window: array<vec3<u32>, 3>, j: u32) -> bool {
    return window[j / 3u][j % 3u] == 8u - j;
}

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    var s: Strip;
    if (!strip_of(linear_workgroup(wid, nwg) * WG + lid, BAND, &s)) {
        return;
    }
    var above = proposals(s, i32(s.first) - 1);
    var here = proposals(s, i32(s.first));
    for (var r = 0u; r < s.rows; r = r + 1u) {
        let row = i32(s.first + r);
        let below = proposals(s, row + 1);
        let window = array<vec3<u32>, 3>(above, here, below);
        let cell = strip_cell(s, row);
        var candidates = 0u;
        for (var j = 0u; j < 9u; j = j + 1u) {
            if (j != 4u && aims_here(window, j)) {
                candidates = candidates + 1u;
            }
        }
        var chosen = NO_SLOT;
        if (candidates > 0u) {
            var rank = pick_below(step_bits(cell, STREAM_CHOICE, 0u).x, candidates);
            for (var j = 0u; j < 9u; j = j + 1u) {
                if (j != 4u && aims_here(window, j)) {
                    if (rank == 0u) {
                        chosen = j;
                        break;
                    }
                    rank = rank - 1u;
                }
            }
        }
        choice[cell] = chosen;
        above = here;
        here = below;
    }
}
