//! Scale-out: `--shard I/N` gives one job of a job array (a Slurm array task, a Kubernetes
//! indexed Job) its contiguous part of the work, and `morphogen merge` puts the parts
//! back together.

use std::ops::Range;
use std::str::FromStr;

use crate::cli::output::{bad, Failure};

/// Part `index` of `count` (0-based), written `I/N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This part, 0 ≤ index < count.
    pub index: usize,
    /// Parts in all.
    pub count: usize,
}

impl Default for Shard {
    fn default() -> Self {
        Self { index: 0, count: 1 }
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let parsed = s
            .split_once('/')
            .and_then(|(i, n)| Some((i.trim().parse().ok()?, n.trim().parse().ok()?)));
        match parsed {
            Some((index, count)) if count > 0 && index < count => Ok(Self { index, count }),
            _ => Err(format!(
                "{s:?} is not a shard: write I/N with 0 <= I < N (e.g. $SLURM_ARRAY_TASK_ID/8)"
            )),
        }
    }
}

impl Shard {
    /// This part's items of `total`: contiguous, sizes differing by at most one.
    pub fn range(&self, total: usize) -> Range<usize> {
        total * self.index / self.count..total * (self.index + 1) / self.count
    }

    /// `I/N`.
    pub fn label(&self) -> String {
        format!("{}/{}", self.index, self.count)
    }

    /// Refuses a part with no items.
    pub fn nonempty(&self, total: usize, what: &str) -> Result<Range<usize>, Failure> {
        let range = self.range(total);
        if range.is_empty() {
            return Err(bad(format!(
                "--shard {} gets none of the {total} {what}: use fewer shards",
                self.label()
            )));
        }
        Ok(range)
    }
}

/// A seed range `A..B` (B excluded) or a single seed.
pub fn parse_seeds(s: &str) -> Result<Range<u64>, String> {
    let err = || format!("{s:?} is not a seed range: write A..B (B excluded), e.g. 0..16");
    match s.split_once("..") {
        Some((a, b)) => {
            let (a, b): (u64, u64) = (
                a.trim().parse().map_err(|_| err())?,
                b.trim().parse().map_err(|_| err())?,
            );
            if a < b {
                Ok(a..b)
            } else {
                Err(err())
            }
        }
        None => s.trim().parse::<u64>().map(|a| a..a + 1).map_err(|_| err()),
    }
}
