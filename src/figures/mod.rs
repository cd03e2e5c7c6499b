//! Figures people can read: a title that says what was run, labelled axes with ticks, a
//! legend, and colours from the Okabe–Ito palette (distinguishable by colour-blind
//! readers) with a distinct marker per series (distinguishable in greyscale). Text is
//! set in DejaVu Sans, bundled, so nothing depends on the system's fonts.
//!
//! [`Scatter`], [`LineChart`] and [`BarChart`] draw any data; the functions of
//! [`engines`] draw what the engines produce (transport maps, flow trajectories, SDE
//! weights, biome metrics and sweeps, Sinkhorn convergence).
//!
//! ```no_run
//! use morphogen::figures::{LineChart, Series, palette};
//! let chart = LineChart::new("Marginal error per iteration", "iteration", "L1 error")
//!     .log_y()
//!     .series(Series::new("plain", vec![(10.0, 0.1), (20.0, 0.01)], palette::BLUE));
//! chart.draw(800, 500)?.save(std::path::Path::new("errors.png"))?;
//! # Ok::<(), morphogen::Error>(())
//! ```

mod chart;
pub mod engines;

pub use chart::{BarChart, Layer, LineChart, Mark, Scatter, Series};

use std::path::Path;
use std::sync::OnceLock;

use crate::error::{Error, Result};

/// DejaVu Sans (its licence is in `assets/fonts/LICENSE-DejaVu.txt`).
const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
/// The family name the charts ask for.
pub(crate) const FAMILY: &str = "sans-serif";

/// Registers the bundled font once per process.
pub(crate) fn register_font() -> Result<()> {
    static REGISTERED: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            plotters::style::register_font(FAMILY, plotters::style::FontStyle::Normal, FONT)
                .map_err(|_| "the bundled font could not be read".to_string())
        })
        .clone()
        .map_err(|message| Error::Figure {
            figure: "(any)".into(),
            message,
        })
}

/// Colours of the Okabe–Ito palette, which colour-blind readers tell apart, and greys.
pub mod palette {
    /// An RGB colour.
    pub type Rgb = [u8; 3];
    /// Blue.
    pub const BLUE: Rgb = [0, 114, 178];
    /// Orange.
    pub const ORANGE: Rgb = [230, 159, 0];
    /// Vermillion.
    pub const VERMILLION: Rgb = [213, 94, 0];
    /// Bluish green.
    pub const GREEN: Rgb = [0, 158, 115];
    /// Sky blue.
    pub const SKY: Rgb = [86, 180, 233];
    /// Reddish purple.
    pub const PURPLE: Rgb = [204, 121, 167];
    /// Yellow.
    pub const YELLOW: Rgb = [240, 228, 66];
    /// Black.
    pub const BLACK: Rgb = [0, 0, 0];
    /// Grey, for context (paths, coupled pairs).
    pub const GREY: Rgb = [110, 110, 110];
    /// The series colours in order.
    pub const SERIES: [Rgb; 7] = [BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY, BLACK];

    /// Viridis at `t` in [0, 1] (dark blue to yellow, monotone in lightness: a time axis
    /// that survives greyscale).
    pub fn viridis(t: f64) -> Rgb {
        const STOPS: [[f64; 3]; 5] = [
            [68.0, 1.0, 84.0],
            [59.0, 82.0, 139.0],
            [33.0, 145.0, 140.0],
            [94.0, 201.0, 98.0],
            [253.0, 231.0, 37.0],
        ];
        let x = t.clamp(0.0, 1.0) * 4.0;
        let k = (x.floor() as usize).min(3);
        let f = x - k as f64;
        let mix = |c: usize| (STOPS[k][c] * (1.0 - f) + STOPS[k + 1][c] * f).round() as u8;
        [mix(0), mix(1), mix(2)]
    }
}

/// A drawn figure: RGB pixels, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// Pixels per row.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// `width · height · 3` bytes.
    pub rgb: Vec<u8>,
}

impl Figure {
    /// A white figure.
    pub fn blank(width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            rgb: vec![255; width as usize * height as usize * 3],
        }
    }

    /// The pixels as RGBA (opaque).
    pub fn rgba(&self) -> Vec<u8> {
        self.rgb
            .chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect()
    }

    /// The figure as PNG bytes.
    pub fn png(&self) -> Result<Vec<u8>> {
        crate::io::encode_png(self.width, self.height, &self.rgba())
    }

    /// Writes the figure as a PNG file, whole or not at all.
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::io::write_png(path, self.width, self.height, &self.rgba())
    }

    /// The colour of pixel (x, y).
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let at = 3 * (y as usize * self.width as usize + x as usize);
        [self.rgb[at], self.rgb[at + 1], self.rgb[at + 2]]
    }

    /// How many pixels show `colour` drawn over white with an opacity of at least
    /// `min_alpha` (a translucent marker or line is the colour blended with the white
    /// behind it), within 10 levels per channel.
    pub fn pixels_of(&self, colour: palette::Rgb, min_alpha: f64) -> usize {
        // The opacity is read off the channel farthest from white.
        let key = (0..3).max_by_key(|&k| 255 - colour[k]).unwrap_or(0);
        let depth = 255.0 - f64::from(colour[key]);
        self.rgb
            .chunks_exact(3)
            .filter(|p| {
                let alpha = if depth > 0.0 {
                    (255.0 - f64::from(p[key])) / depth
                } else {
                    1.0
                };
                alpha >= min_alpha
                    && alpha <= 1.05
                    && (0..3).all(|k| {
                        let want = alpha * f64::from(colour[k]) + (1.0 - alpha) * 255.0;
                        (f64::from(p[k]) - want).abs() <= 10.0
                    })
            })
            .count()
    }

    /// Figures one below the other, left-aligned, on white.
    pub fn below(figures: &[Figure]) -> Self {
        let width = figures.iter().map(|f| f.width).max().unwrap_or(0);
        let height = figures.iter().map(|f| f.height).sum();
        let mut out = Self::blank(width, height);
        let mut y0 = 0usize;
        for f in figures {
            for y in 0..f.height as usize {
                let src = 3 * y * f.width as usize;
                let dst = 3 * ((y0 + y) * width as usize);
                out.rgb[dst..dst + 3 * f.width as usize]
                    .copy_from_slice(&f.rgb[src..src + 3 * f.width as usize]);
            }
            y0 += f.height as usize;
        }
        out
    }

    /// Figures side by side, top-aligned, on white.
    pub fn beside(figures: &[Figure]) -> Self {
        let width = figures.iter().map(|f| f.width).sum();
        let height = figures.iter().map(|f| f.height).max().unwrap_or(0);
        let mut out = Self::blank(width, height);
        let mut x0 = 0usize;
        for f in figures {
            for y in 0..f.height as usize {
                let src = 3 * y * f.width as usize;
                let dst = 3 * (y * width as usize + x0);
                out.rgb[dst..dst + 3 * f.width as usize]
                    .copy_from_slice(&f.rgb[src..src + 3 * f.width as usize]);
            }
            x0 += f.width as usize;
        }
        out
    }
}

/// Writes `text` into the top-left corner of an RGBA image (a time-lapse frame's step
/// counter), in black on a white box.
pub fn label_rgba(rgba: &mut [u8], width: u32, height: u32, text: &str) -> Result<()> {
    use plotters::prelude::*;
    register_font()?;
    let mut rgb: Vec<u8> = rgba
        .chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    let size = (height / 14).clamp(10, 28);
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        let style = TextStyle::from((FAMILY, size).into_font()).color(&BLACK);
        let (w, h) = root
            .estimate_text_size(text, &style)
            .map_err(|e| figure_error(text, e))?;
        let pad = size / 4 + 1;
        root.draw(&Rectangle::new(
            [(0, 0), ((w + 2 * pad) as i32, (h + 2 * pad) as i32)],
            WHITE.mix(0.85).filled(),
        ))
        .map_err(|e| figure_error(text, e))?;
        root.draw_text(text, &style, (pad as i32, pad as i32))
            .map_err(|e| figure_error(text, e))?;
        root.present().map_err(|e| figure_error(text, e))?;
    }
    for (dst, src) in rgba.chunks_exact_mut(4).zip(rgb.chunks_exact(3)) {
        dst[..3].copy_from_slice(src);
    }
    Ok(())
}

pub(crate) fn figure_error(figure: &str, error: impl std::fmt::Display) -> Error {
    Error::Figure {
        figure: figure.to_string(),
        message: error.to_string(),
    }
}
