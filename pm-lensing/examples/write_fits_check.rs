//! Writes test maps for `tests/check_fits.py`:
//! `cargo run --example write_map -- DIR` writes `DIR/theta_f64.fits`
//! (nside 64, value = pixel-centre colatitude, f64, column KAPPA) and
//! `DIR/phi_f32.fits` (nside 8, value = pixel-centre longitude as f32,
//! column TEMPERATURE), both with extra cards ZSOURCE = 1.25, NSTEP = 7,
//! CODE = 'pmrs'.
use pm_lensing::fits::{Card, write_healpix_map_file};
use pm_lensing::healpix::Healpix;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(std::env::args().nth(1).ok_or("usage: write_map DIR")?);
    let extra = [
        Card::float("ZSOURCE", 1.25, "source redshift"),
        Card::int("NSTEP", 7, "number of steps"),
        Card::str("CODE", "pmrs", "writer"),
    ];
    let hp = Healpix::new(64)?;
    let theta: Vec<f64> = (0..hp.npix()).map(|p| hp.pix2ang(p).0).collect();
    write_healpix_map_file(dir.join("theta_f64.fits"), 64, &theta, "KAPPA", &extra)?;
    let hp = Healpix::new(8)?;
    let phi: Vec<f32> = (0..hp.npix()).map(|p| hp.pix2ang(p).1 as f32).collect();
    write_healpix_map_file(dir.join("phi_f32.fits"), 8, &phi, "TEMPERATURE", &extra)?;
    println!("wrote {}", dir.display());
    Ok(())
}
