//! The CPU twin of every coffee kernel, in the kernels' shape and with the same random
//! numbers: a replica run here equals the same replica run on the GPU, cell for cell.

use crate::coffee::config::{Adjust, Boundary};
use crate::coffee::params::{STREAM_SWAP, STREAM_WALK};
use crate::rng::{philox4x32_10, seed_key};

/// Which counter of the interacting model a target refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// Successful swaps (the paper's time).
    Swaps,
    /// Draws, rejected ones included.
    Attempts,
}

/// The two counters of one interacting replica.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplicaClock {
    /// Successful swaps.
    pub swaps: u64,
    /// Draws, rejected ones included.
    pub attempts: u64,
}

/// The starting grid of one replica: the top half cream (1), the bottom half coffee (0).
pub fn initial_cells(n: usize) -> Vec<u32> {
    (0..n * n).map(|i| u32::from(i < n * n / 2)).collect()
}

/// The starting particles of one non-interacting replica: one on each top-half cell.
pub fn initial_particles(n: usize) -> Vec<u32> {
    (0..(n * n / 2) as u32).collect()
}

/// The cell one step from `cell` in direction `dir` (0 left, 1 right, 2 up, 3 down), or
/// `cell` itself when a closed wall is in the way (`neighbour` in the shaders).
pub fn neighbour(n: usize, boundary: Boundary, cell: usize, dir: u32) -> usize {
    let (row, col) = (cell / n, cell % n);
    let periodic = boundary == Boundary::Periodic;
    let step = |v: usize, up: bool| -> usize {
        match (up, v) {
            (true, v) if v + 1 < n => v + 1,
            (true, _) if periodic => 0,
            (false, v) if v > 0 => v - 1,
            (false, _) if periodic => n - 1,
            (_, v) => v,
        }
    };
    let (r, c) = match dir {
        0 => (row, step(col, false)),
        1 => (row, step(col, true)),
        2 => (step(row, false), col),
        _ => (step(row, true), col),
    };
    r * n + c
}

/// Runs one interacting replica until `clock` reaches `target` on `on`, or `max_attempts`
/// attempts were made; returns whether the target was reached (`advance.wgsl`).
#[expect(
    clippy::too_many_arguments,
    reason = "the kernel's parameter block, spelled out"
)]
pub fn advance(
    cells: &mut [u32],
    n: usize,
    boundary: Boundary,
    seed: u64,
    replica: u32,
    clock: &mut ReplicaClock,
    target: u64,
    on: Clock,
    max_attempts: u64,
) -> bool {
    let key = seed_key(seed);
    let nn = (n * n) as u64;
    let mut bits = [0u32; 4];
    let mut fresh = true;
    for _ in 0..max_attempts {
        let now = match on {
            Clock::Swaps => clock.swaps,
            Clock::Attempts => clock.attempts,
        };
        if now >= target {
            return true;
        }
        let odd = clock.attempts & 1 == 1;
        if fresh || !odd {
            let pair = clock.attempts >> 1;
            bits = philox4x32_10(
                [pair as u32, (pair >> 32) as u32, replica, STREAM_SWAP],
                key,
            );
            fresh = false;
        }
        let draw = if odd {
            [bits[2], bits[3]]
        } else {
            [bits[0], bits[1]]
        };
        let cell = ((u64::from(draw[0]) * nn) >> 32) as usize;
        let other = neighbour(n, boundary, cell, draw[1] >> 30);
        clock.attempts += 1;
        if cells[cell] != cells[other] {
            cells.swap(cell, other);
            clock.swaps += 1;
        }
    }
    let now = match on {
        Clock::Swaps => clock.swaps,
        Clock::Attempts => clock.attempts,
    };
    now >= target
}

/// Moves every particle of one non-interacting replica through the steps `[from, to)`
/// (`walk.wgsl`).
pub fn walk(
    particles: &mut [u32],
    n: usize,
    boundary: Boundary,
    seed: u64,
    replica: u32,
    from: u32,
    to: u32,
) {
    let key = seed_key(seed);
    for (p, cell) in particles.iter_mut().enumerate() {
        let mut bits = [0u32; 4];
        let mut at = *cell as usize;
        for t in from..to {
            if t == from || t & 63 == 0 {
                bits = philox4x32_10([p as u32, t >> 6, replica, STREAM_WALK], key);
            }
            let word = bits[((t & 63) >> 4) as usize];
            at = neighbour(n, boundary, at, (word >> (2 * (t & 15))) & 3);
        }
        *cell = at as u32;
    }
}

/// The grid of one non-interacting replica: particles per cell (`count.wgsl`).
pub fn counts(particles: &[u32], n: usize) -> Vec<u32> {
    let mut cells = vec![0u32; n * n];
    for &p in particles {
        cells[p as usize] += 1;
    }
    cells
}

/// The summed-area table of one replica (entry (r, c): the sum over rows <= r, columns
/// <= c) and its row totals (`sat_rows.wgsl`, `sat_cols.wgsl`).
pub fn summed_area(cells: &[u32], n: usize) -> (Vec<u64>, Vec<u64>) {
    let mut sat = vec![0u64; n * n];
    let mut totals = vec![0u64; n];
    for r in 0..n {
        let mut sum = 0u64;
        for c in 0..n {
            sum += u64::from(cells[r * n + c]);
            sat[r * n + c] = sum;
        }
        totals[r] = sum;
    }
    for r in 1..n {
        for c in 0..n {
            sat[r * n + c] += sat[(r - 1) * n + c];
        }
    }
    (sat, totals)
}

/// The 3-bucket value of a window with sum `sum` over `count` cells: average <= 1/3 is 0,
/// <= 2/3 is 1, above is 2.
pub fn three_buckets(sum: u64, count: u64) -> u8 {
    if 3 * sum <= count {
        0
    } else if 3 * sum <= 2 * count {
        1
    } else {
        2
    }
}

/// The 7-bucket value: the smallest k with average / `max_value` <= k/6, at most 6.
/// Exact in integers, so an average of exactly 5/6 is bucket 5. (The authors' code
/// compares floats against `linspace(0, 1, 7)`, whose fifth threshold rounds below 5/6,
/// and puts that tie in bucket 6.)
pub fn seven_buckets(sum: u64, count: u64, max_value: u32) -> u8 {
    let scale = count * u64::from(max_value);
    (0..6u8)
        .find(|&k| 6 * sum <= u64::from(k) * scale)
        .unwrap_or(6)
}

/// A row's most frequent value, ties broken by the value seen first from the left.
pub fn majority(row: &[u8]) -> u8 {
    let mut counts = [0usize; 7];
    let mut first = [usize::MAX; 7];
    for (c, &v) in row.iter().enumerate() {
        counts[v as usize] += 1;
        first[v as usize] = first[v as usize].min(c);
    }
    (0..7u8)
        .max_by(|&a, &b| {
            counts[a as usize]
                .cmp(&counts[b as usize])
                .then(first[b as usize].cmp(&first[a as usize]))
        })
        .unwrap_or(0)
}

/// One row of the adjusted 7-bucket state (`adjust.wgsl`).
pub fn adjust_row(row: &[u8], adjust: Adjust) -> Vec<u8> {
    let major = majority(row);
    match adjust {
        Adjust::Rowwise => {
            let low = row.iter().copied().min().unwrap_or(0);
            let high = row.iter().copied().max().unwrap_or(0);
            if high - low <= 1 {
                vec![major; row.len()]
            } else {
                row.to_vec()
            }
        }
        Adjust::Cellwise => row
            .iter()
            .map(|&v| if v.abs_diff(major) <= 1 { major } else { v })
            .collect(),
    }
}

/// One replica coarse-grained: 3 buckets, 7 buckets, and the 7 adjusted, one byte per
/// cell, row-major (`coarse.wgsl`, `adjust.wgsl`).
pub fn coarse_grain(
    cells: &[u32],
    n: usize,
    grain: usize,
    max_value: u32,
    adjust: Adjust,
) -> [Vec<u8>; 3] {
    let (sat, _) = summed_area(cells, n);
    let corner = |r: isize, c: isize| -> u64 {
        if r < 0 || c < 0 {
            0
        } else {
            sat[r as usize * n + c as usize]
        }
    };
    let h = (grain / 2) as isize;
    let last = n as isize - 1;
    let mut coarse = vec![0u8; n * n];
    let mut buckets = vec![0u8; n * n];
    for cell in 0..n * n {
        let (row, col) = ((cell / n) as isize, (cell % n) as isize);
        let (r0, r1) = ((row - h).max(0), (row + h).min(last));
        let (c0, c1) = ((col - h).max(0), (col + h).min(last));
        let sum = corner(r1, c1) + corner(r0 - 1, c0 - 1) - corner(r0 - 1, c1) - corner(r1, c0 - 1);
        let count = ((r1 - r0 + 1) * (c1 - c0 + 1)) as u64;
        coarse[cell] = three_buckets(sum, count);
        buckets[cell] = seven_buckets(sum, count, max_value);
    }
    let adjusted = buckets
        .chunks(n)
        .flat_map(|row| adjust_row(row, adjust))
        .collect();
    [coarse, buckets, adjusted]
}
