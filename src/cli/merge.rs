//! `morphogen merge`: joins the outputs of the shards of one job (`--shard I/N`).

use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::{json, Value};

use crate::cli::biome::write_sweep;
use crate::cli::output::{bad, read_npy, CliResult, OutDir};
use crate::cli::shard::Shard;
use crate::cli::Common;
use crate::flow::FlowResult;

/// Arguments of `morphogen merge`.
#[derive(Args, Debug)]
pub struct MergeArgs {
    /// The shards' output directories, in any order.
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
    /// Write into a non-empty output directory.
    #[arg(long)]
    pub force: bool,
}

struct Part {
    dir: PathBuf,
    summary: Value,
    shard: Shard,
}

fn read_part(dir: &Path) -> CliResult<Part> {
    let path = dir.join("summary.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        bad(format!(
            "{}: {e} (is this a shard's output directory?)",
            path.display()
        ))
    })?;
    let summary: Value = serde_json::from_str(&text)
        .map_err(|e| bad(format!("{}: not a summary: {e}", path.display())))?;
    let shard = summary["shard"]
        .as_str()
        .ok_or_else(|| {
            bad(format!(
                "{}: no \"shard\" field: not a sharded run",
                path.display()
            ))
        })?
        .parse::<Shard>()
        .map_err(|e| bad(format!("{}: {e}", path.display())))?;
    Ok(Part {
        dir: dir.to_path_buf(),
        summary,
        shard,
    })
}

/// Checks that the parts are one job's shards 0..N, each once, and sorts them.
fn check(parts: &mut [Part]) -> CliResult<String> {
    let command = parts[0].summary["command"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let count = parts[0].shard.count;
    for p in parts.iter() {
        if p.summary["command"].as_str() != Some(&command) || p.shard.count != count {
            return Err(bad(format!(
                "{} is a {} shard of {}, but {} is a {command} shard of {count}: merge the \
                 shards of one job",
                p.dir.display(),
                p.summary["command"],
                p.shard.count,
                parts[0].dir.display()
            )));
        }
    }
    parts.sort_by_key(|p| p.shard.index);
    let indices: Vec<usize> = parts.iter().map(|p| p.shard.index).collect();
    if indices != (0..count).collect::<Vec<_>>() {
        let missing: Vec<usize> = (0..count).filter(|i| !indices.contains(i)).collect();
        return Err(bad(format!(
            "shards {indices:?} of {count} given: missing {missing:?} (or one given twice)"
        )));
    }
    Ok(command)
}

/// Runs `morphogen merge`.
pub fn run(args: &MergeArgs, common: &Common) -> CliResult<()> {
    let mut parts = args
        .shards
        .iter()
        .map(|d| read_part(d))
        .collect::<CliResult<Vec<_>>>()?;
    let command = check(&mut parts)?;
    let mut summary = match command.as_str() {
        "transport" => merge_transport(&parts, args)?,
        "flow" => merge_flow(&parts, args)?,
        "biome-sweep" => merge_sweep(&parts, args)?,
        other => return Err(bad(format!("cannot merge {other:?} outputs"))),
    };
    // The merge's own `wall_seconds` replaces the first shard's; the shards' totals are
    // what the job cost (absent when a shard's summary does not say).
    for (key, total) in [
        ("wall_seconds", "shards_wall_seconds"),
        ("gpu_seconds", "shards_gpu_seconds"),
    ] {
        let seconds: Option<f64> = parts.iter().map(|p| p.summary[key].as_f64()).sum();
        if let (Some(seconds), Some(fields)) = (seconds, summary.as_object_mut()) {
            fields.insert(total.into(), json!(seconds));
        }
    }
    let out = OutDir::prepare(&args.out, true)?;
    out.summary(summary, common.started, None, common.json)?;
    if !common.quiet && !common.json {
        eprintln!(
            "merged {} shards into {}",
            parts.len(),
            out.path().display()
        );
    }
    Ok(())
}

/// Concatenates one array per part along `axis` (0 or 1).
fn concat(parts: &[Part], name: &str, axis: usize) -> CliResult<(Vec<f32>, Vec<usize>)> {
    let arrays = parts
        .iter()
        .map(|p| read_npy(name, &p.dir.join(name)))
        .collect::<CliResult<Vec<_>>>()?;
    let first = arrays[0].shape.clone();
    let mut shape = first.clone();
    shape[axis] = arrays.iter().map(|a| a.shape[axis]).sum();
    for (a, p) in arrays.iter().zip(parts) {
        let mut expect = first.clone();
        expect[axis] = a.shape[axis];
        if a.shape != expect {
            return Err(bad(format!(
                "{}: shape {:?} does not line up with {:?}",
                p.dir.join(name).display(),
                a.shape,
                first
            )));
        }
    }
    let outer: usize = first[..axis].iter().product();
    let mut data = Vec::with_capacity(shape.iter().product());
    for o in 0..outer {
        for a in &arrays {
            let block = a.data.len() / outer;
            data.extend_from_slice(&a.data[o * block..(o + 1) * block]);
        }
    }
    Ok((data, shape))
}

fn prepared(args: &MergeArgs) -> CliResult<OutDir> {
    OutDir::prepare(&args.out, args.force)
}

fn merge_transport(parts: &[Part], args: &MergeArgs) -> CliResult<Value> {
    let (f, fs) = concat(parts, "f.npy", 0)?;
    let (g, gs) = concat(parts, "g.npy", 0)?;
    let out = prepared(args)?;
    out.npy("f.npy", &f, &fs)?;
    out.npy("g.npy", &g, &gs)?;
    let mut summary = parts[0].summary.clone();
    for key in [
        "epsilon",
        "reg_ot_cost",
        "primal_cost",
        "iterations",
        "marginal_error",
        "converged",
    ] {
        let joined: Vec<Value> = parts
            .iter()
            .flat_map(|p| p.summary[key].as_array().cloned().unwrap_or_default())
            .collect();
        summary[key] = json!(joined);
    }
    summary["shard"] = json!(format!("merged {}", parts.len()));
    summary["range"] = json!([0, fs[0]]);
    Ok(summary)
}

fn merge_flow(parts: &[Part], args: &MergeArgs) -> CliResult<Value> {
    // States are [times, n, d], or [times, K, n, d] with several branches: particles lie
    // on the second-to-last axis; log-densities and weights on the last.
    let rank = read_npy("states.npy", &parts[0].dir.join("states.npy"))?
        .shape
        .len();
    let (states, shape) = concat(parts, "states.npy", rank.saturating_sub(2))?;
    let logp = if parts[0].dir.join("logp.npy").is_file() {
        Some(concat(parts, "logp.npy", 1)?)
    } else {
        None
    };
    let weights = if parts[0].dir.join("weights.npy").is_file() {
        Some(concat(parts, "weights.npy", rank.saturating_sub(2))?)
    } else {
        None
    };
    let out = prepared(args)?;
    out.npy("states.npy", &states, &shape)?;
    if let Some((data, shape)) = &logp {
        out.npy("logp.npy", data, shape)?;
    }
    if let Some((data, shape)) = &weights {
        out.npy("weights.npy", data, shape)?;
    }
    let (times, d) = (shape[0], shape[rank - 1]);
    let n = shape[rank - 2] * if rank == 4 { shape[1] } else { 1 };
    if d == 2 {
        let save_at: Vec<f64> = parts[0].summary["save_at"]
            .as_array()
            .map(|t| t.iter().filter_map(serde_json::Value::as_f64).collect())
            .filter(|t: &Vec<f64>| t.len() == times)
            .unwrap_or_else(|| (0..times).map(|k| k as f64).collect());
        let result = FlowResult {
            times: save_at,
            particles: n,
            dim: d,
            states,
            log_density_change: None,
            evaluations: Vec::new(),
            accepted: Vec::new(),
            rejected: Vec::new(),
            capped: Vec::new(),
        };
        let title = format!("{n} particles merged from {} shards", parts.len());
        out.figure(
            "trajectories.png",
            &crate::figures::engines::trajectories(&title, &result)?,
        )?;
    }
    let sum = |key: &str| -> f64 { parts.iter().filter_map(|p| p.summary[key].as_f64()).sum() };
    let weighted_mean = parts
        .iter()
        .map(|p| {
            p.summary["evaluations_per_particle_mean"]
                .as_f64()
                .unwrap_or(0.0)
                * p.summary["particles"].as_f64().unwrap_or(0.0)
        })
        .sum::<f64>()
        / shape[rank - 2].max(1) as f64;
    let mut summary = parts[0].summary.clone();
    summary["particles"] = json!(shape[rank - 2]);
    summary["shard"] = json!(format!("merged {}", parts.len()));
    summary["range"] = json!([0, shape[rank - 2]]);
    if let Some((w, _)) = &weights {
        // Mass and effective sample size per save time and branch, over all shards.
        let per_branch = shape[rank - 2];
        let (mass, ess): (Vec<Vec<f64>>, Vec<Vec<f64>>) = w
            .chunks(n)
            .map(|at_time| {
                at_time
                    .chunks(per_branch)
                    .map(|b| {
                        let b: Vec<f64> = b.iter().map(|&v| f64::from(v)).collect();
                        (
                            b.iter().sum::<f64>(),
                            crate::flow::sde::effective_sample_size(&b),
                        )
                    })
                    .unzip()
            })
            .unzip();
        summary["mass"] = json!(mass);
        summary["ess"] = json!(ess);
    }
    summary["evaluations_per_particle_mean"] = json!(weighted_mean);
    summary["evaluations_per_particle_max"] = json!(parts
        .iter()
        .filter_map(|p| p.summary["evaluations_per_particle_max"].as_f64())
        .fold(0.0, f64::max));
    summary["accepted_steps"] = json!(sum("accepted_steps"));
    summary["rejected_steps"] = json!(sum("rejected_steps"));
    summary["capped_particles"] = json!(sum("capped_particles"));
    Ok(summary)
}

fn merge_sweep(parts: &[Part], args: &MergeArgs) -> CliResult<Value> {
    let mut runs = Vec::new();
    let mut seeds = Vec::new();
    for p in parts {
        for (run, seed) in p.summary["runs"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .zip(p.summary["seeds"].as_array().cloned().unwrap_or_default())
        {
            let mut run = run;
            run["dir"] = json!(p.dir.join(format!("seed_{seed}")));
            runs.push(run);
            seeds.push(seed);
        }
    }
    let out = prepared(args)?;
    write_sweep(&out, &runs)?;
    Ok(json!({
        "command": "biome-sweep",
        "shard": format!("merged {}", parts.len()),
        "seeds": seeds,
        "runs": runs,
    }))
}
