//! Every figure drawn from a small real run: the PNG decodes to the promised size, is not
//! blank, and shows the colour of each series it promises.

mod common;

use common::{ctx, seed, TestRng};
use morphogen::biome::{BiomeConfig, Census, Preset, RunOptions, Width, World};
use morphogen::coffee::{Automaton, CoffeeConfig, Extremes, Model, Schedule};
use morphogen::figures::{self, engines, palette, Figure, Layer, LineChart, Scatter, Series};
use morphogen::flow::sde::{self, Branch, SdeConfig};
use morphogen::flow::{self, FlowConfig, VelocityField};
use morphogen::transport::{self, Coupling, PointCloud, Problem, SinkhornConfig};

/// Pixels of its colour a series must leave; a legend swatch (marker and short line)
/// leaves well under this.
const SERIES_INK: usize = 300;

/// The figure is non-blank, encodes as PNG, and contains each colour (antialiasing and
/// blending leave the exact colour somewhere, at the markers' centres or the lines).
fn check(name: &str, figure: &Figure, colours: &[palette::Rgb]) {
    assert_eq!(
        figure.rgb.len(),
        (figure.width * figure.height * 3) as usize
    );
    let ink = figure
        .rgb
        .chunks_exact(3)
        .filter(|p| p.iter().any(|&c| c < 200))
        .count();
    let area = (figure.width * figure.height) as usize;
    assert!(
        ink > area / 200,
        "{name}: only {ink} of {area} pixels are drawn"
    );
    // More of each series' colour than its legend swatch alone shows (see the control
    // in `a_legend_swatch_alone_is_not_a_drawn_series`).
    for &c in colours {
        let pixels = figure.pixels_of(c, 0.3);
        eprintln!("{name}: {pixels} pixels of {c:?}");
        assert!(
            pixels >= SERIES_INK,
            "{name}: {pixels} pixels of colour {c:?}, fewer than a drawn series leaves"
        );
    }
    let png = figure.png().unwrap();
    assert!(png.len() > 5_000, "{name}: {} bytes of PNG", png.len());
    if let Ok(dir) = std::env::var("MORPHOGEN_FIGURES_OUT") {
        figure
            .save(&std::path::Path::new(&dir).join(format!("{name}.png")))
            .unwrap();
    }
}

fn cloud(rng: &mut TestRng, n: usize, shift: f32) -> Vec<f32> {
    (0..2 * n)
        .map(|_| rng.normal() as f32 * 0.5 + shift)
        .collect()
}

#[test]
fn transport_figures_show_source_target_map_pairs_and_convergence() {
    let mut rng = TestRng::new(seed("transport figures"));
    let (x, y) = (cloud(&mut rng, 120, 0.0), cloud(&mut rng, 150, 1.5));
    let problem = Problem::new(
        PointCloud::new(x.clone(), 2).unwrap(),
        PointCloud::new(y.clone(), 2).unwrap(),
    )
    .unwrap();
    let config = SinkhornConfig::default().eps_rel(0.05).threshold(1e-4);
    let coupling = Coupling::solve(ctx(), &problem, &config).unwrap();
    let mapped = coupling.map(&x).unwrap();
    let pairs = coupling.sample(60, 3).unwrap();
    let title = format!(
        "Entropic map, squared Euclidean cost, {}",
        engines::transport_parameters(coupling.solution())
    );
    assert!(
        title.contains("n = 120") && title.contains("m = 150"),
        "{title}"
    );
    let map = engines::transport_map(&title, &x, &y, &mapped, &pairs).unwrap();
    check(
        "transport_map",
        &map,
        &[palette::BLUE, palette::ORANGE, palette::VERMILLION],
    );
    let convergence =
        engines::convergence("Sinkhorn convergence", coupling.solution(), 1e-4).unwrap();
    check(
        "convergence",
        &convergence,
        &[palette::BLUE, palette::VERMILLION],
    );
    // A solve that stopped at its first check still draws.
    let one = transport::solve(ctx(), &problem, &config.clone().max_iter(10)).unwrap();
    engines::convergence("one check", &one, 1e-4).unwrap();
}

#[test]
fn flow_figures_show_paths_by_time_and_branch_weights() {
    let x0 = flow::eight_gaussians(300, 5.0, 0.5, seed("flow figures"));
    let field = VelocityField::rotation(1.5);
    let times: Vec<f64> = (1..=8).map(|k| f64::from(k) / 8.0).collect();
    let result = flow::integrate(
        ctx(),
        &field,
        &x0,
        &[],
        &FlowConfig::default().steps(20).save_at(&times),
    )
    .unwrap();
    let paths = engines::trajectories("Rotation, rk4, 20 steps", &result).unwrap();
    // Paths run from dark (early) to yellow (late) on the viridis scale.
    check(
        "trajectories",
        &paths,
        &[palette::BLUE, palette::ORANGE, palette::viridis(1.0)],
    );

    let branches = [
        Branch::new(VelocityField::rotation(1.0)),
        Branch::new(VelocityField::rotation(-1.0)),
    ];
    let config = SdeConfig::default()
        .steps(40)
        .save_at(&times)
        .initial_weights(&[0.3, 0.7])
        .seed(5);
    let run = sde::simulate(ctx(), &branches, &x0, &[], &[], &config).unwrap();
    let tracks = engines::branch_trajectories("Two branches", &run, &x0).unwrap();
    check("branch_trajectories", &tracks, &palette::SERIES[..2]);
    let weights = engines::sde_weights("Two branches", &run).unwrap();
    check("sde_weights", &weights, &palette::SERIES[..2]);
    // Only the first two coordinates are drawn; one coordinate is an error.
    let line = flow::integrate(
        ctx(),
        &VelocityField::linear(&[-1.0], &[0.0]).unwrap(),
        &[1.0, 2.0],
        &[],
        &FlowConfig::default().steps(4),
    )
    .unwrap();
    let err = engines::trajectories("1-D", &line).unwrap_err().to_string();
    assert!(err.contains("at least 2 dimensions"), "{err}");
}

#[test]
fn biome_figures_show_agents_reproduction_and_a_sweep() {
    let mut world = World::new(
        ctx(),
        &BiomeConfig::preset(Preset::Persistence)
            .height(48)
            .width(Width::Columns(96)),
        3,
    )
    .unwrap();
    let mut rows: Vec<Census> = Vec::new();
    world
        .run_with(40, &RunOptions::default().census(true), |_, census| {
            rows.extend_from_slice(census);
            Ok(())
        })
        .unwrap();
    assert_eq!(rows.len(), 40);
    let metrics = engines::biome_metrics("Biome 48 x 96, seed 3", &rows).unwrap();
    check("biome_metrics", &metrics, &[palette::BLUE, palette::ORANGE]);
    let sweep = engines::sweep("Final agents per seed", &[(1, 120), (2, 80), (3, 0)]).unwrap();
    check("sweep", &sweep, &[palette::GREEN]);
}

#[test]
fn coffee_figures_show_entropy_complexities_and_the_scaling_fits() {
    let s = seed("coffee_figures_show_entropy_complexities_and_the_scaling_fits");
    let mut runs = Vec::new();
    let mut first = Vec::new();
    for n in [8, 12, 16] {
        for model in [Model::Interacting, Model::NonInteracting] {
            let config = CoffeeConfig::default().model(model).size(n).replicas(2);
            let mut automaton = Automaton::new(ctx(), &config, s).unwrap();
            let mut curves = Vec::new();
            automaton
                .run_with(&Schedule::spread(3000, 31), |sample| {
                    curves.push(sample.curve());
                    Ok(())
                })
                .unwrap();
            runs.push(Extremes::of(model, n, &curves));
            if first.is_empty() {
                first = curves;
            }
        }
    }
    let curves = engines::coffee_curves("Coffee 8 x 8", "swaps", &first).unwrap();
    check(
        "coffee_curves",
        &curves,
        &[palette::BLUE, palette::VERMILLION, palette::GREEN],
    );
    let scaling = engines::coffee_scaling(&runs).unwrap();
    check(
        "coffee_scaling",
        &scaling,
        &[palette::BLUE, palette::ORANGE],
    );
}

#[test]
fn a_log_axis_drops_what_it_cannot_show_and_labels_write_into_frames() {
    let chart = LineChart::new("log axis", "x", "y")
        .log_y()
        .series(Series::new(
            "with zeros",
            vec![(0.0, 0.0), (1.0, 1e-3), (2.0, 1e-6)],
            palette::PURPLE,
        ));
    check(
        "log_axis",
        &chart.draw(600, 400).unwrap(),
        &[palette::PURPLE],
    );
    let arrows = Scatter::new("arrows", "x", "y").layer(Layer::Arrows {
        name: "displacements".into(),
        pairs: (0..20)
            .map(|k| [[k as f32, 0.0], [k as f32 + 0.5, 1.0]])
            .collect(),
        colour: palette::VERMILLION,
        alpha: 1.0,
    });
    check(
        "arrows",
        &arrows.draw(500, 500).unwrap(),
        &[palette::VERMILLION],
    );
    let (w, h) = (200u32, 120u32);
    let mut rgba = vec![40u8; (w * h * 4) as usize];
    figures::label_rgba(&mut rgba, w, h, "step 120").unwrap();
    let white = rgba.chunks_exact(4).filter(|p| p[0] > 200).count();
    let black = rgba.chunks_exact(4).filter(|p| p[0] < 120).count();
    assert!(
        white > 100 && black > 10,
        "{white} light and {black} dark pixels in the label"
    );
    assert!(
        rgba[(w * h * 4 - 4) as usize] == 40,
        "the rest of the frame is untouched"
    );
}

#[test]
fn a_legend_swatch_alone_is_not_a_drawn_series() {
    // The control for `check`: a series without points still has its legend entry, and
    // that must not pass for a drawn series.
    let chart = LineChart::new("control", "x", "y")
        .series(Series::new(
            "drawn",
            vec![(0.0, 0.0), (1.0, 1.0), (2.0, 0.5)],
            palette::BLUE,
        ))
        .series(Series::new("legend only", vec![], palette::VERMILLION));
    let figure = chart.draw(600, 400).unwrap();
    let (drawn, swatch) = (
        figure.pixels_of(palette::BLUE, 0.3),
        figure.pixels_of(palette::VERMILLION, 0.3),
    );
    eprintln!("drawn series {drawn} pixels, legend swatch alone {swatch}");
    assert!(swatch > 0, "the swatch is drawn");
    assert!(
        swatch < SERIES_INK && drawn >= SERIES_INK,
        "{swatch} vs {drawn}"
    );
}
