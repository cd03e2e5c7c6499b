//! The three kinds of chart, drawn with plotters into an RGB buffer.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::palette::{self, Rgb};
use super::{figure_error, register_font, Figure, FAMILY};
use crate::error::Result;

/// How a point series is marked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    /// A filled circle.
    Circle,
    /// A filled triangle.
    Triangle,
    /// A cross.
    Cross,
    /// A filled square.
    Square,
}

/// One layer of a [`Scatter`]; layers draw in order, so context goes first.
#[derive(Clone, Debug)]
pub enum Layer {
    /// Marked points.
    Points {
        /// Legend entry (none when empty).
        name: String,
        /// (x, y) of each point.
        xy: Vec<[f32; 2]>,
        /// Marker.
        mark: Mark,
        /// Marker radius in pixels.
        size: u32,
        /// Colour.
        colour: Rgb,
        /// Opacity in (0, 1].
        alpha: f64,
    },
    /// Straight segments (coupled pairs, map displacements).
    Segments {
        /// Legend entry (none when empty).
        name: String,
        /// (from, to) of each segment.
        pairs: Vec<[[f32; 2]; 2]>,
        /// Colour.
        colour: Rgb,
        /// Opacity in (0, 1].
        alpha: f64,
    },
    /// Arrows from each first point to its second (a map's displacements), heads sized to
    /// the plot.
    Arrows {
        /// Legend entry (none when empty).
        name: String,
        /// (from, to) of each arrow.
        pairs: Vec<[[f32; 2]; 2]>,
        /// Colour.
        colour: Rgb,
        /// Opacity in (0, 1].
        alpha: f64,
    },
    /// Paths through successive times, each segment coloured by its time on the viridis
    /// scale, which a colour bar beside the plot explains.
    TimedPaths {
        /// Legend entry (none when empty).
        name: String,
        /// Each path's vertices at `times`.
        paths: Vec<Vec<[f32; 2]>>,
        /// The time of each vertex.
        times: Vec<f64>,
        /// Opacity in (0, 1].
        alpha: f64,
    },
}

/// Points, segments and paths in a plane: equal scales on both axes.
#[derive(Clone, Debug)]
pub struct Scatter {
    title: String,
    x_label: String,
    y_label: String,
    layers: Vec<Layer>,
}

/// A named curve of a [`LineChart`].
#[derive(Clone, Debug)]
pub struct Series {
    name: String,
    points: Vec<(f64, f64)>,
    colour: Rgb,
    dashed: bool,
}

impl Series {
    /// A solid curve through `points`.
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>, colour: Rgb) -> Self {
        Self {
            name: name.into(),
            points,
            colour,
            dashed: false,
        }
    }

    /// Draws the curve dashed (a second kind of quantity on the same axes).
    pub fn dashed(mut self) -> Self {
        self.dashed = true;
        self
    }
}

/// Curves against a common x axis, each with its own marker shape.
#[derive(Clone, Debug)]
pub struct LineChart {
    title: String,
    x_label: String,
    y_label: String,
    series: Vec<Series>,
    log_y: bool,
}

/// One bar per labelled value.
#[derive(Clone, Debug)]
pub struct BarChart {
    title: String,
    x_label: String,
    y_label: String,
    bars: Vec<(String, f64)>,
    colour: Rgb,
}

fn rgb(c: Rgb) -> RGBColor {
    RGBColor(c[0], c[1], c[2])
}

/// [lo, hi] of `values` widened by 5% (and to a unit range when flat).
fn padded(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    // A flat series (or one that differs only by rounding) gets a range around it.
    let span = if hi - lo > 1e-9 * lo.abs().max(hi.abs()) {
        hi - lo
    } else {
        (0.1 * hi.abs()).max(1.0)
    };
    (lo - 0.05 * span, hi + 0.05 * span)
}

fn draw_area<'a>(
    buf: &'a mut [u8],
    width: u32,
    height: u32,
) -> DrawingArea<BitMapBackend<'a>, Shift> {
    BitMapBackend::with_buffer(buf, (width, height)).into_drawing_area()
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// Draws `title` centred at the top, a line per `\n`, in the largest size up to 22 px
/// at which every line fits, and returns the area below it.
fn titled<'a>(area: &Area<'a>, title: &str) -> Result<Area<'a>> {
    let err = |e: &dyn std::fmt::Display| figure_error(title, e);
    let (width, _) = area.dim_in_pixel();
    let lines: Vec<&str> = title.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return Ok(area.clone());
    }
    let mut size = 22u32;
    while size > 11 {
        let style = TextStyle::from((FAMILY, size).into_font());
        let widest = lines
            .iter()
            .map(|l| area.estimate_text_size(l, &style).map(|s| s.0))
            .try_fold(0u32, |m, w| w.map(|w| m.max(w)))
            .map_err(|e| err(&e))?;
        if widest + 24 <= width {
            break;
        }
        size -= 1;
    }
    let style = TextStyle::from((FAMILY, size).into_font())
        .color(&BLACK)
        .pos(Pos::new(HPos::Center, VPos::Top));
    let line_height = size + size / 3;
    for (k, line) in lines.iter().enumerate() {
        area.draw_text(
            line,
            &style,
            ((width / 2) as i32, 8 + (k as u32 * line_height) as i32),
        )
        .map_err(|e| err(&e))?;
    }
    let used = 12 + lines.len() as u32 * line_height;
    Ok(area.split_vertically(used).1)
}

/// Tick labels for an axis over [lo, hi]: as many decimals as its tick spacing needs,
/// exponent form for small and large magnitudes.
fn ticker(lo: f64, hi: f64) -> impl Fn(&f64) -> String {
    let step = ((hi - lo).abs() / 8.0).max(f64::MIN_POSITIVE);
    let decimals = (-step.log10().floor()).clamp(0.0, 6.0) as usize;
    move |v: &f64| {
        let v = *v;
        if v == 0.0 {
            return "0".into();
        }
        if v.abs() >= 1e6 || (v.abs() < 1e-3 && decimals > 4) {
            return format!("{v:.1e}");
        }
        format!("{v:.decimals$}")
    }
}

/// Tick labels of a logarithmic axis.
fn log_tick(v: &f64) -> String {
    let v = *v;
    if (1e-2..1e5).contains(&v.abs()) {
        let text = format!("{v:.2}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{v:.0e}")
    }
}

const LIGHT_GRID: RGBColor = RGBColor(246, 246, 246);
const BOLD_GRID: RGBColor = RGBColor(222, 222, 222);

/// Sets a series' legend entry: its marker, after a short line when the series is a curve.
/// (Each marker is its own element type, so each gets its own closure.)
macro_rules! legend {
    ($anno:expr, $mark:expr, $colour:expr, $line:expr) => {{
        let (c, line): (RGBColor, bool) = ($colour, $line);
        let stroke = move || -> Vec<(i32, i32)> {
            if line {
                vec![(0, 0), (16, 0)]
            } else {
                Vec::new()
            }
        };
        let base = move |at: (i32, i32)| {
            EmptyElement::at(at) + PathElement::new(stroke(), c.stroke_width(2))
        };
        match $mark {
            Mark::Circle => $anno.legend(move |at| base(at) + Circle::new((8, 0), 4, c.filled())),
            Mark::Triangle => {
                $anno.legend(move |at| base(at) + TriangleMarker::new((8, 0), 6, c.filled()))
            }
            Mark::Cross => {
                $anno.legend(move |at| base(at) + Cross::new((8, 0), 4, c.stroke_width(2)))
            }
            Mark::Square => {
                $anno.legend(move |at| base(at) + Rectangle::new([(4, -4), (12, 4)], c.filled()))
            }
        };
    }};
}

impl Scatter {
    /// An empty plot with a title and axis labels.
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Self {
        Self {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            layers: Vec::new(),
        }
    }

    /// Adds a layer on top of the others.
    pub fn layer(mut self, layer: Layer) -> Self {
        self.layers.push(layer);
        self
    }

    fn times(&self) -> Option<(f64, f64)> {
        self.layers.iter().find_map(|l| match l {
            Layer::TimedPaths { times, .. } if !times.is_empty() => Some((
                times.iter().copied().fold(f64::INFINITY, f64::min),
                times.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            )),
            _ => None,
        })
    }

    /// Draws the plot at `width` × `height` pixels.
    pub fn draw(&self, width: u32, height: u32) -> Result<Figure> {
        register_font()?;
        let err = |e: &dyn std::fmt::Display| figure_error(&self.title, e);
        let mut figure = Figure::blank(width, height);
        let times = self.times();
        {
            let root = draw_area(&mut figure.rgb, width, height);
            let body = titled(&root, &self.title)?;
            let (plot, bar) = if times.is_some() {
                body.split_horizontally(width.saturating_sub(110))
            } else {
                body.split_horizontally(width)
            };
            let xs = self
                .layers
                .iter()
                .flat_map(layer_points)
                .map(|p| f64::from(p[0]));
            let ys = self
                .layers
                .iter()
                .flat_map(layer_points)
                .map(|p| f64::from(p[1]));
            let (mut x0, mut x1) = padded(xs);
            let (mut y0, mut y1) = padded(ys);
            // Equal scales: widen the narrower range about its centre.
            let (pw, ph) = plot.dim_in_pixel();
            let (pw, ph) = (f64::from(pw.max(1) - 90), f64::from(ph.max(1) - 90));
            let (sx, sy) = ((x1 - x0) / pw.max(1.0), (y1 - y0) / ph.max(1.0));
            if sx > sy {
                let (c, half) = ((y0 + y1) / 2.0, sx * ph / 2.0);
                (y0, y1) = (c - half, c + half);
            } else {
                let (c, half) = ((x0 + x1) / 2.0, sy * pw / 2.0);
                (x0, x1) = (c - half, c + half);
            }
            let mut chart = ChartBuilder::on(&plot)
                .margin(12)
                .x_label_area_size(45)
                .y_label_area_size(60)
                .build_cartesian_2d(x0..x1, y0..y1)
                .map_err(|e| err(&e))?;
            chart
                .configure_mesh()
                .x_desc(&self.x_label)
                .y_desc(&self.y_label)
                .x_label_formatter(&ticker(x0, x1))
                .y_label_formatter(&ticker(y0, y1))
                .label_style((FAMILY, 14))
                .axis_desc_style((FAMILY, 16))
                .light_line_style(LIGHT_GRID)
                .bold_line_style(BOLD_GRID)
                .draw()
                .map_err(|e| err(&e))?;
            let (t0, t1) = times.unwrap_or((0.0, 1.0));
            let frac = |t: f64| if t1 > t0 { (t - t0) / (t1 - t0) } else { 0.0 };
            let xy = |p: &[f32; 2]| (f64::from(p[0]), f64::from(p[1]));
            for layer in &self.layers {
                match layer {
                    Layer::Segments {
                        name,
                        pairs,
                        colour,
                        alpha,
                    } => {
                        let style = rgb(*colour).mix(*alpha);
                        let drawn = chart
                            .draw_series(
                                pairs
                                    .iter()
                                    .map(|[a, b]| PathElement::new(vec![xy(a), xy(b)], style)),
                            )
                            .map_err(|e| err(&e))?;
                        if !name.is_empty() {
                            let c = rgb(*colour);
                            drawn.label(name).legend(move |(x, y)| {
                                PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2))
                            });
                        }
                    }
                    Layer::Arrows {
                        name,
                        pairs,
                        colour,
                        alpha,
                    } => {
                        let style = rgb(*colour).mix(*alpha).stroke_width(1);
                        // Heads of 1.5% of the plot's width, 25 degrees either side.
                        let head = 0.015 * (x1 - x0);
                        let arrow = |[a, b]: &[[f32; 2]; 2]| {
                            let ((ax, ay), (bx, by)) = (xy(a), xy(b));
                            let len = ((bx - ax).powi(2) + (by - ay).powi(2)).sqrt().max(1e-12);
                            let (dx, dy) = ((ax - bx) / len * head, (ay - by) / len * head);
                            let (c, s) = (25f64.to_radians().cos(), 25f64.to_radians().sin());
                            let left = (bx + c * dx - s * dy, by + s * dx + c * dy);
                            let right = (bx + c * dx + s * dy, by - s * dx + c * dy);
                            PathElement::new(vec![(ax, ay), (bx, by), left, (bx, by), right], style)
                        };
                        let drawn = chart
                            .draw_series(pairs.iter().map(arrow))
                            .map_err(|e| err(&e))?;
                        if !name.is_empty() {
                            let c = rgb(*colour);
                            drawn.label(name).legend(move |(x, y)| {
                                PathElement::new(
                                    vec![
                                        (x, y),
                                        (x + 16, y),
                                        (x + 11, y - 4),
                                        (x + 16, y),
                                        (x + 11, y + 4),
                                    ],
                                    c.stroke_width(2),
                                )
                            });
                        }
                    }
                    Layer::TimedPaths {
                        name,
                        paths,
                        times,
                        alpha,
                    } => {
                        for path in paths {
                            let segments =
                                path.windows(2).zip(times.iter().skip(1)).map(|(w, &t)| {
                                    PathElement::new(
                                        vec![xy(&w[0]), xy(&w[1])],
                                        rgb(palette::viridis(frac(t))).mix(*alpha),
                                    )
                                });
                            chart.draw_series(segments).map_err(|e| err(&e))?;
                        }
                        if !name.is_empty() {
                            let c = rgb(palette::viridis(0.5));
                            chart
                                .draw_series(std::iter::empty::<PathElement<(f64, f64)>>())
                                .map_err(|e| err(&e))?
                                .label(name)
                                .legend(move |(x, y)| {
                                    PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2))
                                });
                        }
                    }
                    Layer::Points {
                        name,
                        xy: points,
                        mark,
                        size,
                        colour,
                        alpha,
                    } => {
                        let style = rgb(*colour).mix(*alpha);
                        let size = *size as i32;
                        let drawn = match mark {
                            Mark::Circle => chart.draw_series(
                                points
                                    .iter()
                                    .map(|p| Circle::new(xy(p), size, style.filled())),
                            ),
                            Mark::Triangle => chart.draw_series(
                                points
                                    .iter()
                                    .map(|p| TriangleMarker::new(xy(p), size + 1, style.filled())),
                            ),
                            Mark::Cross => chart.draw_series(
                                points
                                    .iter()
                                    .map(|p| Cross::new(xy(p), size, style.stroke_width(2))),
                            ),
                            Mark::Square => chart.draw_series(points.iter().map(|p| {
                                let (x, y) = xy(p);
                                EmptyElement::at((x, y))
                                    + Rectangle::new([(-size, -size), (size, size)], style.filled())
                            })),
                        }
                        .map_err(|e| err(&e))?;
                        if !name.is_empty() {
                            legend!(drawn.label(name), *mark, rgb(*colour), false);
                        }
                    }
                }
            }
            chart
                .configure_series_labels()
                .label_font((FAMILY, 14))
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(150, 150, 150))
                .position(SeriesLabelPosition::UpperLeft)
                .draw()
                .map_err(|e| err(&e))?;
            if let Some((t0, t1)) = times {
                colour_bar(&bar, t0, t1).map_err(|e| err(&e))?;
            }
            root.present().map_err(|e| err(&e))?;
        }
        Ok(figure)
    }
}

fn layer_points(layer: &Layer) -> Box<dyn Iterator<Item = [f32; 2]> + '_> {
    match layer {
        Layer::Points { xy, .. } => Box::new(xy.iter().copied()),
        Layer::Segments { pairs, .. } | Layer::Arrows { pairs, .. } => {
            Box::new(pairs.iter().flatten().copied())
        }
        Layer::TimedPaths { paths, .. } => Box::new(paths.iter().flatten().copied()),
    }
}

/// The viridis scale from `t0` (bottom) to `t1` (top), with five labelled ticks and
/// "time" above it.
fn colour_bar(
    area: &Area<'_>,
    t0: f64,
    t1: f64,
) -> std::result::Result<
    (),
    DrawingAreaErrorKind<<BitMapBackend<'static> as DrawingBackend>::ErrorType>,
> {
    let t1 = if t1 > t0 { t1 } else { t0 + 1.0 };
    let (_, h) = area.dim_in_pixel();
    let (left, right, top, bottom) = (12i32, 32i32, 40i32, h as i32 - 70);
    let span = (bottom - top).max(1);
    let steps = 64;
    for k in 0..steps {
        let (y_hi, y_lo) = (bottom - span * (k + 1) / steps, bottom - span * k / steps);
        let colour = rgb(palette::viridis((f64::from(k) + 0.5) / f64::from(steps)));
        area.draw(&Rectangle::new(
            [(left, y_hi), (right, y_lo)],
            colour.filled(),
        ))?;
    }
    area.draw(&Rectangle::new(
        [(left, top), (right, bottom)],
        BLACK.stroke_width(1),
    ))?;
    // Quarter ticks need a decimal more than a tick spacing of an eighth.
    let label = ticker(0.0, (t1 - t0) / 4.0);
    let style = TextStyle::from((FAMILY, 13).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    for k in 0..=4 {
        let y = bottom - span * k / 4;
        area.draw(&PathElement::new(vec![(right, y), (right + 4, y)], BLACK))?;
        area.draw_text(
            &label(&(t0 + f64::from(k) / 4.0 * (t1 - t0))),
            &style,
            (right + 7, y),
        )?;
    }
    let title = TextStyle::from((FAMILY, 14).into_font()).pos(Pos::new(HPos::Left, VPos::Bottom));
    area.draw_text("time", &title, (left, top - 8))?;
    Ok(())
}

const MARKS: [Mark; 4] = [Mark::Circle, Mark::Triangle, Mark::Square, Mark::Cross];

impl LineChart {
    /// An empty chart with a title and axis labels.
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Self {
        Self {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            series: Vec::new(),
            log_y: false,
        }
    }

    /// Adds a curve.
    pub fn series(mut self, series: Series) -> Self {
        self.series.push(series);
        self
    }

    /// A logarithmic y axis (non-positive values are left out).
    pub fn log_y(mut self) -> Self {
        self.log_y = true;
        self
    }

    /// Draws the chart at `width` × `height` pixels.
    pub fn draw(&self, width: u32, height: u32) -> Result<Figure> {
        register_font()?;
        let err = |e: &dyn std::fmt::Display| figure_error(&self.title, e);
        let mut figure = Figure::blank(width, height);
        {
            let root = draw_area(&mut figure.rgb, width, height);
            let body = titled(&root, &self.title)?;
            let keep = |y: f64| y.is_finite() && (!self.log_y || y > 0.0);
            let points = || {
                self.series
                    .iter()
                    .flat_map(|s| s.points.iter().filter(|p| keep(p.1)))
            };
            let (x0, x1) = padded(points().map(|p| p.0));
            let mut builder = ChartBuilder::on(&body);
            builder
                .margin(12)
                .x_label_area_size(45)
                .y_label_area_size(70);
            let every = |s: &Series| (s.points.len() / 12).max(1);
            let fx = ticker(x0, x1);
            macro_rules! finish {
                ($chart:expr, $fy:expr) => {{
                    let mut chart = $chart;
                    chart
                        .configure_mesh()
                        .x_desc(&self.x_label)
                        .y_desc(&self.y_label)
                        .x_label_formatter(&fx)
                        .y_label_formatter($fy)
                        .label_style((FAMILY, 14))
                        .axis_desc_style((FAMILY, 16))
                        .light_line_style(LIGHT_GRID)
                        .bold_line_style(BOLD_GRID)
                        .draw()
                        .map_err(|e| err(&e))?;
                    for (k, s) in self.series.iter().enumerate() {
                        let c = rgb(s.colour);
                        let line: Vec<(f64, f64)> =
                            s.points.iter().copied().filter(|p| keep(p.1)).collect();
                        let style = c.stroke_width(2);
                        if s.dashed {
                            chart
                                .draw_series(DashedLineSeries::new(line.clone(), 8, 5, style))
                                .map_err(|e| err(&e))?;
                        } else {
                            chart
                                .draw_series(LineSeries::new(line.clone(), style))
                                .map_err(|e| err(&e))?;
                        }
                        let mark = MARKS[k % MARKS.len()];
                        let marked = line.iter().step_by(every(s)).copied();
                        let drawn = match mark {
                            Mark::Circle => {
                                chart.draw_series(marked.map(|p| Circle::new(p, 4, c.filled())))
                            }
                            Mark::Triangle => chart
                                .draw_series(marked.map(|p| TriangleMarker::new(p, 6, c.filled()))),
                            Mark::Cross => chart
                                .draw_series(marked.map(|p| Cross::new(p, 4, c.stroke_width(2)))),
                            Mark::Square => chart.draw_series(marked.map(|p| {
                                EmptyElement::at(p) + Rectangle::new([(-4, -4), (4, 4)], c.filled())
                            })),
                        }
                        .map_err(|e| err(&e))?;
                        legend!(drawn.label(&s.name), mark, c, true);
                    }
                    chart
                        .configure_series_labels()
                        .label_font((FAMILY, 14))
                        .background_style(WHITE.mix(0.85))
                        .border_style(RGBColor(150, 150, 150))
                        .position(SeriesLabelPosition::UpperRight)
                        .draw()
                        .map_err(|e| err(&e))?;
                }};
            }
            if self.log_y {
                let (lo, hi) = points()
                    .map(|p| p.1)
                    .fold((f64::INFINITY, 0.0f64), |(a, b), y| (a.min(y), b.max(y)));
                // Headroom above the curves for the legend.
                let (lo, hi) = if lo.is_finite() && hi > 0.0 {
                    (
                        lo / 2.0,
                        hi * 4f64.powf(1.0 + 0.3 * self.series.len() as f64),
                    )
                } else {
                    (1e-3, 1.0)
                };
                finish!(
                    builder
                        .build_cartesian_2d(x0..x1, (lo..hi).log_scale())
                        .map_err(|e| err(&e))?,
                    &log_tick
                );
            } else {
                let (y0, y1) = padded(points().map(|p| p.1));
                // Headroom above the curves for the legend.
                let y1 = y1 + (y1 - y0) * (0.06 * self.series.len() as f64 + 0.05);
                let fy = ticker(y0, y1);
                finish!(
                    builder
                        .build_cartesian_2d(x0..x1, y0..y1)
                        .map_err(|e| err(&e))?,
                    &fy
                );
            }
            root.present().map_err(|e| err(&e))?;
        }
        Ok(figure)
    }
}

impl BarChart {
    /// An empty chart with a title, axis labels and the bars' colour.
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
        colour: Rgb,
    ) -> Self {
        Self {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            bars: Vec::new(),
            colour,
        }
    }

    /// Adds a bar.
    pub fn bar(mut self, label: impl Into<String>, value: f64) -> Self {
        self.bars.push((label.into(), value));
        self
    }

    /// Draws the chart at `width` × `height` pixels.
    pub fn draw(&self, width: u32, height: u32) -> Result<Figure> {
        register_font()?;
        let err = |e: &dyn std::fmt::Display| figure_error(&self.title, e);
        let mut figure = Figure::blank(width, height);
        {
            let root = draw_area(&mut figure.rgb, width, height);
            let body = titled(&root, &self.title)?;
            let top = self.bars.iter().map(|b| b.1).fold(0.0f64, f64::max);
            let top = if top > 0.0 { top * 1.1 } else { 1.0 };
            let count = self.bars.len().max(1) as u32;
            let mut chart = ChartBuilder::on(&body)
                .margin(12)
                .x_label_area_size(45)
                .y_label_area_size(70)
                .build_cartesian_2d((0..count - 1).into_segmented(), 0.0..top)
                .map_err(|e| err(&e))?;
            let labels: Vec<String> = self.bars.iter().map(|b| b.0.clone()).collect();
            let fy = ticker(0.0, top);
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_desc(&self.x_label)
                .y_desc(&self.y_label)
                .x_labels(count.min(24) as usize)
                .x_label_formatter(&|v| match v {
                    SegmentValue::CenterOf(k) => {
                        labels.get(*k as usize).cloned().unwrap_or_default()
                    }
                    _ => String::new(),
                })
                .y_label_formatter(&fy)
                .label_style((FAMILY, 14))
                .axis_desc_style((FAMILY, 16))
                .light_line_style(LIGHT_GRID)
                .bold_line_style(BOLD_GRID)
                .draw()
                .map_err(|e| err(&e))?;
            chart
                .draw_series(
                    Histogram::vertical(&chart)
                        .style(rgb(self.colour).filled())
                        .margin(8)
                        .data(self.bars.iter().enumerate().map(|(k, b)| (k as u32, b.1))),
                )
                .map_err(|e| err(&e))?;
            root.present().map_err(|e| err(&e))?;
        }
        Ok(figure)
    }
}
