// Biomaker CA cells: type ids, type sets, the per-step parameter block and 3x3
// neighbourhood addressing. Kernels that import this declare `params: Params` (the step's
// block, bound with a dynamic offset).
//
// A batch of `params.worlds` worlds of the same shape lies in the grids one after
// another, world w's cells at [w * world_cells(), (w + 1) * world_cells()); kernels run
// over every cell of the batch, and a neighbour across a world's edge is outside the
// grid, as it is for a world alone. The random draws are in biome/draws.

#import rng

const VOID: u32 = 0u;
const AIR: u32 = 1u;
const EARTH: u32 = 2u;
const IMMOVABLE: u32 = 3u;
const SUN: u32 = 4u;
const OUT_OF_BOUNDS: u32 = 5u;
const UNSPECIALIZED: u32 = 6u;
const ROOT: u32 = 7u;
const LEAF: u32 = 8u;
const FLOWER: u32 = 9u;

// State channels.
const INTEGRITY: u32 = 0u;
const AGE: u32 = 1u;
const EARTH_NUTRIENT: u32 = 2u;
const AIR_NUTRIENT: u32 = 3u;
const AGENT_STATE: u32 = 4u;

// "No slot": a cell that proposes nothing, or a target that accepts nothing.
const NO_SLOT: u32 = 255u;

// Random streams, one per sub-step that draws (the Philox counter's third word).
const STREAM_SOIL: u32 = 1u;
const STREAM_EXCLUSIVE: u32 = 6u;
const STREAM_CHOICE: u32 = 7u;
const STREAM_SPAWN: u32 = 8u;
const STREAM_REPRODUCE: u32 = 3u;
const STREAM_MUTATE: u32 = 9u;

struct Params {
    height: u32,
    width: u32,
    channels: u32,
    step: u32,
    earth_min_row: u32,
    air_max_row: u32,
    soil_on: u32,
    zoom: u32,
    record_slot: u32,
    // 1 in the petri-dish mode: reproductions are counted, not carried out.
    intercept: u32,
    struct_cap: f32,
    max_lifetime: f32,
    // The petri-dish mode: what a flower must hold above the reproduce cost.
    repr_min_energy: vec2<f32>,
    absorption: vec2<f32>,
    dissipation: vec2<f32>,
    nutrient_cap: vec2<f32>,
    material_cap: vec2<f32>,
    spawn_cost: vec2<f32>,
    reproduce_cost: vec2<f32>,
    specialize_cost: vec2<f32>,
    // Worlds in the batch.
    worlds: u32,
    // The world a picture is rendered of.
    world: u32,
    // Division by the width and by the cells of a world as a multiply and shifts (see
    // `divide`): multiplier, first shift, second shift.
    width_div: vec3<u32>,
    cells_div: vec3<u32>,
}

// The program table's size as kernels without the agent layout see it.
struct Table {
    // Program slots.
    slots: u32,
    // Agents the per-agent buffers hold.
    capacity: u32,
    pad0: u32,
    pad1: u32,
}

fn is_agent(t: u32) -> bool {
    return t >= UNSPECIALIZED && t <= FLOWER;
}

fn is_intangible(t: u32) -> bool {
    return t == VOID || t == AIR;
}

fn falls(t: u32) -> bool {
    return t == EARTH || is_agent(t);
}

fn is_structural(t: u32) -> bool {
    return is_agent(t);
}

fn propagates_structure(t: u32) -> bool {
    return t == EARTH || t == IMMOVABLE || is_agent(t);
}

// Integrity lost per cell away from support.
fn structure_decay(t: u32) -> f32 {
    if (t == EARTH) {
        return 1.0;
    }
    if (is_agent(t)) {
        return 5.0;
    }
    return 0.0;
}

// Dissipation multiplier of each specialization (UNSPECIALIZED, ROOT, LEAF, FLOWER).
fn dissipation_rate(t: u32) -> f32 {
    switch (t) {
        case 6u: { return 0.5; }
        case 9u: { return 1.2; }
        default: { return 1.0; }
    }
}

// Slot k of the 3x3 window (row-major, 4 = self) as a (row, column) offset.
fn slot_offset(k: u32) -> vec2<i32> {
    return vec2<i32>(i32(k / 3u) - 1, i32(k % 3u) - 1);
}

// Cells of one world.
fn world_cells() -> u32 {
    return params.height * params.width;
}

// n / d for the divisor d whose (multiplier, shift, shift) is `by` (Granlund and
// Montgomery's round-up method, exact for every 32-bit n): SIMD lanes have no integer
// division, so a division is a multiply-high and two shifts.
fn divide(n: u32, by: vec3<u32>) -> u32 {
    let t = mul_hi_lo(n, by.x).x;
    return (t + ((n - t) >> by.y)) >> by.z;
}

// The world holding a cell of the batch.
fn world_of(cell: u32) -> u32 {
    return divide(cell, params.cells_div);
}

// A world's first cell.
fn world_base(world: u32) -> u32 {
    return world * world_cells();
}

// Where a cell lies: its row and column inside its world, and its world's first cell.
struct Place {
    row: i32,
    col: i32,
    base: u32,
}

fn place_of(cell: u32) -> Place {
    let base = world_base(world_of(cell));
    let local = cell - base;
    let row = divide(local, params.width_div);
    return Place(i32(row), i32(local - row * params.width), base);
}

// (row, column) of a cell inside its world.
fn cell_row_col(cell: u32) -> vec2<i32> {
    let at = place_of(cell);
    return vec2<i32>(at.row, at.col);
}

// Flat index of the neighbour in slot k of the cell at `at`, or -1 outside its world.
fn neighbor_at(at: Place, k: u32) -> i32 {
    let r = at.row + i32(k / 3u) - 1;
    let c = at.col + i32(k % 3u) - 1;
    if (r < 0 || c < 0 || r >= i32(params.height) || c >= i32(params.width)) {
        return -1;
    }
    return i32(at.base) + r * i32(params.width) + c;
}

// neighbor_at for a cell (kernels visiting several neighbours find the place once).
fn neighbor(cell: u32, k: u32) -> i32 {
    return neighbor_at(place_of(cell), k);
}

// Cells of the whole batch.
fn cell_count() -> u32 {
    return world_cells() * params.worlds;
}

// Kernels that walk down columns (integrity, diffusion, the exclusive ops' proposals and
// choices) give each invocation `band` rows of one column of one world, columns fastest,
// and keep the 3x3 window of what they read in registers: each row adds three reads
// instead of nine, and on SIMD lanes that read memory lane by lane the reads are most of
// such a kernel's cost.
struct Strip {
    // The world's first cell.
    base: u32,
    col: i32,
    first: u32,
    // Rows to walk: `band`, fewer at the world's bottom.
    rows: u32,
}

// The strip of invocation `item` (false past the batch's strips).
fn strip_of(item: u32, band: u32, s: ptr<function, Strip>) -> bool {
    let bands = (params.height + band - 1u) / band;
    if (item >= bands * params.width * params.worlds) {
        return false;
    }
    let strip = divide(item, params.width_div);
    let world = strip / bands;
    (*s).base = world_base(world);
    (*s).col = i32(item - strip * params.width);
    (*s).first = (strip - world * bands) * band;
    (*s).rows = min(band, params.height - (*s).first);
    return true;
}

// The cell at `row` of the strip's column.
fn strip_cell(s: Strip, row: i32) -> u32 {
    return s.base + u32(row) * params.width + u32(s.col);
}

// The cells of `row` at the strip's column and its two neighbours (left, centre, right),
// -1 for each that lies outside the world.
fn strip_row(s: Strip, row: i32) -> vec3<i32> {
    if (row < 0 || row >= i32(params.height)) {
        return vec3<i32>(-1);
    }
    let c = i32(strip_cell(s, row));
    let left = select(-1, c - 1, s.col > 0);
    let right = select(-1, c + 1, s.col + 1 < i32(params.width));
    return vec3<i32>(left, c, right);
}

// Uniform index in [0, m) from 32 random bits: the high word of bits * m.
fn pick_below(bits: u32, m: u32) -> u32 {
    return mul_hi_lo(bits, m).x;
}
