//! The `morphogen` command line: `demo`, `transport`, `flow`, `train`, `biome`, `evolve`,
//! `coffee`, `merge` and `info`.
//!
//! Exit codes: 0 success; 2 bad input (the message names the file or flag and what was
//! expected); 3 no adapter or a device failure; 4 not converged with `--strict`. Outputs
//! go to a fresh directory (a non-empty one is refused without `--force`), each file
//! written whole or not at all; inputs are all checked before the directory is created.

pub mod biome;
pub mod coffee;
pub mod demo;
pub mod evolve;
pub mod flow;
mod info;
pub mod merge;
pub mod output;
pub mod sde;
pub mod shard;
pub mod train;
pub mod transport;

use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};

use crate::cli::output::CliResult;
use crate::gpu::{ContextOptions, GpuContext};

#[derive(Parser)]
#[command(
    name = "morphogen",
    version,
    about = "GPU compute engine: optimal transport, learned flows, Biomaker CA"
)]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    command: Command,
}

/// Flags every subcommand takes.
#[derive(clap::Args, Debug, Clone)]
pub struct Common {
    /// Adapter to run on: a substring of its name or its index in `morphogen info`.
    #[arg(long, global = true)]
    pub adapter: Option<String>,
    /// Print the summary as JSON on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// No progress bars or messages on stderr.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// When the command line was parsed: the start of the command's work, from which
    /// each `summary.json` counts its `wall_seconds`.
    #[arg(skip = Instant::now())]
    pub started: Instant,
}

impl Common {
    /// The GPU context on the chosen adapter.
    pub fn context(&self) -> CliResult<GpuContext> {
        let mut options = ContextOptions::default().gpu_time();
        if let Some(name) = &self.adapter {
            options = options.adapter(name.clone());
        }
        Ok(GpuContext::with_options(&options)?)
    }
}

#[derive(Subcommand)]
enum Command {
    /// The main job on the shipped defaults: a biome time-lapse, a transport map and flow
    /// trajectories.
    Demo(demo::DemoArgs),
    /// Entropic optimal transport between two point clouds (`.npy`).
    Transport(transport::TransportArgs),
    /// Particles through a velocity field exported from PyTorch.
    Flow(flow::FlowArgs),
    /// Train a flow-matching field on the GPU (I-CFM, OT-CFM, FM, SB-CFM, UOT-FM), then
    /// integrate it.
    Train(train::TrainArgs),
    /// Grow a Biomaker CA world: frames, time-lapse, metrics, checkpoints.
    Biome(biome::BiomeArgs),
    /// Evolve agent programs by PGPE in petri dishes (reproductions intercepted).
    Evolve(evolve::EvolveArgs),
    /// The Coffee Automaton: entropy and apparent complexity of cream mixing into coffee.
    Coffee(coffee::CoffeeArgs),
    /// Join the outputs of the shards of one job (`--shard I/N`).
    Merge(merge::MergeArgs),
    /// List the adapters found and show the chosen one's limits and features.
    Info {
        /// Also measure the chosen adapter's peak exp/s, FMA/s and bandwidth.
        #[arg(long)]
        peaks: bool,
    },
}

/// Parses the process arguments, runs the subcommand and returns its exit code.
pub fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = Cli::parse();
    let common = &cli.common;
    let result = match &cli.command {
        Command::Demo(args) => demo::run(args, common),
        Command::Transport(args) => transport::run(args, common),
        Command::Flow(args) => flow::run(args, common),
        Command::Train(args) => train::run(args, common),
        Command::Biome(args) => biome::run(args, common),
        Command::Coffee(args) => coffee::run(args, common),
        Command::Evolve(args) => evolve::run(args, common),
        Command::Merge(args) => merge::run(args, common),
        Command::Info { peaks } => info::run(common, *peaks),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("morphogen: {}", failure.message());
            ExitCode::from(failure.code())
        }
    }
}
