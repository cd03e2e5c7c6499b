//! The `morphogen` command end to end on tiny inputs: outputs and their shapes, exit
//! codes, bad input refused with a clear message and no output, every summary saying how
//! long its work took, and a biome run resumed from its checkpoint ending where an
//! uninterrupted run ends, in the same bytes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use morphogen::biome::Checkpoint;
use morphogen::io::npy;

fn morphogen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_morphogen"))
        .args(args)
        .arg("--quiet")
        .output()
        .expect("the binary runs")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("morphogen-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn shape(path: &Path) -> Vec<usize> {
    npy::read(path).unwrap().shape
}

/// `dir/summary.json`, checked to carry the wall-clock seconds of its command's work.
fn read_summary(dir: &Path) -> serde_json::Value {
    let text = std::fs::read(dir.join("summary.json")).unwrap();
    let summary: serde_json::Value = serde_json::from_slice(&text).unwrap();
    let seconds = summary["wall_seconds"].as_f64();
    assert!(
        seconds.is_some_and(|t| t > 0.0 && t.is_finite()),
        "{}: wall_seconds is {:?}, not a positive number",
        dir.display(),
        summary["wall_seconds"]
    );
    // Where the adapter has timestamps (lavapipe has), the GPU's busy time is within the
    // command's wall time; without them it is null.
    let gpu = &summary["gpu_seconds"];
    assert!(
        gpu.is_null()
            || gpu
                .as_f64()
                .is_some_and(|g| g >= 0.0 && g <= seconds.unwrap() * 1.01),
        "{}: gpu_seconds {gpu} against wall_seconds {seconds:?}",
        dir.display()
    );
    summary
}

/// Two small clouds: 40 and 50 points in 2-D.
fn clouds(dir: &Path) -> (PathBuf, PathBuf) {
    let a: Vec<f32> = (0..80).map(|i| ((i * 37 % 17) as f32) / 17.0).collect();
    let b: Vec<f32> = (0..100)
        .map(|i| ((i * 29 % 23) as f32) / 23.0 + 0.5)
        .collect();
    let (pa, pb) = (dir.join("a.npy"), dir.join("b.npy"));
    npy::write(&pa, &a, &[40, 2]).unwrap();
    npy::write(&pb, &b, &[50, 2]).unwrap();
    (pa, pb)
}

#[test]
fn transport_writes_potentials_map_pairs_and_summary() {
    let dir = scratch("transport");
    let (a, b) = clouds(&dir);
    let out = dir.join("out");
    let run = Command::new(env!("CARGO_BIN_EXE_morphogen"))
        .args([
            "transport",
            "--source",
            s(&a),
            "--target",
            s(&b),
            "--eps",
            "0.05",
            "--anderson",
            "5",
        ])
        .args([
            "--map-points",
            s(&a),
            "--sample",
            "16",
            "--divergence",
            "--figures",
            "--json",
        ])
        .args(["--out", s(&out)])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", stderr(&run));
    assert_eq!(shape(&out.join("f.npy")), [40]);
    assert_eq!(shape(&out.join("g.npy")), [50]);
    assert_eq!(shape(&out.join("map.npy")), [40, 2]);
    for figure in ["convergence.png", "map.png"] {
        assert!(out.join(figure).is_file(), "{figure}");
    }
    let pairs = std::fs::read(out.join("pairs.npy")).unwrap();
    assert!(String::from_utf8_lossy(&pairs[..80]).contains("'<i8'"));
    let summary = read_summary(&out);
    assert_eq!(summary["converged"], true);
    assert_eq!(summary["anderson_memory"], 5);
    assert!(summary["divergence"].as_f64().unwrap() > 0.0);
    let printed: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(printed, summary, "--json prints the summary");
}

#[test]
fn strict_transport_that_does_not_converge_exits_with_4() {
    let dir = scratch("strict");
    let (a, b) = clouds(&dir);
    let out = dir.join("out");
    let run = morphogen(&[
        "transport",
        "--source",
        s(&a),
        "--target",
        s(&b),
        "--eps",
        "0.001",
        "--max-iter",
        "2",
        "--tol",
        "1e-9",
        "--strict",
        "--out",
        s(&out),
    ]);
    assert_eq!(run.status.code(), Some(4), "{}", stderr(&run));
    read_summary(&out); // the outputs are still written
}

#[test]
fn flow_writes_states_log_densities_and_a_picture() {
    let dir = scratch("flow");
    let out = dir.join("out");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let run = morphogen(&[
        "flow",
        "--model",
        s(&root.join("assets/demo_flow.safetensors")),
        "--gaussian",
        "32",
        "--solver",
        "tsit5",
        "--save-at",
        "0.5,1",
        "--logp",
        "--out",
        s(&out),
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert_eq!(shape(&out.join("states.npy")), [2, 32, 2]);
    assert_eq!(shape(&out.join("logp.npy")), [2, 32]);
    assert!(out.join("trajectories.png").is_file());
    let summary = read_summary(&out);
    assert!(summary["evaluations_per_particle_mean"].as_f64().unwrap() > 6.0);
}

fn biome(out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "biome",
        "--height",
        "16",
        "--width",
        "landscape",
        "--seed",
        "5",
        "--out",
        s(out),
    ];
    args.extend_from_slice(extra);
    morphogen(&args)
}

#[test]
fn biome_writes_frames_timelapse_metrics_checkpoints_and_resumes_exactly() {
    let dir = scratch("biome");
    let straight = dir.join("straight");
    let run = biome(
        &straight,
        &[
            "--steps",
            "30",
            "--frames-every",
            "10",
            "--checkpoint-every",
            "15",
        ],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    for step in [0, 10, 20, 30] {
        assert!(
            straight
                .join(format!("frames/step_{step:06}.png"))
                .is_file(),
            "frame {step}"
        );
    }
    assert!(straight.join("timelapse.gif").is_file());
    assert!(straight.join("metrics.png").is_file());
    let csv = std::fs::read_to_string(straight.join("metrics.csv")).unwrap();
    assert_eq!(csv.lines().count(), 31);
    assert!(csv.starts_with("step,agents,unspecialized,root,leaf,flower,reproductions"));
    assert!(straight
        .join("checkpoints/step_000015.safetensors")
        .is_file());
    read_summary(&straight);

    let resumed = dir.join("resumed");
    let cp = straight.join("checkpoints/step_000015.safetensors");
    let run = morphogen(&[
        "biome",
        "--resume",
        s(&cp),
        "--steps",
        "30",
        "--out",
        s(&resumed),
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let a = Checkpoint::load(&straight.join("checkpoint.safetensors")).unwrap();
    let b = Checkpoint::load(&resumed.join("checkpoint.safetensors")).unwrap();
    assert_eq!(a.step, 30);
    assert_eq!(a, b, "a resumed run ends where the uninterrupted one does");
    assert!(
        std::fs::read(straight.join("checkpoint.safetensors")).unwrap()
            == std::fs::read(resumed.join("checkpoint.safetensors")).unwrap(),
        "equal states are written as equal files"
    );
    read_summary(&resumed);
}

#[test]
fn a_batched_biome_sweep_writes_each_seed_as_its_own_run_would() {
    let dir = scratch("biome-batch");
    let sweep = dir.join("sweep");
    let common = ["--height", "16", "--width", "40", "--steps", "12"];
    let mut args = vec![
        "biome",
        "--seeds",
        "7..10",
        "--batch",
        "2",
        "--out",
        s(&sweep),
    ];
    args.extend_from_slice(&common);
    let run = morphogen(&args);
    assert!(run.status.success(), "{}", stderr(&run));
    let single = dir.join("single");
    let mut args = vec!["biome", "--seed", "8", "--out", s(&single)];
    args.extend_from_slice(&common);
    let run = morphogen(&args);
    assert!(run.status.success(), "{}", stderr(&run));
    for name in ["checkpoint.safetensors", "metrics.csv"] {
        assert!(
            std::fs::read(sweep.join("seed_8").join(name)).unwrap()
                == std::fs::read(single.join(name)).unwrap(),
            "{name}: seed 8 in a batch of two differs from seed 8 alone"
        );
    }
    let summary = read_summary(&sweep);
    assert_eq!(summary["batch"], 2);
    assert_eq!(summary["runs"].as_array().unwrap().len(), 3);
    for seed in 7..10 {
        assert!(sweep.join(format!("seed_{seed}/timelapse.gif")).is_file());
    }

    for (bad, why) in [
        (
            vec!["--seeds", "1..3", "--batch", "0"],
            "at least one world",
        ),
        (vec!["--seed", "1", "--batch", "2"], "--seeds A..B"),
        (
            vec!["--seeds", "1..3", "--batch", "100000000"],
            "fit one batch",
        ),
    ] {
        let out = dir.join("refused");
        let mut args = vec!["biome", "--out", s(&out)];
        args.extend_from_slice(&common);
        args.extend_from_slice(&bad);
        let run = morphogen(&args);
        assert_eq!(run.status.code(), Some(2), "{bad:?}: {}", stderr(&run));
        assert!(stderr(&run).contains(why), "{bad:?}: {}", stderr(&run));
        assert!(!out.exists(), "{bad:?} left an output directory");
    }
}

/// Writes a `.npy` file with any dtype string, for the refusal tests.
fn raw_npy(path: &Path, descr: &str, shape: &str, data: &[u8]) {
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    bytes.extend(data);
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn bad_input_exits_with_2_a_clear_message_and_no_output() {
    let dir = scratch("bad");
    let (a, b) = clouds(&dir);
    let three_d = dir.join("cube.npy");
    npy::write(&three_d, &[0.0f32; 16], &[2, 2, 2, 2]).unwrap();
    let nan = dir.join("nan.npy");
    npy::write(&nan, &[0.0, f32::NAN, 1.0, 2.0], &[2, 2]).unwrap();
    let int8 = dir.join("int8.npy");
    raw_npy(&int8, "|i1", "(2, 2)", &[1, 2, 3, 4]);
    let three_cols = dir.join("wide.npy");
    npy::write(&three_cols, &[0.0f32; 6], &[2, 3]).unwrap();
    let full = dir.join("full");
    std::fs::create_dir_all(&full).unwrap();
    std::fs::write(full.join("keep.txt"), "mine").unwrap();
    let file = dir.join("file.txt");
    std::fs::write(&file, "x").unwrap();
    let missing = dir.join("missing.npy");
    let out = dir.join("out");
    let transport = |src: &Path, out: &Path| {
        morphogen(&[
            "transport",
            "--source",
            s(src),
            "--target",
            s(&b),
            "--out",
            s(out),
        ])
    };
    let cases: Vec<(&str, Output, &str)> = vec![
        ("missing file", transport(&missing, &out), "no such file"),
        ("4-D array", transport(&three_d, &out), "2-D array"),
        ("NaN", transport(&nan, &out), "not finite"),
        ("int8 dtype", transport(&int8, &out), "i1"),
        (
            "dimension mismatch",
            transport(&three_cols, &out),
            "same dimension",
        ),
        ("non-empty output", transport(&a, &full), "not empty"),
        (
            "unwritable output",
            transport(&a, &file.join("out")),
            "cannot create",
        ),
        (
            "unknown preset",
            morphogen(&["biome", "--preset", "drought", "--out", s(&out)]),
            "unknown preset",
        ),
        (
            "bad cost",
            morphogen(&[
                "transport",
                "--source",
                s(&a),
                "--target",
                s(&b),
                "--cost",
                "l7",
                "--out",
                s(&out),
            ]),
            "unknown cost",
        ),
        (
            "Anderson memory",
            morphogen(&[
                "transport",
                "--source",
                s(&a),
                "--target",
                s(&b),
                "--anderson",
                "9",
                "--out",
                s(&out),
            ]),
            "between 1 and 8",
        ),
    ];
    for (what, run, needle) in cases {
        let message = stderr(&run);
        assert_eq!(run.status.code(), Some(2), "{what}: {message}");
        assert!(
            message.contains(needle),
            "{what}: {message:?} lacks {needle:?}"
        );
        assert!(!out.exists(), "{what}: an output directory was left behind");
    }
    assert_eq!(
        std::fs::read_dir(&full).unwrap().count(),
        1,
        "the full directory was touched"
    );
}

#[test]
fn sharded_jobs_merge_into_the_unsharded_result() {
    let dir = scratch("shards");
    // Flow: particles split in three.
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo_flow.safetensors");
    let flow = |extra: &[&str], out: &Path| {
        let mut args = vec![
            "flow",
            "--model",
            s(&model),
            "--gaussian",
            "30",
            "--save-at",
            "0.5,1",
        ];
        args.extend_from_slice(extra);
        args.extend(["--out", s(out)]);
        morphogen(&args)
    };
    let whole = dir.join("flow_whole");
    assert!(flow(&[], &whole).status.success());
    let parts: Vec<PathBuf> = (0..3).map(|i| dir.join(format!("flow_{i}"))).collect();
    for (i, p) in parts.iter().enumerate() {
        let run = flow(&["--shard", &format!("{i}/3")], p);
        assert!(run.status.success(), "{}", stderr(&run));
    }
    let merged = dir.join("flow_merged");
    let mut args = vec!["merge"];
    args.extend(parts.iter().rev().map(|p| s(p)));
    args.extend(["--out", s(&merged)]);
    let run = morphogen(&args);
    assert!(run.status.success(), "{}", stderr(&run));
    let (a, b) = (
        npy::read(&whole.join("states.npy")).unwrap(),
        npy::read(&merged.join("states.npy")).unwrap(),
    );
    assert_eq!(a.shape, [2, 30, 2]);
    assert_eq!(
        a, b,
        "per-particle integration does not depend on the split"
    );
    read_summary(&merged);
    // A missing shard is refused.
    let run = morphogen(&[
        "merge",
        s(&parts[0]),
        s(&parts[2]),
        "--out",
        s(&dir.join("bad")),
    ]);
    assert_eq!(run.status.code(), Some(2));
    assert!(stderr(&run).contains("missing [1]"), "{}", stderr(&run));

    // Transport: a batch of 4 problems in two shards.
    let x: Vec<f32> = (0..4 * 20 * 2)
        .map(|i| ((i * 37 % 17) as f32) / 17.0)
        .collect();
    let y: Vec<f32> = (0..4 * 25 * 2)
        .map(|i| ((i * 29 % 23) as f32) / 23.0)
        .collect();
    let (px, py) = (dir.join("bx.npy"), dir.join("by.npy"));
    npy::write(&px, &x, &[4, 20, 2]).unwrap();
    npy::write(&py, &y, &[4, 25, 2]).unwrap();
    let transport = |extra: &[&str], out: &Path| {
        let mut args = vec![
            "transport",
            "--source",
            s(&px),
            "--target",
            s(&py),
            "--eps",
            "0.1",
        ];
        args.extend(["--tol", "1e-6"]);
        args.extend_from_slice(extra);
        args.extend(["--out", s(out)]);
        morphogen(&args)
    };
    let whole = dir.join("ot_whole");
    assert!(transport(&[], &whole).status.success());
    for i in 0..2 {
        let run = transport(
            &["--shard", &format!("{i}/2")],
            &dir.join(format!("ot_{i}")),
        );
        assert!(run.status.success(), "{}", stderr(&run));
    }
    let merged = dir.join("ot_merged");
    let ot0 = dir.join("ot_0");
    let ot1 = dir.join("ot_1");
    let run = morphogen(&["merge", s(&ot0), s(&ot1), "--out", s(&merged)]);
    assert!(run.status.success(), "{}", stderr(&run));
    let (a, b) = (
        npy::read(&whole.join("f.npy")).unwrap(),
        npy::read(&merged.join("f.npy")).unwrap(),
    );
    assert_eq!(a.shape, [4, 20]);
    assert_eq!(a.shape, b.shape);
    read_summary(&merged);
    for (u, v) in a.data.iter().zip(&b.data) {
        assert!((u - v).abs() < 1e-3, "{u} vs {v}");
    }

    // Biome: a sweep of three seeds in two shards.
    for i in 0..2 {
        let out = dir.join(format!("sweep_{i}"));
        let shard = format!("{i}/2");
        let run = morphogen(&[
            "biome",
            "--height",
            "16",
            "--width",
            "landscape",
            "--steps",
            "5",
            "--seeds",
            "3..6",
            "--shard",
            &shard,
            "--out",
            s(&out),
        ]);
        assert!(run.status.success(), "{}", stderr(&run));
    }
    let merged = dir.join("sweep");
    let (s0, s1) = (dir.join("sweep_0"), dir.join("sweep_1"));
    let run = morphogen(&["merge", s(&s1), s(&s0), "--out", s(&merged)]);
    assert!(run.status.success(), "{}", stderr(&run));
    let csv = std::fs::read_to_string(merged.join("sweep.csv")).unwrap();
    for dir in [&s0, &s1, &merged] {
        assert!(dir.join("sweep.png").is_file(), "{}", dir.display());
    }
    let seeds: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(seeds, ["3", "4", "5"]);
    for (shard, seed) in [(&s0, 3), (&s1, 4), (&s1, 5)] {
        read_summary(&shard.join(format!("seed_{seed}")));
    }
    let sweep = read_summary(&merged);
    assert_eq!(sweep["runs"].as_array().unwrap().len(), 3);
    for run in sweep["runs"].as_array().unwrap() {
        assert!(run["wall_seconds"].as_f64().unwrap() > 0.0, "{run}");
    }
}

/// A growth head for the demo field's 2-D states: g(x, t) = 0.5 x₀ − t, written as
/// safetensors + spec.
fn growth_head(dir: &Path, name: &str, sign: f32) -> PathBuf {
    use morphogen::flow::{Activation, Dense, TimeInput, VelocityField};
    let head = VelocityField {
        dim: 2,
        time: TimeInput::Last,
        time_scale: 1.0,
        cond_dim: 0,
        time_embedding: None,
        residual: false,
        activation: Activation::Identity,
        output_activation: Activation::Identity,
        scalar: true,
        layers: vec![Dense {
            inputs: 3,
            outputs: 1,
            weight: vec![0.5 * sign, 0.0, -sign],
            bias: vec![0.0],
        }],
    };
    let path = dir.join(format!("{name}.safetensors"));
    head.save(&path, &dir.join(format!("{name}.json"))).unwrap();
    path
}

#[test]
fn stochastic_branching_flows_write_weights_and_shard_exactly() {
    let dir = scratch("sde");
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo_flow.safetensors");
    let (up, down) = (
        growth_head(&dir, "up", 1.0),
        growth_head(&dir, "down", -1.0),
    );
    let run_sde = |extra: &[&str], out: &Path| {
        let mut args = vec![
            "flow",
            "--model",
            s(&model),
            "--model",
            s(&model),
            "--growth",
            s(&up),
            "--growth",
            s(&down),
            "--solver",
            "sra1",
            "--sigma",
            "0.4",
            "--bridge",
            "--steps",
            "20",
            "--gaussian",
            "24",
            "--save-at",
            "0.5,1",
            "--seed",
            "9",
        ];
        args.extend_from_slice(extra);
        args.extend(["--out", s(out)]);
        morphogen(&args)
    };
    let whole = dir.join("whole");
    let run = run_sde(&[], &whole);
    assert!(run.status.success(), "{}", stderr(&run));
    assert_eq!(shape(&whole.join("states.npy")), [2, 2, 24, 2]);
    assert_eq!(shape(&whole.join("weights.npy")), [2, 2, 24]);
    assert!(whole.join("trajectories.png").is_file());
    assert!(whole.join("weights.png").is_file());
    let summary = read_summary(&whole);
    assert_eq!(summary["ess"].as_array().unwrap().len(), 2, "{summary}");
    // The noise follows each particle's index in the whole set: shards merge exactly.
    let parts: Vec<PathBuf> = (0..2).map(|i| dir.join(format!("part_{i}"))).collect();
    for (i, p) in parts.iter().enumerate() {
        let run = run_sde(&["--shard", &format!("{i}/2")], p);
        assert!(run.status.success(), "{}", stderr(&run));
    }
    let merged = dir.join("merged");
    let run = morphogen(&["merge", s(&parts[1]), s(&parts[0]), "--out", s(&merged)]);
    assert!(run.status.success(), "{}", stderr(&run));
    for name in ["states.npy", "weights.npy"] {
        assert_eq!(
            npy::read(&whole.join(name)).unwrap(),
            npy::read(&merged.join(name)).unwrap(),
            "{name}"
        );
    }
    let merged_summary = read_summary(&merged);
    let shards: f64 = parts
        .iter()
        .map(|p| read_summary(p)["wall_seconds"].as_f64().unwrap())
        .sum();
    let total = merged_summary["shards_wall_seconds"].as_f64().unwrap();
    assert!((total - shards).abs() < 1e-9, "{total} vs {shards}");
    let (a, b) = (&summary["mass"][1][0], &merged_summary["mass"][1][0]);
    assert!(
        (a.as_f64().unwrap() - b.as_f64().unwrap()).abs() < 1e-3,
        "{a} vs {b}"
    );
    // Noise needs an SDE scheme: refused with the way out.
    let run = morphogen(&[
        "flow",
        "--model",
        s(&model),
        "--gaussian",
        "4",
        "--sigma",
        "0.5",
        "--out",
        s(&dir.join("bad")),
    ]);
    assert_eq!(run.status.code(), Some(2));
    assert!(stderr(&run).contains("em or sra1"), "{}", stderr(&run));
    assert!(!dir.join("bad").exists());
}

#[test]
fn the_demo_writes_its_pictures_and_summary() {
    let dir = scratch("demo");
    let out = dir.join("demo");
    let run = morphogen(&[
        "demo",
        "--biome-steps",
        "10",
        "--coffee-size",
        "16",
        "--out",
        s(&out),
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    for file in [
        "transport_map.png",
        "flow_trajectories.png",
        "biome/timelapse.gif",
        "biome/final.png",
        "biome/metrics.csv",
        "biome/metrics.png",
        "coffee/curves.png",
        "coffee/curves.csv",
        "coffee/timelapse.gif",
        "summary.json",
    ] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    let summary = read_summary(&out);
    assert_eq!(summary["transport"]["converged"], true);
    assert_eq!(summary["biome"]["steps"], 10);
    assert_eq!(summary["coffee"]["steps"], 99_944);
    for part in ["transport", "flow", "biome", "coffee"] {
        assert!(
            summary[part]["wall_seconds"].as_f64().unwrap() > 0.0,
            "{part}"
        );
    }
    // Run again into the same directory: refused without --force.
    let again = morphogen(&["demo", "--biome-steps", "10", "--out", s(&out)]);
    assert_eq!(again.status.code(), Some(2));
}

#[test]
fn coffee_writes_curves_profiles_frames_and_resumes_exactly() {
    let dir = scratch("coffee");
    let whole = dir.join("whole");
    let run = |out: &Path, extra: &[&str]| {
        let mut args = vec![
            "coffee",
            "--size",
            "16",
            "--steps",
            "6000",
            "--samples",
            "13",
            "--replicas",
            "3",
            "--seed",
            "5",
            "--frames-every",
            "4",
            "--out",
            s(out),
        ];
        args.extend_from_slice(extra);
        morphogen(&args)
    };
    let out = run(&whole, &["--checkpoint-every", "6"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = read_summary(&whole);
    assert_eq!(summary["samples"], 13);
    assert_eq!(summary["n"], 16);
    assert_eq!(summary["grain"], 3);
    let csv = std::fs::read_to_string(whole.join("curves.csv")).unwrap();
    assert!(csv.starts_with("step,attempts,entropy,complexity,adjusted_complexity,entropy_se"));
    assert_eq!(csv.lines().count(), 14);
    assert_eq!(shape(&whole.join("profile.npy")), vec![13, 16]);
    // Every row of the profile holds the mean cream per cell: 128 cream cells in 16 rows
    // of 16 cells, so the rows average to 1/2.
    let profile = npy::read(&whole.join("profile.npy")).unwrap();
    for row in profile.data.chunks(16) {
        assert!((row.iter().sum::<f32>() / 16.0 - 0.5).abs() < 1e-6);
    }
    for k in [0, 4, 8, 12] {
        assert!(
            whole.join(format!("frames/sample_{k:05}.png")).is_file(),
            "frame {k}"
        );
    }
    for name in ["curves.png", "timelapse.gif", "checkpoint.safetensors"] {
        assert!(whole.join(name).is_file(), "{name}");
    }
    // Resumed from the checkpoint after sample 5, into a fresh directory.
    let resumed = dir.join("resumed");
    let checkpoint = whole.join("checkpoints/sample_00005.safetensors");
    let out = morphogen(&["coffee", "--resume", s(&checkpoint), "--out", s(&resumed)]);
    assert!(out.status.success(), "{}", stderr(&out));
    for name in ["checkpoint.safetensors", "curves.csv", "profile.npy"] {
        assert!(
            std::fs::read(whole.join(name)).unwrap() == std::fs::read(resumed.join(name)).unwrap(),
            "{name}: a resumed run ends where the uninterrupted one does"
        );
    }
    // The scaling study over three sizes, both models.
    let scaling = dir.join("scaling");
    let out = morphogen(&[
        "coffee",
        "--sizes",
        "8,12,16",
        "--steps",
        "2000",
        "--samples",
        "11",
        "--out",
        s(&scaling),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let csv = std::fs::read_to_string(scaling.join("scaling.csv")).unwrap();
    assert_eq!(csv.lines().count(), 7, "{csv}");
    assert!(scaling.join("scaling.png").is_file());
    assert!(scaling.join("n12_noninteracting/curves.csv").is_file());
    let summary = read_summary(&scaling);
    assert!(summary["fits"]["max_entropy_interacting"]["r_squared"].is_number());
}

#[test]
fn coffee_bad_input_exits_with_2_and_a_clear_message() {
    let dir = scratch("coffee-bad");
    for (args, needle) in [
        (vec!["--size", "15"], "even"),
        (vec!["--size", "2"], "at least 4"),
        (
            vec!["--size", "16", "--grain", "17"],
            "larger than the grid",
        ),
        (vec!["--size", "16", "--grain", "4"], "odd"),
        (vec!["--replicas", "0"], "at least 1"),
        (vec!["--samples", "1"], "at least 2"),
        (vec!["--steps", "99999999999999999999999"], "--steps"),
        (vec!["--model", "swirl"], "interacting or noninteracting"),
        (vec!["--adjust", "both"], "rowwise or cellwise"),
        (vec!["--boundary", "open"], "closed or periodic"),
        (vec!["--sizes", "8,12"], "at least 3 sizes"),
        (
            vec!["--resume", "/nonexistent/checkpoint.safetensors"],
            "no such file",
        ),
    ] {
        let out_dir = dir.join("out");
        let mut full = vec!["coffee"];
        full.extend_from_slice(&args);
        full.extend_from_slice(&["--out", s(&out_dir)]);
        let out = morphogen(&full);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
        assert!(!out_dir.exists(), "{args:?} left output behind");
    }
}

#[test]
fn evolve_writes_fitness_and_a_loadable_program_and_resumes_exactly() {
    let dir = scratch("evolve");
    let base = [
        "evolve",
        "--height",
        "12",
        "--population",
        "4",
        "--steps-per-eval",
        "30",
        "--seed",
        "2",
    ];
    let whole = dir.join("whole");
    let mut args = base.to_vec();
    args.extend_from_slice(&[
        "--generations",
        "3",
        "--checkpoint-every",
        "1",
        "--out",
        s(&whole),
    ]);
    let out = morphogen(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let csv = std::fs::read_to_string(whole.join("fitness.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4, "{csv}");
    assert!(csv.starts_with("generation,best,mean"));
    for name in ["fitness.png", "best_program.npy", "checkpoint.safetensors"] {
        assert!(whole.join(name).is_file(), "{name}");
    }
    let summary = read_summary(&whole);
    assert_eq!(summary["generations"], 3);
    // The evolved program loads into a biome run.
    let grown = dir.join("grown");
    let program = whole.join("best_program.npy");
    let out = morphogen(&[
        "biome",
        "--height",
        "16",
        "--steps",
        "5",
        "--program",
        s(&program),
        "--out",
        s(&grown),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Resumed after generation 1, it ends where the uninterrupted run ends.
    let resumed = dir.join("resumed");
    let checkpoint = whole.join("checkpoints/generation_0001.safetensors");
    let out = morphogen(&[
        "evolve",
        "--resume",
        s(&checkpoint),
        "--generations",
        "3",
        "--out",
        s(&resumed),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    for name in ["checkpoint.safetensors", "fitness.csv", "best_program.npy"] {
        assert!(
            std::fs::read(whole.join(name)).unwrap() == std::fs::read(resumed.join(name)).unwrap(),
            "{name}: a resumed evolution ends where the uninterrupted one does"
        );
    }
    // Bad input: an odd population, nothing written.
    let bad_out = dir.join("bad");
    let out = morphogen(&["evolve", "--population", "5", "--out", s(&bad_out)]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("even"), "{}", stderr(&out));
    assert!(!bad_out.exists());
}

#[test]
fn train_writes_a_loadable_model_losses_and_samples_and_resumes_exactly() {
    let dir = scratch("train");
    let base = [
        "train",
        "--steps",
        "24",
        "--batch",
        "32",
        "--width",
        "16",
        "--samples",
        "64",
        "--seed",
        "3",
    ];
    let whole = dir.join("whole");
    let mut args = base.to_vec();
    args.extend_from_slice(&["--checkpoint-every", "10", "--out", s(&whole)]);
    let out = morphogen(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let csv = std::fs::read_to_string(whole.join("loss.csv")).unwrap();
    assert_eq!(csv.lines().count(), 25, "{csv}");
    assert!(csv.starts_with("step,loss_0"));
    for name in [
        "loss.png",
        "samples.png",
        "model.json",
        "checkpoints/step_0000020.safetensors",
    ] {
        assert!(whole.join(name).is_file(), "{name}");
    }
    let summary = read_summary(&whole);
    assert_eq!(summary["method"], "otcfm");
    assert!(summary["w2_squared"].as_f64().unwrap() > 0.0);
    assert!(summary["nfe_dopri5"].as_f64().unwrap() >= 6.0);
    // The model loads as TorchCFM's MLP (no spec: net.0/2/4/6) and with its spec alike.
    let weights = whole.join("model.safetensors");
    let plain = morphogen::flow::VelocityField::load(&weights, None).unwrap();
    let specified =
        morphogen::flow::VelocityField::load(&weights, Some(&whole.join("model.json"))).unwrap();
    assert_eq!(plain, specified);
    assert_eq!(
        plain.parameters(),
        3 * 16 + 16 + 2 * (16 * 16 + 16) + 16 * 2 + 2
    );
    // Resumed from step 20, it ends where the uninterrupted run ends.
    let resumed = dir.join("resumed");
    let checkpoint = whole.join("checkpoints/step_0000020.safetensors");
    let out = morphogen(&[
        "train",
        "--resume",
        s(&checkpoint),
        "--steps",
        "24",
        "--samples",
        "64",
        "--out",
        s(&resumed),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    for name in ["checkpoint.safetensors", "loss.csv", "model.safetensors"] {
        assert!(
            std::fs::read(whole.join(name)).unwrap() == std::fs::read(resumed.join(name)).unwrap(),
            "{name}: a resumed run ends where the uninterrupted one does"
        );
    }
    // Short runs on small batches and networks, with `flags` and the output directory.
    let small = |flags: &[&str], out: &Path| {
        let mut args = vec!["train", "--batch", "32", "--width", "16", "--samples", "64"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["--out", s(out)]);
        morphogen(&args)
    };
    // SB-CFM with score networks (SF2M): both networks saved, both losses logged, and
    // the SDE's samples measured beside the ODE's.
    let sf2m = dir.join("sf2m");
    let out = small(
        &[
            "--method", "sbcfm", "--sigma", "0.2", "--score", "--steps", "12",
        ],
        &sf2m,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let csv = std::fs::read_to_string(sf2m.join("loss.csv")).unwrap();
    assert!(csv.starts_with("step,loss_0,score_loss_0\n"), "{csv}");
    assert_eq!(csv.lines().count(), 13);
    let score = morphogen::flow::VelocityField::load(
        &sf2m.join("score.safetensors"),
        Some(&sf2m.join("score.json")),
    )
    .unwrap();
    assert_eq!(score.dim, 2);
    let summary = read_summary(&sf2m);
    assert_eq!(summary["score"], true);
    assert!(summary["w2_squared_sde"].as_f64().unwrap() > 0.0);
    assert!(summary["final_score_loss"][0].as_f64().unwrap() > 0.0);
    // A sigma sweep: one model per value, in the same dispatches.
    let sweep = dir.join("sweep");
    let out = small(
        &["--method", "icfm", "--sigma", "0.05,0.5", "--steps", "4"],
        &sweep,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = read_summary(&sweep);
    assert_eq!(summary["models"], 2);
    assert_eq!(summary["sigmas"], serde_json::json!([0.05, 0.5]));
    assert!(sweep.join("model_1.safetensors").is_file());
    // Bad input: exit 2, a message naming the flag, nothing written.
    for (flags, says) in [
        (&["--score", "--sigma", "0"][..], "sigma"),
        (&["--exact-pairing", "gpu"][..], "--exact-pairing"),
        (&["--sigma", "0.1,x"][..], "--sigma"),
        (&["--sigma", "0.1,0.2", "--models", "3"][..], "--models"),
        (&["--method", "ot"][..], "--method"),
        (&["--batch", "1"][..], "batch"),
        (&["--task", "8gaussians"][..], "--task"),
        (&["--activation", "swish"][..], "--activation"),
        (&["--batch", "2048"][..], "1024"),
    ] {
        let bad_out = dir.join("bad");
        let mut args = vec!["train"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["--out", s(&bad_out)]);
        let out = morphogen(&args);
        assert_eq!(out.status.code(), Some(2), "{flags:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{flags:?}: {}", stderr(&out));
        assert!(!bad_out.exists());
    }
}
