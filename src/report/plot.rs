//! Line plots rendered with plotters to PNG and SVG.
//!
//! Text uses DejaVu Sans embedded in the binary (crate `dejavu`), registered
//! with plotters' `ab_glyph` font backend under the family name
//! [`FONT_FAMILY`], so no system font library is needed. Rendering is
//! deterministic: identical input gives byte-identical PNG and SVG files.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::FontStyle;

use super::csv::fmt_f64;
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
fn ensure_fonts() -> Result<(), String> {
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
}

/// Plot data after validation: polyline pieces per curve and axis ranges.
struct Prepared {
    curves: Vec<PreparedCurve>,
    x: (f64, f64),
    y: (f64, f64),
}

fn prepare(plot: &LinePlot) -> Result<Prepared, String> {
    let finite = || {
        plot.curves
            .iter()
            .flat_map(|c| c.points.iter())
            .filter(|(x, y)| x.is_finite() && y.is_finite())
    };
    let mut x = None::<(f64, f64)>;
    let mut y = (0.0f64, 0.0f64);
    for &(px, py) in finite() {
        x = Some(match x {
            None => (px, px),
            Some((lo, hi)) => (lo.min(px), hi.max(px)),
        });
        y = (y.0.min(py), y.1.max(py));
    }
    let x = match x {
        None => (0.0, 1.0),
        Some((lo, hi)) if lo == hi => (lo, lo + lo.abs().max(1.0)),
        Some(r) => r,
    };
    let y = ((1.05 * y.0).min(0.0), (1.05 * y.1).max(1.0));
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
        .map(|c| PreparedCurve {
            label: clean_label(&c.label),
            pieces: pieces(&c.points, plot.step),
        })
        .collect();
    Ok(Prepared { curves, x, y })
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

fn draw_chart<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    plot: &LinePlot,
    prep: &Prepared,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;

    let title_font = FontDesc::new(FontFamily::Name(FONT_FAMILY), 26.0, FontStyle::Bold);
    let axis_desc_font = FontDesc::new(FontFamily::Name(FONT_FAMILY), 20.0, FontStyle::Normal);
    let tick_font = FontDesc::new(FontFamily::Name(FONT_FAMILY), 16.0, FontStyle::Normal);
    let legend_font = FontDesc::new(FontFamily::Name(FONT_FAMILY), 17.0, FontStyle::Normal);

    let mut chart = ChartBuilder::on(root)
        .caption(plot.title, title_font)
        .margin(14)
        .margin_right(36)
        .x_label_area_size(66)
        .y_label_area_size(84)
        .build_cartesian_2d(prep.x.0..prep.x.1, prep.y.0..prep.y.1)?;

    let tick_fmt = |v: &f64| fmt_f64(*v);
    chart
        .configure_mesh()
        .x_desc(plot.x_label)
        .y_desc(plot.y_label)
        .axis_desc_style(axis_desc_font)
        .label_style(tick_font)
        .x_labels(12)
        .y_labels(10)
        .x_label_formatter(&tick_fmt)
        .y_label_formatter(&tick_fmt)
        .bold_line_style(RGBColor(0xD0, 0xD0, 0xD0).stroke_width(1))
        .light_line_style(RGBColor(0xF0, 0xF0, 0xF0).stroke_width(1))
        .axis_style(BLACK.stroke_width(1))
        .draw()?;

    for (i, PreparedCurve { label, pieces }) in prep.curves.iter().enumerate() {
        let (color, dash) = curve_style(i);
        let style = color.stroke_width(STROKE_WIDTH);
        // A piece with a single point would draw nothing as a line: mark it.
        chart.draw_series(
            pieces
                .iter()
                .filter(|p| p.len() == 1)
                .map(|p| Circle::new(p[0], 3, color.filled())),
        )?;
        let elements = pieces.iter().filter(|p| p.len() > 1).cloned();
        match dash {
            None => {
                chart
                    .draw_series(elements.map(|p| PathElement::new(p, style)))?
                    .label(label.as_str())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + LEGEND_GLYPH, y)], style));
            }
            Some((dash_len, gap)) => {
                chart
                    .draw_series(elements.map(|p| DashedPathElement::new(p, dash_len, gap, style)))?
                    .label(label.as_str())
                    .legend(move |(x, y)| {
                        DashedPathElement::new(vec![(x, y), (x + LEGEND_GLYPH, y)], dash_len, gap, style)
                    });
            }
        }
    }

    if !prep.curves.is_empty() {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .margin(12)
            .legend_area_size(LEGEND_GLYPH + 12)
            .label_font(legend_font)
            .background_style(WHITE.mix(0.8))
            .border_style(RGBColor(0x80, 0x80, 0x80))
            .draw()?;
    }

    root.present()
}

fn render_svg(plot: &LinePlot, prep: &Prepared) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        draw_chart(&root, plot, prep).map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

fn render_png(plot: &LinePlot, prep: &Prepared) -> Result<Vec<u8>, String> {
    let mut rgb = vec![0xFFu8; WIDTH as usize * HEIGHT as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (WIDTH, HEIGHT)).into_drawing_area();
        draw_chart(&root, plot, prep).map_err(|e| e.to_string())?;
    }
    png::encode_rgb8(WIDTH, HEIGHT, &rgb)
}

/// Runs `f`, turning a panic inside the drawing library into an error.
fn guarded<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
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

/// Renders the plot in memory as `(png_bytes, svg_text)` without writing
/// anything. Errors are plain messages; [`draw_lines`] attaches paths.
fn render(plot: &LinePlot) -> Result<(Vec<u8>, String), String> {
    ensure_fonts()?;
    let prep = prepare(plot)?;
    let png = guarded(|| render_png(plot, &prep))?;
    let svg = guarded(|| render_svg(plot, &prep))?;
    Ok((png, svg))
}

/// Draws the plot to `png` and `svg` (both [`WIDTH`]x[`HEIGHT`]).
///
/// Axes are labelled; a legend box in the upper left lists each curve's
/// label with its colour and line style. Colours come from the Okabe-Ito
/// palette, combined with solid/dashed/dotted line styles. Ranges: x from
/// the minimum to the maximum x of all points (0..1 if there are none), y
/// from 0 (or 1.05 * the minimum if negative) to 1.05 * the maximum, at
/// least 1. Non-finite points are skipped (the line has a gap there); an
/// isolated finite point is drawn as a small dot.
/// Empty curves are allowed: they draw nothing but are listed in the legend.
///
/// Both images are rendered in memory first; nothing is written if drawing
/// fails. Each file is then written atomically (PNG first, then SVG).
pub fn draw_lines(plot: &LinePlot, png: &Path, svg: &Path) -> Result<(), ReportError> {
    let (png_bytes, svg_text) = render(plot).map_err(|message| ReportError::Plot {
        path: png.display().to_string(),
        message,
    })?;
    write_atomic(png, &png_bytes)?;
    write_atomic(svg, svg_text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::test_util::TempDir;

    const PNG_MAGIC: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

    fn two_curves() -> Vec<Curve> {
        vec![
            Curve {
                label: "placement".to_owned(),
                points: (0..=50)
                    .map(|i| (i as f64 * 0.2, (i as f64 * 0.2).sin() * 3.0 + 4.0))
                    .collect(),
            },
            Curve {
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
        let png_path = tmp.path().join("out/hosts.png");
        let svg_path = tmp.path().join("out/hosts.svg");
        draw_lines(&plot, &png_path, &svg_path).unwrap();

        let png = std::fs::read(&png_path).unwrap();
        assert_eq!(&png[..8], &PNG_MAGIC);
        assert!(png.len() > 5 * 1024, "PNG only {} bytes", png.len());
        // IHDR holds the size.
        assert_eq!(&png[16..20], &WIDTH.to_be_bytes());
        assert_eq!(&png[20..24], &HEIGHT.to_be_bytes());

        let svg = std::fs::read_to_string(&svg_path).unwrap();
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

        let mut names: Vec<String> = std::fs::read_dir(tmp.path().join("out"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["hosts.png", "hosts.svg"]);
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
        let (p1, s1) = (tmp.path().join("a.png"), tmp.path().join("a.svg"));
        let (p2, s2) = (tmp.path().join("b.png"), tmp.path().join("b.svg"));
        draw_lines(&plot, &p1, &s1).unwrap();
        draw_lines(&plot, &p2, &s2).unwrap();
        assert_eq!(std::fs::read(&p1).unwrap(), std::fs::read(&p2).unwrap());
        assert_eq!(std::fs::read(&s1).unwrap(), std::fs::read(&s2).unwrap());
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
            render(&plot).unwrap()
        })
        .join()
        .unwrap();
        assert_eq!(other.0, std::fs::read(&p1).unwrap());
        assert_eq!(other.1.as_bytes(), std::fs::read(&s1).unwrap());
    }

    #[test]
    fn edge_cases_do_not_fail() {
        let tmp = TempDir::new("plot-edge");
        let cases: Vec<Vec<Curve>> = vec![
            vec![],
            vec![Curve {
                label: "empty".to_owned(),
                points: vec![],
            }],
            vec![Curve {
                label: "single\npoint".to_owned(),
                points: vec![(5.0, 5.0)],
            }],
            vec![Curve {
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
                let png = tmp.path().join(format!("{k}-{step}.png"));
                let svg = tmp.path().join(format!("{k}-{step}.svg"));
                draw_lines(&plot, &png, &svg).unwrap_or_else(|e| panic!("case {k}: {e}"));
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
        let png = tmp.path().join("e.png");
        let err = draw_lines(&plot, &png, &tmp.path().join("e.svg")).unwrap_err();
        assert!(matches!(err, ReportError::Plot { .. }), "{err}");
        assert!(!png.exists());
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

    /// Renders the demo figure (4 cumulative step curves, ~700 points each,
    /// 30 days) and keeps a copy at /tmp/report-demo.png (+ .svg) for
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
        let png = tmp.path().join("demo.png");
        let svg = tmp.path().join("demo.svg");
        draw_lines(&plot, &png, &svg).unwrap();
        let bytes = std::fs::read(&png).unwrap();
        assert_eq!(&bytes[..8], &PNG_MAGIC);
        // Best effort: the copy is for humans, not part of the assertion.
        let _ = write_atomic(Path::new("/tmp/report-demo.png"), &bytes);
        let _ = write_atomic(Path::new("/tmp/report-demo.svg"), &std::fs::read(&svg).unwrap());
    }
}
