//! PNG pictures for the `pm` command, drawn with `plotters` into memory and encoded by the
//! pure-Rust `png` crate: a density slab and a convergence map (magma colour map, axes with
//! units, a colour bar) and P(k) against linear theory with their ratio in a second panel.
//!
//! Text is set in DejaVu Sans, embedded in the binary by the `dejavu` crate and registered
//! with plotters' `ab_glyph` renderer: no system font or font library is ever looked up. The
//! colour map is matplotlib's magma (CC0, from BIDS/colormap) sampled at 17 stops and
//! interpolated linearly.

use std::io::Cursor;
use std::iter::zip;
use std::ops::Range;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::drawing::DrawingAreaErrorKind;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

#[cfg(test)]
mod tests;

/// Errors of the plot module.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// A picture whose number of values (the second field) does not match its shape.
    #[error("a {}x{} picture needs {} values, got {}", .0[0], .0[1], .0[0] * .0[1], .1)]
    ShapeMismatch([usize; 2], usize),
    /// A curve (label, number of k values, of P(k) values) whose `k` and `p` differ in length.
    #[error("curve {0:?} has {1} k values but {2} P(k) values")]
    CurveLength(String, usize, usize),
    /// Nothing to draw: a picture without cells, no curves, or no plottable point.
    #[error("nothing to plot: {0}")]
    Empty(&'static str),
    /// A value (row-major index, value) that is NaN or infinite.
    #[error("picture value {0} is not finite ({1})")]
    NonFinite(usize, f64),
    /// Map coordinates that are not finite or not increasing.
    #[error("map extent must be a finite, increasing range, got {0:?}")]
    Extent(Range<f64>),
    /// A picture size (width, height) that is zero or too large to draw.
    #[error("a picture of {0} x {1} pixels cannot be drawn: each side must be 1 to 16384")]
    Size(usize, usize),
    /// plotters could not draw (the message is plotters').
    #[error("drawing failed: {0}")]
    Draw(String),
    /// The PNG encoder failed.
    #[error("PNG encoding failed: {0}")]
    Encode(#[from] png::EncodingError),
}

/// One curve of a P(k) plot.
pub struct Curve<'a> {
    /// The legend text.
    pub label: &'a str,
    /// Wavenumbers in h/Mpc.
    pub k: &'a [f64],
    /// Power in (Mpc/h)^3, one value per `k`.
    pub p: &'a [f64],
    /// Draw the curve dashed instead of solid.
    pub dashed: bool,
}

/// How a 2D map is shown: its side length with the unit of its axes, the axis names, and the
/// colour scale with its caption.
pub struct MapStyle<'a> {
    /// The coordinates the map spans along both axes (Mpc/h or degrees).
    pub extent: Range<f64>,
    /// The names of the horizontal and vertical axes with their unit.
    pub axes: [&'a str; 2],
    /// The colour bar's caption.
    pub caption: &'a str,
    /// log10 of the values (densities 1 + delta, floored at 10^-2) instead of the values.
    pub log: bool,
}

/// Cells with 1 + delta below this are shown in the darkest colour.
const DENSITY_FLOOR: f64 = 1e-2;
/// The largest width or height of a picture, in pixels.
const MAX_SIDE: usize = 1 << 14;
/// The font's family name in plotters' table.
const FONT: &str = "pmrs-dejavu-sans";
const TEXT: RGBColor = RGBColor(34, 34, 34);
const GRID: RGBColor = RGBColor(228, 228, 228);
/// matplotlib's default colour cycle ("tab10").
#[rustfmt::skip]
const CYCLE: [RGBColor; 10] = [
    RGBColor(31, 119, 180), RGBColor(255, 127, 14), RGBColor(44, 160, 44), RGBColor(214, 39, 40),
    RGBColor(148, 103, 189), RGBColor(140, 86, 75), RGBColor(227, 119, 194),
    RGBColor(127, 127, 127), RGBColor(188, 189, 34), RGBColor(23, 190, 207),
];
/// magma at entries 0, 16, ..., 240, 255 of matplotlib's 256-entry table.
#[rustfmt::skip]
const MAGMA: [[u8; 3]; 17] = [
    [0, 0, 4], [10, 8, 34], [29, 17, 71], [54, 16, 107], [81, 18, 124], [106, 28, 129],
    [131, 38, 129], [156, 46, 127], [183, 55, 121], [208, 65, 111], [231, 82, 99],
    [245, 107, 92], [252, 137, 97], [254, 167, 114], [254, 196, 136], [253, 226, 163],
    [252, 253, 191],
];

/// The magma colour at `t` in [0, 1] (clamped; NaN gives the darkest colour).
fn magma(t: f64) -> RGBColor {
    let position = if t > 0.0 { t.min(1.0) * 255.0 } else { 0.0 };
    let entry = |i: usize| (16 * i).min(255) as f64;
    let upper = (1..MAGMA.len())
        .find(|&i| entry(i) >= position)
        .unwrap_or(1);
    let (lo, hi) = (MAGMA[upper - 1], MAGMA[upper]);
    let w = ((position - entry(upper - 1)) / (entry(upper) - entry(upper - 1))).clamp(0.0, 1.0);
    let c = |i: usize| (f64::from(lo[i]) + w * (f64::from(hi[i]) - f64::from(lo[i]))).round() as u8;
    RGBColor(c(0), c(1), c(2))
}

/// A text style of `size` pixels in the embedded font (registered on first use).
fn font(size: f64) -> Result<TextStyle<'static>, PlotError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let sans = dejavu::sans::regular();
    let register = || plotters::style::register_font(FONT, FontStyle::Normal, sans).is_ok();
    if !*REGISTERED.get_or_init(register) {
        return Err(PlotError::Draw("the embedded font did not load".into()));
    }
    Ok((FONT, size).into_font().color(&TEXT))
}

/// Draws with `draw` on a white `width` x `height` RGB canvas and encodes it as PNG.
fn render(
    width: usize,
    height: usize,
    draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> Result<(), PlotError>,
) -> Result<Vec<u8>, PlotError> {
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
        return Err(PlotError::Size(width, height));
    }
    let mut rgb = vec![255u8; width * height * 3];
    {
        let root =
            BitMapBackend::with_buffer(&mut rgb, (width as u32, height as u32)).into_drawing_area();
        draw(&root)?;
        root.present()?;
    }
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(Cursor::new(&mut bytes), width as u32, height as u32);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.write_header()?.write_image_data(&rgb)?;
    Ok(bytes)
}

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for PlotError {
    fn from(e: DrawingAreaErrorKind<E>) -> Self {
        Self::Draw(e.to_string())
    }
}

// ---------------------------------------------------------------------------------------
// Maps: a density slab or a convergence map

/// A picture of a 2D map with a colour bar: `values` row-major with `shape = [rows, cols]`,
/// row 0 at the bottom (the vertical axis grows upwards) and column 0 at the left, each
/// cell a `pixels_per_cell` square. With `style.log` the values are 1 + delta (>= 0) and the
/// colour map spans log10(1 + delta) from the smallest positive value (at least 10^-2) to the
/// largest; otherwise it spans the values linearly. NaN or infinity is an error.
pub fn map_png(
    values: &[f64],
    shape: [usize; 2],
    pixels_per_cell: usize,
    title: &str,
    style: &MapStyle<'_>,
) -> Result<Vec<u8>, PlotError> {
    let [rows, cols] = shape;
    check_map(values, shape, &style.extent)?;
    let side = |cells: usize| cells.saturating_mul(pixels_per_cell.max(1));
    let (image_w, image_h) = (side(cols), side(rows));
    let scale = ColourScale::fit(values, style.log);
    let (width, height) = (
        image_w.saturating_add(LABELS_W + GAP + BAR_AREA),
        image_h.saturating_add(TITLE_H + LABELS_H + BOTTOM),
    );
    render(width, height, |root| {
        let body = title_band(root, title, width)?;
        let (left, right) = body.split_horizontally((LABELS_W + image_w + GAP) as i32);
        let mut chart = ChartBuilder::on(&left)
            .margin_left(8)
            .margin_right(GAP as u32)
            .margin_bottom(BOTTOM as u32)
            .x_label_area_size(LABELS_H as u32)
            .y_label_area_size((LABELS_W - 8) as u32)
            .build_cartesian_2d(style.extent.clone(), style.extent.clone())?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(style.axes[0])
            .y_desc(style.axes[1])
            .x_labels(6)
            .y_labels(6)
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| tick(*v))
            .label_style(font(15.0)?)
            .axis_desc_style(font(17.0)?)
            .draw()?;
        // Each pixel of the plotting area shows the cell under it (nearest neighbour); each
        // cell's colour is computed once.
        let colours: Vec<RGBColor> = values.iter().map(|&v| magma(scale.fraction(v))).collect();
        let area = chart.plotting_area().strip_coord_spec();
        let (xs, ys) = area.get_pixel_range();
        let (w, h) = ((xs.end - xs.start) as usize, (ys.end - ys.start) as usize);
        for py in 0..h {
            let row = rows - 1 - (py * rows / h).min(rows - 1);
            for px in 0..w {
                let col = (px * cols / w).min(cols - 1);
                area.draw_pixel((px as i32, py as i32), &colours[row * cols + col])?;
            }
        }
        colour_bar(&right, &scale, style.caption)
    })
}

/// Pixels per cell that give a map of `cells` a side: at least 512 pixels, every cell an
/// equal square of them.
pub fn pixels_per_cell(cells: usize) -> usize {
    512_usize.div_ceil(cells.max(1))
}

/// Pixels of a map picture: the title band, the axis labels left of and below the map, the
/// gap to the colour bar, the colour bar with its labels, and the bottom margin.
const TITLE_H: usize = 40;
const LABELS_W: usize = 80;
const LABELS_H: usize = 55;
const GAP: usize = 20;
const BAR_AREA: usize = 120;
const BOTTOM: usize = 10;

/// Writes `title` centred in a band at the top of `root`; returns the area below it.
fn title_band<'a>(
    root: &DrawingArea<BitMapBackend<'a>, Shift>,
    title: &str,
    width: usize,
) -> Result<DrawingArea<BitMapBackend<'a>, Shift>, PlotError> {
    let (band, body) = root.split_vertically(TITLE_H as i32);
    let centred = font(20.0)?.pos(Pos::new(HPos::Center, VPos::Center));
    band.draw_text(title, &centred, ((width / 2) as i32, (TITLE_H / 2) as i32))?;
    Ok(body)
}

/// A tick label with as few decimals as the value needs (at most two).
fn tick(v: f64) -> String {
    let v = if v.abs() < 1e-9 { 0.0 } else { v };
    (0..3)
        .map(|d| format!("{v:.d$}"))
        .find(|t| (t.parse::<f64>().unwrap_or(f64::NAN) - v).abs() <= 1e-9 * v.abs().max(1.0))
        .unwrap_or_else(|| format!("{v:.2}"))
}

/// Checks a map's shape, length, extent and values before anything is drawn.
fn check_map(values: &[f64], shape: [usize; 2], extent: &Range<f64>) -> Result<(), PlotError> {
    let [rows, cols] = shape;
    let expected = rows.saturating_mul(cols);
    if values.len() != expected {
        return Err(PlotError::ShapeMismatch(shape, values.len()));
    }
    if expected == 0 {
        return Err(PlotError::Empty("the map has no cells"));
    }
    if !(extent.start.is_finite() && extent.end.is_finite() && extent.end > extent.start) {
        return Err(PlotError::Extent(extent.clone()));
    }
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(PlotError::NonFinite(index, values[index])),
        None => Ok(()),
    }
}

/// The colour bar beside a map, level with it: the scale's colours bottom to top, labelled
/// at the right with the caption.
fn colour_bar(
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    scale: &ColourScale,
    caption: &str,
) -> Result<(), PlotError> {
    let mut bar = ChartBuilder::on(area)
        .margin_bottom((LABELS_H + BOTTOM) as u32)
        .margin_right(14)
        .right_y_label_area_size((BAR_AREA - 14 - 24) as u32)
        .build_cartesian_2d(0.0..1.0, scale.lo..scale.hi)?;
    bar.configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_desc(caption)
        .y_labels(6)
        .y_label_formatter(&|v| fixed(*v, (scale.hi - scale.lo) / 5.0))
        .label_style(font(15.0)?)
        .axis_desc_style(font(17.0)?)
        .draw()?;
    let steps = 256;
    let dv = (scale.hi - scale.lo) / steps as f64;
    bar.draw_series((0..steps).map(|i| {
        let v = scale.lo + dv * i as f64;
        let colour = magma((i as f64 + 0.5) / steps as f64);
        Rectangle::new([(0.0, v), (1.0, v + dv)], colour.filled())
    }))?;
    Ok(())
}

/// The range that the colour map spans: log10(1 + delta) for a density, the values
/// themselves for a linear map; a range of zero width is widened.
struct ColourScale {
    lo: f64,
    hi: f64,
    log: bool,
}

impl ColourScale {
    fn fit(values: &[f64], log: bool) -> Self {
        let (lo, hi) = if log {
            let max = values.iter().copied().fold(DENSITY_FLOOR, f64::max);
            let min_positive = values.iter().copied().filter(|&v| v > 0.0);
            let min = min_positive.fold(f64::INFINITY, f64::min).min(max);
            (min.max(DENSITY_FLOOR).log10(), max.log10())
        } else {
            let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
            (lo, values.iter().copied().fold(f64::NEG_INFINITY, f64::max))
        };
        let widen = if log { 0.5 } else { lo.abs().max(1e-300) };
        let w = if hi - lo > 1e-12 * widen { 0.0 } else { widen };
        Self {
            lo: lo - w,
            hi: hi + w,
            log,
        }
    }

    /// Where a value falls on the colour map: 0 (darkest) to 1.
    fn fraction(&self, value: f64) -> f64 {
        let v = if self.log {
            value.max(DENSITY_FLOOR).log10()
        } else {
            value
        };
        ((v - self.lo) / (self.hi - self.lo)).clamp(0.0, 1.0)
    }
}

// ---------------------------------------------------------------------------------------
// P(k) with its ratio to a reference

/// A log-log plot of P(k) [(Mpc/h)^3] against k [h/Mpc], `width` x `height` pixels, with a
/// legend, and below it a panel of each curve's ratio to `curves[reference]` (on the same
/// k values). Points with a non-positive or non-finite k or P(k) are left out; the axes
/// span the remaining points. Curves take the colours of matplotlib's default cycle.
pub fn power_spectrum_png(
    curves: &[Curve<'_>],
    reference: usize,
    title: &str,
    width: usize,
    height: usize,
) -> Result<Vec<u8>, PlotError> {
    let series: Vec<_> = curves.iter().map(log_points).collect::<Result<_, _>>()?;
    let all = || series.iter().flatten();
    let (Some(k), Some(p)) = (span(all().map(|q| q.0)), span(all().map(|q| q.1))) else {
        return Err(PlotError::Empty(
            "no point with finite, positive k and P(k)",
        ));
    };
    let no_reference = PlotError::Empty("no reference curve");
    let reference = curves.get(reference).ok_or(no_reference)?;
    let ratios: Vec<Vec<(f64, f64)>> = curves.iter().map(|c| ratio(c, reference)).collect();
    let r = span(ratios.iter().flatten().map(|q| q.1).chain([1.0])).unwrap_or(0.5..1.5);
    let (k, p) = (pad_log(k), pad_log(p));
    let pad = 0.08 * (r.end - r.start).max(0.1);
    let r = (r.start - pad)..(r.end + pad);
    render(width, height, |root| {
        let (top, bottom) = root.split_vertically((height * 7 / 10) as i32);
        let mut upper = ChartBuilder::on(&top)
            .caption(title, font(20.0)?)
            .margin(12)
            .x_label_area_size(10)
            .y_label_area_size(80)
            .build_cartesian_2d(k.clone().log_scale(), p.log_scale())?;
        upper
            .configure_mesh()
            .light_line_style(WHITE)
            .bold_line_style(GRID)
            .y_desc("P(k) [(Mpc/h)³]")
            .y_label_formatter(&|v| power_of_ten(*v))
            .x_label_formatter(&|_| String::new())
            .label_style(font(14.0)?)
            .axis_desc_style(font(16.0)?)
            .draw()?;
        let mut lower = ChartBuilder::on(&bottom)
            .margin(12)
            .margin_top(0)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d(k.log_scale(), r)?;
        lower
            .configure_mesh()
            .light_line_style(WHITE)
            .bold_line_style(GRID)
            .x_desc("k [h/Mpc]")
            .y_desc(format!("P / P({})", reference.label))
            .y_labels(5)
            .y_label_formatter(&|v| tick(*v))
            .x_label_formatter(&|v| one_two_five(*v))
            .label_style(font(14.0)?)
            .axis_desc_style(font(16.0)?)
            .draw()?;
        for (i, ((curve, points), ratio)) in curves.iter().zip(&series).zip(&ratios).enumerate() {
            let style = CYCLE[i % CYCLE.len()].stroke_width(2);
            let (points, ratio) = (points.iter().copied(), ratio.iter().copied());
            let drawn = if curve.dashed {
                lower.draw_series(DashedLineSeries::new(ratio, 8, 5, style))?;
                upper.draw_series(DashedLineSeries::new(points, 8, 5, style))
            } else {
                lower.draw_series(LineSeries::new(ratio, style))?;
                upper.draw_series(LineSeries::new(points, style))
            };
            drawn?
                .label(curve.label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        }
        upper
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font(font(14.0)?)
            .background_style(WHITE.mix(0.85))
            .border_style(GRID.stroke_width(1))
            .draw()?;
        Ok(())
    })
}

/// A curve's points with finite, positive k and P.
fn log_points(curve: &Curve<'_>) -> Result<Vec<(f64, f64)>, PlotError> {
    if curve.k.len() != curve.p.len() {
        let label = curve.label.to_owned();
        return Err(PlotError::CurveLength(label, curve.k.len(), curve.p.len()));
    }
    let good = |v: f64| v.is_finite() && v > 0.0;
    let pairs = curve.k.iter().zip(curve.p).map(|(&k, &p)| (k, p));
    Ok(pairs.filter(|&(k, p)| good(k) && good(p)).collect())
}

/// `curve / reference` at the k values where both are plottable and the k values agree.
fn ratio(curve: &Curve<'_>, reference: &Curve<'_>) -> Vec<(f64, f64)> {
    let good = |v: f64| v.is_finite() && v > 0.0;
    let rows = zip(zip(curve.k, curve.p), zip(reference.k, reference.p));
    rows.filter(|&((&k, &p), (&kr, &pr))| k == kr && good(k) && good(p) && good(pr))
        .map(|((&k, &p), (_, &pr))| (k, p / pr))
        .collect()
}

/// The smallest and largest of `values`, if any.
fn span(values: impl Iterator<Item = f64>) -> Option<Range<f64>> {
    values.fold(None, |r: Option<Range<f64>>, v| match r {
        None => Some(v..v),
        Some(r) => Some(r.start.min(v)..r.end.max(v)),
    })
}

/// A positive range widened by 5% each way in log (a factor 2 each way if it is a point).
fn pad_log(r: Range<f64>) -> Range<f64> {
    let f = (r.end / r.start).powf(0.05);
    let f = if f > 1.0 { f } else { 2.0 };
    (r.start / f)..(r.end * f)
}

/// `v` with the decimals that a tick spacing of about `step` needs.
fn fixed(v: f64, step: f64) -> String {
    let decimals = (-step.abs().log10().floor()).clamp(0.0, 12.0) as usize;
    let zero = v.abs() < 0.5 * 10f64.powi(-(decimals as i32));
    format!("{:.decimals$}", if zero { 0.0 } else { v })
}

/// A log-axis label at 1, 2 and 5 times a power of ten ("0.2", "1", "5"), none elsewhere.
fn one_two_five(v: f64) -> String {
    let mantissa = v / 10f64.powf(v.log10().floor());
    let labelled = [1.0, 2.0, 5.0, 10.0].map(|m| (mantissa - m).abs() < 1e-6);
    let labelled = labelled.contains(&true);
    if labelled { tick(v) } else { String::new() }
}

/// "10⁻²" for a power of ten, otherwise the value in short form.
fn power_of_ten(v: f64) -> String {
    const SUPERSCRIPTS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let e = v.log10().round();
    if (v / 10f64.powf(e) - 1.0).abs() > 1e-6 {
        return tick(v);
    }
    let digit = |c: char| c.to_digit(10).map_or('⁻', |d| SUPERSCRIPTS[d as usize]);
    format!(
        "10{}",
        (e as i64)
            .to_string()
            .chars()
            .map(digit)
            .collect::<String>()
    )
}
