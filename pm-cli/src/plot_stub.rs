//! Temporary stub.
#[derive(Debug, thiserror::Error)]
#[error("stub")]
pub struct PlotError;
pub struct Curve<'a> {
    pub label: &'a str,
    pub k: &'a [f64],
    pub p: &'a [f64],
    pub dashed: bool,
}
pub fn density_slice_png(
    _v: &[f64],
    _s: [usize; 2],
    _p: usize,
    _t: &str,
) -> Result<Vec<u8>, PlotError> {
    Ok(vec![1])
}
pub fn power_spectrum_png(
    _c: &[Curve<'_>],
    _t: &str,
    _w: u32,
    _h: u32,
) -> Result<Vec<u8>, PlotError> {
    Ok(vec![2])
}
