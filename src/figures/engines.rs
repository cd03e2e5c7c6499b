//! Figures of what the engines produce. Each takes a title that says what was run and
//! with which parameters; the `*_title` helpers build the usual ones.

use super::palette::{self, Rgb};
use super::{BarChart, Figure, Layer, LineChart, Mark, Scatter, Series};
use crate::biome::evolve::Generation;
use crate::biome::Census;
use crate::coffee::{scaling_fit, Curve, Extremes, Model, Quantity};
use crate::error::{Error, Result};
use crate::flow::sde::SdeResult;
use crate::flow::FlowResult;
use crate::transport::Solution;

/// Paths drawn at most (evenly spaced through the particles) so a figure stays legible.
const MAX_PATHS: usize = 600;

fn pairs(v: &[f32]) -> Vec<[f32; 2]> {
    v.chunks_exact(2).map(|p| [p[0], p[1]]).collect()
}

/// At most `most` of the indices 0..n, spread by a multiplicative hash rather than a
/// stride, so data laid out in cycles (clusters, branches) is sampled from every cycle.
fn spread(n: usize, most: usize) -> Vec<usize> {
    if n <= most {
        return (0..n).collect();
    }
    let mut picked: Vec<usize> = (0..most as u64)
        .map(|k| (k.wrapping_mul(2_654_435_761) % n as u64) as usize)
        .collect();
    picked.sort_unstable();
    picked.dedup();
    picked
}

fn planar(dim: usize, what: &str) -> Result<()> {
    if dim < 2 {
        return Err(Error::invalid(format!(
            "{what} needs points of at least 2 dimensions (the first two are drawn); these have {dim}"
        )));
    }
    Ok(())
}

/// "ε = 0.0123, balanced, n = 400, m = 500, 37 iterations, marginal error 8.1e-4": the
/// parameters of a solve, for a title.
pub fn transport_parameters(solution: &Solution) -> String {
    let marginals = match (solution.tau_a >= 1.0, solution.tau_b >= 1.0) {
        (true, true) => "balanced".to_string(),
        _ => format!("τa = {:.3}, τb = {:.3}", solution.tau_a, solution.tau_b),
    };
    format!(
        "ε = {:.3}, {marginals}, n = {}, m = {}, {} iterations, marginal error {:.1e}",
        solution.epsilon,
        solution.f.len(),
        solution.g.len(),
        solution.iterations,
        solution.marginal_error
    )
}

/// Source points (blue circles), target points (orange triangles), the entropic map's
/// image of the source (vermillion crosses) and coupled pairs drawn from the plan (grey
/// segments). Points are N × 2 row-major; `coupled` are (source, target) indices.
pub fn transport_map(
    title: &str,
    source: &[f32],
    target: &[f32],
    mapped: &[f32],
    coupled: &[(u32, u32)],
) -> Result<Figure> {
    let (src, dst, img) = (pairs(source), pairs(target), pairs(mapped));
    let segments: Vec<[[f32; 2]; 2]> = coupled
        .iter()
        .filter_map(|&(i, j)| Some([*src.get(i as usize)?, *dst.get(j as usize)?]))
        .collect();
    let mut plot = Scatter::new(title, "x₁", "x₂");
    if !segments.is_empty() {
        plot = plot.layer(Layer::Segments {
            name: format!("{} pairs drawn from the plan", segments.len()),
            pairs: segments,
            colour: palette::GREY,
            alpha: 0.3,
        });
    }
    plot = plot
        .layer(Layer::Points {
            name: "target".into(),
            xy: dst,
            mark: Mark::Triangle,
            size: 4,
            colour: palette::ORANGE,
            alpha: 0.8,
        })
        .layer(Layer::Points {
            name: "source".into(),
            xy: src,
            mark: Mark::Circle,
            size: 3,
            colour: palette::BLUE,
            alpha: 0.8,
        });
    if !img.is_empty() {
        plot = plot.layer(Layer::Points {
            name: "entropic map T(source)".into(),
            xy: img,
            mark: Mark::Cross,
            size: 3,
            colour: palette::VERMILLION,
            alpha: 0.9,
        });
    }
    plot.draw(900, 900)
}

/// Each particle's path through the save times, coloured by time, with its start (blue
/// circles) and end (orange triangles); the first two coordinates of a flow.
pub fn trajectories(title: &str, result: &FlowResult) -> Result<Figure> {
    planar(result.dim, "a trajectory figure")?;
    let (n, times) = (result.particles, result.times.len());
    let at = |k: usize, p: usize| {
        let s = result.state(k, p);
        [s[0], s[1]]
    };
    let paths: Vec<Vec<[f32; 2]>> = spread(n, MAX_PATHS)
        .into_iter()
        .map(|p| (0..times).map(|k| at(k, p)).collect())
        .collect();
    let (t0, t1) = (
        result.times.first().copied().unwrap_or(0.0),
        result.times.last().copied().unwrap_or(1.0),
    );
    let mut plot = Scatter::new(title, "x₁", "x₂");
    if times > 1 {
        plot = plot.layer(Layer::TimedPaths {
            name: format!("paths of {} particles", paths.len()),
            paths,
            times: result.times.clone(),
            alpha: 0.35,
        });
    }
    plot.layer(Layer::Points {
        name: format!("t = {t0:.3}"),
        xy: (0..n).map(|p| at(0, p)).collect(),
        mark: Mark::Circle,
        size: 2,
        colour: palette::BLUE,
        alpha: 0.7,
    })
    .layer(Layer::Points {
        name: format!("t = {t1:.3}"),
        xy: (0..n).map(|p| at(times - 1, p)).collect(),
        mark: Mark::Triangle,
        size: 2,
        colour: palette::ORANGE,
        alpha: 0.8,
    })
    .draw(900, 900)
}

/// The paths of each branch of an SDE run in its own colour (from `x0`, N × 2), and the
/// end points of each branch, their opacity scaled by their weight.
pub fn branch_trajectories(title: &str, result: &SdeResult, x0: &[f32]) -> Result<Figure> {
    planar(result.dim, "a trajectory figure")?;
    let (n, last) = (result.particles, result.times.len().saturating_sub(1));
    let drawn = spread(n, MAX_PATHS / result.branches.max(1));
    let mut plot = Scatter::new(title, "x₁", "x₂");
    let start = pairs(x0);
    let max_weight = (0..result.branches)
        .flat_map(|b| (0..n).map(move |p| (b, p)))
        .map(|(b, p)| result.weight(last, b, p))
        .fold(f32::MIN_POSITIVE, f32::max);
    for b in 0..result.branches {
        let colour = palette::SERIES[b % palette::SERIES.len()];
        let mut segments = Vec::new();
        for &p in &drawn {
            let mut prev = start.get(p).copied();
            for k in 0..=last {
                let s = result.state(k, b, p);
                let here = [s[0], s[1]];
                if let Some(prev) = prev {
                    segments.push([prev, here]);
                }
                prev = Some(here);
            }
        }
        plot = plot.layer(Layer::Segments {
            name: String::new(),
            pairs: segments,
            colour,
            alpha: 0.12,
        });
        // End points in bands of weight, so opacity shows how much each carries.
        for band in 0..4 {
            let (lo, hi) = (band as f32 / 4.0, (band + 1) as f32 / 4.0);
            let xy: Vec<[f32; 2]> = (0..n)
                .filter(|&p| {
                    let w = result.weight(last, b, p) / max_weight;
                    w > lo && (w <= hi || band == 3)
                })
                .map(|p| {
                    let s = result.state(last, b, p);
                    [s[0], s[1]]
                })
                .collect();
            plot = plot.layer(Layer::Points {
                name: if band == 3 {
                    format!(
                        "branch {b} at t = {:.2} (opacity: weight)",
                        result.times[last]
                    )
                } else {
                    String::new()
                },
                xy,
                mark: if b % 2 == 0 {
                    Mark::Circle
                } else {
                    Mark::Triangle
                },
                size: 3,
                colour,
                alpha: 0.15 + 0.8 * f64::from(hi),
            });
        }
    }
    plot.draw(900, 900)
}

/// Mass (left) and effective sample size (right) of each branch against time.
pub fn sde_weights(title: &str, result: &SdeResult) -> Result<Figure> {
    Ok(Figure::beside(&sde_weight_panels(title, result, 700, 500)?))
}

/// The two panels of [`sde_weights`], each `width` × `height`, to lay out as wanted.
pub fn sde_weight_panels(
    title: &str,
    result: &SdeResult,
    width: u32,
    height: u32,
) -> Result<[Figure; 2]> {
    let k = result.branches;
    let curves = |values: &[f64]| -> Vec<Series> {
        (0..k)
            .map(|b| {
                let points = result
                    .times
                    .iter()
                    .enumerate()
                    .map(|(t, &time)| (time, values[t * k + b]))
                    .collect();
                Series::new(
                    format!("branch {b}"),
                    points,
                    palette::SERIES[b % palette::SERIES.len()],
                )
            })
            .collect()
    };
    let mut mass = LineChart::new(format!("{title}: mass"), "time", "total weight");
    for s in curves(&result.mass) {
        mass = mass.series(s);
    }
    let mut ess = LineChart::new(
        format!("effective sample size (of {} particles)", result.particles),
        "time",
        "(Σw)² / Σw²",
    );
    for s in curves(&result.ess) {
        ess = ess.series(s);
    }
    Ok([mass.draw(width, height)?, ess.draw(width, height)?])
}

/// Agents by specialisation (left) and the running totals of reproductions and seeds
/// placed (right) of a biome run, against steps.
pub fn biome_metrics(title: &str, rows: &[Census]) -> Result<Figure> {
    let names = ["unspecialized", "root", "leaf", "flower"];
    let colours: [Rgb; 4] = [
        palette::BLACK,
        palette::VERMILLION,
        palette::GREEN,
        palette::PURPLE,
    ];
    let curve = |f: &dyn Fn(&Census) -> f64| rows.iter().map(|c| (c.step as f64, f(c))).collect();
    let mut agents = LineChart::new(format!("{title}: agents"), "step", "agent cells").series(
        Series::new("all agents", curve(&|c| c.agents() as f64), palette::BLUE),
    );
    for (k, (name, colour)) in names.iter().zip(colours).enumerate() {
        agents = agents.series(Series::new(
            *name,
            curve(&|c| f64::from(c.by_specialization()[k])),
            colour,
        ));
    }
    // Running totals: per-step counts are 0, 1 or 2 and unreadable as a curve.
    let running = |f: &dyn Fn(&Census) -> f64| {
        let mut total = 0.0;
        rows.iter()
            .map(|c| {
                total += f(c);
                (c.step as f64, total)
            })
            .collect()
    };
    let births = LineChart::new("reproduction since the start", "step", "count")
        .series(Series::new(
            "reproductions",
            running(&|c| f64::from(c.reproductions)),
            palette::ORANGE,
        ))
        .series(
            Series::new(
                "seeds placed",
                running(&|c| f64::from(c.seeds)),
                palette::SKY,
            )
            .dashed(),
        );
    Ok(Figure::beside(&[
        agents.draw(800, 500)?,
        births.draw(600, 500)?,
    ]))
}

/// Final agents of each seed of a sweep.
pub fn sweep(title: &str, final_agents: &[(u64, u64)]) -> Result<Figure> {
    let mut chart = BarChart::new(title, "seed", "agent cells at the end", palette::GREEN);
    for &(seed, agents) in final_agents {
        chart = chart.bar(seed.to_string(), agents as f64);
    }
    chart.draw((160 + 40 * final_agents.len() as u32).clamp(600, 1600), 500)
}

/// The marginal error at each check of a Sinkhorn solve on a log scale, with the stopping
/// threshold dashed.
pub fn convergence(title: &str, solution: &Solution, threshold: f64) -> Result<Figure> {
    let errors: Vec<(f64, f64)> = solution
        .errors
        .iter()
        .map(|&(t, e)| (t as f64, e))
        .collect();
    let last = errors.last().map_or(1.0, |e| e.0);
    let first = errors.first().map_or(0.0, |e| e.0);
    let mut chart = LineChart::new(title, "iteration", "marginal error (L1)")
        .log_y()
        .series(Series::new("marginal error", errors, palette::BLUE));
    if threshold > 0.0 {
        chart = chart.series(
            Series::new(
                "threshold",
                vec![(first, threshold), (last, threshold)],
                palette::VERMILLION,
            )
            .dashed(),
        );
    }
    chart.draw(800, 500)
}

/// The curves of a coffee run (the paper's Fig. 2 and Fig. 10): the entropy estimate
/// (left) and both complexity estimates (right) against time, means over replicas.
pub fn coffee_curves(title: &str, clock: &str, rows: &[Curve]) -> Result<Figure> {
    let curve = |f: &dyn Fn(&Curve) -> f64| rows.iter().map(|c| (c.step as f64, f(c))).collect();
    let entropy =
        LineChart::new(format!("{title}: entropy"), clock, "compressed bytes").series(Series::new(
            "entropy (fine state)",
            curve(&|c| c.entropy.mean),
            palette::BLUE,
        ));
    let complexity = LineChart::new("apparent complexity", clock, "compressed bytes")
        .series(Series::new(
            "complexity (3 buckets)",
            curve(&|c| c.complexity.mean),
            palette::VERMILLION,
        ))
        .series(
            Series::new(
                "adjusted (7 buckets)",
                curve(&|c| c.adjusted_complexity.mean),
                palette::GREEN,
            )
            .dashed(),
        );
    Ok(Figure::beside(&[
        entropy.draw(700, 480)?,
        complexity.draw(700, 480)?,
    ]))
}

/// The coffee scaling study (the paper's Figs. 6-8): maximum entropy and maximum
/// complexity against n for both models, and the time of the complexity peak for each
/// (swaps and steps are different clocks, so one panel each); every fit is dashed, with
/// its r² in the legend.
pub fn coffee_scaling(runs: &[Extremes]) -> Result<Figure> {
    let both = [Model::Interacting, Model::NonInteracting];
    let panel = |quantity: Quantity, models: &[Model], y_label: &str| -> Result<Figure> {
        let mut chart = LineChart::new(quantity.label(), "n (cells per side)", y_label);
        for &model in models {
            let colour = palette::SERIES[usize::from(model == Model::NonInteracting)];
            let (points, fit) = scaling_fit(runs, model, quantity);
            if points.is_empty() {
                continue;
            }
            let (lo, hi) = points
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
                    (a.min(p.0), b.max(p.0))
                });
            chart = chart.series(Series::new(model.name(), points, colour));
            if let Some(fit) = fit {
                let line = (0..=40)
                    .map(|i| {
                        let x = lo + (hi - lo) * f64::from(i) / 40.0;
                        (x, fit.at(x))
                    })
                    .collect();
                chart = chart.series(
                    Series::new(format!("fit, r² {:.4}", fit.r_squared), line, colour).dashed(),
                );
            }
        }
        chart.draw(640, 440)
    };
    let top = Figure::beside(&[
        panel(Quantity::MaxEntropy, &both, "compressed bytes")?,
        panel(Quantity::MaxComplexity, &both, "compressed bytes")?,
    ]);
    let bottom = Figure::beside(&[
        panel(Quantity::TimeOfMax, &both[..1], "swaps (interacting)")?,
        panel(Quantity::TimeOfMax, &both[1..], "steps (non-interacting)")?,
    ]);
    Ok(Figure::below(&[top, bottom]))
}

/// The fitness of an evolution's generations: the best candidate and the population's
/// mean.
pub fn evolution(title: &str, history: &[Generation]) -> Result<Figure> {
    let curve = |f: &dyn Fn(&Generation) -> f64| {
        history
            .iter()
            .map(|g| (g.generation as f64, f(g)))
            .collect()
    };
    LineChart::new(title, "generation", "fitness (mean score per step)")
        .series(Series::new("best", curve(&|g| g.best), palette::VERMILLION))
        .series(Series::new("mean", curve(&|g| g.mean), palette::BLUE))
        .draw(800, 500)
}

/// Training loss against step (log scale): each model's loss averaged over a window of
/// `steps / 200` (at least 1) steps, at most 2,000 points per model.
pub fn training_loss(title: &str, losses: &[f32], models: usize) -> Result<Figure> {
    let models = models.max(1);
    let steps = losses.len() / models;
    let window = (steps / 200).max(1);
    let stride = steps.div_ceil(2000).max(1);
    let mut chart = LineChart::new(title, "step", "loss (moving average)").log_y();
    for m in 0..models.min(palette::SERIES.len()) {
        let series: Vec<f64> = (0..steps)
            .map(|k| f64::from(losses[k * models + m]))
            .collect();
        let mut points = Vec::new();
        let mut sum = 0.0;
        for (k, v) in series.iter().enumerate() {
            sum += v;
            if k >= window {
                sum -= series[k - window];
            }
            if (k + 1) % stride == 0 || k + 1 == steps {
                points.push(((k + 1) as f64, sum / (k + 1).min(window) as f64));
            }
        }
        let name = if models == 1 {
            "loss".to_string()
        } else {
            format!("model {m}")
        };
        chart = chart.series(Series::new(name, points, palette::SERIES[m]));
    }
    chart.draw(800, 500)
}
