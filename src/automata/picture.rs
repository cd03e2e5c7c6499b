//! Pictures of grid automata: RGBA images written as PNG, and time-lapses of them as
//! animated PNG or (feature `gif`) GIF. The biome and the coffee automaton both draw
//! into these.

use std::path::Path;

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

/// Frames gathered during a run, written as one animated PNG.
#[derive(Debug, Default)]
pub struct TimeLapse {
    frames: Vec<Image>,
}

impl TimeLapse {
    /// An empty time-lapse.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a frame; every frame must have the first frame's size.
    pub fn push(&mut self, frame: Image) -> Result<()> {
        if let Some(first) = self.frames.first() {
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
        self.frames.len()
    }

    /// Whether no frame was added.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// The animated PNG bytes, `fps` frames per second, looping forever.
    pub fn encode(&self, fps: u16) -> Result<Vec<u8>> {
        let first = self
            .frames
            .first()
            .ok_or_else(|| Error::invalid("a time-lapse needs at least one frame"))?;
        let to_err = |e: png::EncodingError| Error::invalid(format!("APNG encoding failed: {e}"));
        let mut out = Vec::new();
        {
            let mut encoder = png::Encoder::new(&mut out, first.width, first.height);
            encoder.set_color(png::ColorType::Rgba);
            encoder.set_depth(png::BitDepth::Eight);
            encoder
                .set_animated(self.frames.len() as u32, 0)
                .map_err(to_err)?;
            encoder.set_frame_delay(1, fps.max(1)).map_err(to_err)?;
            let mut writer = encoder.write_header().map_err(to_err)?;
            for frame in &self.frames {
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
            for image in &self.frames {
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
