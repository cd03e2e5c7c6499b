//! A small RGBA canvas for the pictures of examples and the command line: points,
//! anti-aliasing-free lines with alpha, in data coordinates.

use std::path::Path;

use crate::error::Result;

/// An RGBA8 image with a mapping from a data rectangle to pixels.
pub struct Canvas {
    width: u32,
    height: u32,
    pixels: Vec<[f32; 4]>,
    x_range: (f32, f32),
    y_range: (f32, f32),
}

impl Canvas {
    /// A `width` × `height` canvas filled with `background`, showing the data rectangle
    /// that contains every (x, y) of `points` with a margin.
    pub fn fit(width: u32, height: u32, background: [u8; 3], points: &[[f32; 2]]) -> Self {
        let (mut lo, mut hi) = ([f32::INFINITY; 2], [f32::NEG_INFINITY; 2]);
        for p in points {
            for k in 0..2 {
                lo[k] = lo[k].min(p[k]);
                hi[k] = hi[k].max(p[k]);
            }
        }
        if !lo[0].is_finite() {
            (lo, hi) = ([0.0; 2], [1.0; 2]);
        }
        // Same scale on both axes, 5% margins.
        let span = (hi[0] - lo[0])
            .max((hi[1] - lo[1]) * width as f32 / height as f32)
            .max(1e-6)
            * 1.1;
        let cx = 0.5 * (lo[0] + hi[0]);
        let cy = 0.5 * (lo[1] + hi[1]);
        let span_y = span * height as f32 / width as f32;
        let bg = [background[0], background[1], background[2]].map(|c| f32::from(c) / 255.0);
        Self {
            width,
            height,
            pixels: vec![[bg[0], bg[1], bg[2], 1.0]; (width * height) as usize],
            x_range: (cx - 0.5 * span, cx + 0.5 * span),
            y_range: (cy - 0.5 * span_y, cy + 0.5 * span_y),
        }
    }

    fn to_pixel(&self, p: [f32; 2]) -> (f32, f32) {
        let u = (p[0] - self.x_range.0) / (self.x_range.1 - self.x_range.0) * self.width as f32;
        let v = (1.0 - (p[1] - self.y_range.0) / (self.y_range.1 - self.y_range.0))
            * self.height as f32;
        (u, v)
    }

    fn blend(&mut self, x: i64, y: i64, color: [u8; 3], alpha: f32) {
        if x < 0 || y < 0 || x >= i64::from(self.width) || y >= i64::from(self.height) {
            return;
        }
        let px = &mut self.pixels[(y as usize) * self.width as usize + x as usize];
        for k in 0..3 {
            px[k] = px[k] * (1.0 - alpha) + f32::from(color[k]) / 255.0 * alpha;
        }
    }

    /// A filled disc of `radius` pixels at data point `p`.
    pub fn point(&mut self, p: [f32; 2], radius: f32, color: [u8; 3], alpha: f32) {
        let (u, v) = self.to_pixel(p);
        let r = radius.ceil() as i64;
        for dy in -r..=r {
            for dx in -r..=r {
                if (dx * dx + dy * dy) as f32 <= radius * radius {
                    self.blend(u as i64 + dx, v as i64 + dy, color, alpha);
                }
            }
        }
    }

    /// A line segment between data points `a` and `b`.
    pub fn line(&mut self, a: [f32; 2], b: [f32; 2], color: [u8; 3], alpha: f32) {
        let (u0, v0) = self.to_pixel(a);
        let (u1, v1) = self.to_pixel(b);
        let steps = (u1 - u0).abs().max((v1 - v0).abs()).ceil().max(1.0) as i64;
        for s in 0..=steps {
            let t = s as f32 / steps as f32;
            self.blend(
                (u0 + t * (u1 - u0)) as i64,
                (v0 + t * (v1 - v0)) as i64,
                color,
                alpha,
            );
        }
    }

    /// The image as RGBA8 bytes.
    pub fn rgba(&self) -> Vec<u8> {
        self.pixels
            .iter()
            .flat_map(|p| p.map(|c| (c.clamp(0.0, 1.0) * 255.0).round() as u8))
            .collect()
    }

    /// Writes the canvas as a PNG file, whole or not at all.
    pub fn save(&self, path: &Path) -> Result<()> {
        super::write_png(path, self.width, self.height, &self.rgba())
    }
}
