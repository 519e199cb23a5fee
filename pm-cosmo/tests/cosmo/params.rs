//! Parameters: presets, validation errors that name the parameter, and (de)serialisation.

use pm_cosmo::{Amplitude, CosmoError, Cosmology};

#[test]
fn presets_are_valid_and_planck18_has_its_published_values() {
    for name in ["planck18", "wmap9", "eds"] {
        Cosmology::preset(name).unwrap().validate().unwrap();
    }
    let c = Cosmology::planck18();
    assert!((c.omega_m() - 0.3096).abs() < 1e-3); // Planck 2018 VI, Table 2: 0.3111 +- 0.0056
    assert!((c.omega_c * c.h * c.h - 0.11933).abs() < 1e-12);
    assert!(
        Cosmology::preset("planck2015")
            .unwrap_err()
            .to_string()
            .contains("planck18")
    );
}

#[test]
fn validation_names_the_offending_parameter() {
    let base = Cosmology::planck18();
    let cases: Vec<(Cosmology, &str)> = vec![
        (
            Cosmology {
                omega_b: -0.01,
                ..base
            },
            "Omega_b",
        ),
        (
            Cosmology {
                omega_c: -0.2,
                ..base
            },
            "Omega_c",
        ),
        (
            Cosmology {
                omega_c: 2.5,
                ..base
            },
            "Omega_m",
        ),
        (Cosmology { h: 0.0, ..base }, "h"),
        (
            Cosmology {
                h: f64::NAN,
                ..base
            },
            "h",
        ),
        (Cosmology { n_s: 3.0, ..base }, "n_s"),
        (
            Cosmology {
                amplitude: Amplitude::Sigma8(-0.8),
                ..base
            },
            "sigma8",
        ),
        (
            Cosmology {
                amplitude: Amplitude::As(1.0),
                ..base
            },
            "A_s",
        ),
        (Cosmology { w0: -4.0, ..base }, "w0"),
        (
            Cosmology {
                w0: -0.5,
                wa: 0.6,
                ..base
            },
            "wa",
        ),
        (
            Cosmology {
                omega_k: 1.5,
                ..base
            },
            "Omega_k",
        ),
        (Cosmology { t_cmb: 0.0, ..base }, "T_cmb"),
        (
            Cosmology {
                n_eff: -1.0,
                ..base
            },
            "N_eff",
        ),
    ];
    for (c, name) in cases {
        match c.validate() {
            Err(CosmoError::OutOfRange { name: n, .. }) => assert_eq!(n, name),
            other => panic!("{name}: expected OutOfRange, got {other:?}"),
        }
        let msg = c.validate().unwrap_err().to_string();
        assert!(msg.contains(name) && msg.contains("allowed"), "{msg}");
    }
}

#[test]
fn a_recollapsing_universe_is_rejected() {
    // Closed and matter-dominated with no dark energy: E^2 turns negative before a = 4.
    let c = Cosmology {
        omega_c: 1.7,
        omega_b: 0.05,
        omega_k: -0.75,
        include_radiation: false,
        ..Cosmology::planck18()
    };
    assert!(
        matches!(c.validate(), Err(CosmoError::NoExpansion { .. })),
        "{:?}",
        c.validate()
    );
}

#[test]
fn toml_round_trip_and_errors() {
    let c = Cosmology::planck18();
    let text = toml::to_string(&c).unwrap();
    assert!(text.contains("Omega_c") && text.contains("sigma8") && !text.contains("A_s"));
    let back: Cosmology = toml::from_str(&text).unwrap();
    assert_eq!(back, c);

    let minimal = "Omega_c = 0.25\nOmega_b = 0.05\nh = 0.7\nn_s = 0.96\nA_s = 2.1e-9\n";
    let c: Cosmology = toml::from_str(minimal).unwrap();
    assert_eq!(c.amplitude, Amplitude::As(2.1e-9));
    assert_eq!(
        (c.w0, c.wa, c.omega_k, c.include_radiation),
        (-1.0, 0.0, 0.0, true)
    );

    let err = |s: &str| toml::from_str::<Cosmology>(s).unwrap_err().to_string();
    assert!(err(&format!("{minimal}Omega_lambda = 0.7\n")).contains("Omega_lambda"));
    assert!(err(&minimal.replace("h = 0.7", "h = 7.0")).contains("h = 7"));
    assert!(err(&format!("{minimal}sigma8 = 0.8\n")).contains("not both"));
    assert!(err(&minimal.replace("A_s = 2.1e-9\n", "")).contains("sigma8 or A_s"));
    assert!(err(&minimal.replace("h = 0.7", "h = \"high\"")).contains("h"));
}

#[test]
fn json_round_trip() {
    let c = Cosmology::wmap9();
    let s = serde_json::to_string(&c).unwrap();
    assert_eq!(serde_json::from_str::<Cosmology>(&s).unwrap(), c);
}
