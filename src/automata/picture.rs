//! Pictures of grid automata: RGBA images written as PNG, and time-lapses of them as
//! animated PNG or (feature `gif`) GIF. The biome and the coffee automaton both draw
//! into these.

use std::path::Path;

use crate::automata::Thinned;
use crate::error::{Error, Result};

/// An RGBA8 image, row-major from the top-left.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    /// Pixels per row.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// `width · height · 4` bytes.
    pub rgba: Vec<u8>,
}

impl Image {
    /// The image shrunk by `factor` on each side, each pixel the mean of a `factor` x
    /// `factor` block (partial blocks at the right and bottom edges average what they hold).
    pub fn downscaled(&self, factor: u32) -> Image {
        let f = factor.max(1);
        if f == 1 {
            return self.clone();
        }
        let (w, h) = (self.width.div_ceil(f), self.height.div_ceil(f));
        let mut rgba = vec![0u8; (w * h * 4) as usize];
        for y in 0..h {
            for x in 0..w {
                let mut sum = [0u32; 4];
                let mut n = 0u32;
                for sy in y * f..((y + 1) * f).min(self.height) {
                    for sx in x * f..((x + 1) * f).min(self.width) {
                        let at = ((sy * self.width + sx) * 4) as usize;
                        for (c, s) in sum.iter_mut().enumerate() {
                            *s += u32::from(self.rgba[at + c]);
                        }
                        n += 1;
                    }
                }
                let at = ((y * w + x) * 4) as usize;
                for (c, s) in sum.iter().enumerate() {
                    rgba[at + c] = ((s + n / 2) / n) as u8;
                }
            }
        }
        Image {
            width: w,
            height: h,
            rgba,
        }
    }

    /// Writes the image as a PNG file, whole or not at all.
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::io::write_png(path, self.width, self.height, &self.rgba)
    }
}

/// Frames gathered during a run, written as one animated PNG or GIF. It holds at most
/// [`TimeLapse::MAX_FRAMES`] frames (or the cap given): beyond that it keeps every other
/// frame, evenly spaced, so a run of any length keeps its memory bounded. Frames larger
/// than [`TimeLapse::MAX_PIXELS`] are kept shrunk by the smallest whole factor that fits
/// (the first frame's factor serves them all).
#[derive(Debug)]
pub struct TimeLapse {
    frames: Thinned<Image>,
    /// The first frame's shrink factor.
    factor: Option<u32>,
}

impl Default for TimeLapse {
    fn default() -> Self {
        Self::new()
    }
}

impl TimeLapse {
    /// Frames kept by default.
    pub const MAX_FRAMES: usize = 240;

    /// Pixels a kept frame holds at most.
    pub const MAX_PIXELS: u64 = 1 << 19;

    /// An empty time-lapse of at most [`TimeLapse::MAX_FRAMES`] frames.
    pub fn new() -> Self {
        Self::with_cap(Self::MAX_FRAMES)
    }

    /// An empty time-lapse of at most `cap` frames.
    pub fn with_cap(cap: usize) -> Self {
        Self {
            frames: Thinned::new(cap),
            factor: None,
        }
    }

    /// Whether the next frame offered will be kept (the others need not be drawn).
    pub fn wants_next(&self) -> bool {
        self.frames.wants_next()
    }

    /// Adds a frame; every frame must have the first frame's size.
    pub fn push(&mut self, frame: Image) -> Result<()> {
        let factor = *self.factor.get_or_insert_with(|| {
            let kept =
                |f: u32| u64::from(frame.width.div_ceil(f)) * u64::from(frame.height.div_ceil(f));
            let mut f = 1u32;
            while kept(f) > Self::MAX_PIXELS {
                f += 1;
            }
            f
        });
        let frame = frame.downscaled(factor);
        if let Some(first) = self.frames.items().first() {
            if (first.width, first.height) != (frame.width, frame.height) {
                return Err(Error::invalid(format!(
                    "time-lapse frames must all be {}x{}, got {}x{}",
                    first.width, first.height, frame.width, frame.height
                )));
            }
        }
        self.frames.push(frame);
        Ok(())
    }

    /// Frames so far.
    pub fn len(&self) -> usize {
        self.frames.items().len()
    }

    /// Whether no frame was added.
    pub fn is_empty(&self) -> bool {
        self.frames.items().is_empty()
    }

    /// The animated PNG bytes, `fps` frames per second, looping forever.
    pub fn encode(&self, fps: u16) -> Result<Vec<u8>> {
        let first = self
            .frames
            .items()
            .first()
            .ok_or_else(|| Error::invalid("a time-lapse needs at least one frame"))?;
        let to_err = |e: png::EncodingError| Error::invalid(format!("APNG encoding failed: {e}"));
        let mut out = Vec::new();
        {
            let mut encoder = png::Encoder::new(&mut out, first.width, first.height);
            encoder.set_color(png::ColorType::Rgba);
            encoder.set_depth(png::BitDepth::Eight);
            encoder
                .set_animated(self.frames.items().len() as u32, 0)
                .map_err(to_err)?;
            encoder.set_frame_delay(1, fps.max(1)).map_err(to_err)?;
            let mut writer = encoder.write_header().map_err(to_err)?;
            for frame in self.frames.items() {
                writer.write_image_data(&frame.rgba).map_err(to_err)?;
            }
            writer.finish().map_err(to_err)?;
        }
        Ok(out)
    }

    /// Writes the animated PNG, whole or not at all.
    pub fn save(&self, path: &Path, fps: u16) -> Result<()> {
        crate::io::write_atomic(path, &self.encode(fps)?)
    }

    /// The animated GIF bytes (each frame quantised to its own 256-colour palette),
    /// `fps` frames per second, looping forever. Needs the `gif` feature (on with `cli`).
    #[cfg(feature = "gif")]
    pub fn encode_gif(&self, fps: u16) -> Result<Vec<u8>> {
        let first = self
            .frames
            .items()
            .first()
            .ok_or_else(|| Error::invalid("a time-lapse needs at least one frame"))?;
        let (w, h) = match (u16::try_from(first.width), u16::try_from(first.height)) {
            (Ok(w), Ok(h)) => (w, h),
            _ => {
                return Err(Error::invalid(format!(
                    "GIF frames are at most 65535 pixels on a side, these are {}x{}",
                    first.width, first.height
                )))
            }
        };
        let to_err = |e: gif::EncodingError| Error::invalid(format!("GIF encoding failed: {e}"));
        let mut out = Vec::new();
        {
            let mut encoder = gif::Encoder::new(&mut out, w, h, &[]).map_err(to_err)?;
            encoder.set_repeat(gif::Repeat::Infinite).map_err(to_err)?;
            let delay = (100 / fps.max(1)).max(1);
            for image in self.frames.items() {
                let mut rgba = image.rgba.clone();
                let mut frame = gif::Frame::from_rgba_speed(w, h, &mut rgba, 10);
                frame.delay = delay;
                encoder.write_frame(&frame).map_err(to_err)?;
            }
        }
        Ok(out)
    }

    /// Writes the animated GIF, whole or not at all. Needs the `gif` feature.
    #[cfg(feature = "gif")]
    pub fn save_gif(&self, path: &Path, fps: u16) -> Result<()> {
        crate::io::write_atomic(path, &self.encode_gif(fps)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downscaling_averages_blocks_and_keeps_the_edges() {
        // 3 x 2 pixels, grey levels 0, 10, 20 / 30, 40, 50: blocks of 2 x 2 leave the
        // means of {0, 10, 30, 40} and {20, 50}.
        let rgba: Vec<u8> = [0u8, 10, 20, 30, 40, 50]
            .iter()
            .flat_map(|&v| [v, v, v, 255])
            .collect();
        let image = Image {
            width: 3,
            height: 2,
            rgba,
        };
        let small = image.downscaled(2);
        assert_eq!((small.width, small.height), (2, 1));
        assert_eq!(small.rgba, [20, 20, 20, 255, 35, 35, 35, 255]);
        assert_eq!(image.downscaled(1), image);
    }

    #[test]
    fn a_time_lapse_keeps_large_frames_within_its_pixel_budget() {
        let frame = |v: u8| Image {
            width: 2000,
            height: 700,
            rgba: vec![v; 2000 * 700 * 4],
        };
        let mut lapse = TimeLapse::new();
        lapse.push(frame(7)).unwrap();
        lapse.push(frame(9)).unwrap();
        let kept = &lapse.frames.items()[1];
        assert!(u64::from(kept.width) * u64::from(kept.height) <= TimeLapse::MAX_PIXELS);
        assert_eq!((kept.width, kept.height), (1000, 350));
        assert!(kept.rgba.iter().all(|&v| v == 9));
    }
}
