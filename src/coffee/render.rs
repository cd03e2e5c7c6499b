//! Pictures of a replica: the fine, coarse and adjusted states side by side (the paper's
//! Figs. 3-4), coffee dark and cream light.

use crate::automata::Image;
use crate::coffee::run::Grids;

const COFFEE: [f64; 3] = [52.0, 30.0, 18.0];
const CREAM: [f64; 3] = [246.0, 232.0, 205.0];
const GAP: [u8; 3] = [255, 255, 255];

fn shade(t: f64) -> [u8; 3] {
    let t = t.clamp(0.0, 1.0);
    [0, 1, 2].map(|i| (COFFEE[i] + (CREAM[i] - COFFEE[i]) * t).round() as u8)
}

/// The three states of `grids` side by side, each cell `zoom × zoom` pixels, panels
/// `zoom` pixels apart. Fine cells shade by their value over `fine_max` (1 for the
/// interacting model; the non-interacting counts saturate there), coarse cells by bucket.
pub fn render(grids: &Grids, fine_max: u32, zoom: u32) -> Image {
    let n = grids.n;
    let z = zoom.max(1) as usize;
    let side = n * z;
    let width = 3 * side + 2 * z;
    let mut rgba = vec![0u8; width * side * 4];
    let fine_max = f64::from(fine_max.max(1));
    let panels: [(&[u8], f64); 3] = [
        (&grids.fine, fine_max),
        (&grids.coarse, 2.0),
        (&grids.adjusted, 6.0),
    ];
    for y in 0..side {
        for x in 0..width {
            let panel = x / (side + z);
            let px = x % (side + z);
            let colour = if px >= side {
                GAP
            } else {
                let (cells, max) = panels[panel];
                shade(f64::from(cells[(y / z) * n + px / z]) / max)
            };
            let at = (y * width + x) * 4;
            rgba[at..at + 3].copy_from_slice(&colour);
            rgba[at + 3] = 255;
        }
    }
    Image {
        width: width as u32,
        height: side as u32,
        rgba,
    }
}
