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
    /// Writes the image as a PNG file, whole or not at all.
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::io::write_png(path, self.width, self.height, &self.rgba)
    }
}

/// Frames gathered during a run, written as one animated PNG or GIF. It holds at most
/// [`TimeLapse::MAX_FRAMES`] frames (or the cap given): beyond that it keeps every other
/// frame, evenly spaced, so a run of any length keeps its memory bounded.
#[derive(Debug)]
pub struct TimeLapse {
    frames: Thinned<Image>,
}

impl Default for TimeLapse {
    fn default() -> Self {
        Self::new()
    }
}

impl TimeLapse {
    /// Frames kept by default.
    pub const MAX_FRAMES: usize = 240;

    /// An empty time-lapse of at most [`TimeLapse::MAX_FRAMES`] frames.
    pub fn new() -> Self {
        Self::with_cap(Self::MAX_FRAMES)
    }

    /// An empty time-lapse of at most `cap` frames.
    pub fn with_cap(cap: usize) -> Self {
        Self {
            frames: Thinned::new(cap),
        }
    }

    /// Whether the next frame offered will be kept (the others need not be drawn).
    pub fn wants_next(&self) -> bool {
        self.frames.wants_next()
    }

    /// Adds a frame; every frame must have the first frame's size.
    pub fn push(&mut self, frame: Image) -> Result<()> {
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
