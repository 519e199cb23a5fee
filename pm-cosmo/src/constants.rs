//! Physical constants (CODATA 2018, SI unless stated) and the unit conventions of pmrs.

/// Speed of light in km/s.
pub const C_KM_S: f64 = 299_792.458;
/// Hubble distance c / H0 in Mpc/h, with H0 = 100 h km/s/Mpc.
pub const HUBBLE_DISTANCE_MPC_H: f64 = C_KM_S / 100.0;
/// Speed of light in m/s.
pub const C_M_S: f64 = 299_792_458.0;
/// Newton's constant in m^3 kg^-1 s^-2.
pub const G_NEWTON: f64 = 6.674_30e-11;
/// Stefan-Boltzmann constant in W m^-2 K^-4.
pub const STEFAN_BOLTZMANN: f64 = 5.670_374_419e-8;
/// One megaparsec in metres.
pub const MPC_M: f64 = 3.085_677_581_491_367e22;

/// Photon density parameter times h^2 for a CMB temperature `t_cmb` in kelvin:
///
/// Omega_gamma h^2 = (4 sigma_SB T^4 / c^3) / rho_crit,100, with
/// rho_crit,100 = 3 (100 km/s/Mpc)^2 / (8 pi G).
///
/// For T = 2.7255 K this is 2.4728e-5.
pub fn omega_gamma_h2(t_cmb: f64) -> f64 {
    let rho_gamma = 4.0 * STEFAN_BOLTZMANN / C_M_S.powi(3) * t_cmb.powi(4); // kg/m^3
    let h100 = 1.0e5 / MPC_M; // 100 km/s/Mpc in 1/s
    let rho_crit_100 = 3.0 * h100 * h100 / (8.0 * std::f64::consts::PI * G_NEWTON);
    rho_gamma / rho_crit_100
}

/// Energy density of massless neutrinos relative to photons, per effective species:
/// (7/8) (4/11)^(4/3).
pub fn neutrino_to_photon_per_species() -> f64 {
    7.0 / 8.0 * (4.0_f64 / 11.0).powf(4.0 / 3.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn photon_density_matches_the_textbook_value() {
        // Fixsen (2009) T = 2.7255 K gives Omega_gamma h^2 = 2.4728e-5 (e.g. Planck 2018 papers).
        let v = omega_gamma_h2(2.7255);
        assert!((v / 2.4728e-5 - 1.0).abs() < 2e-4, "{v}");
    }
}
