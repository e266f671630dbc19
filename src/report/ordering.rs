//! Where Figure 3's ordering holds: per parameter point of a sweep and per
//! inequality of the paper's ordering of site migrations
//!
//! ```text
//! room-for-growth/follow-broker = 0 < migrating/follow-broker
//!     < room-for-growth/energy-aware < migrating/energy-aware
//! ```
//!
//! the share of replicates in which it holds, with a 95 % Wilson score
//! interval. Computed from `runs.csv` alone (the `migrations` column of the
//! four pairs; the runs of one replicate at one point share their workload,
//! so each replicate is one paired comparison) and written by
//! [`super::sweep::plot_sweep`] whenever the sweep ran all four of the
//! paper's pairs:
//!
//! * `ordering.csv`, tidy, one row per point and inequality:
//!   `point,<param_1>,...,<param_k>,inequality,statement,replicates,holds,
//!   share,lo95,hi95,left_mean,right_mean` (see [`ordering_table`]);
//! * `ordering.png` / `.svg` / `.pdf`, the map (drawn by `draw_map`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use plotters::prelude::*;
use plotters::style::FontStyle;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::ReportError;
use super::csv::{Table, fmt_f64};
use super::keys::short_label;
use super::plot::{FONT_FAMILY, Figure, Rendered, figure_paths, render_figure};
use super::sweep::Sweep;

/// The paper's four pairs, in the order of the ordering's sides' indices.
pub const PAIRS: [&str; 4] = [
    "room-for-growth/follow-broker",
    "migrating/follow-broker",
    "room-for-growth/energy-aware",
    "migrating/energy-aware",
];
const RFG_FB: usize = 0;
const MIG_FB: usize = 1;
const RFG_EA: usize = 2;
const MIG_EA: usize = 3;

/// One inequality of the ordering: `left < right` (or `left = 0`), a side
/// being one of [`PAIRS`] (an index) or the constant 0 (`None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inequality {
    /// Column value in `ordering.csv`, e.g. `mig_fb_lt_rfg_ea`.
    pub id: &'static str,
    /// As read, e.g. `mig/fb < rfg/ea`.
    pub statement: &'static str,
    /// Left side; `None` is 0.
    pub left: Option<usize>,
    /// Right side; `None` is 0 (then the relation is `left = 0`).
    pub right: Option<usize>,
}

impl Inequality {
    fn side(side: Option<usize>, m: &[f64; 4]) -> f64 {
        side.map_or(0.0, |i| m[i])
    }

    /// Whether it holds for the four pairs' migrations `m` (in [`PAIRS`] order).
    pub fn holds(&self, m: &[f64; 4]) -> bool {
        let (l, r) = (Self::side(self.left, m), Self::side(self.right, m));
        if self.right.is_none() { l == 0.0 } else { l < r }
    }
}

/// The four inequalities of the ordering, in its order.
pub const INEQUALITIES: [Inequality; 4] = [
    Inequality {
        id: "rfg_fb_eq_0",
        statement: "rfg/fb = 0",
        left: Some(RFG_FB),
        right: None,
    },
    Inequality {
        id: "mig_fb_gt_0",
        statement: "0 < mig/fb",
        left: None,
        right: Some(MIG_FB),
    },
    Inequality {
        id: "mig_fb_lt_rfg_ea",
        statement: "mig/fb < rfg/ea",
        left: Some(MIG_FB),
        right: Some(RFG_EA),
    },
    Inequality {
        id: "rfg_ea_lt_mig_ea",
        statement: "rfg/ea < mig/ea",
        left: Some(RFG_EA),
        right: Some(MIG_EA),
    },
];

/// The id and statement of the whole ordering (all four at once).
pub const ALL: (&str, &str) = ("ordering", "the whole ordering");

/// The z value of a two-sided 95 % interval.
const Z95: f64 = 1.96;

/// The Wilson score interval of `k` successes in `n` trials at `z`;
/// `None` if `n` is 0. Always within [0, 1] and around `k / n`.
pub fn wilson(k: usize, n: usize, z: f64) -> Option<(f64, f64)> {
    if n == 0 {
        return None;
    }
    let (n, p) = (n as f64, k as f64 / n as f64);
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = z / denom * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    // Rounding may put an end a hair outside [0, 1] or past p.
    Some(((centre - half).clamp(0.0, p), (centre + half).clamp(p, 1.0)))
}

/// How often one inequality held at one point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Count {
    /// Replicates in which it held.
    pub holds: usize,
    /// Replicates with all four pairs.
    pub replicates: usize,
    /// Mean of the left side over those replicates (`None` if none).
    pub left_mean: Option<f64>,
    /// Mean of the right side.
    pub right_mean: Option<f64>,
}

impl Count {
    /// `holds / replicates`; `None` if there are no replicates.
    pub fn share(&self) -> Option<f64> {
        (self.replicates > 0).then(|| self.holds as f64 / self.replicates as f64)
    }
}

/// One point of the sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct PointOrdering {
    /// The point's index.
    pub point: u64,
    /// For each parameter, the index of the point's value in its levels.
    pub levels: Vec<usize>,
    /// One per [`INEQUALITIES`], then the whole ordering ([`ALL`]).
    pub counts: Vec<Count>,
}

/// Per point (in increasing order), how often each inequality held; `None`
/// if the sweep lacks one of the four [`PAIRS`]. A replicate counts only if
/// all four pairs ran it.
pub fn ordering_table(sweep: &Sweep) -> Option<Vec<PointOrdering>> {
    let index: Vec<usize> = PAIRS
        .iter()
        .map(|p| sweep.pairs.iter().position(|q| q == p))
        .collect::<Option<_>>()?;
    // point -> (its levels, replicate -> migrations of each pair).
    type Replicates = BTreeMap<u64, [Option<f64>; 4]>;
    let mut by_point: BTreeMap<u64, (Vec<usize>, Replicates)> = BTreeMap::new();
    for run in &sweep.runs {
        let Some(side) = index.iter().position(|&i| i == run.pair) else {
            continue;
        };
        let entry = by_point
            .entry(run.point)
            .or_insert_with(|| (run.levels.clone(), BTreeMap::new()));
        entry.1.entry(run.replicate).or_insert([None; 4])[side] = Some(run.migrations);
    }
    let out = by_point
        .into_iter()
        .map(|(point, (levels, replicates))| {
            let complete: Vec<[f64; 4]> = replicates
                .values()
                .filter_map(|m| {
                    let [a, b, c, d] = *m;
                    Some([a?, b?, c?, d?])
                })
                .collect();
            let n = complete.len();
            let mean = |side: Option<usize>| {
                (n > 0).then(|| complete.iter().map(|m| Inequality::side(side, m)).sum::<f64>() / n as f64)
            };
            let mut counts: Vec<Count> = INEQUALITIES
                .iter()
                .map(|q| Count {
                    holds: complete.iter().filter(|m| q.holds(m)).count(),
                    replicates: n,
                    left_mean: mean(q.left),
                    right_mean: mean(q.right),
                })
                .collect();
            counts.push(Count {
                holds: complete
                    .iter()
                    .filter(|m| INEQUALITIES.iter().all(|q| q.holds(m)))
                    .count(),
                replicates: n,
                left_mean: None,
                right_mean: None,
            });
            PointOrdering {
                point,
                levels,
                counts,
            }
        })
        .collect();
    Some(out)
}

/// The tidy table of [`ordering_table`]: one row per point and inequality
/// (the four, then `ordering`, the whole), with the point's parameter
/// values as in `runs.csv`. `share`, `lo95`, `hi95` (Wilson) and the means
/// are empty where no replicate has all four pairs; the whole ordering has
/// no sides, so its means are empty.
pub fn ordering_csv(sweep: &Sweep, table: &[PointOrdering]) -> Result<Table, ReportError> {
    let mut header: Vec<&str> = vec!["point"];
    header.extend(sweep.params.iter().map(|p| p.name.as_str()));
    header.extend([
        "inequality",
        "statement",
        "replicates",
        "holds",
        "share",
        "lo95",
        "hi95",
        "left_mean",
        "right_mean",
    ]);
    let mut csv = Table::new(&header);
    let opt = |v: Option<f64>| v.map(fmt_f64).unwrap_or_default();
    for p in table {
        let names = INEQUALITIES.iter().map(|q| (q.id, q.statement)).chain([ALL]);
        for ((id, statement), c) in names.zip(&p.counts) {
            let mut row = vec![p.point.to_string()];
            row.extend(
                sweep
                    .params
                    .iter()
                    .zip(&p.levels)
                    .map(|(param, &l)| param.levels[l].label.clone()),
            );
            let ci = wilson(c.holds, c.replicates, Z95);
            row.extend([
                id.to_owned(),
                statement.to_owned(),
                c.replicates.to_string(),
                c.holds.to_string(),
                opt(c.share()),
                opt(ci.map(|c| c.0)),
                opt(ci.map(|c| c.1)),
                opt(c.left_mean),
                opt(c.right_mean),
            ]);
            csv.push(row)?;
        }
    }
    Ok(csv)
}

/// Writes `ordering.csv` and `ordering.png`, `.svg`, `.pdf` into `dir` if
/// the sweep ran the paper's four pairs; returns the paths written.
pub fn write_ordering(sweep: &Sweep, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let Some(table) = ordering_table(sweep) else {
        return Ok(Vec::new());
    };
    let csv_path = dir.join("ordering.csv");
    let stem = dir.join("ordering");
    let csv = ordering_csv(sweep, &table)?;
    let map = Map::new(sweep, &table);
    let rendered = render(&map).map_err(|message| ReportError::Plot {
        path: figure_paths(&stem)[0].display().to_string(),
        message,
    })?;
    csv.write(&csv_path)?;
    let mut written = vec![csv_path];
    written.extend(rendered.write(&stem)?);
    Ok(written)
}

// ---------------------------------------------------------------------------
// The map

/// One heat map: the points sharing the values of the parameters after the
/// first two, the first parameter up the y axis and the second along x
/// (each only with the values present here).
struct Panel {
    /// `name value` of each parameter after the first two.
    header: Vec<String>,
    /// Level indices of the y and x parameters present, increasing.
    ys: Vec<usize>,
    xs: Vec<usize>,
    /// (y level, x level) -> per inequality (holds, replicates), pooled
    /// over the points that share the cell.
    cells: BTreeMap<(usize, usize), Vec<(usize, usize)>>,
}

/// The figure: rows are the inequalities (then the whole ordering),
/// columns the panels.
struct Map {
    title: String,
    rows: Vec<&'static str>,
    panels: Vec<Panel>,
    /// The y and x parameters' labels and value labels.
    y: Option<(String, Vec<String>)>,
    x: Option<(String, Vec<String>)>,
}

impl Map {
    fn new(sweep: &Sweep, table: &[PointOrdering]) -> Map {
        let k = sweep.params.len();
        let (yi, xi) = match k {
            0 => (None, None),
            1 => (None, Some(0)),
            _ => (Some(0), Some(1)),
        };
        let rest: Vec<usize> = (0..k).filter(|&i| Some(i) != yi && Some(i) != xi).collect();
        let mut panels: Vec<(Vec<usize>, Panel)> = Vec::new();
        for p in table {
            let key: Vec<usize> = rest.iter().map(|&i| p.levels[i]).collect();
            let at = match panels.iter().position(|(k, _)| *k == key) {
                Some(i) => i,
                None => {
                    let header = rest
                        .iter()
                        .zip(&key)
                        .map(|(&i, &l)| {
                            let param = &sweep.params[i];
                            format!("{} {}", short_label(&param.key), param.levels[l].label)
                        })
                        .collect();
                    let panel = Panel {
                        header,
                        ys: Vec::new(),
                        xs: Vec::new(),
                        cells: BTreeMap::new(),
                    };
                    panels.push((key, panel));
                    panels.len() - 1
                }
            };
            let panel = &mut panels[at].1;
            let (y, x) = (yi.map_or(0, |i| p.levels[i]), xi.map_or(0, |i| p.levels[i]));
            for (v, l) in [(&mut panel.ys, y), (&mut panel.xs, x)] {
                if let Err(pos) = v.binary_search(&l) {
                    v.insert(pos, l);
                }
            }
            let cell = panel
                .cells
                .entry((y, x))
                .or_insert_with(|| vec![(0, 0); p.counts.len()]);
            for (acc, c) in cell.iter_mut().zip(&p.counts) {
                acc.0 += c.holds;
                acc.1 += c.replicates;
            }
        }
        let axis = |i: Option<usize>| {
            i.map(|i| {
                let p = &sweep.params[i];
                (
                    p.label.clone(),
                    p.levels.iter().map(|l| l.label.clone()).collect(),
                )
            })
        };
        let mut rows: Vec<&'static str> = INEQUALITIES.iter().map(|q| q.statement).collect();
        rows.push(ALL.1);
        Map {
            title: "Where Figure 3's ordering holds: replicates in which each inequality holds".into(),
            rows,
            panels: panels.into_iter().map(|(_, p)| p).collect(),
            y: axis(yi),
            x: axis(xi),
        }
    }
}

/// Diverging colour-blind-safe scale: 0 orange, 1/2 light grey, 1 blue.
fn share_colour(share: f64) -> RGBColor {
    const LO: (f64, f64, f64) = (230.0, 97.0, 1.0);
    const MID: (f64, f64, f64) = (247.0, 247.0, 247.0);
    const HI: (f64, f64, f64) = (33.0, 102.0, 172.0);
    let (a, b, t) = if share < 0.5 {
        (LO, MID, share * 2.0)
    } else {
        (MID, HI, share * 2.0 - 1.0)
    };
    let mix = |a: f64, b: f64| (a + (b - a) * t).round().clamp(0.0, 255.0) as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Layout in pixels.
struct Layout {
    cell: i32,
    left: i32,
    top: i32,
    tick_w: i32,
    gap: i32,
    panel_w: Vec<i32>,
    panel_h: i32,
    width: u32,
    height: u32,
}

/// Fixed sizes of the map, in pixels: the outer margin, the title's
/// height, one panel header line, the inequality labels' column, the footer
/// (axes and colour key); the widest figure wanted, to which cells shrink
/// from the largest cell size (not below the smallest).
const MARGIN: i32 = 16;
const TITLE_H: i32 = MARGIN * 5 / 2;
const LINE_H: i32 = MARGIN;
const ROW_LABEL_W: i32 = 150;
const FOOTER_H: i32 = 70;
const MAX_WIDTH: i32 = 2400;
const CELL_RANGE: (i32, i32) = (8, 40);

impl Layout {
    fn new(map: &Map) -> Layout {
        let max_y = map.panels.iter().map(|p| p.ys.len()).max().unwrap_or(1).max(1) as i32;
        let header_lines = map.panels.iter().map(|p| p.header.len()).max().unwrap_or(0) as i32;
        let (tick_w, tick_h, gap) = (44, 18, 14);
        let cols: i32 = map.panels.iter().map(|p| p.xs.len().max(1) as i32).sum();
        let fixed = 2 * MARGIN + ROW_LABEL_W + map.panels.len() as i32 * (tick_w + gap);
        let cell = ((MAX_WIDTH - fixed) / cols.max(1)).clamp(CELL_RANGE.0, CELL_RANGE.1);
        let panel_w: Vec<i32> = map
            .panels
            .iter()
            .map(|p| tick_w + cell * p.xs.len().max(1) as i32 + gap)
            .collect();
        let panel_h = cell * max_y + tick_h + gap;
        let header = LINE_H * header_lines + 6;
        let width = (2 * MARGIN + ROW_LABEL_W + panel_w.iter().sum::<i32>()).max(640);
        let height = MARGIN + TITLE_H + header + panel_h * map.rows.len() as i32 + FOOTER_H;
        Layout {
            cell,
            left: MARGIN + ROW_LABEL_W,
            top: MARGIN + TITLE_H + header,
            tick_w,
            gap,
            panel_w,
            panel_h,
            width: width as u32,
            height: height as u32,
        }
    }
}

fn font(size: f64, bold: bool) -> TextStyle<'static> {
    let style = if bold { FontStyle::Bold } else { FontStyle::Normal };
    TextStyle::from(FontDesc::new(FontFamily::Name(FONT_FAMILY), size, style))
}

fn draw_map<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    map: &Map,
    l: &Layout,
) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let centre = Pos::new(HPos::Center, VPos::Center);
    let title = font(20.0, true).pos(Pos::new(HPos::Left, VPos::Top));
    root.draw_text(&map.title, &title, (MARGIN, MARGIN))
        .map_err(err)?;
    let tick = font(12.0, false);
    let cell_size = if l.cell >= 30 { 12.0 } else { 9.0 };
    // Panel headers.
    let mut x0 = l.left;
    for (panel, &w) in map.panels.iter().zip(&l.panel_w) {
        for (i, line) in panel.header.iter().enumerate() {
            let style = tick.pos(Pos::new(HPos::Center, VPos::Top));
            let at = (
                x0 + l.tick_w + (w - l.tick_w - l.gap) / 2,
                MARGIN + TITLE_H + LINE_H * i as i32,
            );
            root.draw_text(line, &style, at).map_err(err)?;
        }
        x0 += w;
    }
    for (r, row) in map.rows.iter().enumerate() {
        let y0 = l.top + r as i32 * l.panel_h;
        let label = font(14.0, true).pos(Pos::new(HPos::Left, VPos::Center));
        let ny = map.panels.iter().map(|p| p.ys.len()).max().unwrap_or(1).max(1) as i32;
        root.draw_text(row, &label, (MARGIN, y0 + ny * l.cell / 2))
            .map_err(err)?;
        let mut x0 = l.left;
        for (panel, &w) in map.panels.iter().zip(&l.panel_w) {
            let cx0 = x0 + l.tick_w;
            let rows_here = panel.ys.len().max(1) as i32;
            // Highest y value at the top.
            for (yi, &y) in panel.ys.iter().rev().enumerate() {
                let top = y0 + yi as i32 * l.cell;
                if let Some((_, labels)) = &map.y {
                    let style = tick.pos(Pos::new(HPos::Right, VPos::Center));
                    root.draw_text(&labels[y], &style, (cx0 - 4, top + l.cell / 2))
                        .map_err(err)?;
                }
                for (xi, &x) in panel.xs.iter().enumerate() {
                    let left = cx0 + xi as i32 * l.cell;
                    let rect = [(left, top), (left + l.cell, top + l.cell)];
                    let (fill, text, dark) = match panel.cells.get(&(y, x)).map(|c| c[r]) {
                        Some((k, n)) if n > 0 => {
                            let share = k as f64 / n as f64;
                            (share_colour(share), format!("{k}/{n}"), share >= 0.75)
                        }
                        Some(_) => (RGBColor(200, 200, 200), "-".to_owned(), false),
                        None => (WHITE, String::new(), false),
                    };
                    let ink = if dark { WHITE } else { BLACK };
                    let in_cell = font(cell_size, false).color(&ink).pos(centre);
                    root.draw(&Rectangle::new(rect, fill.filled())).map_err(err)?;
                    root.draw(&Rectangle::new(rect, RGBColor(255, 255, 255).stroke_width(1)))
                        .map_err(err)?;
                    if l.cell >= 20 && !text.is_empty() {
                        root.draw_text(&text, &in_cell, (left + l.cell / 2, top + l.cell / 2))
                            .map_err(err)?;
                    }
                }
            }
            // x tick labels under the panel.
            if let Some((_, labels)) = &map.x {
                let style = tick.pos(Pos::new(HPos::Center, VPos::Top));
                for (xi, &x) in panel.xs.iter().enumerate() {
                    let at = (cx0 + xi as i32 * l.cell + l.cell / 2, y0 + rows_here * l.cell + 3);
                    root.draw_text(&labels[x], &style, at).map_err(err)?;
                }
            }
            x0 += w;
        }
    }
    // Footer: axes and colour key.
    let foot = l.height as i32 - FOOTER_H + 8;
    let mut axes = Vec::new();
    if let Some((name, _)) = &map.y {
        axes.push(format!("y: {name}"));
    }
    if let Some((name, _)) = &map.x {
        axes.push(format!("x: {name}"));
    }
    axes.push("cell: replicates where it holds / replicates (95% Wilson intervals in ordering.csv)".into());
    let style = tick.pos(Pos::new(HPos::Left, VPos::Top));
    root.draw_text(&axes.join(";  "), &style, (MARGIN, foot))
        .map_err(err)?;
    let key_y = foot + 22;
    root.draw_text("share:", &style, (MARGIN, key_y + 2))
        .map_err(err)?;
    for i in 0..=10 {
        let share = i as f64 / 10.0;
        let left = MARGIN + 50 + i * 34;
        let rect = [(left, key_y), (left + 34, key_y + 16)];
        root.draw(&Rectangle::new(rect, share_colour(share).filled()))
            .map_err(err)?;
        if i % 5 == 0 {
            let label = fmt_f64(share);
            let style = tick.pos(Pos::new(HPos::Center, VPos::Top));
            root.draw_text(&label, &style, (left + 17, key_y + 18))
                .map_err(err)?;
        }
    }
    root.present().map_err(err)
}

/// Renders the map as PNG, SVG and PDF in memory.
fn render(map: &Map) -> Result<Rendered, String> {
    let l = Layout::new(map);
    let (width, height) = (l.width, l.height);
    render_figure(&MapFigure { map, l }, width, height)
}

/// The map with its layout, ready to draw.
struct MapFigure<'a> {
    map: &'a Map,
    l: Layout,
}

impl Figure for MapFigure<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, plotters::coord::Shift>) -> Result<(), String> {
        draw_map(root, self.map, &self.l)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sweep::{Level, Param, Run};

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-5
    }

    #[test]
    fn wilson_by_hand() {
        assert_eq!(wilson(0, 0, Z95), None);
        // 5 of 5: lower end n / (n + z^2) = 5 / 8.8416.
        let (lo, hi) = wilson(5, 5, Z95).unwrap();
        assert!(close(lo, 0.565509) && hi == 1.0, "{lo} {hi}");
        let (lo, hi) = wilson(0, 5, Z95).unwrap();
        assert!(lo == 0.0 && close(hi, 0.434491), "{lo} {hi}");
        // 3 of 10: centre 0.355508, half width 0.247717.
        let (lo, hi) = wilson(3, 10, Z95).unwrap();
        assert!(close(lo, 0.107791) && close(hi, 0.603225), "{lo} {hi}");
        for n in 1..40 {
            for k in 0..=n {
                let (lo, hi) = wilson(k, n, Z95).unwrap();
                let p = k as f64 / n as f64;
                assert!(0.0 <= lo && lo <= p && p <= hi && hi <= 1.0, "{k}/{n}");
            }
        }
    }

    #[test]
    fn inequalities_by_hand() {
        let [eq0, gt0, lt1, lt2] = INEQUALITIES;
        // rfg/fb, mig/fb, rfg/ea, mig/ea
        let paper = [0.0, 77.0, 192.0, 303.0];
        assert!(INEQUALITIES.iter().all(|q| q.holds(&paper)));
        let crossed = [0.0, 250.0, 200.0, 350.0];
        assert!(eq0.holds(&crossed) && gt0.holds(&crossed) && !lt1.holds(&crossed) && lt2.holds(&crossed));
        let ties = [1.0, 0.0, 150.0, 150.0];
        assert!(!eq0.holds(&ties) && !gt0.holds(&ties) && lt1.holds(&ties) && !lt2.holds(&ties));
    }

    fn run(run: u64, point: u64, replicate: u64, pair: usize, migrations: f64) -> Run {
        Run {
            run,
            point,
            replicate,
            pair,
            levels: vec![point as usize],
            migrations,
            end_s: 86_400.0,
            steps: vec![(0.0, 0.0), (86_400.0, migrations)],
        }
    }

    fn sweep(pairs: &[&str], runs: Vec<Run>) -> Sweep {
        Sweep {
            params: vec![Param {
                name: "guest0_peak_units".into(),
                key: "guest[0].peak_units".into(),
                label: "web peak units".into(),
                numeric: true,
                levels: vec![
                    Level {
                        label: "60".into(),
                        x: 60.0,
                    },
                    Level {
                        label: "140".into(),
                        x: 140.0,
                    },
                    Level {
                        label: "200".into(),
                        x: 200.0,
                    },
                ],
            }],
            pairs: pairs.iter().map(|s| (*s).to_owned()).collect(),
            runs,
        }
    }

    #[test]
    fn ordering_table_counts_complete_replicates() {
        // Pairs listed in another order than PAIRS: mig/ea, rfg/fb, rfg/ea, mig/fb.
        let pairs = [PAIRS[3], PAIRS[0], PAIRS[2], PAIRS[1]];
        let mut runs = Vec::new();
        // Point 0: replicate 0 the paper's ordering, replicate 1 crossed,
        // replicate 2 missing mig/ea (not counted).
        for (rep, m) in [[303.0, 0.0, 192.0, 77.0], [350.0, 0.0, 200.0, 250.0]]
            .iter()
            .enumerate()
        {
            for (pair, &v) in m.iter().enumerate() {
                runs.push(run(runs.len() as u64, 0, rep as u64, pair, v));
            }
        }
        for (pair, v) in [(1, 0.0), (2, 5.0), (3, 1.0)] {
            runs.push(run(runs.len() as u64, 0, 2, pair, v));
        }
        // Point 1: only rfg/fb.
        runs.push(run(runs.len() as u64, 1, 0, 1, 0.0));
        let s = sweep(&pairs, runs);
        let t = ordering_table(&s).unwrap();
        assert_eq!(t.len(), 2);
        let holds: Vec<(usize, usize)> = t[0].counts.iter().map(|c| (c.holds, c.replicates)).collect();
        assert_eq!(holds, [(2, 2), (2, 2), (1, 2), (2, 2), (1, 2)]);
        assert_eq!(t[0].counts[2].left_mean, Some(163.5));
        assert_eq!(t[0].counts[2].right_mean, Some(196.0));
        assert_eq!(t[0].counts[0].right_mean, Some(0.0));
        assert!(
            t[1].counts
                .iter()
                .all(|c| c.replicates == 0 && c.share().is_none())
        );

        let csv = ordering_csv(&s, &t).unwrap();
        assert_eq!(csv.len(), 10);
        assert_eq!(
            csv.rows()[2],
            [
                "0",
                "60",
                "mig_fb_lt_rfg_ea",
                "mig/fb < rfg/ea",
                "2",
                "1",
                "0.5",
                "0.094529",
                "0.905471",
                "163.5",
                "196"
            ]
        );
        assert_eq!(
            csv.rows()[9],
            [
                "1",
                "140",
                "ordering",
                "the whole ordering",
                "0",
                "0",
                "",
                "",
                "",
                "",
                ""
            ]
        );

        // Without one of the four pairs there is no table.
        let s = sweep(&pairs[..3], vec![run(0, 0, 0, 0, 1.0)]);
        assert_eq!(ordering_table(&s), None);
    }

    #[test]
    fn map_renders_deterministically_including_empty_cells() {
        let pairs = PAIRS;
        let mut runs = Vec::new();
        for point in 0..2 {
            for pair in 0..4 {
                runs.push(run(
                    runs.len() as u64,
                    point,
                    0,
                    pair,
                    (point as usize * 4 + pair) as f64,
                ));
            }
        }
        runs.push(run(runs.len() as u64, 1, 1, 0, 0.0));
        // Point 2 has no complete replicate: a grey cell marked "-".
        runs.push(run(runs.len() as u64, 2, 0, 0, 0.0));
        let s = sweep(&pairs, runs);
        let t = ordering_table(&s).unwrap();
        let map = Map::new(&s, &t);
        assert_eq!(map.panels.len(), 1);
        assert_eq!(map.panels[0].xs, [0, 1, 2]);
        assert_eq!(map.panels[0].cells[&(0, 2)], vec![(0, 0); 5]);
        let (one, two) = (render(&map).unwrap(), render(&map).unwrap());
        assert!(one.png == two.png && one.svg == two.svg && one.pdf == two.pdf);
        assert!(
            one.svg.contains("0/1") && one.svg.contains("1/1"),
            "cells are labelled k/n"
        );
        // The PDF holds the same words; the x axis is named by its label.
        let text = crate::report::pdf::tests::text(&one.pdf);
        assert!(text.contains("0/1\n") && text.contains("1/1\n"), "{text}");
        assert!(text.contains("x: web peak units"), "{text}");
    }
}
