// The random draws of one step: Philox counters keyed by each world's seed, so a world
// draws the same numbers in a batch as alone. Kernels that import this declare
// `seeds: array<vec2<u32>>` (one key per world of the batch) besides `params`.

#import biome

// A world's Philox key.
fn world_key(world: u32) -> vec2<u32> {
    return seeds[world];
}

// Four random words for `item` (a cell, a column or a pick, numbered inside its world)
// of `world` in `stream` of this step; `block` numbers further groups of four.
fn world_bits(world: u32, item: u32, stream: u32, block: u32) -> vec4<u32> {
    return philox4x32_10(vec4<u32>(item, params.step, stream, block), world_key(world));
}

// world_bits for a cell of the batch.
fn step_bits(cell: u32, stream: u32, block: u32) -> vec4<u32> {
    let world = world_of(cell);
    return world_bits(world, cell - world_base(world), stream, block);
}
