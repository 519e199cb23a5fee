//! The `pm run` configuration: its TOML form ([`Config`], defaults in `default.toml`) and its
//! validation into a [`RunPlan`], which checks every key before any work is done.

use std::path::{Path, PathBuf};

use pm_cosmo::{Cosmology, LinearPower, TabulatedPower};
use pm_integrate::{LptOrder, StepperKind, TimeSteps};
use pm_mesh::Scheme;
use serde::{Deserialize, Serialize};

use crate::CliError;

/// The commented default configuration: what `pm init` writes and what `pm run` uses when
/// given no file.
pub const DEFAULT_CONFIG: &str = include_str!("default.toml");

/// The box sides a run accepts, Mpc/h.
pub const BOX_SIZE_RANGE: (f64, f64) = (1e-3, 1e7);

/// The most steps a run may have (the step boundaries are a list made before the run).
pub const MAX_STEPS: usize = 1_000_000;

/// A configuration as written in TOML. Every section and key has a default (`default.toml`);
/// unknown keys are errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[cosmology]`.
    pub cosmology: CosmologySection,
    /// `[simulation]`.
    pub simulation: SimulationSection,
    /// `[force]`.
    pub force: ForceSection,
    /// `[output]`.
    pub output: OutputSection,
    /// `[lensing]`.
    pub lensing: crate::lensing::LensingSection,
}

/// `[cosmology]`: a preset, parameter overrides and the linear power spectrum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CosmologySection {
    /// planck18, wmap9 or eds.
    pub preset: String,
    /// `eisenstein_hu`, `eisenstein_hu_no_wiggle`, or a two-column k, P(k) file.
    pub power_spectrum: String,
    /// Rescale a tabulated P(k) to sigma8.
    pub rescale_to_sigma8: bool,
    /// Parameter overrides with pm-cosmo's names (`Omega_c`, `sigma8`, ...), checked when
    /// the cosmology is built.
    #[serde(flatten)]
    pub parameters: toml::Table,
}

/// `[simulation]`: box, particles, mesh, initial conditions and time stepping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimulationSection {
    /// Box side, Mpc/h.
    pub box_size: f64,
    /// Particles per side.
    pub particles: usize,
    /// Force mesh cells per side.
    pub mesh: usize,
    /// White-noise seed.
    pub seed: u64,
    /// White noise from a `.npy` file instead of the seed.
    pub white_noise: Option<PathBuf>,
    /// Fixed-amplitude modes.
    pub fixed_amplitude: bool,
    /// Flipped phases.
    pub phase_flip: bool,
    /// 1 or 2.
    pub lpt_order: u32,
    /// The time stepper.
    pub stepper: StepperName,
    /// First scale factor (LPT).
    pub a_start: f64,
    /// Last scale factor.
    pub a_end: f64,
    /// Number of steps.
    pub steps: usize,
    /// Spacing of the steps.
    pub schedule: ScheduleName,
    /// An explicit list of step boundaries (replaces a_start, a_end, steps, schedule).
    pub scale_factors: Option<Vec<f64>>,
    /// Floating-point precision of particles and fields.
    pub precision: Precision,
    /// Worker threads (0: all cores).
    pub threads: usize,
}

/// `[force]`: kernel and mass assignment of the PM force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ForceSection {
    /// The force kernel.
    pub kernel: KernelName,
    /// Parameters of the sharpened kernel.
    pub sharpen: [f64; 3],
    /// Mass assignment.
    pub scheme: SchemeName,
    /// Deconvolve the assignment window.
    pub compensate: bool,
}

/// `[output]`: where and what to write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputSection {
    /// Run directory.
    pub directory: PathBuf,
    /// Snapshot scale factors (step boundaries).
    pub a: Vec<f64>,
    /// Write positions and momenta.
    pub snapshots: bool,
    /// Write the density contrast on the force mesh.
    pub density: bool,
    /// Write P(k) as CSV.
    pub power: bool,
    /// Write PNG pictures.
    pub plots: bool,
}

/// Stepper names as written in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepperName {
    /// FastPM.
    Fastpm,
    /// Plain leapfrog.
    Leapfrog,
    /// COLA.
    Cola,
}

/// Schedule names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleName {
    /// Uniform in a.
    LinearA,
    /// Uniform in ln a.
    LogA,
}

/// Precision names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    /// Single.
    F32,
    /// Double.
    F64,
}

/// Kernel names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KernelName {
    /// FastPM's finite differences.
    Fastpm,
    /// `i k / k^2`.
    Naive,
    /// FastPM's kernel with pmwd's sharpening filter.
    Sharpened,
}

/// Mass-assignment names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SchemeName {
    /// Nearest grid point.
    Ngp,
    /// Cloud in cell.
    Cic,
    /// Triangular shaped cloud.
    Tsc,
}

impl From<SchemeName> for Scheme {
    fn from(s: SchemeName) -> Scheme {
        match s {
            SchemeName::Ngp => Scheme::Ngp,
            SchemeName::Cic => Scheme::Cic,
            SchemeName::Tsc => Scheme::Tsc,
        }
    }
}

impl From<StepperName> for StepperKind {
    fn from(s: StepperName) -> StepperKind {
        match s {
            StepperName::Fastpm => StepperKind::FastPm,
            StepperName::Leapfrog => StepperKind::Leapfrog,
            StepperName::Cola => StepperKind::Cola,
        }
    }
}

/// The values of `default.toml` (a test checks that the two agree).
impl Default for Config {
    fn default() -> Self {
        Self {
            cosmology: CosmologySection::default(),
            simulation: SimulationSection::default(),
            force: ForceSection::default(),
            output: OutputSection::default(),
            lensing: crate::lensing::LensingSection::default(),
        }
    }
}

impl Default for CosmologySection {
    fn default() -> Self {
        Self {
            preset: "planck18".into(),
            power_spectrum: "eisenstein_hu".into(),
            rescale_to_sigma8: false,
            parameters: toml::Table::new(),
        }
    }
}

impl Default for SimulationSection {
    fn default() -> Self {
        Self {
            box_size: 128.0,
            particles: 64,
            mesh: 128,
            seed: 42,
            white_noise: None,
            fixed_amplitude: false,
            phase_flip: false,
            lpt_order: 2,
            stepper: StepperName::Fastpm,
            a_start: 0.1,
            a_end: 1.0,
            steps: 10,
            schedule: ScheduleName::LinearA,
            scale_factors: None,
            precision: Precision::F32,
            threads: 0,
        }
    }
}

impl Default for ForceSection {
    fn default() -> Self {
        Self {
            kernel: KernelName::Fastpm,
            sharpen: [0.0; 3],
            scheme: SchemeName::Cic,
            compensate: false,
        }
    }
}

impl Default for OutputSection {
    fn default() -> Self {
        Self {
            directory: "pm-output".into(),
            a: vec![1.0],
            snapshots: true,
            density: false,
            power: true,
            plots: true,
        }
    }
}

/// A validated configuration: everything a run needs, built and checked.
#[derive(Debug, Clone)]
pub struct RunPlan {
    /// The configuration it came from.
    pub config: Config,
    /// The cosmology (preset plus overrides, validated).
    pub cosmology: Cosmology,
    /// The linear power spectrum at a = 1.
    pub power: LinearPower<f64>,
    /// Step boundaries, first = a_start.
    pub scale_factors: Vec<f64>,
    /// Indices into `scale_factors` of the snapshots, increasing.
    pub outputs: Vec<usize>,
    /// The white-noise file, resolved against the config's directory.
    pub white_noise: Option<PathBuf>,
    /// LPT order.
    pub lpt_order: LptOrder,
    /// The convergence maps to build, if `[lensing]` is enabled.
    pub lensing: Option<crate::lensing::LensingPlan>,
}

impl Config {
    /// Parses TOML text; `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<Self, CliError> {
        toml::from_str(text).map_err(|e: toml::de::Error| {
            let reason = e.to_string().trim_end().to_string();
            // A value of the wrong type (`steps = -1`) is named by its key, found at the
            // error's position; a syntax error by the file.
            match e.span().and_then(|span| key_at(text, span.start)) {
                Some(key) => CliError::Config {
                    key,
                    reason: format!("in {source}: {reason}"),
                },
                None => CliError::Config {
                    key: source.to_string(),
                    reason,
                },
            }
        })
    }

    /// Reads and parses a config file.
    pub fn read(path: &Path) -> Result<Self, CliError> {
        let text = std::fs::read_to_string(path).map_err(|e| CliError::Io {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// The cosmology: the preset with the `[cosmology]` overrides applied, validated.
    pub fn cosmology(&self) -> Result<Cosmology, CliError> {
        let section = &self.cosmology;
        let preset =
            Cosmology::preset(&section.preset).map_err(|e| invalid("cosmology.preset", e))?;
        let mut table = toml::Table::try_from(preset).expect("a cosmology serialises");
        // An amplitude given in the overrides replaces the preset's, whichever kind it is.
        if section.parameters.contains_key("A_s") || section.parameters.contains_key("sigma8") {
            table.remove("A_s");
            table.remove("sigma8");
        }
        for (k, v) in &section.parameters {
            table.insert(k.clone(), v.clone());
        }
        Cosmology::deserialize(toml::Value::Table(table)).map_err(|e| {
            // Name the parameter at fault (`cosmology.sigma8`) when the message names one.
            let reason = e.to_string().trim_end().to_string();
            let key = section
                .parameters
                .keys()
                .find(|k| {
                    reason.contains(&format!("parameter {k} "))
                        || reason.contains(&format!("`{k}`"))
                        // Omega_m = Omega_c + Omega_b is derived from the two given.
                        || (reason.contains("parameter Omega_m ")
                            && matches!(k.as_str(), "Omega_c" | "Omega_b"))
                })
                .map(|k| format!("cosmology.{k}"))
                // A constraint between parameters (w0 + wa < 0) can be broken by one that
                // the message does not name: the overrides given are the suspects.
                .unwrap_or_else(|| match section.parameters.is_empty() {
                    true => "cosmology".to_string(),
                    false => section
                        .parameters
                        .keys()
                        .map(|k| format!("cosmology.{k}"))
                        .collect::<Vec<_>>()
                        .join(" / "),
                });
            invalid(&key, reason)
        })
    }

    /// Checks every key and builds what a run needs; `base` is the directory that relative
    /// input paths are resolved against (the config file's).
    pub fn plan(&self, base: &Path) -> Result<RunPlan, CliError> {
        let cosmology = self.cosmology()?;
        let s = &self.simulation;
        if !(s.box_size.is_finite() && s.box_size > 0.0) {
            return Err(invalid(
                "simulation.box_size",
                format!("{} must be a positive number of Mpc/h", s.box_size),
            ));
        }
        // Far outside these sides the wavenumbers and P(k) overflow f64 (a 1e-300 Mpc/h box
        // gave NaN positions); both ends were run.
        if !(BOX_SIZE_RANGE.0..=BOX_SIZE_RANGE.1).contains(&s.box_size) {
            return Err(invalid(
                "simulation.box_size",
                format!(
                    "{:e} Mpc/h: must be between {:e} and {:e} Mpc/h",
                    s.box_size, BOX_SIZE_RANGE.0, BOX_SIZE_RANGE.1
                ),
            ));
        }
        for (key, n) in [
            ("simulation.particles", s.particles),
            ("simulation.mesh", s.mesh),
        ] {
            if n < 2 || n % 2 != 0 {
                return Err(invalid(key, format!("{n} must be even and at least 2")));
            }
        }
        let lpt_order = match s.lpt_order {
            1 => LptOrder::First,
            2 => LptOrder::Second,
            n => {
                return Err(invalid(
                    "simulation.lpt_order",
                    format!("{n}: must be 1 or 2"),
                ));
            }
        };
        let steps = match &s.scale_factors {
            Some(a) => TimeSteps::Explicit(a.clone()),
            None => {
                if !(s.a_start.is_finite() && s.a_start > 0.0) {
                    return Err(invalid(
                        "simulation.a_start",
                        format!("{} must be positive", s.a_start),
                    ));
                }
                if !(s.a_end.is_finite() && s.a_end > s.a_start) {
                    return Err(invalid(
                        "simulation.a_end",
                        format!(
                            "{} must be greater than simulation.a_start = {}",
                            s.a_end, s.a_start
                        ),
                    ));
                }
                if s.steps == 0 {
                    return Err(invalid("simulation.steps", "0: must be at least 1"));
                }
                if s.steps > MAX_STEPS {
                    return Err(invalid(
                        "simulation.steps",
                        format!("{}: at most {MAX_STEPS}", s.steps),
                    ));
                }
                let (a_start, a_end, steps) = (s.a_start, s.a_end, s.steps);
                match s.schedule {
                    ScheduleName::LinearA => TimeSteps::LinearA {
                        a_start,
                        a_end,
                        steps,
                    },
                    ScheduleName::LogA => TimeSteps::LogA {
                        a_start,
                        a_end,
                        steps,
                    },
                }
            }
        };
        let scale_factors = steps
            .scale_factors()
            .map_err(|e| invalid("simulation.scale_factors", e))?;
        // The growth factors are tabulated over [A_MIN, A_MAX]; a step outside them would
        // fail in the run, after the output directory was made.
        let (a_min, a_max) = (pm_cosmo::A_MIN, pm_cosmo::A_MAX);
        if let Some(&a) = scale_factors
            .iter()
            .find(|&&a| !(a_min..=a_max).contains(&a))
        {
            let key = match (&s.scale_factors, a < a_min) {
                (Some(_), _) => "simulation.scale_factors",
                (None, true) => "simulation.a_start",
                (None, false) => "simulation.a_end",
            };
            return Err(invalid(
                key,
                format!("a = {a:e} is outside the growth table's [{a_min:e}, {a_max}]"),
            ));
        }
        let threads_max = 4096;
        if s.threads > threads_max {
            return Err(invalid(
                "simulation.threads",
                format!("{}: at most {threads_max} (0 means all cores)", s.threads),
            ));
        }
        let white_noise = match &s.white_noise {
            Some(p) => {
                let path = base.join(p);
                if !path.is_file() {
                    return Err(invalid(
                        "simulation.white_noise",
                        format!("{} is not a readable file", path.display()),
                    ));
                }
                Some(path)
            }
            None => None,
        };
        let power = self.power_spectrum(&cosmology, base)?;
        let outputs = self.output_indices(&scale_factors)?;
        let f = &self.force;
        if f.kernel != KernelName::Sharpened && f.sharpen != [0.0; 3] {
            return Err(invalid(
                "force.sharpen",
                format!(
                    "{:?} is set but force.kernel is \"{}\"; set kernel = \"sharpened\" to use it",
                    f.sharpen,
                    kernel_name(f.kernel)
                ),
            ));
        }
        if f.sharpen.iter().any(|t| !t.is_finite()) {
            return Err(invalid(
                "force.sharpen",
                format!("{:?} must be finite", f.sharpen),
            ));
        }
        if self.output.directory.as_os_str().is_empty() {
            return Err(invalid("output.directory", "must not be empty"));
        }
        let lensing = self.lensing.plan(&cosmology, s.box_size)?;
        let plan = RunPlan {
            lensing,
            config: self.clone(),
            cosmology,
            power,
            scale_factors,
            outputs,
            white_noise,
            lpt_order,
        };
        // Sizes whose byte counts overflow are errors naming the key (the estimate's
        // arithmetic is checked); whether the run fits this machine is the command's check.
        crate::estimate::Estimate::run(&plan, 1)?;
        Ok(plan)
    }

    fn power_spectrum(
        &self,
        cosmology: &Cosmology,
        base: &Path,
    ) -> Result<LinearPower<f64>, CliError> {
        let key = "cosmology.power_spectrum";
        let name = self.cosmology.power_spectrum.as_str();
        let power = match name {
            "eisenstein_hu" => LinearPower::eisenstein_hu(cosmology),
            "eisenstein_hu_no_wiggle" => LinearPower::eisenstein_hu_no_wiggle(cosmology),
            file => {
                let path = base.join(file);
                if !path.is_file() {
                    return Err(invalid(
                        key,
                        format!(
                            "\"{file}\" is neither eisenstein_hu, eisenstein_hu_no_wiggle nor a \
                             readable file ({} does not exist)",
                            path.display()
                        ),
                    ));
                }
                let table = TabulatedPower::from_file(&path).map_err(|e| invalid(key, e))?;
                if self.cosmology.rescale_to_sigma8 {
                    LinearPower::tabulated_normalised(table, cosmology)
                } else {
                    Ok(LinearPower::tabulated(table))
                }
            }
        };
        let power = power.map_err(|e| invalid(key, e))?;
        if name != "eisenstein_hu" && name != "eisenstein_hu_no_wiggle" {
            // The modes of the particle grid must lie inside the table.
            let s = &self.simulation;
            let kf = 2.0 * std::f64::consts::PI / s.box_size;
            let k_max = 3f64.sqrt() * std::f64::consts::PI * s.particles as f64 / s.box_size;
            power.check_range(kf, k_max).map_err(|e| invalid(key, e))?;
        } else if self.cosmology.rescale_to_sigma8 {
            return Err(invalid(
                "cosmology.rescale_to_sigma8",
                "applies to a tabulated power spectrum only (Eisenstein & Hu is normalised to \
                 sigma8 already)",
            ));
        }
        Ok(power)
    }

    fn output_indices(&self, scale_factors: &[f64]) -> Result<Vec<usize>, CliError> {
        let mut outputs = Vec::new();
        for &a in &self.output.a {
            let i = scale_factors
                .iter()
                .position(|&b| (a - b).abs() <= 1e-9 * b)
                .ok_or_else(|| {
                    let list: Vec<String> =
                        scale_factors.iter().map(|b| format!("{b:.6}")).collect();
                    invalid(
                        "output.a",
                        format!(
                            "{a} is not a step boundary; snapshots are taken between steps, at one \
                             of [{}]",
                            list.join(", ")
                        ),
                    )
                })?;
            if outputs.contains(&i) {
                return Err(invalid("output.a", format!("{a} is listed twice")));
            }
            outputs.push(i);
        }
        outputs.sort_unstable();
        Ok(outputs)
    }
}

/// The config's spelling of a kernel name.
pub fn kernel_name(k: KernelName) -> &'static str {
    match k {
        KernelName::Fastpm => "fastpm",
        KernelName::Naive => "naive",
        KernelName::Sharpened => "sharpened",
    }
}

/// The dotted key (`simulation.steps`) of the `key = value` line of a TOML `text` that
/// holds byte `offset`, with the table header above it; `None` off such a line.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let start = text.get(..offset)?.rfind('\n').map_or(0, |i| i + 1);
    let line = text[start..].lines().next()?;
    let (key, _) = line.split_once('=')?;
    let key = key.trim().trim_matches('"');
    if key.is_empty() || key.starts_with('[') || key.starts_with('#') {
        return None;
    }
    let table = text[..start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('[') && !l.starts_with("[["))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    Some(match table {
        Some(t) => format!("{t}.{key}"),
        None => key.to_string(),
    })
}

fn invalid(key: &str, reason: impl std::fmt::Display) -> CliError {
    CliError::Config {
        key: key.to_string(),
        reason: reason.to_string(),
    }
}
