//! A small PDF writer: a plotters drawing backend that turns a figure into a
//! one-page vector PDF, beside the PNG and SVG of the same drawing.
//!
//! Shapes become PDF paths; text is set in the same embedded DejaVu Sans as
//! the PNG (crate `dejavu`), placed with the same metrics (plotters'
//! `ab_glyph` layout: advances and kerning), so the three files agree. Each
//! font style used becomes a Type 3 font holding only the glyphs the figure
//! uses, drawn from the font's own outlines, with a `ToUnicode` map so the
//! text can be searched and copied. No system library and no other crate
//! is involved.
//!
//! The file is deterministic: no dates, no document id, objects numbered
//! in order of first use, glyph codes allotted in order of first use,
//! streams compressed at a fixed level.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;

use ab_glyph::{Font, FontRef, GlyphId, OutlineCurve};
use flate2::Compression;
use flate2::write::ZlibEncoder;
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind, FontStyle,
    FontTransform,
};

/// Points per pixel: the page has the physical size a browser gives the
/// SVG (96 pixels per inch).
const PT_PER_PX: f64 = 0.75;
/// Glyph space units per em of the Type 3 fonts (`FontMatrix` 1/1000).
const GLYPH_UNITS: f64 = 1000.0;
/// Distinct characters a Type 3 font of one style can hold (codes 1..=255).
const MAX_CODES: usize = 255;

/// Why the PDF could not be made.
#[derive(Debug)]
pub(super) struct PdfError(String);

impl std::fmt::Display for PdfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PDF: {}", self.0)
    }
}

impl std::error::Error for PdfError {}

fn fail<T>(message: impl Into<String>) -> Result<T, DrawingErrorKind<PdfError>> {
    Err(DrawingErrorKind::DrawingError(PdfError(message.into())))
}

/// The glyphs of one font style that the page uses.
struct GlyphSet {
    font: FontRef<'static>,
    /// Characters in order of first use; the code of `chars[i]` is `i + 1`.
    chars: Vec<char>,
    codes: BTreeMap<char, u8>,
}

impl GlyphSet {
    fn new(bytes: &'static [u8]) -> Result<GlyphSet, PdfError> {
        let font = FontRef::try_from_slice(bytes)
            .map_err(|_| PdfError("cannot read the embedded DejaVu Sans font".into()))?;
        Ok(GlyphSet {
            font,
            chars: Vec::new(),
            codes: BTreeMap::new(),
        })
    }

    fn code(&mut self, c: char) -> Result<u8, PdfError> {
        if let Some(&code) = self.codes.get(&c) {
            return Ok(code);
        }
        if self.chars.len() >= MAX_CODES {
            return Err(PdfError(format!(
                "expected at most {MAX_CODES} distinct characters in one font style of a figure, found more"
            )));
        }
        self.chars.push(c);
        let code = self.chars.len() as u8;
        self.codes.insert(c, code);
        Ok(code)
    }

    /// Glyph units per font unit.
    fn unit(&self) -> f64 {
        GLYPH_UNITS / f64::from(self.font.units_per_em().unwrap_or(2048.0))
    }
}

/// What the content stream last set, so repeated settings are left out.
#[derive(Default, PartialEq)]
struct GraphicsState {
    stroke: Option<(u8, u8, u8)>,
    fill: Option<(u8, u8, u8)>,
    width: Option<u32>,
    alpha: Option<u32>,
}

/// A plotters backend writing a one-page PDF into `out` when presented
/// (or dropped).
pub(super) struct PdfBackend<'a> {
    out: &'a mut Vec<u8>,
    size: (u32, u32),
    content: String,
    /// Regular and bold.
    fonts: [GlyphSet; 2],
    /// Opacities used, in thousandths, each with its `ExtGState` name.
    alphas: BTreeMap<u32, usize>,
    state: GraphicsState,
    saved: bool,
}

impl<'a> PdfBackend<'a> {
    /// A page of `size` pixels whose PDF goes to `out`.
    pub(super) fn new(out: &'a mut Vec<u8>, size: (u32, u32)) -> Result<PdfBackend<'a>, PdfError> {
        let h = f64::from(size.1) * PT_PER_PX;
        // Pixels, y down, as the other backends.
        let content = format!("{} 0 0 {} 0 {} cm\n", num(PT_PER_PX), num(-PT_PER_PX), num(h));
        Ok(PdfBackend {
            out,
            size,
            content,
            fonts: [
                GlyphSet::new(dejavu::sans::regular())?,
                GlyphSet::new(dejavu::sans::bold())?,
            ],
            alphas: BTreeMap::new(),
            state: GraphicsState::default(),
            saved: false,
        })
    }

    fn alpha(&mut self, color: BackendColor) {
        let a = (color.alpha.clamp(0.0, 1.0) * 1000.0).round() as u32;
        if self.state.alpha != Some(a) {
            let next = self.alphas.len();
            let name = *self.alphas.entry(a).or_insert(next);
            let _ = writeln!(self.content, "/A{name} gs");
            self.state.alpha = Some(a);
        }
    }

    fn stroke(&mut self, color: BackendColor, width: u32) {
        self.alpha(color);
        if self.state.stroke != Some(color.rgb) {
            let _ = writeln!(self.content, "{} RG", rgb(color.rgb));
            self.state.stroke = Some(color.rgb);
        }
        if self.state.width != Some(width) {
            let _ = writeln!(self.content, "{width} w");
            self.state.width = Some(width);
        }
    }

    fn fill(&mut self, color: BackendColor) {
        self.alpha(color);
        if self.state.fill != Some(color.rgb) {
            let _ = writeln!(self.content, "{} rg", rgb(color.rgb));
            self.state.fill = Some(color.rgb);
        }
    }

    fn polyline(&mut self, points: impl IntoIterator<Item = BackendCoord>) -> usize {
        let mut n = 0;
        for (x, y) in points {
            let op = if n == 0 { "m" } else { "l" };
            let _ = writeln!(self.content, "{x} {y} {op}");
            n += 1;
        }
        n
    }

    /// The whole file.
    fn document(&self) -> Result<Vec<u8>, PdfError> {
        let mut objects: Vec<Vec<u8>> = Vec::new();
        // 1 catalog, 2 pages, 3 page, 4 contents; fonts from 5.
        let (w, h) = (
            f64::from(self.size.0) * PT_PER_PX,
            f64::from(self.size.1) * PT_PER_PX,
        );
        let mut font_refs = String::new();
        let mut font_objects: Vec<Vec<u8>> = Vec::new();
        for (k, set) in self.fonts.iter().enumerate() {
            if set.chars.is_empty() {
                continue;
            }
            let first = 5 + font_objects.len();
            let _ = write!(font_refs, " /F{k} {first} 0 R");
            font_objects.extend(type3_font(set, first)?);
        }
        let mut ext = String::new();
        for (&a, name) in &self.alphas {
            let v = num(f64::from(a) / 1000.0);
            let _ = write!(ext, " /A{name} << /Type /ExtGState /CA {v} /ca {v} >>");
        }
        objects.push(b"<< /Type /Catalog /Pages 2 0 R >>".to_vec());
        objects.push(b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec());
        objects.push(
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {} {}] /Resources << /ExtGState <<{ext} >> /Font <<{font_refs} >> >> /Contents 4 0 R >>",
                num(w),
                num(h)
            )
            .into_bytes(),
        );
        objects.push(stream("", self.content.as_bytes())?);
        objects.extend(font_objects);
        Ok(assemble(&objects))
    }
}

/// A Type 3 font (numbered `first`), its `ToUnicode` map and one glyph
/// procedure per character, in that order.
fn type3_font(set: &GlyphSet, first: usize) -> Result<Vec<Vec<u8>>, PdfError> {
    let unit = set.unit();
    let scaled = |v: f32| num(f64::from(v) * unit);
    let mut procs = Vec::new();
    let mut widths = Vec::new();
    let mut bbox: Option<[f64; 4]> = None;
    for &c in &set.chars {
        let id = set.font.glyph_id(c);
        let advance = f64::from(set.font.h_advance_unscaled(id)) * unit;
        widths.push(num(advance));
        let mut body = String::new();
        match set.font.outline(id) {
            Some(outline) => {
                // ab_glyph's bounds hold (x_min, y_max) and (x_max, y_min).
                let b = outline.bounds;
                let g = [
                    f64::from(b.min.x) * unit,
                    f64::from(b.max.y) * unit,
                    f64::from(b.max.x) * unit,
                    f64::from(b.min.y) * unit,
                ];
                bbox = Some(match bbox {
                    None => g,
                    Some(o) => [o[0].min(g[0]), o[1].min(g[1]), o[2].max(g[2]), o[3].max(g[3])],
                });
                let _ = writeln!(
                    body,
                    "{} 0 {} {} {} {} d1",
                    num(advance),
                    num(g[0]),
                    num(g[1]),
                    num(g[2]),
                    num(g[3])
                );
                outline_path(&mut body, &outline.curves, &scaled);
                body.push_str("f\n");
            }
            None => {
                let _ = writeln!(body, "{} 0 0 0 0 0 d1", num(advance));
            }
        }
        procs.push(stream("", body.as_bytes())?);
    }
    let n = set.chars.len();
    let cmap_ref = first + 1;
    let names: Vec<String> = (1..=n).map(|i| format!("/g{i}")).collect();
    let char_procs: String = names
        .iter()
        .enumerate()
        .map(|(i, name)| format!(" {name} {} 0 R", cmap_ref + 1 + i))
        .collect();
    let [x0, y0, x1, y1] = bbox.unwrap_or([0.0; 4]);
    let font = format!(
        "<< /Type /Font /Subtype /Type3 /FontBBox [{} {} {} {}] /FontMatrix [0.001 0 0 0.001 0 0] /CharProcs <<{char_procs} >> /Encoding << /Type /Encoding /Differences [1 {}] >> /FirstChar 1 /LastChar {n} /Widths [{}] /ToUnicode {cmap_ref} 0 R /Resources << >> >>",
        num(x0),
        num(y0),
        num(x1),
        num(y1),
        names.join(" "),
        widths.join(" ")
    );
    let mut out = vec![font.into_bytes(), stream("", to_unicode(&set.chars).as_bytes())?];
    out.extend(procs);
    Ok(out)
}

/// Appends the outline's curves as a path (quadratic curves raised to
/// cubic ones), a new subpath wherever a curve does not start where the
/// last one ended.
fn outline_path(body: &mut String, curves: &[OutlineCurve], scaled: &impl Fn(f32) -> String) {
    let mut at: Option<ab_glyph::Point> = None;
    let move_to = |body: &mut String, p: ab_glyph::Point, at: &mut Option<ab_glyph::Point>| {
        if *at != Some(p) {
            let _ = writeln!(body, "{} {} m", scaled(p.x), scaled(p.y));
        }
        *at = Some(p);
    };
    for curve in curves {
        match *curve {
            OutlineCurve::Line(p0, p1) => {
                move_to(body, p0, &mut at);
                let _ = writeln!(body, "{} {} l", scaled(p1.x), scaled(p1.y));
                at = Some(p1);
            }
            OutlineCurve::Quad(p0, p1, p2) => {
                move_to(body, p0, &mut at);
                let two_thirds = |a: ab_glyph::Point, b: ab_glyph::Point| {
                    ab_glyph::point(a.x + (b.x - a.x) * 2.0 / 3.0, a.y + (b.y - a.y) * 2.0 / 3.0)
                };
                let (c1, c2) = (two_thirds(p0, p1), two_thirds(p2, p1));
                let _ = writeln!(
                    body,
                    "{} {} {} {} {} {} c",
                    scaled(c1.x),
                    scaled(c1.y),
                    scaled(c2.x),
                    scaled(c2.y),
                    scaled(p2.x),
                    scaled(p2.y)
                );
                at = Some(p2);
            }
            OutlineCurve::Cubic(p0, p1, p2, p3) => {
                move_to(body, p0, &mut at);
                let _ = writeln!(
                    body,
                    "{} {} {} {} {} {} c",
                    scaled(p1.x),
                    scaled(p1.y),
                    scaled(p2.x),
                    scaled(p2.y),
                    scaled(p3.x),
                    scaled(p3.y)
                );
                at = Some(p3);
            }
        }
    }
}

/// The `ToUnicode` CMap: code `i + 1` is `chars[i]`.
fn to_unicode(chars: &[char]) -> String {
    let mut s = String::from(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
         /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
         /CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
         1 begincodespacerange\n<00> <FF>\nendcodespacerange\n",
    );
    for (block, chunk) in chars.chunks(100).enumerate() {
        let _ = writeln!(s, "{} beginbfchar", chunk.len());
        for (i, c) in chunk.iter().enumerate() {
            let mut units = [0u16; 2];
            let hex: String = c
                .encode_utf16(&mut units)
                .iter()
                .map(|u| format!("{u:04X}"))
                .collect();
            let _ = writeln!(s, "<{:02X}> <{hex}>", block * 100 + i + 1);
        }
        s.push_str("endbfchar\n");
    }
    s.push_str("endcmap\nCMapName currentdict /defineresource pop\nend\nend\n");
    s
}

/// A compressed stream object with extra dictionary entries `dict`.
fn stream(dict: &str, data: &[u8]) -> Result<Vec<u8>, PdfError> {
    let mut z = ZlibEncoder::new(Vec::new(), Compression::new(6));
    z.write_all(data).map_err(|e| PdfError(format!("deflate: {e}")))?;
    let packed = z.finish().map_err(|e| PdfError(format!("deflate: {e}")))?;
    let mut out = format!(
        "<< /Length {} /Filter /FlateDecode{dict} >>\nstream\n",
        packed.len()
    )
    .into_bytes();
    out.extend_from_slice(&packed);
    out.extend_from_slice(b"\nendstream");
    Ok(out)
}

/// The file: header, objects numbered from 1, cross-reference table, trailer.
fn assemble(objects: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    let mut table = format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
    for o in offsets {
        // Each entry is 20 bytes: the offset, the generation, `n`, space, LF.
        let _ = writeln!(table, "{o:010} 00000 n ");
    }
    let _ = write!(
        table,
        "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        objects.len() + 1
    );
    out.extend_from_slice(table.as_bytes());
    out
}

/// A number as PDF writes it: at most 3 decimals, no trailing zeros.
fn num(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".to_owned() } else { s.to_owned() }
}

fn rgb((r, g, b): (u8, u8, u8)) -> String {
    let c = |v: u8| num(f64::from(v) / 255.0);
    format!("{} {} {}", c(r), c(g), c(b))
}

impl DrawingBackend for PdfBackend<'_> {
    type ErrorType = PdfError;

    fn get_size(&self) -> (u32, u32) {
        self.size
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<PdfError>> {
        Ok(())
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<PdfError>> {
        if !self.saved {
            let doc = self.document().map_err(DrawingErrorKind::DrawingError)?;
            *self.out = doc;
            self.saved = true;
        }
        Ok(())
    }

    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<PdfError>> {
        if color.alpha == 0.0 {
            return Ok(());
        }
        self.fill(color);
        let _ = writeln!(self.content, "{} {} 1 1 re f", point.0, point.1);
        Ok(())
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<PdfError>> {
        if style.color().alpha == 0.0 {
            return Ok(());
        }
        self.stroke(style.color(), style.stroke_width());
        let _ = writeln!(self.content, "{} {} m {} {} l S", from.0, from.1, to.0, to.1);
        Ok(())
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<PdfError>> {
        if style.color().alpha == 0.0 {
            return Ok(());
        }
        let (x, y) = upper_left;
        let (w, h) = (bottom_right.0 - x, bottom_right.1 - y);
        if fill {
            self.fill(style.color());
            let _ = writeln!(self.content, "{x} {y} {w} {h} re f");
        } else {
            // As the SVG: a rectangle's outline is one unit wide.
            self.stroke(style.color(), 1);
            let _ = writeln!(self.content, "{x} {y} {w} {h} re S");
        }
        Ok(())
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<PdfError>> {
        if style.color().alpha == 0.0 {
            return Ok(());
        }
        self.stroke(style.color(), style.stroke_width());
        if self.polyline(path) > 0 {
            self.content.push_str("S\n");
        }
        Ok(())
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<PdfError>> {
        if style.color().alpha == 0.0 {
            return Ok(());
        }
        self.fill(style.color());
        if self.polyline(vert) > 0 {
            self.content.push_str("h f\n");
        }
        Ok(())
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<PdfError>> {
        if style.color().alpha == 0.0 {
            return Ok(());
        }
        if fill {
            self.fill(style.color());
        } else {
            self.stroke(style.color(), style.stroke_width());
        }
        // Four cubic arcs.
        let (cx, cy, r) = (f64::from(center.0), f64::from(center.1), f64::from(radius));
        let k = 0.552_284_75 * r;
        let p = |x: f64, y: f64| format!("{} {}", num(x), num(y));
        let _ = writeln!(
            self.content,
            "{} m\n{} {} {} c\n{} {} {} c\n{} {} {} c\n{} {} {} c\n{}",
            p(cx + r, cy),
            p(cx + r, cy + k),
            p(cx + k, cy + r),
            p(cx, cy + r),
            p(cx - k, cy + r),
            p(cx - r, cy + k),
            p(cx - r, cy),
            p(cx - r, cy - k),
            p(cx - k, cy - r),
            p(cx, cy - r),
            p(cx + k, cy - r),
            p(cx + r, cy - k),
            p(cx + r, cy),
            if fill { "f" } else { "S" }
        );
        Ok(())
    }

    /// Placed as plotters places it on the bitmap (its `ab_glyph` font
    /// layout): the layout box is the text's advance (with kerning) wide
    /// and `size / 1.24` high, anchored at `pos`, and the baseline is
    /// `size / 2` below the box's top; glyphs are `size` high from
    /// descender to ascender.
    fn draw_text<TStyle: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &TStyle,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<PdfError>> {
        let color = style.color();
        if color.alpha == 0.0 || text.is_empty() {
            return Ok(());
        }
        let k = match style.style() {
            FontStyle::Bold => 1,
            _ => 0,
        };
        let size = style.size();
        let set = &mut self.fonts[k];
        let font = set.font.clone();
        let height = f64::from(font.height_unscaled());
        if height <= 0.0 {
            return fail("the embedded font has no height");
        }
        // Font units to pixels, as ab_glyph scales a font to `size` pixels.
        let scale = size / height;
        let em = scale * f64::from(font.units_per_em().unwrap_or(2048.0));
        let mut codes = String::new();
        let mut advance = 0.0;
        let mut prev: Option<GlyphId> = None;
        for c in text.chars() {
            let id = font.glyph_id(c);
            if let Some(p) = prev {
                let kern = f64::from(font.kern_unscaled(p, id));
                if kern != 0.0 {
                    advance += kern * scale;
                    // TJ offsets are thousandths of an em, positive to the left.
                    let _ = write!(codes, "> {} <", num(-kern * scale / em * 1000.0));
                }
            }
            let code = set.code(c).map_err(DrawingErrorKind::DrawingError)?;
            let _ = write!(codes, "{code:02X}");
            advance += f64::from(font.h_advance_unscaled(id)) * scale;
            prev = Some(id);
        }
        let width = advance.trunc();
        let box_height = (size / 1.24).trunc();
        let anchor = style.anchor();
        let dx = match anchor.h_pos {
            HPos::Left => 0.0,
            HPos::Center => -(width / 2.0).trunc(),
            HPos::Right => -width,
        };
        let dy = match anchor.v_pos {
            VPos::Top => 0.0,
            VPos::Center => -(box_height / 2.0).trunc(),
            VPos::Bottom => -box_height,
        } + size / 2.0;
        // Text direction and the offset (dx, dy), turned as plotters turns them.
        let (cos, sin) = match style.transform() {
            FontTransform::Rotate90 => (0.0, 1.0),
            FontTransform::Rotate180 => (-1.0, 0.0),
            FontTransform::Rotate270 => (0.0, -1.0),
            _ => (1.0, 0.0),
        };
        let x = f64::from(pos.0) + dx * cos - dy * sin;
        let y = f64::from(pos.1) + dx * sin + dy * cos;
        self.fill(color);
        // The page's y axis points down; the text matrix turns it up again.
        let _ = writeln!(
            self.content,
            "BT /F{k} {} Tf {} {} {} {} {} {} Tm [<{codes}>] TJ ET",
            num(em),
            num(cos),
            num(sin),
            num(sin),
            num(-cos),
            num(x),
            num(y)
        );
        Ok(())
    }
}

impl Drop for PdfBackend<'_> {
    fn drop(&mut self) {
        let _ = self.present();
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use plotters::prelude::*;

    /// Object `n` of `pdf`, its stream inflated (if it has one).
    fn object(pdf: &[u8], n: usize) -> (String, Option<String>) {
        let head = format!("\n{n} 0 obj\n");
        let start = find(pdf, head.as_bytes()).unwrap_or_else(|| panic!("no object {n}")) + head.len();
        let end = start + find(&pdf[start..], b"\nendobj\n").unwrap();
        let body = &pdf[start..end];
        match find(body, b">>\nstream\n") {
            Some(i) => {
                let dict = String::from_utf8_lossy(&body[..i + 2]).into_owned();
                let data = &body[i + b">>\nstream\n".len()..body.len() - b"\nendstream".len()];
                let mut z = flate2::read::ZlibDecoder::new(data);
                let mut s = String::new();
                std::io::Read::read_to_string(&mut z, &mut s).unwrap();
                (dict, Some(s))
            }
            None => (String::from_utf8_lossy(body).into_owned(), None),
        }
    }

    /// The number after `key` in `text` (e.g. a reference `key N 0 R`).
    fn number_after(text: &str, key: &str) -> usize {
        let at = text.find(key).unwrap_or_else(|| panic!("no {key} in {text}")) + key.len();
        text[at..].split_whitespace().next().unwrap().parse().unwrap()
    }

    /// The text a PDF reader extracts from the page: each text-showing
    /// operation's codes mapped through its font's `ToUnicode` map, one
    /// line per operation.
    pub(in crate::report) fn text(pdf: &[u8]) -> String {
        let (page, _) = object(pdf, 3);
        let (_, content) = object(pdf, 4);
        let mut maps: BTreeMap<String, BTreeMap<u8, String>> = BTreeMap::new();
        for k in 0..2 {
            let key = format!("/F{k} ");
            if !page.contains(&key) {
                continue;
            }
            let (font, _) = object(pdf, number_after(&page, &key));
            let (_, cmap) = object(pdf, number_after(&font, "/ToUnicode "));
            let mut map = BTreeMap::new();
            for line in cmap
                .unwrap()
                .lines()
                .filter(|l| l.starts_with('<') && !l.contains("<00> <FF>"))
            {
                let (code, uni) = line.split_once(' ').unwrap();
                let code = u8::from_str_radix(code.trim_matches(['<', '>']), 16).unwrap();
                let units: Vec<u16> = uni
                    .trim_matches(['<', '>'])
                    .as_bytes()
                    .chunks(4)
                    .map(|c| u16::from_str_radix(std::str::from_utf8(c).unwrap(), 16).unwrap())
                    .collect();
                map.insert(code, String::from_utf16(&units).unwrap());
            }
            maps.insert(format!("/F{k}"), map);
        }
        let mut out = String::new();
        for line in content.unwrap().lines().filter(|l| l.starts_with("BT ")) {
            let font = line.split_whitespace().nth(1).unwrap();
            let shown = &line[line.find('[').unwrap() + 1..line.rfind(']').unwrap()];
            for piece in shown.split('<').skip(1) {
                let hex = &piece[..piece.find('>').unwrap()];
                for i in (0..hex.len()).step_by(2) {
                    let code = u8::from_str_radix(&hex[i..i + 2], 16).unwrap();
                    out.push_str(&maps[font][&code]);
                }
            }
            out.push('\n');
        }
        out
    }

    /// Inflates every `FlateDecode` stream of `pdf` and returns them, in
    /// file order.
    fn streams(pdf: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = pdf;
        while let Some(i) = find(rest, b">>\nstream\n") {
            let start = i + b">>\nstream\n".len();
            let Some(len) = find(&rest[start..], b"\nendstream") else {
                break;
            };
            let mut z = flate2::read::ZlibDecoder::new(&rest[start..start + len]);
            let mut s = String::new();
            std::io::Read::read_to_string(&mut z, &mut s).unwrap();
            out.push(s);
            rest = &rest[start + len..];
        }
        out
    }

    fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
        hay.windows(needle.len()).position(|w| w == needle)
    }

    fn sample() -> Vec<u8> {
        crate::report::plot::ensure_fonts().unwrap();
        let mut pdf = Vec::new();
        {
            let root = PdfBackend::new(&mut pdf, (200, 100)).unwrap().into_drawing_area();
            root.fill(&WHITE).unwrap();
            let font = FontDesc::new(
                FontFamily::Name(crate::report::plot::FONT_FAMILY),
                20.0,
                FontStyle::Bold,
            );
            root.draw_text("AVé", &TextStyle::from(font).color(&BLACK), (10, 10))
                .unwrap();
            let font = FontDesc::new(
                FontFamily::Name(crate::report::plot::FONT_FAMILY),
                16.0,
                FontStyle::Normal,
            );
            root.draw_text("web", &TextStyle::from(font).color(&RED.mix(0.5)), (10, 50))
                .unwrap();
            root.draw(&PathElement::new(
                vec![(0, 0), (100, 80)],
                ShapeStyle::from(&BLUE).stroke_width(2),
            ))
            .unwrap();
            root.draw(&Circle::new((150, 50), 5, GREEN.filled())).unwrap();
            root.present().unwrap();
        }
        pdf
    }

    #[test]
    fn a_page_with_text_shapes_and_opacity() {
        let pdf = sample();
        assert!(pdf.starts_with(b"%PDF-1.4\n"));
        assert!(pdf.ends_with(b"%%EOF\n"));
        let raw = String::from_utf8_lossy(&pdf);
        assert!(raw.contains("/MediaBox [0 0 150 75]"), "{raw}");
        assert!(raw.contains("/Subtype /Type3"));
        // Two styles, two fonts: regular with w, e, b; bold with A, V, é.
        assert!(raw.contains("/F0 5 0 R /F1 10 0 R"), "{raw}");
        assert!(
            raw.contains("/A1 << /Type /ExtGState /CA 0.5 /ca 0.5 >>"),
            "{raw}"
        );
        assert!(!raw.contains("CreationDate") && !raw.contains("/ID"));
        let s = streams(&pdf);
        let content = &s[0];
        assert!(content.starts_with("0.75 0 0 -0.75 0 75 cm\n"), "{content}");
        // Bold: A, V and é kern (advance adjustments between them).
        let bold = content.lines().find(|l| l.contains("/F1 ")).unwrap();
        assert!(bold.contains("[<01> ") && bold.contains(" <03>] TJ"), "{bold}");
        // 20 px type is 20 px from descender to ascender (ab_glyph's scale);
        // the baseline is half the size below the top (plotters' layout).
        assert!(bold.starts_with("BT /F1 17.181 Tf 1 0 0 -1 10 20 Tm "), "{bold}");
        assert!(content.contains("/F0 "));
        assert!(content.contains("0 0 1 RG\n2 w\n0 0 m\n100 80 l\nS"), "{content}");
        assert!(content.contains(" c\nf\n"), "a filled circle of arcs: {content}");
        // The ToUnicode maps give the text back; glyphs are real outlines.
        assert!(
            s.iter()
                .any(|c| c.contains("<01> <0077>\n<02> <0065>\n<03> <0062>")),
            "web"
        );
        assert!(s.iter().any(|c| c.contains("<03> <00E9>")), "é");
        let glyphs: Vec<&String> = s.iter().filter(|c| c.contains(" d1\n")).collect();
        assert_eq!(glyphs.len(), 6);
        assert_eq!(
            glyphs
                .iter()
                .filter(|c| c.contains(" c\n") && c.ends_with("f\n"))
                .count(),
            3,
            "e, b, é have curves"
        );
        assert_eq!(text(&pdf), "AVé\nweb\n");
    }

    #[test]
    fn the_pdf_is_the_same_bytes_every_time() {
        let a = sample();
        let b = std::thread::spawn(sample).join().unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn numbers_and_the_cross_reference_table() {
        assert_eq!(num(0.75), "0.75");
        assert_eq!(num(-0.0001), "0");
        assert_eq!(num(480.0), "480");
        assert_eq!(num(1.0 / 3.0), "0.333");
        let pdf = assemble(&[b"<< >>".to_vec(), b"[1 2]".to_vec()]);
        let xref = find(&pdf, b"xref\n").unwrap();
        let table = std::str::from_utf8(&pdf[xref..]).unwrap();
        // Each offset points at its object.
        for (n, obj) in [(1, "1 0 obj"), (2, "2 0 obj")] {
            let line = table.lines().nth(2 + n).unwrap();
            let at: usize = line[..10].parse().unwrap();
            assert!(pdf[at..].starts_with(obj.as_bytes()), "{n}: {line}");
        }
        let start: usize = table.lines().rev().nth(1).unwrap().parse().unwrap();
        assert_eq!(start, xref);
        assert!(table.starts_with("xref\n0 3\n0000000000 65535 f \n"));
    }
}
