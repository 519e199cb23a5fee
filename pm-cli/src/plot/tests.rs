//! The pictures are checked by decoding them: their size, the colour bar, where the cells
//! and the curves land. Not by hashing: the text rendering may change with plotters.

use super::*;

/// Decodes PNG bytes into (width, height, RGB bytes).
fn decode(bytes: &[u8]) -> (usize, usize, Vec<u8>) {
    let mut reader = png::Decoder::new(Cursor::new(bytes))
        .read_info()
        .expect("PNG header");
    let mut rgb = vec![0; reader.output_buffer_size().expect("buffer size")];
    let info = reader.next_frame(&mut rgb).expect("PNG data");
    assert_eq!(info.color_type, png::ColorType::Rgb);
    rgb.truncate(info.buffer_size());
    (info.width as usize, info.height as usize, rgb)
}

/// A decoded picture.
struct Picture {
    width: usize,
    height: usize,
    rgb: Vec<u8>,
}

impl Picture {
    fn new(bytes: &[u8]) -> Self {
        let (width, height, rgb) = decode(bytes);
        Self { width, height, rgb }
    }
    fn at(&self, x: usize, y: usize) -> RGBColor {
        let i = 3 * (y * self.width + x);
        RGBColor(self.rgb[i], self.rgb[i + 1], self.rgb[i + 2])
    }
    /// The pixels of columns `xs` and rows `ys` equal to `c`.
    fn count(&self, xs: Range<usize>, ys: Range<usize>, c: RGBColor) -> usize {
        let ys = &ys;
        xs.flat_map(|x| ys.clone().map(move |y| (x, y)))
            .filter(|&(x, y)| self.at(x, y) == c)
            .count()
    }
}

fn near(a: RGBColor, b: RGBColor) -> bool {
    let d = |x: u8, y: u8| (i32::from(x) - i32::from(y)).abs();
    d(a.0, b.0) + d(a.1, b.1) + d(a.2, b.2) <= 6
}

fn density_style() -> MapStyle<'static> {
    MapStyle {
        extent: 0.0..100.0,
        axes: ["z [Mpc/h]", "y [Mpc/h]"],
        caption: "log₁₀(1+δ)",
        log: true,
    }
}

#[test]
fn magma_ends_and_middle_are_the_table_entries() {
    assert_eq!(magma(0.0), RGBColor(0, 0, 4));
    assert_eq!(magma(1.0), RGBColor(252, 253, 191));
    assert_eq!(magma(-3.0), magma(0.0));
    assert_eq!(magma(f64::NAN), magma(0.0));
    assert_eq!(magma(128.0 / 255.0), RGBColor(183, 55, 121));
}

/// A 16 x 16 slab, 1 + delta = 1 everywhere but one bright cell in row 0, column 0 (the
/// bottom-left corner) and one empty cell: the map's pixels are magma colours, the bright
/// corner is the brightest, the colour bar runs from dark (bottom) to bright (top).
#[test]
fn map_shows_cells_in_place_and_a_colour_bar() {
    let n = 16;
    let mut values = vec![1.0; n * n];
    values[0] = 100.0;
    values[1] = 0.1;
    values[n * n - 1] = 0.0;
    let ppc = 8;
    let png = map_png(&values, [n, n], ppc, "slab", &density_style()).unwrap();
    let pic = Picture::new(&png);
    let margins = (LABELS_W + GAP + BAR_AREA, TITLE_H + LABELS_H + BOTTOM);
    assert_eq!(
        (pic.width, pic.height),
        (n * ppc + margins.0, n * ppc + margins.1)
    );
    // The image: find the brightest pixels; they form the bottom-left cell.
    let bright = magma(1.0);
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for y in 0..pic.height {
        for x in 0..pic.width - BAR_AREA {
            if pic.at(x, y) == bright {
                xs.push(x);
                ys.push(y);
            }
        }
    }
    assert_eq!(xs.len(), ppc * ppc, "the bright cell's pixels");
    let (x0, y0) = (*xs.iter().min().unwrap(), *ys.iter().min().unwrap());
    // The map (cells at 1 + delta = 1, the middle of the log scale) fills a square to the
    // bright cell's right and above it.
    let grey = magma(ColourScale::fit(&values, true).fraction(1.0));
    let mid = pic.count(x0..x0 + n * ppc, y0 + ppc - n * ppc..y0 + ppc, grey);
    assert_eq!(mid, (n * n - 3) * ppc * ppc, "mid-scale pixels");
    // The empty cell (top right) is the darkest colour.
    assert_eq!(pic.at(x0 + n * ppc - 2, y0 + ppc - n * ppc + 1), magma(0.0));
    // The colour bar: a column at the right, as tall as the map, dark at its bottom and
    // bright at its top.
    let bar_x = (pic.width - BAR_AREA..pic.width)
        .find(|&x| (0..pic.height).any(|y| near(pic.at(x, y), bright)))
        .expect("a colour bar");
    let column: Vec<usize> = (0..pic.height)
        .filter(|&y| (0..256).any(|i| near(pic.at(bar_x + 3, y), magma(i as f64 / 255.0))))
        .collect();
    assert!(
        column.len() > n * ppc / 2,
        "colour bar height {}",
        column.len()
    );
    let (top, bottom) = (column[0], *column.last().unwrap());
    let brightness = |c: RGBColor| u32::from(c.0) + u32::from(c.1) + u32::from(c.2);
    assert!(
        brightness(pic.at(bar_x + 3, top)) > 650,
        "top of the colour bar"
    );
    assert!(
        brightness(pic.at(bar_x + 3, bottom)) < 20,
        "bottom of the colour bar"
    );
    assert!(bottom - top >= n * ppc - 2, "the bar is as tall as the map");
}

#[test]
fn linear_maps_span_their_values() {
    let values: Vec<f64> = (0..64).map(|i| -0.01 + 0.0005 * i as f64).collect();
    let style = MapStyle {
        log: false,
        caption: "κ",
        ..density_style()
    };
    let pic = Picture::new(&map_png(&values, [8, 8], 10, "kappa", &style).unwrap());
    let all = 0..pic.width - BAR_AREA;
    assert!(pic.count(all.clone(), 0..pic.height, magma(0.0)) >= 80);
    assert!(pic.count(all, 0..pic.height, magma(1.0)) >= 80);
    let scale = ColourScale::fit(&[2.0; 4], false);
    assert!(scale.hi > scale.lo, "a constant map gets a range");
}

#[test]
fn log_scale_starts_at_the_floor_or_the_smallest_positive_value() {
    let scale = ColourScale::fit(&[0.0, 1e-5, 1.0, 10.0], true);
    assert_eq!((scale.lo, scale.hi), (-2.0, 1.0));
    assert_eq!(scale.fraction(0.0), 0.0);
    assert_eq!(scale.fraction(-1.0), 0.0);
    assert_eq!(ColourScale::fit(&[0.1, 10.0], true).lo, -1.0);
}

fn k_grid(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| 10f64.powf(-2.0 + 2.0 * i as f64 / (n - 1) as f64))
        .collect()
}

/// Two curves: both colours appear in the upper panel, and in the lower panel the measured
/// curve's ratio (2) sits above the reference's (1, dashed).
#[test]
fn power_plot_has_both_curves_and_their_ratio_panel() {
    let k = k_grid(40);
    let lin: Vec<f64> = k.iter().map(|k| 1e3 * k.powf(-1.5)).collect();
    let measured: Vec<f64> = lin.iter().map(|p| 2.0 * p).collect();
    let curves = [
        Curve {
            label: "pmrs",
            k: &k,
            p: &measured,
            dashed: false,
        },
        Curve {
            label: "linear",
            k: &k,
            p: &lin,
            dashed: true,
        },
    ];
    let pic = Picture::new(&power_spectrum_png(&curves, 1, "P(k)", 640, 480).unwrap());
    assert_eq!((pic.width, pic.height), (640, 480));
    let split = 480 * 7 / 10;
    for c in &CYCLE[..2] {
        assert!(
            pic.count(0..640, 0..split, *c) > 200,
            "{c:?} in the upper panel"
        );
        assert!(
            pic.count(0..640, split..480, *c) > 100,
            "{c:?} in the lower panel"
        );
    }
    // In the lower panel, at every column, the ratio-2 line is above the ratio-1 line.
    let row_of = |x: usize, c: RGBColor| (split..480).find(|&y| pic.at(x, y) == c);
    let mut compared = 0;
    for x in 100..620 {
        if let (Some(y2), Some(y1)) = (row_of(x, CYCLE[0]), row_of(x, CYCLE[1])) {
            assert!(
                y2 < y1,
                "column {x}: ratio 2 at row {y2}, ratio 1 at row {y1}"
            );
            compared += 1;
        }
    }
    assert!(compared > 100, "{compared} columns with both ratio lines");
}

/// The dashed curve has gaps along its length; the solid one has none.
#[test]
fn dashed_curves_have_gaps() {
    let k = k_grid(20);
    let flat = vec![100.0; 20];
    let low = vec![10.0; 20];
    let curves = [
        Curve {
            label: "solid",
            k: &k,
            p: &flat,
            dashed: false,
        },
        Curve {
            label: "dashed",
            k: &k,
            p: &low,
            dashed: true,
        },
    ];
    let pic = Picture::new(&power_spectrum_png(&curves, 0, "t", 640, 480).unwrap());
    let split = 480 * 7 / 10;
    let inked = |c: RGBColor| -> Vec<bool> {
        (0..640)
            .map(|x| (0..split).any(|y| pic.at(x, y) == c))
            .collect()
    };
    let (solid, dashed) = (inked(CYCLE[0]), inked(CYCLE[1]));
    let (from, to) = (
        solid.iter().position(|&b| b).unwrap(),
        solid.iter().rposition(|&b| b).unwrap(),
    );
    // The legend (top right) also holds both colours: look left of it.
    let gaps = (from + 5..to - 150).filter(|&x| !dashed[x]).count();
    let holes = (from + 5..to - 150).filter(|&x| !solid[x]).count();
    assert_eq!(holes, 0);
    assert!(gaps > 20, "dashed gaps: {gaps}");
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let style = density_style();
    let shape = map_png(&[1.0; 5], [2, 3], 1, "t", &style).unwrap_err();
    assert!(matches!(shape, PlotError::ShapeMismatch([2, 3], 5)));
    assert_eq!(shape.to_string(), "a 2x3 picture needs 6 values, got 5");
    assert!(matches!(
        map_png(&[1.0, f64::NAN], [1, 2], 1, "t", &style).unwrap_err(),
        PlotError::NonFinite(1, _)
    ));
    assert!(matches!(
        map_png(&[], [0, 3], 1, "t", &style),
        Err(PlotError::Empty(_))
    ));
    let wide = MapStyle {
        extent: 0.0..f64::INFINITY,
        ..density_style()
    };
    assert!(matches!(
        map_png(&[1.0], [1, 1], 1, "t", &wide),
        Err(PlotError::Extent(_))
    ));
    assert!(matches!(
        map_png(&[1.0; 4], [2, 2], 1 << 20, "t", &style),
        Err(PlotError::Size(..))
    ));
    let k = [0.1, 0.2];
    let bad = [Curve {
        label: "x",
        k: &k,
        p: &[1.0],
        dashed: false,
    }];
    assert!(matches!(
        power_spectrum_png(&bad, 0, "t", 640, 480),
        Err(PlotError::CurveLength(..))
    ));
    let zeros = [Curve {
        label: "x",
        k: &k,
        p: &[0.0, -1.0],
        dashed: false,
    }];
    assert!(matches!(
        power_spectrum_png(&zeros, 0, "t", 640, 480),
        Err(PlotError::Empty(_))
    ));
    let one = [Curve {
        label: "x",
        k: &k,
        p: &[1.0, 2.0],
        dashed: false,
    }];
    assert!(matches!(
        power_spectrum_png(&one, 3, "t", 640, 480),
        Err(PlotError::Empty(_))
    ));
    assert!(matches!(
        power_spectrum_png(&one, 0, "t", 0, 480),
        Err(PlotError::Size(..))
    ));
}

/// Single points, huge and tiny values, constant curves: drawn, no panic.
#[test]
fn extreme_data_are_drawn() {
    let style = density_style();
    for values in [vec![0.0; 4], vec![1e300; 4], vec![1e-300, 1.0, 2.0, 3.0]] {
        map_png(&values, [2, 2], 4, "t", &style).unwrap();
    }
    let k = [0.5];
    let p = [1e-30];
    let single = [Curve {
        label: "x",
        k: &k,
        p: &p,
        dashed: true,
    }];
    let pic = Picture::new(&power_spectrum_png(&single, 0, "t", 320, 240).unwrap());
    assert_eq!((pic.width, pic.height), (320, 240));
}

#[test]
fn same_input_same_bytes() {
    let values: Vec<f64> = (0..100).map(|i| 1.0 + (i % 7) as f64).collect();
    let a = map_png(&values, [10, 10], 3, "t", &density_style()).unwrap();
    assert_eq!(
        a,
        map_png(&values, [10, 10], 3, "t", &density_style()).unwrap()
    );
}

#[test]
fn tick_labels_are_powers_of_ten() {
    assert_eq!(power_of_ten(100.0), "10²");
    assert_eq!(power_of_ten(0.01), "10⁻²");
    assert_eq!(power_of_ten(1.0), "10⁰");
    assert_eq!(power_of_ten(1e10), "10¹⁰");
    assert_eq!(power_of_ten(0.05), "0.05");
    assert_eq!(power_of_ten(300.0), "300");
    assert_eq!(one_two_five(0.2), "0.2");
    assert_eq!(one_two_five(0.3), "");
    assert_eq!(one_two_five(1.0), "1");
    assert_eq!(one_two_five(50.0), "50");
    assert_eq!(tick(2.5000000001), "2.5");
    assert_eq!(tick(-0.0), "0");
    assert_eq!(fixed(0.0123, 0.004), "0.012");
    assert_eq!(fixed(-1e-9, 0.004), "0.000");
    assert_eq!(fixed(1.5, 0.4), "1.5");
    assert_eq!(fixed(20.0, 5.0), "20");
}
