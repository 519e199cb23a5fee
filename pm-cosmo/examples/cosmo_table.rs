//! Prints growth, distances and the linear power spectrum for a cosmology preset
//! (default Planck 2018): `cargo run -p pm-cosmo --example cosmo_table [preset]`.

use pm_cosmo::{Cosmology, DistanceTable, GrowthTable, LinearPower};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let preset = std::env::args().nth(1).unwrap_or_else(|| "planck18".into());
    let cosmo = Cosmology::preset(&preset)?;
    let growth = GrowthTable::new(&cosmo)?;
    let dist = DistanceTable::new(&cosmo)?;
    let power = LinearPower::eisenstein_hu(&cosmo)?;
    println!(
        "# {preset}: Omega_m = {:.4}, h = {}, sigma8 = {:.4}",
        cosmo.omega_m(),
        cosmo.h,
        power.sigma8()
    );
    println!("#\n# Growth (D1(1) = 1) and distances");
    println!(
        "# {:>8} {:>8} {:>12} {:>10} {:>12} {:>10} {:>12}",
        "a", "z", "D1", "f1", "D2", "f2", "chi[Mpc/h]"
    );
    for a in [0.01, 0.02, 0.05, 0.1, 0.2, 0.333, 0.5, 0.667, 0.8, 1.0] {
        let g = growth.at(a)?;
        let chi = dist.chi(a)?;
        println!(
            "  {a:>8.3} {:>8.3} {:>12.6e} {:>10.6} {:>12.6e} {:>10.6} {:>12.3}",
            1.0 / a - 1.0,
            g.d1,
            g.f1,
            g.d2,
            g.f2,
            chi
        );
    }
    println!("#\n# Linear P(k) at a = 1, Eisenstein & Hu with baryon wiggles");
    println!("# {:>12} {:>14}", "k[h/Mpc]", "P[(Mpc/h)^3]");
    for i in 0..=24 {
        let k = 10f64.powf(-3.0 + 4.0 * i as f64 / 24.0);
        println!("  {k:>12.5e} {:>14.6e}", power.power(k)?);
    }
    Ok(())
}
