//! The pictures the examples and the command line draw: a transport map and flow
//! trajectories, for 2-D data.

use crate::flow::FlowResult;
use crate::io::Canvas;

fn pairs(v: &[f32]) -> Vec<[f32; 2]> {
    v.chunks_exact(2).map(|p| [p[0], p[1]]).collect()
}

/// Source points (blue), target points (orange), and for each source point a grey
/// segment to where the map sends it (red). All arrays are N × 2, row-major.
pub fn transport_map(source: &[f32], target: &[f32], mapped: &[f32], size: u32) -> Canvas {
    let (src, dst, img) = (pairs(source), pairs(target), pairs(mapped));
    let all: Vec<[f32; 2]> = src.iter().chain(&dst).copied().collect();
    let mut canvas = Canvas::fit(size, size, [255, 255, 255], &all);
    for (a, b) in src.iter().zip(&img) {
        canvas.line(*a, *b, [120, 120, 120], 0.25);
    }
    for p in &dst {
        canvas.point(*p, 3.0, [240, 140, 20], 0.8);
    }
    for p in &src {
        canvas.point(*p, 2.5, [40, 90, 220], 0.8);
    }
    for p in &img {
        canvas.point(*p, 1.5, [200, 30, 30], 0.9);
    }
    canvas
}

/// Each particle's path through the save times (grey), its start (blue) and end
/// (orange), for a 2-D flow.
pub fn trajectories(result: &FlowResult, size: u32) -> Canvas {
    let (n, times) = (result.particles, result.times.len());
    let all: Vec<[f32; 2]> = (0..times)
        .flat_map(|k| (0..n).map(move |p| (k, p)))
        .map(|(k, p)| {
            let s = result.state(k, p);
            [s[0], s[1]]
        })
        .collect();
    let mut canvas = Canvas::fit(size, size, [255, 255, 255], &all);
    for p in 0..n {
        for k in 1..times {
            let (a, b) = (result.state(k - 1, p), result.state(k, p));
            canvas.line([a[0], a[1]], [b[0], b[1]], [110, 110, 110], 0.12);
        }
    }
    for p in 0..n {
        let (s, e) = (result.state(0, p), result.state(times - 1, p));
        canvas.point([s[0], s[1]], 1.5, [40, 90, 220], 0.7);
        canvas.point([e[0], e[1]], 1.5, [240, 140, 20], 0.8);
    }
    canvas
}
