//! Runs that sample: many samples recorded per submission, each coarse-grained on the GPU
//! into its own readback slot, and compressed on host threads while the GPU runs the
//! next submission.

use std::sync::mpsc;

use crate::coffee::automaton::{Automaton, SlotLayout};
use crate::coffee::config::{Model, Schedule};
use crate::coffee::measures::{measures, Estimate, Measures};
use crate::coffee::reference::ReplicaClock;
use crate::error::{Error, Result};

/// The fine, coarse (3 buckets) and adjusted (7 buckets) states of one replica, one byte
/// per cell, row-major.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grids {
    /// Cells per side.
    pub n: usize,
    /// 0/1 (interacting) or particles per cell, capped at 255 (non-interacting).
    pub fine: Vec<u8>,
    /// 0, 1, 2: window average at most 1/3, at most 2/3, above.
    pub coarse: Vec<u8>,
    /// 0 to 6 after the adjustment.
    pub adjusted: Vec<u8>,
}

/// One sample of a run: every replica's estimates, the row profile, and replica 0's
/// states (for pictures).
#[derive(Clone, Debug)]
pub struct Sample {
    /// Its position in the schedule (0 for step 0).
    pub index: usize,
    /// Swaps (interacting) or steps (non-interacting) every replica has made.
    pub step: u64,
    /// Each replica's clocks (attempts differ between replicas).
    pub clocks: Vec<ReplicaClock>,
    /// Each replica's estimates.
    pub measures: Vec<Measures>,
    /// Mean cream per cell in each row, averaged over columns and replicas.
    pub profile: Vec<f64>,
    /// Cream cells (particles) of each replica: `n² / 2` always.
    pub cream: Vec<u64>,
    /// Replica 0's states.
    pub first: Grids,
}

/// One row of a run's curves: the sample's step and its estimates over replicas.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Curve {
    /// Swaps (interacting) or steps (non-interacting).
    pub step: u64,
    /// Mean attempts over replicas (the step, for the non-interacting model).
    pub attempts: f64,
    /// Compressed fine state.
    pub entropy: Estimate,
    /// Compressed 3-bucket coarse-grained state.
    pub complexity: Estimate,
    /// Compressed adjusted 7-bucket state.
    pub adjusted_complexity: Estimate,
}

impl Sample {
    /// The sample's row of the curves.
    pub fn curve(&self) -> Curve {
        Curve {
            step: self.step,
            attempts: self.mean_attempts(),
            entropy: self.entropy(),
            complexity: self.complexity(),
            adjusted_complexity: self.adjusted_complexity(),
        }
    }

    /// Mean attempts over replicas.
    pub fn mean_attempts(&self) -> f64 {
        Estimate::of(self.clocks.iter().map(|c| c.attempts as f64)).mean
    }

    /// Entropy estimate over replicas.
    pub fn entropy(&self) -> Estimate {
        Estimate::of(self.measures.iter().map(|m| m.entropy as f64))
    }

    /// Complexity estimate over replicas.
    pub fn complexity(&self) -> Estimate {
        Estimate::of(self.measures.iter().map(|m| m.complexity as f64))
    }

    /// Adjusted complexity estimate over replicas.
    pub fn adjusted_complexity(&self) -> Estimate {
        Estimate::of(self.measures.iter().map(|m| m.adjusted_complexity as f64))
    }
}

/// One submission's readback, waiting for compression.
struct Batch {
    words: Vec<u32>,
    samples: Vec<(usize, u64)>,
}

impl Automaton {
    /// Runs the schedule from the current step, taking every sample at or after it;
    /// calls `on_sample` with each sample in order. An error from the callback stops the
    /// run. Compression runs on host threads, overlapped with the GPU's next submission.
    pub fn run_with<F>(&mut self, schedule: &Schedule, on_sample: F) -> Result<()>
    where
        F: FnMut(&Sample) -> Result<()>,
    {
        if schedule.interval == 0 {
            return Err(Error::invalid(
                "the sample interval must be at least 1 step",
            ));
        }
        let times: Vec<(usize, u64)> = schedule
            .times()
            .enumerate()
            .filter(|&(_, t)| t >= self.step)
            .collect();
        self.run_at(&times, on_sample)
    }

    /// Takes the samples `(index, step)` in order (steps non-decreasing, none before the
    /// current step), calling `on_sample` with each: the form [`Automaton::run_with`]
    /// uses, for runs split into segments (between checkpoints).
    pub fn run_at<F>(&mut self, times: &[(usize, u64)], mut on_sample: F) -> Result<()>
    where
        F: FnMut(&Sample) -> Result<()>,
    {
        if let Some(&(_, last)) = times.last() {
            self.check_steps(last)?;
        }
        let mut previous = self.step;
        for &(_, t) in times {
            if t < previous {
                return Err(Error::invalid(format!(
                    "sample steps must not decrease and start at or after the current step \
                     {}; {t} comes after {previous}",
                    self.step
                )));
            }
            previous = t;
        }
        let layout = SlotLayout::new(&self.config);
        let n = self.config.size;
        let replicas = self.config.replicas;
        let model = self.config.model;
        std::thread::scope(|scope| -> Result<()> {
            // At most two batches wait for compression: a GPU far ahead of the host waits
            // rather than queueing readbacks without bound.
            let (to_worker, batches) = mpsc::sync_channel::<Batch>(2);
            let (to_caller, results) = mpsc::channel::<Result<Vec<Sample>>>();
            scope.spawn(move || {
                for batch in batches {
                    let done = compress(batch, layout, n, replicas, model);
                    if to_caller.send(done).is_err() {
                        break;
                    }
                }
            });
            let mut deliver = |samples: Result<Vec<Sample>>| -> Result<()> {
                samples?.iter().try_for_each(&mut on_sample)
            };
            let mut next = 0;
            let mut last_clocks: Option<Vec<ReplicaClock>> = None;
            while next < times.len() {
                let ctx = self.ctx.clone();
                let mut rec = ctx.recorder("morphogen.coffee.run");
                self.clear_blocks();
                let mut taken = Vec::new();
                // The step the recorded work reaches; the automaton's own step moves only
                // once the GPU has done it.
                let mut at = self.step;
                while next < times.len() && taken.len() < self.slots {
                    let (index, t) = times[next];
                    if self.blocks_left() < self.blocks_per_sample(t - at) {
                        break;
                    }
                    let mut reached = at;
                    while reached < t {
                        reached = self.record_advance_step(&mut rec, reached, t);
                    }
                    at = t;
                    self.record_sample(&mut rec, taken.len());
                    taken.push((index, t));
                    next += 1;
                }
                if taken.is_empty() {
                    // One sample's advance fills more than a submission: advance first.
                    drop(rec);
                    self.clear_blocks();
                    let (_, t) = times[next];
                    self.advance_to(t)?;
                    continue;
                }
                let pending = self.submit_with_readback(rec)?;
                let words = pending.wait(&self.ctx)?;
                if model == Model::Interacting {
                    let last = taken.len() - 1;
                    let clocks = slot_clocks(&words, &layout, last, replicas);
                    if let Some(before) = &last_clocks {
                        self.observe(before, &clocks);
                    }
                    if status_word(&words, &layout, last) != 0 {
                        return Err(self.stalled());
                    }
                    last_clocks = Some(clocks);
                }
                self.step = at;
                if to_worker
                    .send(Batch {
                        words,
                        samples: taken,
                    })
                    .is_err()
                {
                    break;
                }
                while let Ok(samples) = results.try_recv() {
                    deliver(samples)?;
                }
            }
            drop(to_worker);
            for samples in results {
                deliver(samples)?;
            }
            Ok(())
        })
    }

    /// The current state's sample (estimates, profile, replica 0's states).
    pub fn sample(&mut self) -> Result<Sample> {
        let layout = SlotLayout::new(&self.config);
        let batch = Batch {
            words: self.read_slot()?,
            samples: vec![(0, self.step)],
        };
        let mut samples = compress(
            batch,
            layout,
            self.config.size,
            self.config.replicas,
            self.config.model,
        )?;
        samples
            .pop()
            .ok_or_else(|| Error::invalid("no sample was taken"))
    }

    /// Every replica's fine, coarse and adjusted states, coarse-grained on the GPU.
    pub fn grids(&mut self) -> Result<Vec<Grids>> {
        let words = self.read_slot()?;
        let layout = SlotLayout::new(&self.config);
        Ok((0..self.config.replicas)
            .map(|r| replica_grids(&words, &layout, 0, r, self.config.size))
            .collect())
    }
}

impl Automaton {
    /// The current state coarse-grained into readback slot 0, read back.
    fn read_slot(&mut self) -> Result<Vec<u32>> {
        let ctx = self.ctx.clone();
        let mut rec = ctx.recorder("morphogen.coffee.sample");
        self.record_sample(&mut rec, 0);
        self.submit_with_readback(rec)?.wait(&self.ctx)
    }
}

fn slot_start(layout: &SlotLayout, slot: usize) -> usize {
    slot * layout.len()
}

fn status_word(words: &[u32], layout: &SlotLayout, slot: usize) -> u32 {
    words[slot_start(layout, slot) + layout.len() - 1]
}

fn slot_clocks(
    words: &[u32],
    layout: &SlotLayout,
    slot: usize,
    replicas: usize,
) -> Vec<ReplicaClock> {
    let at = slot_start(layout, slot) + 3 * layout.words + layout.rows;
    (0..replicas)
        .map(|r| {
            let w = &words[at + 4 * r..at + 4 * r + 4];
            ReplicaClock {
                swaps: u64::from(w[0]) | u64::from(w[1]) << 32,
                attempts: u64::from(w[2]) | u64::from(w[3]) << 32,
            }
        })
        .collect()
}

fn replica_grids(
    words: &[u32],
    layout: &SlotLayout,
    slot: usize,
    replica: usize,
    n: usize,
) -> Grids {
    let at = slot_start(layout, slot);
    let per = n * n / 4;
    let bytes = |part: usize| -> Vec<u8> {
        let start = at + part * layout.words + replica * per;
        bytemuck::cast_slice(&words[start..start + per]).to_vec()
    };
    Grids {
        n,
        fine: bytes(0),
        coarse: bytes(1),
        adjusted: bytes(2),
    }
}

/// Unpacks and compresses one submission's samples, replicas split over host threads.
fn compress(
    batch: Batch,
    layout: SlotLayout,
    n: usize,
    replicas: usize,
    model: Model,
) -> Result<Vec<Sample>> {
    let words = &batch.words;
    let threads = std::thread::available_parallelism()
        .map_or(1, |p| p.get())
        .clamp(1, 8);
    let mut out = Vec::with_capacity(batch.samples.len());
    for (slot, &(index, step)) in batch.samples.iter().enumerate() {
        let jobs: Vec<usize> = (0..replicas).collect();
        let per_thread = jobs.len().div_ceil(threads).max(1);
        let mut found: Vec<(usize, Measures)> = std::thread::scope(|scope| {
            let handles: Vec<_> = jobs
                .chunks(per_thread)
                .map(|chunk| {
                    scope.spawn(move || {
                        chunk
                            .iter()
                            .map(|&r| {
                                let g = replica_grids(words, &layout, slot, r, n);
                                (r, measures(&g.fine, &g.coarse, &g.adjusted))
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        });
        if found.len() != replicas {
            return Err(Error::invalid("a compression thread failed"));
        }
        found.sort_by_key(|(r, _)| *r);
        let rows_at = slot_start(&layout, slot) + 3 * layout.words;
        let totals = &words[rows_at..rows_at + replicas * n];
        let mut profile = vec![0.0f64; n];
        let mut cream = vec![0u64; replicas];
        for (r, row_totals) in totals.chunks(n).enumerate() {
            for (p, &t) in profile.iter_mut().zip(row_totals) {
                *p += f64::from(t);
            }
            cream[r] = row_totals.iter().map(|&t| u64::from(t)).sum();
        }
        profile.iter_mut().for_each(|p| *p /= (n * replicas) as f64);
        let clocks = match model {
            Model::Interacting => slot_clocks(words, &layout, slot, replicas),
            Model::NonInteracting => vec![
                ReplicaClock {
                    swaps: step,
                    attempts: step,
                };
                replicas
            ],
        };
        out.push(Sample {
            index,
            step,
            clocks,
            measures: found.into_iter().map(|(_, m)| m).collect(),
            profile,
            cream,
            first: replica_grids(words, &layout, slot, 0, n),
        });
    }
    Ok(out)
}
