// Where a world's census counters lie in the counts table: the rows of a step are its
// worlds' in order. Kernels that import this declare `params`.

#import biome
#import biome/census_row

// Counter k of world w's row for step `params.record_slot`.
fn census_index(world: u32, k: u32) -> u32 {
    return (params.record_slot * params.worlds + world) * CENSUS_COUNTERS + k;
}
