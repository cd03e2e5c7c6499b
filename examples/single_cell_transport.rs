//! Visual check of transport on real single-cell data: CD14+ monocytes are transported
//! onto dendritic cells (the PBMC subset that ships with scanpy, assets/pbmc) in their 50
//! PCA dimensions; pairs drawn from the coupling are shown on the cells' UMAP projection
//! (monocytes blue circles, dendritic cells orange triangles, coupled pairs grey, and
//! arrows from every other monocyte to the plan-weighted mean position of its dendritic
//! cells). Writes
//! `single_cell_transport.png`.
//!
//! `cargo run --release --example single_cell_transport [-- OUT.png]`

use std::path::Path;

use morphogen::figures::{engines, palette, Layer, Mark, Scatter};
use morphogen::gpu::GpuContext;
use morphogen::io::npy;
use morphogen::transport::{Coupling, PointCloud, Problem, SinkhornConfig};

fn load(name: &str) -> Result<(Vec<f32>, usize), Box<dyn std::error::Error>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets/pbmc")
        .join(name);
    let array = npy::read(&path)?;
    Ok((array.data, array.shape[1]))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "single_cell_transport.png".into());
    let (mono, d) = load("monocytes_pca.npy")?;
    let (dend, _) = load("dendritic_pca.npy")?;
    let (mono_umap, _) = load("monocytes_umap.npy")?;
    let (dend_umap, _) = load("dendritic_umap.npy")?;
    let ctx = GpuContext::new()?;
    let problem = Problem::new(PointCloud::new(mono, d)?, PointCloud::new(dend, d)?)?;
    let config = SinkhornConfig::default().eps_rel(0.02).threshold(1e-4);
    let coupling = Coupling::solve(&ctx, &problem, &config)?;
    let s = coupling.solution();
    println!(
        "{} monocytes -> {} dendritic cells in {d} PCA dimensions: {} iterations, marginal \
         error {:.1e}, <C,P> {:.2}, on {}",
        problem.n(),
        problem.m(),
        s.iterations,
        s.marginal_error,
        s.primal_cost,
        ctx.adapter()
    );
    let pairs = coupling.sample(400, 1)?;
    let xy = |v: &[f32], i: usize| [v[2 * i], v[2 * i + 1]];
    let title = format!(
        "CD14+ monocytes to dendritic cells (PBMC), coupled in 50 PCA dimensions\n{}",
        engines::transport_parameters(s)
    );
    // The entropic map read in UMAP coordinates: each monocyte's plan row averages the
    // dendritic cells' UMAP positions (the map itself lives in the 50 PCA dimensions).
    let plan = coupling.plan()?;
    let m = problem.m();
    let arrows: Vec<[[f32; 2]; 2]> = (0..problem.n())
        .step_by(2)
        .map(|i| {
            let row = &plan[i * m..(i + 1) * m];
            let mass: f32 = row.iter().sum();
            let mut to = [0.0f32; 2];
            for (j, &p) in row.iter().enumerate() {
                let y = xy(&dend_umap, j);
                to[0] += p * y[0] / mass;
                to[1] += p * y[1] / mass;
            }
            [xy(&mono_umap, i), to]
        })
        .collect();
    let plot = Scatter::new(title, "UMAP 1", "UMAP 2")
        .layer(Layer::Segments {
            name: format!("{} pairs drawn from the coupling", pairs.len()),
            pairs: pairs
                .iter()
                .map(|&(i, j)| [xy(&mono_umap, i as usize), xy(&dend_umap, j as usize)])
                .collect(),
            colour: palette::GREY,
            alpha: 0.15,
        })
        .layer(Layer::Arrows {
            name: "entropic map (plan rows averaged in UMAP)".into(),
            pairs: arrows,
            colour: palette::BLACK,
            alpha: 0.6,
        })
        .layer(Layer::Points {
            name: format!("dendritic cells ({})", problem.m()),
            xy: (0..problem.m()).map(|j| xy(&dend_umap, j)).collect(),
            mark: Mark::Triangle,
            size: 4,
            colour: palette::ORANGE,
            alpha: 0.85,
        })
        .layer(Layer::Points {
            name: format!("CD14+ monocytes ({})", problem.n()),
            xy: (0..problem.n()).map(|i| xy(&mono_umap, i)).collect(),
            mark: Mark::Circle,
            size: 3,
            colour: palette::BLUE,
            alpha: 0.85,
        });
    plot.draw(900, 900)?.save(Path::new(&out))?;
    println!("wrote {out}");
    Ok(())
}
