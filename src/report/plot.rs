//! Line plots rendered with plotters to PNG, SVG and PDF (the PDF by the
//! small writer in `report/pdf.rs`).
//!
//! Text uses DejaVu Sans embedded in the binary (crate `dejavu`), registered
//! with plotters' `ab_glyph` font backend under the family name
//! [`FONT_FAMILY`], so no system font library is needed. Rendering is
//! deterministic: identical input gives byte-identical PNG, SVG and PDF
//! files.
//!
//! A curve may carry a [`Spread`]: a translucent band (e.g. a confidence
//! band around a mean curve) or vertical error bars. [`draw_lines_with`]
//! adds a categorical x axis and whole-number ticks. The legend stands in
//! a column right of the chart, beside the data, never over it.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::FontStyle;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::csv::{CsvFile, fmt_f64};
use super::{ReportError, png, write_atomic};

/// Image width in pixels (PNG) / user units (SVG).
pub const WIDTH: u32 = 1024;
/// Image height in pixels (PNG) / user units (SVG).
pub const HEIGHT: u32 = 640;
/// Font family name under which the embedded DejaVu Sans is registered and
/// which every text style uses (also the `font-family` written to SVG).
pub const FONT_FAMILY: &str = "sans-serif";

/// One named series of `(x, y)` points, drawn in the given order.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// The legend entry.
    pub label: String,
    /// The points, in drawing order.
    pub points: Vec<(f64, f64)>,
    /// Optional uncertainty drawn in the curve's colour.
    pub spread: Option<Spread>,
}

/// Uncertainty drawn with a [`Curve`], in the curve's colour. Both kinds
/// take `(x, lo, hi)` triples and count towards the y range.
#[derive(Debug, Clone, PartialEq)]
pub enum Spread {
    /// A shaded band between `lo` and `hi`, triples in x order, filled
    /// translucently beneath the lines of all curves (so it never hides a
    /// line). A triple with a non-finite value leaves a gap; an isolated
    /// finite triple draws nothing.
    Band(Vec<(f64, f64, f64)>),
    /// A vertical error bar from `lo` to `hi` at each `x`, with short
    /// horizontal caps; the curve's points are also marked with dots.
    /// Triples with a non-finite value are skipped.
    ErrorBars(Vec<(f64, f64, f64)>),
}

/// A line plot description; see [`draw_lines`].
#[derive(Debug, Clone, Copy)]
pub struct LinePlot<'a> {
    /// Title above the chart.
    pub title: &'a str,
    /// X axis label, with its unit.
    pub x_label: &'a str,
    /// Y axis label, with its unit.
    pub y_label: &'a str,
    /// The curves, one legend entry each.
    pub curves: &'a [Curve],
    /// Draw each curve as a step function (value held until the next
    /// point's x, then a vertical jump), e.g. for cumulative counts. A
    /// curve ends at its last point; add a final point to extend it.
    pub step: bool,
}

/// Extra settings for [`draw_lines_with`]; the default gives [`draw_lines`].
#[derive(Debug, Clone, Copy, Default)]
pub struct PlotOptions<'a> {
    /// A categorical x axis: the curves' x values are category indices
    /// `0, 1, ...`, tick `i` is labelled `x_categories[i]` (other ticks are
    /// unlabelled) and the x range is padded by half a category each side.
    pub x_categories: Option<&'a [String]>,
    /// The y values are counts: y ticks only at whole numbers.
    pub y_integer: bool,
    /// The y axis spans the data (padded by 5 % of its range, at least 1
    /// unit) instead of starting at 0: for values far from 0, such as
    /// temperatures.
    pub y_from_data: bool,
}

/// Okabe-Ito colour-blind-friendly palette, ordered so the first colours
/// contrast best on white (yellow last).
const PALETTE: [RGBColor; 8] = [
    RGBColor(0x00, 0x72, 0xB2), // blue
    RGBColor(0xD5, 0x5E, 0x00), // vermillion
    RGBColor(0x00, 0x9E, 0x73), // bluish green
    RGBColor(0xCC, 0x79, 0xA7), // reddish purple
    RGBColor(0xE6, 0x9F, 0x00), // orange
    RGBColor(0x56, 0xB4, 0xE9), // sky blue
    RGBColor(0x00, 0x00, 0x00), // black
    RGBColor(0xF0, 0xE4, 0x42), // yellow
];

/// Line styles, cycled alongside the colours: `None` is solid, otherwise
/// `(dash length, gap length)` in pixels.
const DASHES: [Option<(i32, i32)>; 4] = [None, Some((14, 7)), Some((3, 5)), Some((26, 6))];

const STROKE_WIDTH: u32 = 2;
const LEGEND_GLYPH: i32 = 40;
/// Legend box inner margin, pixels.
const LEGEND_MARGIN: i32 = 12;
/// Between a legend glyph and its label, pixels.
const LEGEND_GAP: i32 = 10;
/// Right of the legend box, to the image's edge, pixels.
const LEGEND_RIGHT: i32 = 14;
/// The legend column's widest, pixels (a longer label is cut at the edge).
const LEGEND_MAX_WIDTH: u32 = WIDTH * 2 / 5;
/// Opacity of a band's fill.
const BAND_ALPHA: f64 = 0.18;
/// Half width of an error bar's caps, pixels.
const CAP_HALF_WIDTH: i32 = 6;
/// Radius of the dots marking the points of an error-bar curve, pixels.
const MARKER_RADIUS: i32 = 4;
/// Title font size, pixels; shrunk (down to [`MIN_TITLE_SIZE`]) to fit.
const TITLE_SIZE: f64 = 26.0;
const MIN_TITLE_SIZE: f64 = 12.0;

/// Colour and dash pattern of the `i`-th curve. Colours cycle with period
/// 8; the dash pattern is shifted on every colour cycle so the first 32
/// curves all get distinct (colour, dash) pairs.
fn curve_style(i: usize) -> (RGBColor, Option<(i32, i32)>) {
    (
        PALETTE[i % PALETTE.len()],
        DASHES[(i + i / PALETTE.len()) % DASHES.len()],
    )
}

/// Registers the embedded fonts with plotters (once per process).
pub(super) fn ensure_fonts() -> Result<(), String> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        let normal =
            plotters::style::register_font(FONT_FAMILY, FontStyle::Normal, dejavu::sans::regular()).is_ok();
        let bold = plotters::style::register_font(FONT_FAMILY, FontStyle::Bold, dejavu::sans::bold()).is_ok();
        normal && bold
    });
    if ok {
        Ok(())
    } else {
        Err("cannot load the embedded DejaVu Sans font".to_owned())
    }
}

/// One curve ready to draw.
struct PreparedCurve {
    /// Legend label, control characters replaced by spaces.
    label: String,
    /// Polyline pieces: split at non-finite points, expanded to steps if
    /// requested.
    pieces: Vec<Vec<(f64, f64)>>,
    /// Band pieces (runs of finite `(x, lo, hi)`), each of at least 2 triples.
    band: Vec<Vec<(f64, f64, f64)>>,
    /// Finite error bars `(x, lo, hi)`.
    bars: Vec<(f64, f64, f64)>,
    /// Mark every point with a dot (error-bar curves).
    markers: bool,
}

/// Plot data after validation: polyline pieces per curve and axis ranges.
struct Prepared {
    curves: Vec<PreparedCurve>,
    x: (f64, f64),
    y: (f64, f64),
}

fn is_finite3(&(x, lo, hi): &(f64, f64, f64)) -> bool {
    x.is_finite() && lo.is_finite() && hi.is_finite()
}

fn prepare(plot: &LinePlot, opts: &PlotOptions) -> Result<Prepared, String> {
    let mut xs: Vec<f64> = Vec::new();
    let mut ys: Vec<f64> = Vec::new();
    let mut any_bars = false;
    for c in plot.curves {
        for &(px, py) in c.points.iter().filter(|(x, y)| x.is_finite() && y.is_finite()) {
            xs.push(px);
            ys.push(py);
        }
        let triples = match &c.spread {
            None => None,
            Some(Spread::Band(t)) => Some(t),
            Some(Spread::ErrorBars(t)) => {
                any_bars |= t.iter().any(is_finite3);
                Some(t)
            }
        };
        for &(x, lo, hi) in triples.into_iter().flatten().filter(|t| is_finite3(t)) {
            xs.push(x);
            ys.extend([lo, hi]);
        }
    }
    let mut x = None::<(f64, f64)>;
    for &px in &xs {
        x = Some(match x {
            None => (px, px),
            Some((lo, hi)) => (lo.min(px), hi.max(px)),
        });
    }
    let mut y = (0.0f64, 0.0f64);
    for &py in &ys {
        y = (y.0.min(py), y.1.max(py));
    }
    if opts.y_from_data
        && let (Some(lo), Some(hi)) = (
            ys.iter().copied().reduce(f64::min),
            ys.iter().copied().reduce(f64::max),
        )
    {
        let pad = (0.05 * (hi - lo)).max(0.5);
        y = (lo - pad, hi + pad);
    }
    let x = match (opts.x_categories, x) {
        (Some(cats), x) => {
            let (lo, hi) = x.unwrap_or((0.0, 0.0));
            (lo.min(0.0) - 0.5, hi.max(cats.len() as f64 - 1.0) + 0.5)
        }
        (None, None) => (0.0, 1.0),
        (None, Some((lo, hi))) if lo == hi => {
            if any_bars {
                let d = 0.5 * lo.abs().max(1.0);
                (lo - d, lo + d)
            } else {
                (lo, lo + lo.abs().max(1.0))
            }
        }
        // Error bars and their caps at the extreme x stay inside the chart.
        (None, Some((lo, hi))) if any_bars => (lo - 0.04 * (hi - lo), hi + 0.04 * (hi - lo)),
        (None, Some(r)) => r,
    };
    let y = if opts.y_from_data && !ys.is_empty() {
        y
    } else {
        ((1.05 * y.0).min(0.0), (1.05 * y.1).max(1.0))
    };
    // Data that never goes below 0 gets a little room under 0, so a curve
    // along 0 is drawn above the x axis line, not hidden on it (too little
    // room for a tick below 0).
    let y = if y.0 == 0.0 { (-0.02 * y.1, y.1) } else { y };
    if !(x.1 - x.0).is_finite() || !(y.1 - y.0).is_finite() {
        return Err(format!(
            "data range too large to plot (x {}..{}, y {}..{})",
            fmt_f64(x.0),
            fmt_f64(x.1),
            fmt_f64(y.0),
            fmt_f64(y.1)
        ));
    }

    let curves = plot
        .curves
        .iter()
        .map(|c| {
            let (band, bars, markers) = match &c.spread {
                None => (Vec::new(), Vec::new(), false),
                Some(Spread::Band(t)) => (band_pieces(t), Vec::new(), false),
                Some(Spread::ErrorBars(t)) => {
                    (Vec::new(), t.iter().copied().filter(is_finite3).collect(), true)
                }
            };
            PreparedCurve {
                label: clean_label(&c.label),
                pieces: pieces(&c.points, plot.step),
                band,
                bars,
                markers,
            }
        })
        .collect();
    Ok(Prepared { curves, x, y })
}

/// How many y ticks to ask plotters for over `y`: 10, or for counts no
/// more than the whole numbers in the range, so that the ticks plotters
/// picks (steps of 1, 2 or 5 times a power of 10, at most that many) are
/// all whole numbers.
fn y_label_count(y: (f64, f64), integer: bool) -> usize {
    let whole = (y.1.floor() - y.0.ceil() + 1.0).max(1.0);
    if integer && whole < 10.0 {
        whole as usize
    } else {
        10
    }
}

/// Legend labels are single lines: control characters become spaces.
fn clean_label(label: &str) -> String {
    label
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Splits `points` into runs of finite points (a non-finite point leaves a
/// gap) and, for step plots, inserts the horizontal-then-vertical corners.
fn pieces(points: &[(f64, f64)], step: bool) -> Vec<Vec<(f64, f64)>> {
    let mut out = Vec::new();
    let mut cur: Vec<(f64, f64)> = Vec::new();
    for &(x, y) in points {
        if !(x.is_finite() && y.is_finite()) {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if let Some(&(_, prev_y)) = cur.last().filter(|_| step) {
            cur.push((x, prev_y));
        }
        cur.push((x, y));
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Splits a band into runs of finite triples; runs shorter than 2 enclose
/// no area and are dropped.
fn band_pieces(band: &[(f64, f64, f64)]) -> Vec<Vec<(f64, f64, f64)>> {
    band.split(|t| !is_finite3(t))
        .filter(|run| run.len() >= 2)
        .map(<[_]>::to_vec)
        .collect()
}

/// The outline of a band piece: along `hi` forwards, back along `lo`.
fn band_polygon(piece: &[(f64, f64, f64)]) -> Vec<(f64, f64)> {
    piece
        .iter()
        .map(|&(x, _, hi)| (x, hi))
        .chain(piece.iter().rev().map(|&(x, lo, _)| (x, lo)))
        .collect()
}

/// The largest title font (at most [`TITLE_SIZE`], at least
/// [`MIN_TITLE_SIZE`]) whose rendering of `title` fits the image width.
fn title_font<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, title: &str) -> FontDesc<'static> {
    let mut size = TITLE_SIZE;
    loop {
        let font = FontDesc::new(FontFamily::Name(FONT_FAMILY), size, FontStyle::Bold);
        let fits = root
            .estimate_text_size(title, &TextStyle::from(font.clone()))
            .is_ok_and(|(w, _)| w + 28 <= WIDTH);
        if fits || size <= MIN_TITLE_SIZE {
            return font;
        }
        size -= 1.0;
    }
}

/// The width of the legend column to the right of the chart: the widest
/// label with its glyph and margins, at most [`LEGEND_MAX_WIDTH`]; 0 with
/// no curves.
fn legend_width<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, prep: &Prepared, font: &FontDesc) -> u32 {
    let widest = prep
        .curves
        .iter()
        .filter_map(|c| {
            root.estimate_text_size(&c.label, &TextStyle::from(font.clone()))
                .ok()
        })
        .map(|(w, _)| w)
        .max();
    widest.map_or(0, |w| {
        (w + (LEGEND_GLYPH + LEGEND_GAP + 2 * LEGEND_MARGIN + LEGEND_RIGHT) as u32).min(LEGEND_MAX_WIDTH)
    })
}

/// Draws the legend in `area` (the column right of the chart), from `top`
/// pixels down: per curve a short line in its colour and dash pattern (with
/// a dot for error-bar curves) and its label, in a framed box.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    prep: &Prepared,
    font: &FontDesc,
    top: i32,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    if prep.curves.is_empty() {
        return Ok(());
    }
    let (w, _) = area.dim_in_pixel();
    let row = (font.get_size() * 1.5).round() as i32;
    let bottom = top + 2 * LEGEND_MARGIN + row * prep.curves.len() as i32;
    area.draw(&Rectangle::new(
        [(0, top), (w as i32 - LEGEND_RIGHT, bottom)],
        RGBColor(0x80, 0x80, 0x80).stroke_width(1),
    ))?;
    let text = TextStyle::from(font.clone()).pos(Pos::new(HPos::Left, VPos::Center));
    for (i, c) in prep.curves.iter().enumerate() {
        let (color, dash) = curve_style(i);
        let style = color.stroke_width(STROKE_WIDTH);
        let (x, y) = (LEGEND_MARGIN, top + LEGEND_MARGIN + row * i as i32 + row / 2);
        let line = vec![(x, y), (x + LEGEND_GLYPH, y)];
        match dash {
            None => area.draw(&PathElement::new(line, style))?,
            Some((d, g)) => area.draw(&DashedPathElement::new(line, d, g, style))?,
        }
        if c.markers {
            area.draw(&Circle::new(
                (x + LEGEND_GLYPH / 2, y),
                MARKER_RADIUS,
                color.filled(),
            ))?;
        }
        area.draw(&Text::new(
            c.label.as_str(),
            (x + LEGEND_GLYPH + LEGEND_GAP, y),
            text.clone(),
        ))?;
    }
    Ok(())
}

fn draw_chart<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    plot: &LinePlot,
    opts: &PlotOptions,
    prep: &Prepared,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;

    let title_font = title_font(root, plot.title);
    let axis_desc_font = FontDesc::new(FontFamily::Name(FONT_FAMILY), 20.0, FontStyle::Normal);
    let tick_font = FontDesc::new(FontFamily::Name(FONT_FAMILY), 16.0, FontStyle::Normal);
    let legend_font = FontDesc::new(FontFamily::Name(FONT_FAMILY), 17.0, FontStyle::Normal);

    // The legend goes in a column right of the chart, beside the data.
    let body = root.titled(plot.title, title_font)?;
    let legend = legend_width(root, prep, &legend_font);
    let (chart_area, legend_area) = body.split_horizontally(WIDTH - legend);
    let mut chart = ChartBuilder::on(&chart_area)
        .margin(14)
        .margin_right(if legend > 0 { 14 } else { 36 })
        .x_label_area_size(66)
        .y_label_area_size(84)
        .build_cartesian_2d(prep.x.0..prep.x.1, prep.y.0..prep.y.1)?;

    let tick_fmt = |v: &f64| fmt_f64(*v);
    let x_tick_fmt = |v: &f64| match opts.x_categories {
        None => fmt_f64(*v),
        Some(cats) => {
            let i = v.round();
            if (v - i).abs() < 1e-9 && i >= 0.0 && i < cats.len() as f64 {
                clean_label(&cats[i as usize])
            } else {
                String::new()
            }
        }
    };
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(plot.x_label)
        .y_desc(plot.y_label)
        .axis_desc_style(axis_desc_font)
        .label_style(tick_font)
        .x_labels(12)
        .y_labels(y_label_count(prep.y, opts.y_integer))
        .x_label_formatter(&x_tick_fmt)
        .y_label_formatter(&tick_fmt)
        .bold_line_style(RGBColor(0xD0, 0xD0, 0xD0).stroke_width(1))
        .light_line_style(RGBColor(0xF0, 0xF0, 0xF0).stroke_width(1))
        .axis_style(BLACK.stroke_width(1));
    if let Some(cats) = opts.x_categories {
        // At most one tick per category, no minor grid between them.
        mesh.x_labels(cats.len().clamp(1, 12) + 1).x_max_light_lines(0);
    }
    mesh.draw()?;

    // Bands first, beneath every line.
    for (i, c) in prep.curves.iter().enumerate() {
        let (color, _) = curve_style(i);
        chart.draw_series(
            c.band
                .iter()
                .map(|piece| Polygon::new(band_polygon(piece), color.mix(BAND_ALPHA).filled())),
        )?;
    }

    for (i, c) in prep.curves.iter().enumerate() {
        let (color, dash) = curve_style(i);
        let style = color.stroke_width(STROKE_WIDTH);
        for &(x, lo, hi) in &c.bars {
            chart.draw_series([PathElement::new(vec![(x, lo), (x, hi)], style)])?;
            let cap = |y: f64| {
                EmptyElement::at((x, y))
                    + PathElement::new(vec![(-CAP_HALF_WIDTH, 0), (CAP_HALF_WIDTH, 0)], style)
            };
            chart.draw_series([cap(lo), cap(hi)])?;
        }
        if c.markers {
            chart.draw_series(
                c.pieces
                    .iter()
                    .flatten()
                    .map(|&p| Circle::new(p, MARKER_RADIUS, color.filled())),
            )?;
        } else {
            // A piece with a single point would draw nothing as a line: mark it.
            chart.draw_series(
                c.pieces
                    .iter()
                    .filter(|p| p.len() == 1)
                    .map(|p| Circle::new(p[0], 3, color.filled())),
            )?;
        }
        let elements = c.pieces.iter().filter(|p| p.len() > 1).cloned();
        match dash {
            None => chart.draw_series(elements.map(|p| PathElement::new(p, style)))?,
            Some((dash_len, gap)) => {
                chart.draw_series(elements.map(|p| DashedPathElement::new(p, dash_len, gap, style)))?
            }
        };
    }
    let top = chart.plotting_area().get_base_pixel().1 - body.get_base_pixel().1;
    draw_legend(&legend_area, prep, &legend_font, top)?;

    root.present()
}

/// A figure that draws itself on any plotters backend.
pub(super) trait Figure {
    /// Draws on `root`.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

/// The formats every figure is written in, as file extensions, in the
/// order they are written.
pub const FIGURE_FORMATS: [&str; 3] = ["png", "svg", "pdf"];

/// `<stem>.png`, `<stem>.svg` and `<stem>.pdf` ([`FIGURE_FORMATS`]): the
/// files of one figure. The extension is appended, so a stem may hold dots.
pub fn figure_paths(stem: &Path) -> Vec<PathBuf> {
    FIGURE_FORMATS
        .iter()
        .map(|ext| {
            let mut name = stem.as_os_str().to_owned();
            name.push(".");
            name.push(ext);
            PathBuf::from(name)
        })
        .collect()
}

/// A figure rendered in memory: the same drawing as PNG, SVG and PDF.
pub(super) struct Rendered {
    pub(super) png: Vec<u8>,
    pub(super) svg: String,
    pub(super) pdf: Vec<u8>,
}

impl Rendered {
    /// Writes the figure's files ([`figure_paths`] of `stem`), each
    /// atomically, in [`FIGURE_FORMATS`] order; returns their paths.
    pub(super) fn write(&self, stem: &Path) -> Result<Vec<PathBuf>, ReportError> {
        let paths = figure_paths(stem);
        for (path, bytes) in paths
            .iter()
            .zip([&self.png[..], self.svg.as_bytes(), &self.pdf[..]])
        {
            write_atomic(path, bytes)?;
        }
        Ok(paths)
    }
}

/// Renders `figure` in memory as PNG, SVG and PDF, `width` x `height`,
/// each pass [`guarded`]: the one place a figure becomes files' bytes.
pub(super) fn render_figure(figure: &impl Figure, width: u32, height: u32) -> Result<Rendered, String> {
    ensure_fonts()?;
    let png = guarded(|| {
        let mut rgb = vec![0xFFu8; width as usize * height as usize * 3];
        {
            let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
            figure.draw(&root)?;
        }
        png::encode_rgb8(width, height, &rgb)
    })?;
    let svg = guarded(|| {
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
            figure.draw(&root)?;
        }
        Ok(svg)
    })?;
    let pdf = guarded(|| {
        let mut pdf = Vec::new();
        {
            let backend =
                super::pdf::PdfBackend::new(&mut pdf, (width, height)).map_err(|e| e.to_string())?;
            let root = backend.into_drawing_area();
            figure.draw(&root)?;
            root.present().map_err(|e| e.to_string())?;
        }
        Ok(pdf)
    })?;
    Ok(Rendered { png, svg, pdf })
}

/// Runs `f`, turning a panic inside the drawing library into an error.
pub(super) fn guarded<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            Err(format!("internal drawing failure: {msg}"))
        }
    }
}

/// Renders the plot in memory without writing anything. Errors are plain
/// messages; [`draw_lines`] attaches paths.
fn render(plot: &LinePlot, opts: &PlotOptions) -> Result<Rendered, String> {
    let prep = prepare(plot, opts)?;
    render_figure(
        &LineFigure {
            plot,
            opts,
            prep: &prep,
        },
        WIDTH,
        HEIGHT,
    )
}

/// A line plot ready to draw.
struct LineFigure<'a> {
    plot: &'a LinePlot<'a>,
    opts: &'a PlotOptions<'a>,
    prep: &'a Prepared,
}

impl Figure for LineFigure<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        draw_chart(root, self.plot, self.opts, self.prep).map_err(|e| e.to_string())
    }
}

/// Draws the plot to `<stem>.png`, `.svg` and `.pdf` ([`figure_paths`],
/// [`WIDTH`]x[`HEIGHT`] pixels; the PDF page is as large at 96 pixels per
/// inch); returns the files written.
///
/// Axes are labelled; a legend box right of the chart (beside the data,
/// as wide as the longest label, at most 2/5 of the image) lists each
/// curve's label with its colour and line style. Colours come from the Okabe-Ito
/// palette, combined with solid/dashed/dotted line styles. Ranges: x from
/// the minimum to the maximum x of all points (0..1 if there are none), y
/// from 0 (or 1.05 * the minimum if negative) to 1.05 * the maximum, at
/// least 1. Non-finite points are skipped (the line has a gap there); an
/// isolated finite point is drawn as a small dot.
/// Empty curves are allowed: they draw nothing but are listed in the legend.
/// A title too wide for the image is set in a smaller font.
///
/// A curve's [`Spread`] is drawn in its colour and counts towards the
/// ranges; if any curve has error bars, the x range is padded by 4% each
/// side so the outermost bars stay inside the chart.
///
/// All three are rendered in memory first; nothing is written if drawing
/// fails. Each file is then written atomically (PNG, SVG, then PDF).
pub fn draw_lines(plot: &LinePlot, stem: &Path) -> Result<Vec<PathBuf>, ReportError> {
    draw_lines_with(plot, &PlotOptions::default(), stem)
}

/// Draws cumulative counts against days as step curves with whole-number
/// y ticks (the migrations, VMs lost and per-site migrations figures).
pub fn draw_cumulative(
    title: &str,
    y_label: &str,
    curves: &[Curve],
    stem: &Path,
) -> Result<Vec<PathBuf>, ReportError> {
    draw_lines_with(
        &LinePlot {
            title,
            x_label: "time (days)",
            y_label,
            curves,
            step: true,
        },
        &PlotOptions {
            y_integer: true,
            ..PlotOptions::default()
        },
        stem,
    )
}

/// The step curves of a tidy series (`run,provisioning,placement,...,
/// time_s,VALUE`): one curve per run and value of the `by` column (if
/// any), in file order, x in days, labelled `provisioning/placement` (and
/// ` @ by`).
pub(crate) fn step_curves(table: &CsvFile, by: Option<&str>, value: &str) -> Result<Vec<Curve>, ReportError> {
    let (c_run, c_prov, c_place, c_time, c_n) = (
        table.column("run")?,
        table.column("provisioning")?,
        table.column("placement")?,
        table.column("time_s")?,
        table.column(value)?,
    );
    let c_by = by.map(|b| table.column(b)).transpose()?;
    let mut curves: Vec<((u64, String), Curve)> = Vec::new();
    for (line, row) in &table.records {
        let run = table.integer(*line, "run", &row[c_run])?;
        let key = (run, c_by.map_or(String::new(), |c| row[c].clone()));
        let x = table.count(*line, "time_s", &row[c_time])? / 86_400.0;
        let y = table.integer(*line, value, &row[c_n])? as f64;
        match curves.last_mut() {
            Some((k, c)) if *k == key => c.points.push((x, y)),
            _ => {
                let mut label = format!("{}/{}", row[c_prov], row[c_place]);
                if let Some(c) = c_by {
                    label += &format!(" @ {}", row[c]);
                }
                curves.push((
                    key,
                    Curve {
                        label,
                        points: vec![(x, y)],
                        spread: None,
                    },
                ))
            }
        }
    }
    Ok(curves.into_iter().map(|(_, c)| c).collect())
}

/// [`draw_lines`] with [`PlotOptions`]: a categorical x axis and/or
/// whole-number y ticks.
pub fn draw_lines_with(
    plot: &LinePlot,
    options: &PlotOptions,
    stem: &Path,
) -> Result<Vec<PathBuf>, ReportError> {
    let rendered = render(plot, options).map_err(|message| ReportError::Plot {
        path: figure_paths(stem)[0].display().to_string(),
        message,
    })?;
    rendered.write(stem)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::test_util::TempDir;

    const PNG_MAGIC: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

    fn two_curves() -> Vec<Curve> {
        vec![
            Curve {
                spread: None,
                label: "placement".to_owned(),
                points: (0..=50)
                    .map(|i| (i as f64 * 0.2, (i as f64 * 0.2).sin() * 3.0 + 4.0))
                    .collect(),
            },
            Curve {
                spread: None,
                label: "provisioning".to_owned(),
                points: (0..=50).map(|i| (i as f64 * 0.2, i as f64 * 0.15)).collect(),
            },
        ]
    }

    /// Cumulative-count step curves over 30 days, ~700 events each,
    /// generated with a fixed LCG so the test is deterministic.
    fn migration_curves() -> Vec<Curve> {
        let specs: [(&str, f64); 4] = [
            ("greedy-first-fit", 1.0),
            ("best-fit + migrate", 0.8),
            ("load-balance", 0.55),
            ("no-migration baseline", 0.25),
        ];
        let mut state: u64 = 0x5eed_1234_abcd_ef01;
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        specs
            .iter()
            .map(|&(label, rate)| {
                let n = 700;
                let mut times: Vec<f64> = (0..n)
                    .map(|_| {
                        // Denser early on for the aggressive policies.
                        let u: f64 = next();
                        30.0 * u.powf(1.0 + (1.0 - rate))
                    })
                    .collect();
                times.sort_by(f64::total_cmp);
                let mut points = vec![(0.0, 0.0)];
                let mut count = 0.0;
                for t in times {
                    count += rate.max(0.3) * if next() < rate { 2.0 } else { 1.0 };
                    points.push((t, count.floor()));
                }
                points.push((30.0, count.floor()));
                Curve {
                    spread: None,
                    label: label.to_owned(),
                    points,
                }
            })
            .collect()
    }

    #[test]
    fn two_curves_png_and_svg() {
        let tmp = TempDir::new("plot");
        let curves = two_curves();
        let plot = LinePlot {
            title: "Hosts in use",
            x_label: "time (days)",
            y_label: "hosts",
            curves: &curves,
            step: false,
        };
        let written = draw_lines(&plot, &tmp.path().join("out/hosts")).unwrap();
        let [png_path, svg_path, pdf_path] = &written[..] else {
            panic!("{written:?}")
        };

        let png = std::fs::read(png_path).unwrap();
        assert_eq!(&png[..8], &PNG_MAGIC);
        assert!(png.len() > 5 * 1024, "PNG only {} bytes", png.len());
        // IHDR holds the size.
        assert_eq!(&png[16..20], &WIDTH.to_be_bytes());
        assert_eq!(&png[20..24], &HEIGHT.to_be_bytes());

        let svg = std::fs::read_to_string(svg_path).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(80)]);
        for text in [
            "Hosts in use",
            "time (days)",
            "\nhosts\n",
            "placement",
            "provisioning",
        ] {
            assert!(svg.contains(text), "SVG lacks {text:?}");
        }
        assert!(svg.contains("sans-serif"));

        // The PDF: a page as large as the SVG at 96 pixels per inch, the
        // same words in its fonts' Unicode maps, glyphs drawn from outlines.
        let pdf = std::fs::read(pdf_path).unwrap();
        assert!(pdf.starts_with(b"%PDF-1.4\n"));
        assert!(String::from_utf8_lossy(&pdf).contains("/MediaBox [0 0 768 480]"));
        let text = crate::report::pdf::tests::text(&pdf);
        for words in [
            "Hosts in use",
            "time (days)",
            "hosts",
            "placement",
            "provisioning",
        ] {
            assert!(text.contains(words), "PDF lacks {words:?}: {text}");
        }

        let mut names: Vec<String> = std::fs::read_dir(tmp.path().join("out"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["hosts.pdf", "hosts.png", "hosts.svg"]);
    }

    #[test]
    fn rendering_is_deterministic() {
        let tmp = TempDir::new("plot-det");
        let curves = two_curves();
        let plot = LinePlot {
            title: "Determinism",
            x_label: "x",
            y_label: "y",
            curves: &curves,
            step: true,
        };
        let a = draw_lines(&plot, &tmp.path().join("a")).unwrap();
        let b = draw_lines(&plot, &tmp.path().join("b")).unwrap();
        for (a, b) in a.iter().zip(&b) {
            assert_eq!(
                std::fs::read(a).unwrap(),
                std::fs::read(b).unwrap(),
                "{}",
                a.display()
            );
        }
        // And from another thread (fonts already registered, fresh stack).
        let other = std::thread::spawn(move || {
            let curves = two_curves();
            let plot = LinePlot {
                title: "Determinism",
                x_label: "x",
                y_label: "y",
                curves: &curves,
                step: true,
            };
            render(&plot, &PlotOptions::default()).unwrap()
        })
        .join()
        .unwrap();
        assert_eq!(other.png, std::fs::read(&a[0]).unwrap());
        assert_eq!(other.svg.as_bytes(), std::fs::read(&a[1]).unwrap());
        assert_eq!(other.pdf, std::fs::read(&a[2]).unwrap());
    }

    #[test]
    fn edge_cases_do_not_fail() {
        let tmp = TempDir::new("plot-edge");
        let cases: Vec<Vec<Curve>> = vec![
            vec![],
            vec![Curve {
                spread: None,
                label: "empty".to_owned(),
                points: vec![],
            }],
            vec![Curve {
                spread: None,
                label: "single\npoint".to_owned(),
                points: vec![(5.0, 5.0)],
            }],
            vec![Curve {
                spread: None,
                label: "gaps & <xml>".to_owned(),
                points: vec![
                    (0.0, 1.0),
                    (1.0, f64::NAN),
                    (2.0, -3.0),
                    (f64::INFINITY, 2.0),
                    (3.0, 2.0),
                ],
            }],
            (0..12)
                .map(|i| Curve {
                    spread: None,
                    label: format!("curve {i}"),
                    points: vec![(0.0, i as f64), (1.0, i as f64 + 1.0)],
                })
                .collect(),
        ];
        for (k, curves) in cases.iter().enumerate() {
            for step in [false, true] {
                let plot = LinePlot {
                    title: "",
                    x_label: "",
                    y_label: "",
                    curves,
                    step,
                };
                draw_lines(&plot, &tmp.path().join(format!("{k}-{step}")))
                    .unwrap_or_else(|e| panic!("case {k}: {e}"));
            }
        }
        // The empty curve is still listed in the legend.
        let svg = std::fs::read_to_string(tmp.path().join("1-false.svg")).unwrap();
        assert!(svg.contains("\nempty\n"));
        // Labels are XML-escaped and single-line in the SVG.
        let svg = std::fs::read_to_string(tmp.path().join("3-false.svg")).unwrap();
        assert!(svg.contains("gaps &amp; &lt;xml&gt;"));
        let svg = std::fs::read_to_string(tmp.path().join("2-true.svg")).unwrap();
        assert!(svg.contains("single point"));
    }

    #[test]
    fn huge_range_is_an_error() {
        let curves = vec![Curve {
            spread: None,
            label: "c".to_owned(),
            points: vec![(-f64::MAX, 0.0), (f64::MAX, 1.0)],
        }];
        let plot = LinePlot {
            title: "t",
            x_label: "x",
            y_label: "y",
            curves: &curves,
            step: false,
        };
        let tmp = TempDir::new("plot-err");
        let err = draw_lines(&plot, &tmp.path().join("e")).unwrap_err();
        assert!(matches!(err, ReportError::Plot { .. }), "{err}");
        assert!(!tmp.path().join("e.png").exists() && !tmp.path().join("e.pdf").exists());
    }

    /// The x of the SVG `<text>` element just before the line `label`.
    fn svg_text_x(svg: &str, label: &str) -> i32 {
        let at = svg
            .find(&format!("\n{label}\n"))
            .unwrap_or_else(|| panic!("no text {label:?}"));
        let open = svg[..at].rfind("<text x=\"").unwrap() + "<text x=\"".len();
        let end = open + svg[open..].find('"').unwrap();
        svg[open..end].parse().unwrap()
    }

    #[test]
    fn spreads_categories_and_the_legend_beside_the_data() {
        let tmp = TempDir::new("plot-spread");
        // A rising mean with a band (a gap in the middle), and a falling
        // series with error bars (one non-finite, skipped).
        let band: Vec<(f64, f64, f64)> = (0..=20)
            .map(|i| {
                let x = i as f64;
                if i == 10 {
                    (x, f64::NAN, f64::NAN)
                } else {
                    (x, 0.8 * x, x + 3.0)
                }
            })
            .collect();
        let curves = vec![
            Curve {
                label: "rising".to_owned(),
                points: (0..=20).map(|i| (i as f64, i as f64 + 1.0)).collect(),
                spread: Some(Spread::Band(band)),
            },
            Curve {
                label: "falling".to_owned(),
                points: vec![(0.0, 30.0), (10.0, 25.0), (20.0, 20.0)],
                spread: Some(Spread::ErrorBars(vec![
                    (0.0, 28.0, 32.0),
                    (10.0, f64::NAN, 27.0),
                    (20.0, 18.0, 22.0),
                ])),
            },
        ];
        let plot = LinePlot {
            title: "spread",
            x_label: "x",
            y_label: "y",
            curves: &curves,
            step: false,
        };
        // The error bar up to 32 sets the y range; the band is drawn.
        let prep = prepare(&plot, &PlotOptions::default()).unwrap();
        assert_eq!(prep.y, (-0.02 * 1.05 * 32.0, 1.05 * 32.0));
        assert_eq!(prep.x, (-0.8, 20.8));
        assert_eq!(prep.curves[0].band.len(), 2);
        assert_eq!(prep.curves[1].bars.len(), 2);

        let auto = PlotOptions::default();
        let stem = tmp.path().join("s");
        let (png, svg) = (tmp.path().join("s.png"), tmp.path().join("s.svg"));
        draw_lines_with(&plot, &auto, &stem).unwrap();
        let text = std::fs::read_to_string(&svg).unwrap();
        assert!(
            text.contains("<polygon") || text.contains("<path"),
            "no band drawn"
        );
        // The legend's box stands right of every line of the data (the
        // falling series starts in the upper left, where the box used to
        // be); only the legend's own glyphs are inside it.
        let frame = text
            .split("<rect ")
            .skip(1)
            .map(|r| format!(" {}", &r[..r.find("/>").unwrap()]))
            .find(|r| r.contains("stroke=\"#808080\""))
            .expect("a legend box");
        let attr = |name: &str| -> i32 {
            let at = frame.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
            frame[at..at + frame[at..].find('"').unwrap()].parse().unwrap()
        };
        let (x0, y0, w, h) = (attr("x"), attr("y"), attr("width"), attr("height"));
        assert!(
            x0 > WIDTH as i32 / 2 && x0 + w <= WIDTH as i32,
            "box at x {x0}, width {w}"
        );
        assert!(svg_text_x(&text, "rising") > x0 && svg_text_x(&text, "falling") > x0);
        let (mut data, mut glyphs) = (0, 0);
        for line in text.split("points=\"").skip(1) {
            let pts: Vec<(i32, i32)> = line[..line.find('"').unwrap()]
                .split_whitespace()
                .map(|p| {
                    let (x, y) = p.split_once(',').unwrap();
                    (x.parse().unwrap(), y.parse().unwrap())
                })
                .collect();
            let inside = |&(x, y): &(i32, i32)| (x0..=x0 + w).contains(&x) && (y0..=y0 + h).contains(&y);
            if pts.iter().all(inside) {
                glyphs += 1;
            } else {
                assert!(pts.iter().all(|p| p.0 < x0), "a line reaches the legend: {pts:?}");
                data += 1;
            }
        }
        assert!(
            data > 2 && glyphs >= 2,
            "{data} data lines, {glyphs} legend glyphs"
        );
        let again = render(&plot, &auto).unwrap();
        assert_eq!(std::fs::read(&png).unwrap(), again.png);
        assert_eq!(text, again.svg);
        assert_eq!(std::fs::read(tmp.path().join("s.pdf")).unwrap(), again.pdf);

        // Categorical axis: ticks are labelled with the categories.
        let cats = vec!["small".to_owned(), "medium & <big>".to_owned(), "huge".to_owned()];
        let curves = vec![Curve {
            label: "c".to_owned(),
            points: vec![(0.0, 1.0), (1.0, 2.0), (2.0, 1.5)],
            spread: Some(Spread::ErrorBars(vec![
                (0.0, 0.5, 1.5),
                (1.0, 1.0, 3.0),
                (2.0, 1.5, 1.5),
            ])),
        }];
        let plot = LinePlot {
            curves: &curves,
            ..plot
        };
        let opts = PlotOptions {
            x_categories: Some(&cats),
            y_integer: false,
            ..PlotOptions::default()
        };
        assert_eq!(prepare(&plot, &opts).unwrap().x, (-0.5, 2.5));
        draw_lines_with(&plot, &opts, &stem).unwrap();
        let text = std::fs::read_to_string(&svg).unwrap();
        for label in ["small", "medium &amp; &lt;big&gt;", "huge"] {
            assert!(text.contains(&format!("\n{label}\n")), "no tick {label:?}");
        }
        // No categories and no data at all still draws.
        let empty = PlotOptions {
            x_categories: Some(&[]),
            y_integer: false,
            ..PlotOptions::default()
        };
        let plot = LinePlot { curves: &[], ..plot };
        draw_lines_with(&plot, &empty, &stem).unwrap();
    }

    #[test]
    fn step_pieces() {
        let p = pieces(&[(0.0, 0.0), (1.0, 2.0), (3.0, 5.0)], true);
        assert_eq!(
            p,
            vec![vec![(0.0, 0.0), (1.0, 0.0), (1.0, 2.0), (3.0, 2.0), (3.0, 5.0)]]
        );
        let p = pieces(&[(0.0, 1.0), (f64::NAN, 1.0), (2.0, 3.0)], false);
        assert_eq!(p, vec![vec![(0.0, 1.0)], vec![(2.0, 3.0)]]);
    }

    #[test]
    fn a_zero_curve_stays_above_the_axis_and_counts_get_whole_ticks() {
        let curves = vec![
            Curve {
                label: "never".to_owned(),
                points: vec![(0.0, 0.0), (100.0, 0.0)],
                spread: None,
            },
            Curve {
                label: "once".to_owned(),
                points: vec![(0.0, 0.0), (50.0, 1.0), (100.0, 1.0)],
                spread: None,
            },
        ];
        let plot = LinePlot {
            title: "counts",
            x_label: "x",
            y_label: "y",
            curves: &curves,
            step: true,
        };
        let counts = PlotOptions {
            y_integer: true,
            ..PlotOptions::default()
        };
        // Room under 0: 2 % of the range, about 10 pixels of the chart.
        let prep = prepare(&plot, &counts).unwrap();
        assert_eq!(prep.y, (-0.02 * 1.05, 1.05));
        let numbers = |svg: &str| -> Vec<String> {
            svg.split('\n')
                .filter(|l| !l.is_empty() && l.parse::<f64>().is_ok())
                .map(str::to_owned)
                .collect()
        };
        // Whole ticks for counts (no tick below 0) ...
        let svg = render(&plot, &counts).unwrap().svg;
        let ticks = numbers(&svg);
        assert!(
            ticks.contains(&"1".to_owned()) && ticks.contains(&"0".to_owned()),
            "{ticks:?}"
        );
        assert!(
            ticks.iter().all(|t| !t.contains('.') && !t.starts_with('-')),
            "{ticks:?}"
        );
        // ... fractional ones otherwise.
        let svg = render(&plot, &PlotOptions::default()).unwrap().svg;
        assert!(
            numbers(&svg).iter().any(|t| t.contains('.')),
            "{:?}",
            numbers(&svg)
        );
        // Larger counts keep ten ticks, at whole steps.
        assert_eq!(y_label_count((-0.5, 3.2), true), 4);
        assert_eq!(y_label_count((-2.0, 400.0), true), 10);
        assert_eq!(y_label_count((-0.02, 1.05), false), 10);
    }

    /// Renders the demo figure (4 cumulative step curves, ~700 points each,
    /// 30 days) and keeps a copy at /tmp/report-demo.png (+ .svg, .pdf) for
    /// visual inspection.
    #[test]
    fn demo_cumulative_migrations() {
        let curves = migration_curves();
        assert!(curves.iter().all(|c| c.points.len() >= 700));
        let plot = LinePlot {
            title: "Cumulative migrations",
            x_label: "time (days)",
            y_label: "migrations",
            curves: &curves,
            step: true,
        };
        let tmp = TempDir::new("plot-demo");
        let written = draw_lines(&plot, &tmp.path().join("demo")).unwrap();
        let bytes = std::fs::read(&written[0]).unwrap();
        assert_eq!(&bytes[..8], &PNG_MAGIC);
        // Best effort: the copies are for humans, not part of the assertion.
        for (path, ext) in written.iter().zip(FIGURE_FORMATS) {
            let _ = write_atomic(
                Path::new(&format!("/tmp/report-demo.{ext}")),
                &std::fs::read(path).unwrap(),
            );
        }
    }
}
