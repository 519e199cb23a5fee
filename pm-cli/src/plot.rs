//! PNG pictures for the `pm` command, rendered into in-memory bytes: a log-scale colour map
//! of a density slice with a title and a colour bar, and a log-log plot of power spectra
//! P(k) with decade ticks, axis titles, a legend and a title.
//!
//! Everything is drawn here on an RGB canvas (anti-aliased strokes, rectangles and a built-in
//! 5x7 bitmap font with descenders) and encoded by the pure-Rust `png` crate: no system
//! library, no font file whose licence needs checking, and a much lighter build than
//! `plotters`, whose PNG output goes through the `image` crate and a font rasteriser.
//! The colour map is matplotlib's magma (CC0, from BIDS/colormap) sampled at 17 stops and
//! interpolated linearly. Text takes a tiny markup: `^{...}` raises and `_{...}` lowers what
//! the braces hold (`"(Mpc/h)^{3}"`). The same input always gives the same bytes.

use std::io::Cursor;

/// Errors of the plot module.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// A slice whose number of values does not match its shape.
    #[error("density slice has {got} values, shape {rows} x {cols} needs {expected}")]
    ShapeMismatch {
        /// Rows of the shape.
        rows: usize,
        /// Columns of the shape.
        cols: usize,
        /// `rows * cols`.
        expected: usize,
        /// The number of values passed.
        got: usize,
    },
    /// A curve whose `k` and `p` differ in length.
    #[error("curve {label:?} has {k_len} k values but {p_len} P(k) values")]
    CurveLength {
        /// The curve's label.
        label: String,
        /// Length of `k`.
        k_len: usize,
        /// Length of `p`.
        p_len: usize,
    },
    /// Nothing to draw: a slice without cells, no curves, or no plottable point in any curve.
    #[error("nothing to plot: {0}")]
    Empty(&'static str),
    /// A slice value that is NaN or infinite.
    #[error("density slice value {index} is not finite ({value})")]
    NonFinite {
        /// Row-major index of the value.
        index: usize,
        /// The value.
        value: f64,
    },
    /// `pixels_per_cell` of zero.
    #[error("pixels_per_cell must be at least 1")]
    ZeroPixelsPerCell,
    /// A picture size that is zero, too small for the axes or too large to encode.
    #[error("picture size {width} x {height} cannot be used: {reason}")]
    Size {
        /// Width in pixels (saturated at `u64::MAX`).
        width: u64,
        /// Height in pixels (saturated at `u64::MAX`).
        height: u64,
        /// Why, in words.
        reason: &'static str,
    },
    /// The PNG encoder failed.
    #[error("PNG encoding failed: {0}")]
    Encode(#[from] png::EncodingError),
}

/// One curve of a P(k) plot.
pub struct Curve<'a> {
    /// The legend text (an empty label leaves the curve out of the legend).
    pub label: &'a str,
    /// Wavenumbers in h/Mpc.
    pub k: &'a [f64],
    /// Power in (Mpc/h)^3, one value per `k`.
    pub p: &'a [f64],
    /// Draw the curve dashed instead of solid.
    pub dashed: bool,
}

/// Cells with 1 + delta below this are shown in the darkest colour: log10 is taken of
/// `max(1 + delta, DENSITY_FLOOR)`, and the colour scale starts at the smallest positive value
/// or at this floor, whichever is larger.
const DENSITY_FLOOR: f64 = 1e-2;

/// A log-scale picture of a 2D density slice: `values` row-major with `shape = [rows, cols]`
/// (row 0 at the top, column 0 at the left), the cells' values 1 + delta (>= 0; zeros, and any
/// value below 10^-2, are shown in the darkest colour; NaN or infinity is an error). The colour
/// map is magma from the smallest positive log10(1 + delta) (at least -2) to the largest; `pixels_per_cell` >= 1
/// upscales each cell to a square by nearest neighbour. A title line sits above the picture
/// (in smaller letters if it is wider than the rest) and a colour bar with the min/max of
/// log10(1 + delta) beside it.
pub fn density_slice_png(
    values: &[f64],
    shape: [usize; 2],
    pixels_per_cell: usize,
    title: &str,
) -> Result<Vec<u8>, PlotError> {
    check_slice(values, shape, pixels_per_cell)?;
    slice_png(
        values,
        shape,
        pixels_per_cell,
        title,
        &ColourScale::fit(values),
        BAR_CAPTION,
    )
}

/// The picture of a checked slice on `scale`, with a colour bar captioned `caption`.
fn slice_png(
    values: &[f64],
    shape: [usize; 2],
    pixels_per_cell: usize,
    title: &str,
    scale: &ColourScale,
    caption: &str,
) -> Result<Vec<u8>, PlotError> {
    let labels = scale_labels(scale);
    let layout = SliceLayout::new(shape, pixels_per_cell, title, &labels)?;
    let mut canvas = Canvas::new(layout.width, layout.height, WHITE);
    draw_cells(&mut canvas, &layout, values, shape[1], scale);
    draw_colour_bar(&mut canvas, &layout, &labels, caption);
    canvas.draw_text(
        &layout.title,
        (layout.title_x, MARGIN),
        HAlign::Left,
        VAlign::MaskTop,
        TEXT_COLOUR,
    );
    canvas.encode_png()
}

/// A linear-scale picture of a 2D map (a convergence map): as [`density_slice_png`] but with
/// the colour map spanning the values themselves, from the smallest (darkest) to the largest,
/// and the colour bar labelled with them in scientific notation and captioned `caption`. NaN
/// or infinity is an error.
pub fn map_png(
    values: &[f64],
    shape: [usize; 2],
    pixels_per_cell: usize,
    title: &str,
    caption: &str,
) -> Result<Vec<u8>, PlotError> {
    check_slice(values, shape, pixels_per_cell)?;
    let scale = ColourScale::fit_linear(values);
    slice_png(values, shape, pixels_per_cell, title, &scale, caption)
}

/// A log-log plot of P(k) [(Mpc/h)^3] against k [h/Mpc] with axes, decade tick labels, axis
/// titles, a legend with the curves' labels and a title, `width` x `height` pixels. Points
/// with a non-positive or non-finite k or P(k) are skipped (the curve joins its neighbours);
/// the axes span the remaining points of all curves. Curves take the colours of matplotlib's
/// default cycle in order; the legend goes to the corner of the axes that hides the least.
pub fn power_spectrum_png(
    curves: &[Curve<'_>],
    title: &str,
    width: u32,
    height: u32,
) -> Result<Vec<u8>, PlotError> {
    let series = plottable_series(curves)?;
    let layout = PlotLayout::new(width as usize, height as usize, &series, title)?;
    let mut canvas = Canvas::new(layout.width, layout.height, WHITE);
    draw_grid(&mut canvas, &layout);
    let ink = draw_curves(&mut canvas, &layout, curves, &series);
    draw_axes(&mut canvas, &layout);
    draw_legend(&mut canvas, &layout, curves, &ink);
    let title = TextMask::fitting(title, layout.width as i64 - 2 * MARGIN);
    let centred = layout.area.x + layout.area.w / 2 - title.width as i64 / 2;
    let title_x = centred
        .min(layout.width as i64 - MARGIN - title.width as i64)
        .max(MARGIN);
    canvas.draw_text(
        &title,
        (title_x, MARGIN),
        HAlign::Left,
        VAlign::MaskTop,
        TEXT_COLOUR,
    );
    canvas.encode_png()
}

// ---------------------------------------------------------------------------------------
// Colours and sizes

/// An RGB colour.
type Rgb = [u8; 3];

const WHITE: Rgb = [255, 255, 255];
const TEXT_COLOUR: Rgb = [34, 34, 34];
const AXIS_COLOUR: Rgb = [51, 51, 51];
const GRID_COLOUR: Rgb = [228, 228, 228];
const LEGEND_BORDER: Rgb = [190, 190, 190];

/// matplotlib's default colour cycle ("tab10").
const CURVE_COLOURS: [Rgb; 10] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
];

/// magma at entries 0, 16, ..., 240, 255 of matplotlib's 256-entry table: (entry, colour).
const MAGMA: [(u8, Rgb); 17] = [
    (0, [0, 0, 4]),
    (16, [10, 8, 34]),
    (32, [29, 17, 71]),
    (48, [54, 16, 107]),
    (64, [81, 18, 124]),
    (80, [106, 28, 129]),
    (96, [131, 38, 129]),
    (112, [156, 46, 127]),
    (128, [183, 55, 121]),
    (144, [208, 65, 111]),
    (160, [231, 82, 99]),
    (176, [245, 107, 92]),
    (192, [252, 137, 97]),
    (208, [254, 167, 114]),
    (224, [254, 196, 136]),
    (240, [253, 226, 163]),
    (255, [252, 253, 191]),
];

/// Blank space around everything, in pixels.
const MARGIN: i64 = 12;
/// Integer magnification of the 5x7 font for all text (superscripts use half of it).
const TEXT_SCALE: usize = 2;
/// The largest width or height of a picture.
const MAX_SIDE: usize = 1 << 15;
/// The largest number of pixels of a picture.
const MAX_PIXELS: usize = 1 << 28;

/// The magma colour at `t` in [0, 1] (clamped; NaN gives the darkest colour).
fn magma(t: f64) -> Rgb {
    let position = if t > 0.0 { t.min(1.0) * 255.0 } else { 0.0 };
    let upper = MAGMA
        .iter()
        .position(|&(entry, _)| f64::from(entry) >= position)
        .unwrap_or(0);
    if upper == 0 {
        return MAGMA[0].1;
    }
    let (lo_entry, lo) = MAGMA[upper - 1];
    let (hi_entry, hi) = MAGMA[upper];
    let w = (position - f64::from(lo_entry)) / f64::from(hi_entry - lo_entry);
    std::array::from_fn(|i| {
        (f64::from(lo[i]) + w * (f64::from(hi[i]) - f64::from(lo[i]))).round() as u8
    })
}

// ---------------------------------------------------------------------------------------
// Density slice

/// Checks the slice's shape, length and values before anything is drawn.
fn check_slice(values: &[f64], shape: [usize; 2], pixels_per_cell: usize) -> Result<(), PlotError> {
    let [rows, cols] = shape;
    if pixels_per_cell == 0 {
        return Err(PlotError::ZeroPixelsPerCell);
    }
    let Some(expected) = rows.checked_mul(cols) else {
        return Err(size_error(rows, cols, "the slice shape overflows"));
    };
    if values.len() != expected {
        return Err(PlotError::ShapeMismatch {
            rows,
            cols,
            expected,
            got: values.len(),
        });
    }
    if expected == 0 {
        return Err(PlotError::Empty("the density slice has no cells"));
    }
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(PlotError::NonFinite {
            index,
            value: values[index],
        }),
        None => Ok(()),
    }
}

/// The range that the colour map spans: log10(1 + delta) for a density, the values
/// themselves for a linear map.
struct ColourScale {
    lo: f64,
    hi: f64,
    log: bool,
}

impl ColourScale {
    /// From the smallest positive value (at least [`DENSITY_FLOOR`]) to the largest; a range
    /// of zero width is widened by half a decade each way.
    fn fit(values: &[f64]) -> Self {
        let max = values.iter().copied().fold(DENSITY_FLOOR, f64::max);
        let min_positive = values
            .iter()
            .copied()
            .filter(|&v| v > 0.0)
            .fold(f64::INFINITY, f64::min);
        let (lo, hi) = (
            min_positive.min(max).max(DENSITY_FLOOR).log10(),
            max.log10(),
        );
        if hi - lo > 1e-12 {
            Self { lo, hi, log: true }
        } else {
            Self {
                lo: lo - 0.5,
                hi: hi + 0.5,
                log: true,
            }
        }
    }

    /// From the smallest to the largest value, linearly (a zero-width range is widened by 1
    /// each way, or by its magnitude when that is larger).
    fn fit_linear(values: &[f64]) -> Self {
        let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if hi - lo > 1e-300 {
            Self { lo, hi, log: false }
        } else {
            let w = lo.abs().max(1.0);
            Self {
                lo: lo - w,
                hi: hi + w,
                log: false,
            }
        }
    }

    /// Where a cell's value falls on the colour map: 0 (darkest) to 1.
    fn fraction(&self, value: f64) -> f64 {
        if !self.log {
            return ((value - self.lo) / (self.hi - self.lo)).clamp(0.0, 1.0);
        }
        if value <= 0.0 {
            return 0.0;
        }
        ((value.max(DENSITY_FLOOR).log10() - self.lo) / (self.hi - self.lo)).clamp(0.0, 1.0)
    }
}

/// Where the parts of a density-slice picture go.
struct SliceLayout {
    width: usize,
    height: usize,
    /// The title, smaller when it is wider than the rest of the picture.
    title: TextMask,
    /// Left edge of the title (centred over the cells where there is room).
    title_x: i64,
    /// The cells' picture.
    image: Rect,
    pixels_per_cell: usize,
    /// The colour bar, brightest at the top.
    bar: Rect,
    /// Left edge of the min/max labels.
    label_x: i64,
    /// Centre line of the vertical caption.
    caption_x: i64,
}

/// Width of the colour bar.
const BAR_WIDTH: i64 = 18;
/// The colour bar is at least this tall, so its labels and caption fit beside it.
const MIN_BAR_HEIGHT: i64 = 150;
/// The colour bar's caption.
const BAR_CAPTION: &str = "log_{10}(1+\u{3b4})";

impl SliceLayout {
    fn new(
        shape: [usize; 2],
        pixels_per_cell: usize,
        title: &str,
        labels: &[TextMask; 2],
    ) -> Result<Self, PlotError> {
        let [rows, cols] = shape;
        let side = |cells: usize| {
            cells
                .checked_mul(pixels_per_cell)
                .filter(|&s| s <= MAX_SIDE)
        };
        let (Some(image_w), Some(image_h)) = (side(cols), side(rows)) else {
            let (w, h) = (
                cols.saturating_mul(pixels_per_cell),
                rows.saturating_mul(pixels_per_cell),
            );
            return Err(size_error(w, h, "the picture would be too large"));
        };
        let (image_w, image_h) = (image_w as i64, image_h as i64);
        let bar_x = MARGIN + image_w + 14;
        let label_x = bar_x + BAR_WIDTH + 7;
        let label_w = labels.iter().map(|l| l.width).max().unwrap_or(0) as i64;
        let caption_h = TextMask::render(BAR_CAPTION, TEXT_SCALE).height as i64;
        let caption_x = label_x + label_w + 10 + caption_h / 2;
        let content_right = caption_x + caption_h / 2;
        let title = TextMask::fitting(title, content_right - MARGIN);
        let image = Rect {
            x: MARGIN,
            y: MARGIN + title.height as i64 + 10,
            w: image_w,
            h: image_h,
        };
        let bar = Rect {
            x: bar_x,
            y: image.y,
            w: BAR_WIDTH,
            h: image.h.max(MIN_BAR_HEIGHT),
        };
        let title_x = (image.x + image.w / 2 - title.width as i64 / 2).max(MARGIN);
        let width = (content_right + MARGIN).max(title.width as i64 + 2 * MARGIN);
        let height = bar.bottom().max(image.bottom()) + MARGIN;
        let (width, height) = (width as usize, height as usize);
        check_canvas_size(width, height)?;
        Ok(Self {
            width,
            height,
            title,
            title_x,
            image,
            pixels_per_cell,
            bar,
            label_x,
            caption_x,
        })
    }
}

/// The colour bar's labels for the bottom and top of the scale: two decimals, never "-0.00".
fn scale_labels(scale: &ColourScale) -> [TextMask; 2] {
    if !scale.log {
        return [scale.lo, scale.hi]
            .map(|value| TextMask::render(&format!("{value:.2e}"), TEXT_SCALE));
    }
    [scale.lo, scale.hi].map(|value| {
        let value = if value.abs() < 0.005 { 0.0 } else { value };
        TextMask::render(&format!("{value:.2}"), TEXT_SCALE)
    })
}

/// Fills the picture of the slice, each cell a `pixels_per_cell` square.
fn draw_cells(
    canvas: &mut Canvas,
    layout: &SliceLayout,
    values: &[f64],
    cols: usize,
    scale: &ColourScale,
) {
    let ppc = layout.pixels_per_cell as i64;
    for (index, &value) in values.iter().enumerate() {
        let (row, col) = ((index / cols) as i64, (index % cols) as i64);
        let cell = Rect {
            x: layout.image.x + col * ppc,
            y: layout.image.y + row * ppc,
            w: ppc,
            h: ppc,
        };
        canvas.fill_rect(cell, magma(scale.fraction(value)));
    }
}

/// The colour bar (brightest at the top) with its min/max labels and its caption.
fn draw_colour_bar(
    canvas: &mut Canvas,
    layout: &SliceLayout,
    labels: &[TextMask; 2],
    caption: &str,
) {
    let bar = layout.bar;
    for i in 0..bar.h {
        let t = 1.0 - i as f64 / (bar.h - 1).max(1) as f64;
        canvas.fill_rect(
            Rect {
                x: bar.x,
                y: bar.y + i,
                w: bar.w,
                h: 1,
            },
            magma(t),
        );
    }
    canvas.outline_rect(bar.grown(1), AXIS_COLOUR);
    let [bottom, top] = labels;
    canvas.draw_text(
        top,
        (layout.label_x, bar.y),
        HAlign::Left,
        VAlign::CapTop,
        TEXT_COLOUR,
    );
    canvas.draw_text(
        bottom,
        (layout.label_x, bar.bottom()),
        HAlign::Left,
        VAlign::Baseline,
        TEXT_COLOUR,
    );
    let caption = TextMask::render(caption, TEXT_SCALE);
    canvas.draw_text_vertical(&caption, layout.caption_x, bar.y + bar.h / 2, TEXT_COLOUR);
}

// ---------------------------------------------------------------------------------------
// P(k) plot

/// Each curve's plottable points as (log10 k, log10 P).
fn plottable_series(curves: &[Curve<'_>]) -> Result<Vec<Vec<Point>>, PlotError> {
    if curves.is_empty() {
        return Err(PlotError::Empty("no curves"));
    }
    let series = curves
        .iter()
        .map(log_points)
        .collect::<Result<Vec<_>, _>>()?;
    if series.iter().all(Vec::is_empty) {
        return Err(PlotError::Empty(
            "no curve has a point with finite, positive k and P(k)",
        ));
    }
    Ok(series)
}

/// A curve's points with finite, positive k and P as (log10 k, log10 P).
fn log_points(curve: &Curve<'_>) -> Result<Vec<Point>, PlotError> {
    if curve.k.len() != curve.p.len() {
        return Err(PlotError::CurveLength {
            label: curve.label.to_owned(),
            k_len: curve.k.len(),
            p_len: curve.p.len(),
        });
    }
    let plottable = |v: f64| v.is_finite() && v > 0.0;
    Ok(curve
        .k
        .iter()
        .zip(curve.p)
        .filter(|&(&k, &p)| plottable(k) && plottable(p))
        .map(|(k, p)| [k.log10(), p.log10()])
        .collect())
}

/// A logarithmic axis from `lo` to `hi` (log10 units).
#[derive(Debug, Clone, Copy)]
struct LogAxis {
    lo: f64,
    hi: f64,
}

impl LogAxis {
    /// Spans `values` (log10) with 4% to spare at each end; widened to whole decades when
    /// fewer than two decades would lie inside, and by half a decade each way around a
    /// single value.
    fn spanning(values: impl Iterator<Item = f64>) -> Self {
        let (min, max) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        let (min, max) = if max - min > 1e-9 {
            (min, max)
        } else {
            (min - 0.5, max + 0.5)
        };
        let pad = 0.04 * (max - min);
        let (lo, hi) = (min - pad, max + pad);
        if hi.floor() - lo.ceil() < 1.0 {
            Self {
                lo: lo.floor(),
                hi: hi.ceil(),
            }
        } else {
            Self { lo, hi }
        }
    }

    /// The decades (integer log10 values) inside the axis.
    fn decades(&self) -> std::ops::RangeInclusive<i64> {
        (self.lo.ceil() as i64)..=(self.hi.floor() as i64)
    }

    /// Where `value` (log10) lies along the axis: 0 at `lo`, 1 at `hi`.
    fn fraction(&self, value: f64) -> f64 {
        (value - self.lo) / (self.hi - self.lo)
    }
}

/// The x axis title.
const X_TITLE: &str = "k [h/Mpc]";
/// The y axis title.
const Y_TITLE: &str = "P(k) [(Mpc/h)^{3}]";
/// Length of a labelled decade's tick.
const MAJOR_TICK: i64 = 7;
/// Length of the other ticks.
const MINOR_TICK: i64 = 4;
/// Space between the axes and the tick labels.
const LABEL_GAP: i64 = 6;
/// The axes are at least this many pixels wide and tall.
const MIN_AREA: i64 = 40;
/// Half the width of a curve's stroke.
const CURVE_HALF_WIDTH: f64 = 1.0;
/// Dash and gap lengths of a dashed curve.
const DASH: [f64; 2] = [9.0, 5.0];

/// Where the parts of a P(k) plot go and how data map to pixels.
struct PlotLayout {
    width: usize,
    height: usize,
    /// The inside of the axes' frame.
    area: Rect,
    x: LogAxis,
    y: LogAxis,
    /// Decades of k with a tick label.
    x_labelled: Vec<i64>,
    /// Decades of P with a tick label.
    y_labelled: Vec<i64>,
}

impl PlotLayout {
    fn new(
        width: usize,
        height: usize,
        series: &[Vec<Point>],
        title: &str,
    ) -> Result<Self, PlotError> {
        check_canvas_size(width, height)?;
        let x = LogAxis::spanning(series.iter().flatten().map(|p| p[0]));
        let y = LogAxis::spanning(series.iter().flatten().map(|p| p[1]));
        let widest = |axis: &LogAxis| {
            axis.decades()
                .map(|n| decade_label(n).width)
                .max()
                .unwrap_or(0) as i64
        };
        let label_h = decade_label(0).height as i64;
        let title_h = TextMask::render(title, TEXT_SCALE).height as i64;
        let x_title_h = TextMask::render(X_TITLE, TEXT_SCALE).height as i64;
        let y_title_h = TextMask::render(Y_TITLE, TEXT_SCALE).height as i64;
        let top = MARGIN + title_h + 10;
        let left = MARGIN + y_title_h + 10 + widest(&y) + LABEL_GAP;
        let bottom = LABEL_GAP + label_h + 8 + x_title_h + MARGIN;
        let right = MARGIN + widest(&x) / 2;
        let area = Rect {
            x: left,
            y: top,
            w: width as i64 - left - right,
            h: height as i64 - top - bottom,
        };
        if area.w < MIN_AREA || area.h < MIN_AREA {
            return Err(size_error(
                width,
                height,
                "too small for the axes and their labels",
            ));
        }
        let x_labelled = labelled_decades(&x, area.w as f64, widest(&x) as f64 + 14.0);
        let y_labelled = labelled_decades(&y, area.h as f64, label_h as f64 + 8.0);
        Ok(Self {
            width,
            height,
            area,
            x,
            y,
            x_labelled,
            y_labelled,
        })
    }

    /// Pixel column (continuous) of log10 k.
    fn px(&self, log_k: f64) -> f64 {
        self.area.x as f64 + self.x.fraction(log_k) * self.area.w as f64
    }

    /// Pixel row (continuous) of log10 P.
    fn py(&self, log_p: f64) -> f64 {
        self.area.y as f64 + (1.0 - self.y.fraction(log_p)) * self.area.h as f64
    }

    /// The column of a tick at log10 k, kept inside the frame.
    fn tick_column(&self, log_k: f64) -> i64 {
        (self.px(log_k).floor() as i64).clamp(self.area.x, self.area.right() - 1)
    }

    /// The row of a tick at log10 P, kept inside the frame.
    fn tick_row(&self, log_p: f64) -> i64 {
        (self.py(log_p).floor() as i64).clamp(self.area.y, self.area.bottom() - 1)
    }
}

/// A decade's tick label, `10^{n}`.
fn decade_label(n: i64) -> TextMask {
    TextMask::render(&format!("10^{{{n}}}"), TEXT_SCALE)
}

/// The decades that get a label: multiples of the smallest step of 1, 2, 5, 10, 20, ...
/// decades that leaves `needed` pixels per label (the first decade if no multiple is inside).
fn labelled_decades(axis: &LogAxis, length: f64, needed: f64) -> Vec<i64> {
    let per_decade = length / (axis.hi - axis.lo);
    let step = (0..6)
        .flat_map(|power| [1, 2, 5].map(|m| m * 10_i64.pow(power)))
        .find(|&step| step as f64 * per_decade >= needed)
        .unwrap_or(1_000_000);
    let labelled: Vec<i64> = axis.decades().filter(|n| n.rem_euclid(step) == 0).collect();
    if labelled.is_empty() {
        axis.decades().take(1).collect()
    } else {
        labelled
    }
}

/// Pixels per decade along an axis `length` pixels long.
fn pixels_per_decade(axis: &LogAxis, length: i64) -> f64 {
    length as f64 / (axis.hi - axis.lo)
}

/// Light grid lines at the labelled decades.
fn draw_grid(canvas: &mut Canvas, layout: &PlotLayout) {
    let area = layout.area;
    for &n in &layout.x_labelled {
        let col = layout.px(n as f64).floor() as i64;
        if col > area.x && col < area.right() - 1 {
            canvas.fill_rect(
                Rect {
                    x: col,
                    y: area.y,
                    w: 1,
                    h: area.h,
                },
                GRID_COLOUR,
            );
        }
    }
    for &n in &layout.y_labelled {
        let row = layout.py(n as f64).floor() as i64;
        if row > area.y && row < area.bottom() - 1 {
            canvas.fill_rect(
                Rect {
                    x: area.x,
                    y: row,
                    w: area.w,
                    h: 1,
                },
                GRID_COLOUR,
            );
        }
    }
}

/// The colour of the `index`-th curve.
fn curve_colour(index: usize) -> Rgb {
    CURVE_COLOURS[index % CURVE_COLOURS.len()]
}

/// Strokes every curve inside the axes; returns where ink fell, for placing the legend.
fn draw_curves(
    canvas: &mut Canvas,
    layout: &PlotLayout,
    curves: &[Curve<'_>],
    series: &[Vec<Point>],
) -> Coverage {
    let mut ink = Coverage::new(layout.width, layout.height, layout.area);
    for (index, (curve, points)) in curves.iter().zip(series).enumerate() {
        let pixels: Vec<Point> = points
            .iter()
            .map(|&[lk, lp]| [layout.px(lk), layout.py(lp)])
            .collect();
        let mut stroke = Coverage::new(layout.width, layout.height, layout.area);
        stroke.polyline(&pixels, CURVE_HALF_WIDTH, curve.dashed.then_some(DASH));
        canvas.paint(&stroke, curve_colour(index));
        ink.merge(&stroke);
    }
    ink
}

/// The frame, ticks on all four sides, tick labels and axis titles.
fn draw_axes(canvas: &mut Canvas, layout: &PlotLayout) {
    let area = layout.area;
    canvas.outline_rect(area.grown(1), AXIS_COLOUR);
    for (log_k, length) in ticks(&layout.x, &layout.x_labelled, area.w) {
        let col = layout.tick_column(log_k);
        canvas.fill_rect(
            Rect {
                x: col,
                y: area.bottom() - length,
                w: 1,
                h: length,
            },
            AXIS_COLOUR,
        );
        canvas.fill_rect(
            Rect {
                x: col,
                y: area.y,
                w: 1,
                h: length,
            },
            AXIS_COLOUR,
        );
    }
    for (log_p, length) in ticks(&layout.y, &layout.y_labelled, area.h) {
        let row = layout.tick_row(log_p);
        canvas.fill_rect(
            Rect {
                x: area.x,
                y: row,
                w: length,
                h: 1,
            },
            AXIS_COLOUR,
        );
        canvas.fill_rect(
            Rect {
                x: area.right() - length,
                y: row,
                w: length,
                h: 1,
            },
            AXIS_COLOUR,
        );
    }
    let label_top = area.bottom() + 1 + LABEL_GAP;
    for &n in &layout.x_labelled {
        let col = layout.tick_column(n as f64);
        canvas.draw_text(
            &decade_label(n),
            (col, label_top),
            HAlign::Center,
            VAlign::MaskTop,
            TEXT_COLOUR,
        );
    }
    for &n in &layout.y_labelled {
        let row = layout.tick_row(n as f64);
        canvas.draw_text(
            &decade_label(n),
            (area.x - 1 - LABEL_GAP, row),
            HAlign::Right,
            VAlign::CapMiddle,
            TEXT_COLOUR,
        );
    }
    let x_title_top = label_top + decade_label(0).height as i64 + 8;
    let x_title = TextMask::fitting(X_TITLE, area.w);
    canvas.draw_text(
        &x_title,
        (area.x + area.w / 2, x_title_top),
        HAlign::Center,
        VAlign::MaskTop,
        TEXT_COLOUR,
    );
    let y_title = TextMask::fitting(Y_TITLE, area.h + 2 * MARGIN);
    let y_title_x = MARGIN + y_title.height as i64 / 2;
    canvas.draw_text_vertical(&y_title, y_title_x, area.y + area.h / 2, TEXT_COLOUR);
}

/// Ticks along an axis `length` pixels long as (log10 value, tick length): long ones at
/// labelled decades, short ones at the other decades and, where a decade is wide enough, at
/// 2..9 times each decade.
fn ticks(axis: &LogAxis, labelled: &[i64], length: i64) -> Vec<(f64, i64)> {
    let per_decade = pixels_per_decade(axis, length);
    let inside = |v: f64| v >= axis.lo && v <= axis.hi;
    let mut ticks: Vec<(f64, i64)> = Vec::new();
    for n in (axis.lo.floor() as i64)..=(axis.hi.ceil() as i64) {
        let decade = n as f64;
        if labelled.contains(&n) {
            ticks.push((decade, MAJOR_TICK));
        } else if per_decade >= 4.0 && inside(decade) {
            ticks.push((decade, MINOR_TICK));
        }
        if per_decade >= 30.0 {
            let minor = (2..10)
                .map(|m| decade + f64::from(m).log10())
                .filter(|&v| inside(v));
            ticks.extend(minor.map(|v| (v, MINOR_TICK)));
        }
    }
    ticks
}

/// Inner padding of the legend box.
const LEGEND_PADDING: i64 = 6;
/// Height of a legend row.
const LEGEND_ROW: i64 = 22;
/// Length of a legend's line sample.
const LEGEND_SAMPLE: i64 = 30;

/// A legend box with a line sample and the label of every labelled curve, in the corner of
/// the axes (upper right, upper left, lower left, lower right) that covers the least ink;
/// none when the box would not fit inside the axes.
fn draw_legend(canvas: &mut Canvas, layout: &PlotLayout, curves: &[Curve<'_>], ink: &Coverage) {
    let entries: Vec<(usize, &Curve<'_>, TextMask)> = curves
        .iter()
        .enumerate()
        .filter(|(_, curve)| !curve.label.is_empty())
        .map(|(index, curve)| (index, curve, TextMask::render(curve.label, TEXT_SCALE)))
        .collect();
    if entries.is_empty() {
        return;
    }
    let label_w = entries.iter().map(|e| e.2.width).max().unwrap_or(0) as i64;
    let (w, h) = (
        3 * LEGEND_PADDING + LEGEND_SAMPLE + label_w + 2,
        2 * LEGEND_PADDING + entries.len() as i64 * LEGEND_ROW,
    );
    let area = layout.area;
    let inset = 8;
    if w > area.w - 2 * inset || h > area.h - 2 * inset {
        return;
    }
    let (left, right) = (area.x + inset, area.right() - inset - w);
    let (top, bottom) = (area.y + inset, area.bottom() - inset - h);
    let corners = [[right, top], [left, top], [left, bottom], [right, bottom]];
    let boxes = corners.map(|[x, y]| Rect { x, y, w, h });
    let legend = boxes
        .into_iter()
        .min_by_key(|r| ink.count_in(*r))
        .unwrap_or(boxes[0]);
    canvas.fill_rect(legend, WHITE);
    canvas.outline_rect(legend, LEGEND_BORDER);
    for (row, (index, curve, label)) in entries.iter().enumerate() {
        let middle = legend.y + LEGEND_PADDING + row as i64 * LEGEND_ROW + LEGEND_ROW / 2;
        let sample_x = (legend.x + LEGEND_PADDING) as f64;
        let line_y = middle as f64 + 0.5;
        let mut sample = Coverage::new(layout.width, layout.height, legend);
        sample.polyline(
            &[
                [sample_x, line_y],
                [sample_x + LEGEND_SAMPLE as f64, line_y],
            ],
            CURVE_HALF_WIDTH,
            curve.dashed.then_some(DASH),
        );
        canvas.paint(&sample, curve_colour(*index));
        let label_x = legend.x + 2 * LEGEND_PADDING + LEGEND_SAMPLE;
        canvas.draw_text(
            label,
            (label_x, middle),
            HAlign::Left,
            VAlign::CapMiddle,
            TEXT_COLOUR,
        );
    }
}

// ---------------------------------------------------------------------------------------
// Canvas, strokes and text

/// A point in pixel coordinates (x right, y down; pixel (i, j) covers [i, i+1) x [j, j+1)),
/// or a (log10 k, log10 P) pair before it is mapped.
type Point = [f64; 2];

/// An axis-aligned rectangle of whole pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rect {
    x: i64,
    y: i64,
    w: i64,
    h: i64,
}

impl Rect {
    fn right(&self) -> i64 {
        self.x + self.w
    }

    fn bottom(&self) -> i64 {
        self.y + self.h
    }

    /// The rectangle grown by `by` pixels on every side.
    fn grown(&self, by: i64) -> Rect {
        Rect {
            x: self.x - by,
            y: self.y - by,
            w: self.w + 2 * by,
            h: self.h + 2 * by,
        }
    }

    /// The part inside `width` x `height` pixels from the origin (possibly empty).
    fn clipped(&self, width: usize, height: usize) -> Rect {
        let (x0, y0) = (self.x.max(0), self.y.max(0));
        let (x1, y1) = (
            self.right().min(width as i64),
            self.bottom().min(height as i64),
        );
        Rect {
            x: x0,
            y: y0,
            w: (x1 - x0).max(0),
            h: (y1 - y0).max(0),
        }
    }
}

/// The error for a picture size that cannot be used.
fn size_error(width: usize, height: usize, reason: &'static str) -> PlotError {
    PlotError::Size {
        width: width as u64,
        height: height as u64,
        reason,
    }
}

/// Rejects empty and oversized pictures.
fn check_canvas_size(width: usize, height: usize) -> Result<(), PlotError> {
    if width == 0 || height == 0 {
        return Err(size_error(
            width,
            height,
            "a picture needs at least one pixel each way",
        ));
    }
    if width > MAX_SIDE || height > MAX_SIDE || width * height > MAX_PIXELS {
        return Err(size_error(width, height, "the picture would be too large"));
    }
    Ok(())
}

/// An RGB picture being drawn.
struct Canvas {
    width: usize,
    height: usize,
    /// Row-major RGB bytes.
    rgb: Vec<u8>,
}

/// Horizontal anchor of a text.
#[derive(Debug, Clone, Copy)]
enum HAlign {
    Left,
    Center,
    Right,
}

/// Vertical anchor of a text.
#[derive(Debug, Clone, Copy)]
enum VAlign {
    /// The top of the text's box (superscripts included).
    MaskTop,
    /// The top of the capital letters.
    CapTop,
    /// Halfway up the capital letters.
    CapMiddle,
    /// The baseline.
    Baseline,
}

impl Canvas {
    fn new(width: usize, height: usize, background: Rgb) -> Self {
        Self {
            width,
            height,
            rgb: background.repeat(width * height),
        }
    }

    /// Byte offset of pixel (x, y), `None` outside the picture.
    fn offset(&self, x: i64, y: i64) -> Option<usize> {
        let inside = (0..self.width as i64).contains(&x) && (0..self.height as i64).contains(&y);
        inside.then(|| 3 * (y as usize * self.width + x as usize))
    }

    fn set(&mut self, x: i64, y: i64, colour: Rgb) {
        if let Some(at) = self.offset(x, y) {
            self.rgb[at..at + 3].copy_from_slice(&colour);
        }
    }

    fn fill_rect(&mut self, rect: Rect, colour: Rgb) {
        let rect = rect.clipped(self.width, self.height);
        for y in rect.y..rect.bottom() {
            for x in rect.x..rect.right() {
                self.set(x, y, colour);
            }
        }
    }

    /// A one-pixel outline along the inside of `rect`.
    fn outline_rect(&mut self, rect: Rect, colour: Rgb) {
        let Rect { x, y, w, h } = rect;
        self.fill_rect(Rect { x, y, w, h: 1 }, colour);
        self.fill_rect(
            Rect {
                x,
                y: y + h - 1,
                w,
                h: 1,
            },
            colour,
        );
        self.fill_rect(Rect { x, y, w: 1, h }, colour);
        self.fill_rect(
            Rect {
                x: x + w - 1,
                y,
                w: 1,
                h,
            },
            colour,
        );
    }

    /// Blends `colour` in with the stroke's coverage as opacity.
    fn paint(&mut self, stroke: &Coverage, colour: Rgb) {
        for (pixel, &alpha) in self.rgb.chunks_exact_mut(3).zip(&stroke.alpha) {
            if alpha > 0.0 {
                for (old, new) in pixel.iter_mut().zip(colour) {
                    *old = (f32::from(*old) + alpha * (f32::from(new) - f32::from(*old))).round()
                        as u8;
                }
            }
        }
    }

    /// Draws `text` anchored at (x, y).
    fn draw_text(
        &mut self,
        text: &TextMask,
        (x, y): (i64, i64),
        h: HAlign,
        v: VAlign,
        colour: Rgb,
    ) {
        let (width, baseline, cap) = (
            text.width as i64,
            text.baseline as i64,
            text.cap_height as i64,
        );
        let left = match h {
            HAlign::Left => x,
            HAlign::Center => x - width / 2,
            HAlign::Right => x - width,
        };
        let top = match v {
            VAlign::MaskTop => y,
            VAlign::CapTop => y + cap - baseline,
            VAlign::CapMiddle => y + cap / 2 - baseline,
            VAlign::Baseline => y - baseline,
        };
        for (mx, my) in text.inked() {
            self.set(left + mx, top + my, colour);
        }
    }

    /// Draws `text` turned a quarter anticlockwise (reading upwards), centred on (x, y).
    fn draw_text_vertical(&mut self, text: &TextMask, x: i64, y: i64, colour: Rgb) {
        let left = x - text.height as i64 / 2;
        let top = y - text.width as i64 / 2;
        for (mx, my) in text.inked() {
            self.set(left + my, top + text.width as i64 - 1 - mx, colour);
        }
    }

    fn encode_png(&self) -> Result<Vec<u8>, PlotError> {
        let mut bytes = Vec::new();
        let mut encoder = png::Encoder::new(
            Cursor::new(&mut bytes),
            self.width as u32,
            self.height as u32,
        );
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&self.rgb)?;
        writer.finish()?;
        Ok(bytes)
    }
}

/// How much of each pixel a stroke covers (0 to 1), limited to a clip rectangle.
struct Coverage {
    width: usize,
    clip: Rect,
    alpha: Vec<f32>,
}

impl Coverage {
    fn new(width: usize, height: usize, clip: Rect) -> Self {
        Self {
            width,
            clip: clip.clipped(width, height),
            alpha: vec![0.0; width * height],
        }
    }

    /// A segment from `a` to `b` with round caps, `half_width` either side of its centre line,
    /// anti-aliased over one pixel.
    fn segment(&mut self, a: Point, b: Point, half_width: f64) {
        let reach = half_width + 1.0;
        let clip = self.clip;
        let span = |lo: f64, hi: f64, min: i64, max: i64| {
            let from = (lo - reach).floor().clamp(min as f64, max as f64) as i64;
            let to = (hi + reach).ceil().clamp(min as f64, max as f64) as i64;
            from..to
        };
        let rows = span(a[1].min(b[1]), a[1].max(b[1]), clip.y, clip.bottom());
        for y in rows {
            for x in span(a[0].min(b[0]), a[0].max(b[0]), clip.x, clip.right()) {
                let centre = [x as f64 + 0.5, y as f64 + 0.5];
                let cover =
                    (half_width + 0.5 - distance_to_segment(centre, a, b)).clamp(0.0, 1.0) as f32;
                let alpha = &mut self.alpha[y as usize * self.width + x as usize];
                *alpha = alpha.max(cover);
            }
        }
    }

    /// A polyline through `points`, solid or with `[dash, gap]` lengths; a single point is a dot.
    fn polyline(&mut self, points: &[Point], half_width: f64, dash: Option<[f64; 2]>) {
        if let [only] = points {
            self.segment(*only, *only, half_width);
        }
        let Some([dash, gap]) = dash else {
            for pair in points.windows(2) {
                self.segment(pair[0], pair[1], half_width);
            }
            return;
        };
        let (mut drawing, mut left) = (true, dash);
        for pair in points.windows(2) {
            let [a, b] = [pair[0], pair[1]];
            let length = distance(a, b);
            let at = |s: f64| {
                if length > 0.0 {
                    lerp(a, b, s / length)
                } else {
                    a
                }
            };
            let mut s = 0.0;
            while s < length {
                let step = left.min(length - s);
                if drawing {
                    self.segment(at(s), at(s + step), half_width);
                }
                s += step;
                left -= step;
                if left <= 0.0 {
                    drawing = !drawing;
                    left = if drawing { dash } else { gap };
                }
            }
        }
    }

    /// Takes the larger coverage of the two at every pixel.
    fn merge(&mut self, other: &Coverage) {
        for (mine, theirs) in self.alpha.iter_mut().zip(&other.alpha) {
            *mine = mine.max(*theirs);
        }
    }

    /// The number of covered pixels inside `rect`.
    fn count_in(&self, rect: Rect) -> usize {
        let rect = rect.clipped(self.width, self.alpha.len() / self.width.max(1));
        (rect.y..rect.bottom())
            .map(|y| {
                let row = y as usize * self.width;
                self.alpha[row + rect.x as usize..row + rect.right() as usize]
                    .iter()
                    .filter(|&&a| a > 0.0)
                    .count()
            })
            .sum()
    }
}

fn distance(a: Point, b: Point) -> f64 {
    ((b[0] - a[0]).powi(2) + (b[1] - a[1]).powi(2)).sqrt()
}

fn lerp(a: Point, b: Point, t: f64) -> Point {
    [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])]
}

/// Distance from `p` to the segment from `a` to `b`.
fn distance_to_segment(p: Point, a: Point, b: Point) -> f64 {
    let d = [b[0] - a[0], b[1] - a[1]];
    let length2 = d[0] * d[0] + d[1] * d[1];
    let t = if length2 > 0.0 {
        (((p[0] - a[0]) * d[0] + (p[1] - a[1]) * d[1]) / length2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    distance(p, lerp(a, b, t))
}

/// Where a character sits relative to the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    Base,
    Superscript,
    Subscript,
}

/// The characters of `text` with their positions: `^{...}` raises and `_{...}` lowers what
/// the braces hold; a `^` or `_` not followed by `{` is an ordinary character.
fn parse_markup(text: &str) -> Vec<(char, Position)> {
    let mut out = Vec::new();
    let mut position = Position::Base;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '^' | '_' if position == Position::Base && chars.peek() == Some(&'{') => {
                chars.next();
                position = if c == '^' {
                    Position::Superscript
                } else {
                    Position::Subscript
                };
            }
            '}' if position != Position::Base => position = Position::Base,
            _ => out.push((c, position)),
        }
    }
    out
}

/// A line of text rendered to a bitmap: which pixels are ink.
struct TextMask {
    width: usize,
    height: usize,
    /// Row of the baseline, counted from the top.
    baseline: usize,
    /// Height of the capital letters.
    cap_height: usize,
    ink: Vec<bool>,
}

impl TextMask {
    /// Renders `text` (with `^{}`/`_{}` markup) in the built-in font magnified `scale` times
    /// (superscripts and subscripts half that, at least 1): each glyph a 5 x 9 cell (7 rows
    /// above the baseline, 2 below) advancing 6 cells.
    fn render(text: &str, scale: usize) -> Self {
        let small = (scale / 2).max(1);
        let mut placed = Vec::new();
        let mut x = 0;
        for (c, position) in parse_markup(text) {
            let (s, top) = match position {
                Position::Base => (scale, -7 * scale as i64),
                Position::Superscript => (small, -7 * scale as i64 - small as i64),
                Position::Subscript => (small, -5 * small as i64),
            };
            placed.push((x, top, s, glyph(c)));
            x += 6 * s;
        }
        let width = placed.last().map_or(0, |&(_, _, s, _)| x - s);
        let top = placed
            .iter()
            .map(|g| g.1)
            .min()
            .unwrap_or(0)
            .min(-7 * scale as i64);
        let bottom = placed
            .iter()
            .map(|g| g.1 + 9 * g.2 as i64)
            .max()
            .unwrap_or(0)
            .max(2 * scale as i64);
        let height = (bottom - top) as usize;
        let mut ink = vec![false; width * height];
        for (gx, gtop, s, glyph) in placed {
            let gy = (gtop - top) as usize;
            for (row, bits) in glyph.iter().enumerate() {
                for col in (0..5).filter(|col| bits & (0b10000 >> col) != 0) {
                    for dy in 0..s {
                        let start = (gy + row * s + dy) * width + gx + col * s;
                        ink[start..start + s].fill(true);
                    }
                }
            }
        }
        Self {
            width,
            height,
            baseline: (-top) as usize,
            cap_height: 7 * scale,
            ink,
        }
    }

    /// `text` at the usual scale if it is at most `length` pixels long, else at the smallest.
    fn fitting(text: &str, length: i64) -> Self {
        let mask = Self::render(text, TEXT_SCALE);
        if mask.width as i64 <= length {
            mask
        } else {
            Self::render(text, 1)
        }
    }

    /// The (x, y) of every ink pixel.
    fn inked(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        let width = self.width.max(1);
        self.ink
            .iter()
            .enumerate()
            .filter(|&(_, &on)| on)
            .map(move |(i, _)| ((i % width) as i64, (i / width) as i64))
    }
}

/// A glyph: 9 rows of 5 pixels, bit 4 the leftmost; rows 0 to 6 above the baseline.
type Glyph = [u8; 9];

/// The glyph of a character: printable ASCII, the Greek delta, and `?` for anything else.
fn glyph(c: char) -> &'static Glyph {
    match c {
        ' '..='~' => &ASCII_GLYPHS[c as usize - ' ' as usize],
        '\u{3b4}' => &DELTA_GLYPH,
        _ => &ASCII_GLYPHS['?' as usize - ' ' as usize],
    }
}

/// Lower-case delta.
#[rustfmt::skip]
const DELTA_GLYPH: Glyph = [0b00110, 0b01000, 0b00100, 0b01110, 0b10001, 0b10001, 0b01110, 0b00000, 0b00000];

/// Printable ASCII from the space to the tilde.
#[rustfmt::skip]
const ASCII_GLYPHS: [Glyph; 95] = [
    [0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000], // ' '
    [0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00000, 0b00100, 0b00000, 0b00000], // '!'
    [0b01010, 0b01010, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000], // '"'
    [0b01010, 0b01010, 0b11111, 0b01010, 0b11111, 0b01010, 0b01010, 0b00000, 0b00000], // '#'
    [0b00100, 0b01111, 0b10100, 0b01110, 0b00101, 0b11110, 0b00100, 0b00000, 0b00000], // '$'
    [0b11000, 0b11001, 0b00010, 0b00100, 0b01000, 0b10011, 0b00011, 0b00000, 0b00000], // '%'
    [0b01100, 0b10010, 0b10100, 0b01000, 0b10101, 0b10010, 0b01101, 0b00000, 0b00000], // '&'
    [0b00100, 0b00100, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000], // '\''
    [0b00010, 0b00100, 0b01000, 0b01000, 0b01000, 0b00100, 0b00010, 0b00000, 0b00000], // '('
    [0b01000, 0b00100, 0b00010, 0b00010, 0b00010, 0b00100, 0b01000, 0b00000, 0b00000], // ')'
    [0b00000, 0b00100, 0b10101, 0b01110, 0b10101, 0b00100, 0b00000, 0b00000, 0b00000], // '*'
    [0b00000, 0b00100, 0b00100, 0b11111, 0b00100, 0b00100, 0b00000, 0b00000, 0b00000], // '+'
    [0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b01100, 0b00100, 0b01000, 0b00000], // ','
    [0b00000, 0b00000, 0b00000, 0b11111, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000], // '-'
    [0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b01100, 0b01100, 0b00000, 0b00000], // '.'
    [0b00000, 0b00001, 0b00010, 0b00100, 0b01000, 0b10000, 0b00000, 0b00000, 0b00000], // '/'
    [0b01110, 0b10001, 0b10011, 0b10101, 0b11001, 0b10001, 0b01110, 0b00000, 0b00000], // '0'
    [0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110, 0b00000, 0b00000], // '1'
    [0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b01000, 0b11111, 0b00000, 0b00000], // '2'
    [0b11111, 0b00010, 0b00100, 0b00010, 0b00001, 0b10001, 0b01110, 0b00000, 0b00000], // '3'
    [0b00010, 0b00110, 0b01010, 0b10010, 0b11111, 0b00010, 0b00010, 0b00000, 0b00000], // '4'
    [0b11111, 0b10000, 0b11110, 0b00001, 0b00001, 0b10001, 0b01110, 0b00000, 0b00000], // '5'
    [0b00110, 0b01000, 0b10000, 0b11110, 0b10001, 0b10001, 0b01110, 0b00000, 0b00000], // '6'
    [0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b01000, 0b01000, 0b00000, 0b00000], // '7'
    [0b01110, 0b10001, 0b10001, 0b01110, 0b10001, 0b10001, 0b01110, 0b00000, 0b00000], // '8'
    [0b01110, 0b10001, 0b10001, 0b01111, 0b00001, 0b00010, 0b01100, 0b00000, 0b00000], // '9'
    [0b00000, 0b01100, 0b01100, 0b00000, 0b01100, 0b01100, 0b00000, 0b00000, 0b00000], // ':'
    [0b00000, 0b01100, 0b01100, 0b00000, 0b01100, 0b00100, 0b01000, 0b00000, 0b00000], // ';'
    [0b00010, 0b00100, 0b01000, 0b10000, 0b01000, 0b00100, 0b00010, 0b00000, 0b00000], // '<'
    [0b00000, 0b00000, 0b11111, 0b00000, 0b11111, 0b00000, 0b00000, 0b00000, 0b00000], // '='
    [0b01000, 0b00100, 0b00010, 0b00001, 0b00010, 0b00100, 0b01000, 0b00000, 0b00000], // '>'
    [0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b00000, 0b00100, 0b00000, 0b00000], // '?'
    [0b01110, 0b10001, 0b00001, 0b01101, 0b10101, 0b10101, 0b01110, 0b00000, 0b00000], // '@'
    [0b01110, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001, 0b00000, 0b00000], // 'A'
    [0b11110, 0b10001, 0b10001, 0b11110, 0b10001, 0b10001, 0b11110, 0b00000, 0b00000], // 'B'
    [0b01110, 0b10001, 0b10000, 0b10000, 0b10000, 0b10001, 0b01110, 0b00000, 0b00000], // 'C'
    [0b11110, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b11110, 0b00000, 0b00000], // 'D'
    [0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b11111, 0b00000, 0b00000], // 'E'
    [0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b10000, 0b00000, 0b00000], // 'F'
    [0b01110, 0b10001, 0b10000, 0b10111, 0b10001, 0b10001, 0b01111, 0b00000, 0b00000], // 'G'
    [0b10001, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001, 0b00000, 0b00000], // 'H'
    [0b01110, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110, 0b00000, 0b00000], // 'I'
    [0b00111, 0b00010, 0b00010, 0b00010, 0b00010, 0b10010, 0b01100, 0b00000, 0b00000], // 'J'
    [0b10001, 0b10010, 0b10100, 0b11000, 0b10100, 0b10010, 0b10001, 0b00000, 0b00000], // 'K'
    [0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b11111, 0b00000, 0b00000], // 'L'
    [0b10001, 0b11011, 0b10101, 0b10101, 0b10001, 0b10001, 0b10001, 0b00000, 0b00000], // 'M'
    [0b10001, 0b10001, 0b11001, 0b10101, 0b10011, 0b10001, 0b10001, 0b00000, 0b00000], // 'N'
    [0b01110, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110, 0b00000, 0b00000], // 'O'
    [0b11110, 0b10001, 0b10001, 0b11110, 0b10000, 0b10000, 0b10000, 0b00000, 0b00000], // 'P'
    [0b01110, 0b10001, 0b10001, 0b10001, 0b10101, 0b10010, 0b01101, 0b00000, 0b00000], // 'Q'
    [0b11110, 0b10001, 0b10001, 0b11110, 0b10100, 0b10010, 0b10001, 0b00000, 0b00000], // 'R'
    [0b01111, 0b10000, 0b10000, 0b01110, 0b00001, 0b00001, 0b11110, 0b00000, 0b00000], // 'S'
    [0b11111, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00000, 0b00000], // 'T'
    [0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110, 0b00000, 0b00000], // 'U'
    [0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01010, 0b00100, 0b00000, 0b00000], // 'V'
    [0b10001, 0b10001, 0b10001, 0b10101, 0b10101, 0b10101, 0b01010, 0b00000, 0b00000], // 'W'
    [0b10001, 0b10001, 0b01010, 0b00100, 0b01010, 0b10001, 0b10001, 0b00000, 0b00000], // 'X'
    [0b10001, 0b10001, 0b01010, 0b00100, 0b00100, 0b00100, 0b00100, 0b00000, 0b00000], // 'Y'
    [0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b10000, 0b11111, 0b00000, 0b00000], // 'Z'
    [0b01110, 0b01000, 0b01000, 0b01000, 0b01000, 0b01000, 0b01110, 0b00000, 0b00000], // '['
    [0b00000, 0b10000, 0b01000, 0b00100, 0b00010, 0b00001, 0b00000, 0b00000, 0b00000], // '\\'
    [0b01110, 0b00010, 0b00010, 0b00010, 0b00010, 0b00010, 0b01110, 0b00000, 0b00000], // ']'
    [0b00100, 0b01010, 0b10001, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000], // '^'
    [0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b11111, 0b00000, 0b00000], // '_'
    [0b01000, 0b00100, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000], // '`'
    [0b00000, 0b00000, 0b01110, 0b00001, 0b01111, 0b10001, 0b01111, 0b00000, 0b00000], // 'a'
    [0b10000, 0b10000, 0b11110, 0b10001, 0b10001, 0b10001, 0b11110, 0b00000, 0b00000], // 'b'
    [0b00000, 0b00000, 0b01110, 0b10001, 0b10000, 0b10001, 0b01110, 0b00000, 0b00000], // 'c'
    [0b00001, 0b00001, 0b01111, 0b10001, 0b10001, 0b10001, 0b01111, 0b00000, 0b00000], // 'd'
    [0b00000, 0b00000, 0b01110, 0b10001, 0b11111, 0b10000, 0b01110, 0b00000, 0b00000], // 'e'
    [0b00110, 0b01001, 0b01000, 0b11100, 0b01000, 0b01000, 0b01000, 0b00000, 0b00000], // 'f'
    [0b00000, 0b00000, 0b01111, 0b10001, 0b10001, 0b10001, 0b01111, 0b00001, 0b01110], // 'g'
    [0b10000, 0b10000, 0b10110, 0b11001, 0b10001, 0b10001, 0b10001, 0b00000, 0b00000], // 'h'
    [0b00100, 0b00000, 0b01100, 0b00100, 0b00100, 0b00100, 0b01110, 0b00000, 0b00000], // 'i'
    [0b00010, 0b00000, 0b00110, 0b00010, 0b00010, 0b00010, 0b00010, 0b10010, 0b01100], // 'j'
    [0b10000, 0b10000, 0b10010, 0b10100, 0b11000, 0b10100, 0b10010, 0b00000, 0b00000], // 'k'
    [0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110, 0b00000, 0b00000], // 'l'
    [0b00000, 0b00000, 0b11010, 0b10101, 0b10101, 0b10101, 0b10101, 0b00000, 0b00000], // 'm'
    [0b00000, 0b00000, 0b10110, 0b11001, 0b10001, 0b10001, 0b10001, 0b00000, 0b00000], // 'n'
    [0b00000, 0b00000, 0b01110, 0b10001, 0b10001, 0b10001, 0b01110, 0b00000, 0b00000], // 'o'
    [0b00000, 0b00000, 0b11110, 0b10001, 0b10001, 0b10001, 0b11110, 0b10000, 0b10000], // 'p'
    [0b00000, 0b00000, 0b01111, 0b10001, 0b10001, 0b10001, 0b01111, 0b00001, 0b00001], // 'q'
    [0b00000, 0b00000, 0b10110, 0b11001, 0b10000, 0b10000, 0b10000, 0b00000, 0b00000], // 'r'
    [0b00000, 0b00000, 0b01111, 0b10000, 0b01110, 0b00001, 0b11110, 0b00000, 0b00000], // 's'
    [0b01000, 0b01000, 0b11100, 0b01000, 0b01000, 0b01001, 0b00110, 0b00000, 0b00000], // 't'
    [0b00000, 0b00000, 0b10001, 0b10001, 0b10001, 0b10011, 0b01101, 0b00000, 0b00000], // 'u'
    [0b00000, 0b00000, 0b10001, 0b10001, 0b10001, 0b01010, 0b00100, 0b00000, 0b00000], // 'v'
    [0b00000, 0b00000, 0b10001, 0b10001, 0b10101, 0b10101, 0b01010, 0b00000, 0b00000], // 'w'
    [0b00000, 0b00000, 0b10001, 0b01010, 0b00100, 0b01010, 0b10001, 0b00000, 0b00000], // 'x'
    [0b00000, 0b00000, 0b10001, 0b10001, 0b10001, 0b10001, 0b01111, 0b00001, 0b01110], // 'y'
    [0b00000, 0b00000, 0b11111, 0b00010, 0b00100, 0b01000, 0b11111, 0b00000, 0b00000], // 'z'
    [0b00010, 0b00100, 0b00100, 0b01000, 0b00100, 0b00100, 0b00010, 0b00000, 0b00000], // '{'
    [0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00000, 0b00000], // '|'
    [0b01000, 0b00100, 0b00100, 0b00010, 0b00100, 0b00100, 0b01000, 0b00000, 0b00000], // '}'
    [0b00000, 0b00000, 0b01000, 0b10101, 0b00010, 0b00000, 0b00000, 0b00000, 0b00000], // '~'
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes PNG bytes into (width, height, RGB bytes).
    fn decode(bytes: &[u8]) -> (usize, usize, Vec<u8>) {
        let mut reader = png::Decoder::new(Cursor::new(bytes))
            .read_info()
            .expect("PNG header");
        let mut rgb = vec![0; reader.output_buffer_size().expect("buffer size")];
        let info = reader.next_frame(&mut rgb).expect("PNG data");
        assert_eq!(
            (info.color_type, info.bit_depth),
            (png::ColorType::Rgb, png::BitDepth::Eight)
        );
        rgb.truncate(info.buffer_size());
        (info.width as usize, info.height as usize, rgb)
    }

    /// The colour of pixel (x, y) of a decoded picture `width` pixels wide.
    fn pixel(rgb: &[u8], width: usize, x: usize, y: usize) -> Rgb {
        let at = 3 * (y * width + x);
        [rgb[at], rgb[at + 1], rgb[at + 2]]
    }

    /// k from 10^-2 to 1 h/Mpc, evenly in log.
    fn k_grid(n: usize) -> Vec<f64> {
        (0..n)
            .map(|i| 10_f64.powf(-2.0 + 2.0 * i as f64 / (n - 1) as f64))
            .collect()
    }

    #[test]
    fn magma_ends_are_the_table_ends() {
        assert_eq!(magma(0.0), [0, 0, 4]);
        assert_eq!(magma(1.0), [252, 253, 191]);
        assert_eq!(magma(-3.0), magma(0.0));
        assert_eq!(magma(f64::NAN), magma(0.0));
        assert_eq!(magma(128.0 / 255.0), [183, 55, 121]);
    }

    #[test]
    fn slice_shows_the_bright_cell_bright_and_the_others_dark() {
        let (rows, cols, ppc) = (4, 5, 3);
        let mut values = vec![1.0; rows * cols];
        values[2 * cols + 3] = 100.0;
        values[0] = 0.0;
        let title = "z = 0";
        let bytes = density_slice_png(&values, [rows, cols], ppc, title).unwrap();
        let (width, height, rgb) = decode(&bytes);

        let scale = ColourScale::fit(&values);
        assert_eq!((scale.lo, scale.hi), (0.0, 2.0));
        let labels = scale_labels(&scale);
        let layout = SliceLayout::new([rows, cols], ppc, title, &labels).unwrap();
        assert_eq!((width, height), (layout.width, layout.height));
        assert_eq!((layout.image.w, layout.image.h), (15, 12));
        let (x0, y0) = (layout.image.x as usize, layout.image.y as usize);
        for row in 0..rows {
            for col in 0..cols {
                let expected = if (row, col) == (2, 3) {
                    magma(1.0)
                } else {
                    magma(0.0)
                };
                for (dx, dy) in [
                    (0, 0),
                    (ppc - 1, 0),
                    (0, ppc - 1),
                    (ppc - 1, ppc - 1),
                    (1, 1),
                ] {
                    let (x, y) = (x0 + col * ppc + dx, y0 + row * ppc + dy);
                    assert_eq!(
                        pixel(&rgb, width, x, y),
                        expected,
                        "cell ({row}, {col}) pixel ({x}, {y})"
                    );
                }
            }
        }
        assert_eq!(
            pixel(&rgb, width, x0 + cols * ppc, y0),
            WHITE,
            "the picture ends after its last column"
        );
        assert_eq!(
            pixel(&rgb, width, x0, y0 - 1),
            WHITE,
            "the picture starts at its first row"
        );
    }

    #[test]
    fn slice_scale_starts_at_the_floor_or_the_smallest_positive_value() {
        let scale = ColourScale::fit(&[0.0, 1e-5, 10.0]);
        assert_eq!((scale.lo, scale.hi), (-2.0, 1.0));
        assert_eq!(scale.fraction(0.0), 0.0);
        assert_eq!(scale.fraction(1e-5), 0.0);
        assert_eq!(scale.fraction(-1.0), 0.0);
        let uniform = ColourScale::fit(&[1.0; 4]);
        assert_eq!((uniform.lo, uniform.hi), (-0.5, 0.5));
        let empty = ColourScale::fit(&[0.0; 4]);
        assert!(empty.hi > empty.lo);
    }

    #[test]
    fn constant_power_is_drawn_at_its_row() {
        let k = k_grid(40);
        let p = vec![1000.0; k.len()];
        let curves = [Curve {
            label: "P = 1000",
            k: &k,
            p: &p,
            dashed: false,
        }];
        let (width, height, title) = (640, 480, "constant");
        let (w, h, rgb) = decode(&power_spectrum_png(&curves, title, width, height).unwrap());
        assert_eq!((w, h), (640, 480));

        let layout = PlotLayout::new(640, 480, &plottable_series(&curves).unwrap(), title).unwrap();
        assert_eq!((layout.y.lo, layout.y.hi), (2.0, 4.0));
        let row = layout.py(3.0).floor() as usize;
        for log_k in [-1.6, -1.2, -0.8, -0.4] {
            let col = layout.px(log_k).floor() as usize;
            assert_eq!(
                pixel(&rgb, w, col, row),
                CURVE_COLOURS[0],
                "curve at log10 k = {log_k}"
            );
            assert_eq!(
                pixel(&rgb, w, col, row - 4),
                WHITE,
                "nothing above the curve"
            );
            assert_eq!(
                pixel(&rgb, w, col, row + 4),
                WHITE,
                "nothing below the curve"
            );
        }
    }

    #[test]
    fn dashed_curves_have_gaps_and_solid_ones_do_not() {
        let k = k_grid(40);
        let p = vec![1000.0; k.len()];
        for dashed in [false, true] {
            let curves = [Curve {
                label: "",
                k: &k,
                p: &p,
                dashed,
            }];
            let (w, _, rgb) = decode(&power_spectrum_png(&curves, "", 640, 480).unwrap());
            let layout =
                PlotLayout::new(640, 480, &plottable_series(&curves).unwrap(), "").unwrap();
            let row = layout.py(3.0).floor() as usize;
            let (from, to) = (layout.px(-1.5) as usize, layout.px(-0.5) as usize);
            let inked = (from..to)
                .filter(|&x| pixel(&rgb, w, x, row) == CURVE_COLOURS[0])
                .count();
            if dashed {
                assert!(
                    inked > (to - from) / 3 && inked < (to - from) * 4 / 5,
                    "{inked} of {}",
                    to - from
                );
            } else {
                assert_eq!(inked, to - from);
            }
        }
    }

    #[test]
    fn curves_take_the_colour_cycle_and_skip_bad_points() {
        let k = k_grid(30);
        let low = vec![100.0; k.len()];
        let mut high = vec![1e4; k.len()];
        high[10] = f64::NAN;
        high[11] = -1.0;
        high[12] = 0.0;
        let curves = [
            Curve {
                label: "low",
                k: &k,
                p: &low,
                dashed: false,
            },
            Curve {
                label: "high",
                k: &k,
                p: &high,
                dashed: false,
            },
        ];
        let (w, _, rgb) = decode(&power_spectrum_png(&curves, "two", 800, 600).unwrap());
        let layout = PlotLayout::new(800, 600, &plottable_series(&curves).unwrap(), "two").unwrap();
        let col = layout.px(-1.0 + 0.1).floor() as usize;
        assert_eq!(
            pixel(&rgb, w, col, layout.py(2.0).floor() as usize),
            CURVE_COLOURS[0]
        );
        assert_eq!(
            pixel(&rgb, w, col, layout.py(4.0).floor() as usize),
            CURVE_COLOURS[1]
        );
        // The gap left by the skipped points is bridged.
        let bridged = layout.px(k[11].log10()).floor() as usize;
        assert_eq!(
            pixel(&rgb, w, bridged, layout.py(4.0).floor() as usize),
            CURVE_COLOURS[1]
        );
    }

    #[test]
    fn same_input_same_bytes() {
        let k = k_grid(50);
        let p: Vec<f64> = k
            .iter()
            .map(|k| 2e4 * k / (1.0 + (k / 0.02).powi(2)))
            .collect();
        let curves = [Curve {
            label: "a",
            k: &k,
            p: &p,
            dashed: true,
        }];
        assert_eq!(
            power_spectrum_png(&curves, "t", 500, 400).unwrap(),
            power_spectrum_png(&curves, "t", 500, 400).unwrap()
        );
        let slice: Vec<f64> = (0..64).map(|i| f64::from(i % 7) * 0.5).collect();
        assert_eq!(
            density_slice_png(&slice, [8, 8], 2, "s").unwrap(),
            density_slice_png(&slice, [8, 8], 2, "s").unwrap()
        );
    }

    #[test]
    fn bad_slices_are_errors() {
        let values = vec![1.0; 12];
        assert!(matches!(
            density_slice_png(&values, [3, 5], 1, ""),
            Err(PlotError::ShapeMismatch {
                expected: 15,
                got: 12,
                ..
            })
        ));
        assert!(matches!(
            density_slice_png(&values, [3, 4], 0, ""),
            Err(PlotError::ZeroPixelsPerCell)
        ));
        assert!(matches!(
            density_slice_png(&[], [0, 4], 1, ""),
            Err(PlotError::Empty(_))
        ));
        assert!(matches!(
            density_slice_png(&values, [usize::MAX, 2], 1, ""),
            Err(PlotError::Size { .. })
        ));
        assert!(matches!(
            density_slice_png(&values, [3, 4], usize::MAX, ""),
            Err(PlotError::Size { .. })
        ));
        assert!(matches!(
            density_slice_png(&values, [3, 4], 1 << 14, ""),
            Err(PlotError::Size { .. })
        ));
        let mut nan = values.clone();
        nan[7] = f64::NAN;
        assert!(matches!(
            density_slice_png(&nan, [3, 4], 1, ""),
            Err(PlotError::NonFinite { index: 7, .. })
        ));
    }

    #[test]
    fn bad_curves_and_sizes_are_errors() {
        let k = k_grid(10);
        let p = vec![1.0; 10];
        let good = [Curve {
            label: "ok",
            k: &k,
            p: &p,
            dashed: false,
        }];
        assert!(matches!(
            power_spectrum_png(&[], "", 640, 480),
            Err(PlotError::Empty(_))
        ));
        let empty = [Curve {
            label: "empty",
            k: &[],
            p: &[],
            dashed: false,
        }];
        assert!(matches!(
            power_spectrum_png(&empty, "", 640, 480),
            Err(PlotError::Empty(_))
        ));
        let unplottable = [Curve {
            label: "bad",
            k: &[0.0, -1.0, f64::NAN],
            p: &[1.0, 1.0, 1.0],
            dashed: false,
        }];
        assert!(matches!(
            power_spectrum_png(&unplottable, "", 640, 480),
            Err(PlotError::Empty(_))
        ));
        let mismatch = [Curve {
            label: "short",
            k: &k,
            p: &p[..9],
            dashed: false,
        }];
        assert!(matches!(
            power_spectrum_png(&mismatch, "", 640, 480),
            Err(PlotError::CurveLength {
                k_len: 10,
                p_len: 9,
                ..
            })
        ));
        for (width, height) in [
            (0, 480),
            (640, 0),
            (60, 60),
            (100_000, 480),
            (640, u32::MAX),
        ] {
            let result = power_spectrum_png(&good, "", width, height);
            assert!(
                matches!(result, Err(PlotError::Size { .. })),
                "{width} x {height}: {result:?}"
            );
        }
    }

    #[test]
    fn extreme_data_do_not_panic() {
        let k = [1e-300, 1e-100, 1.0, 1e100, 1e300, f64::MAX];
        let p = [f64::MIN_POSITIVE, 5e-324, 1.0, 1e200, 1e300, 1e10];
        let dot = [1.0];
        let curves = [
            Curve {
                label: "wide \u{3b4}\u{e9}^{2}_{x} }{",
                k: &k,
                p: &p,
                dashed: true,
            },
            Curve {
                label: "dot",
                k: &dot,
                p: &dot,
                dashed: false,
            },
        ];
        let (w, h, _) = decode(&power_spectrum_png(&curves, "extreme", 300, 200).unwrap());
        assert_eq!((w, h), (300, 200));
        let values = [f64::MAX, 0.0, -1.0, 1e-300];
        let (w, h, _) = decode(&density_slice_png(&values, [1, 4], 1, "").unwrap());
        assert!(w > 4 && h > MIN_BAR_HEIGHT as usize);
    }

    #[test]
    fn labels_thin_out_when_decades_are_crowded() {
        let axis = LogAxis {
            lo: -300.0,
            hi: 300.0,
        };
        let labelled = labelled_decades(&axis, 500.0, 50.0);
        assert!(labelled.len() <= 10 && labelled.len() >= 5, "{labelled:?}");
        assert!(labelled.iter().all(|n| n % 100 == 0));
        let narrow = LogAxis::spanning([0.3, 0.5].into_iter());
        assert_eq!((narrow.lo, narrow.hi), (0.0, 1.0));
        assert_eq!(labelled_decades(&narrow, 400.0, 30.0), vec![0, 1]);
    }

    #[test]
    fn markup_raises_and_lowers() {
        use Position::*;
        assert_eq!(
            parse_markup("a^{2}_{b}c"),
            vec![
                ('a', Base),
                ('2', Superscript),
                ('b', Subscript),
                ('c', Base)
            ]
        );
        assert_eq!(
            parse_markup("x^y_"),
            vec![('x', Base), ('^', Base), ('y', Base), ('_', Base)]
        );
        let plain = TextMask::render("10", 2);
        assert_eq!((plain.width, plain.height, plain.baseline), (22, 18, 14));
        let raised = TextMask::render("10^{3}", 2);
        assert_eq!((raised.width, raised.height, raised.baseline), (29, 19, 15));
    }
}
