//! Resource estimates made before any work: the peak resident memory a command will need,
//! computed from the sizes it is given (config keys or options), and for `[lensing]` the
//! periodic replicas the lightcone visits and the particle crossings it finds. A command
//! whose estimate exceeds the limit is refused before it allocates anything or touches its
//! output directory ([`check_memory`], [`check_crossings`]).
//!
//! # Memory formula
//!
//! Units: bytes. `T` = 4 (f32) or 8 (f64), `N_p = particles^3`, `N_m = mesh^3`,
//! `N_k(n) = n^2 (n/2 + 1)` complex elements (`2T` bytes each) of a real-to-complex FFT of
//! an `n^3` grid, `v = 3T` (one 3-vector per particle). The peak is a fixed start-up cost
//! plus the largest of the phases of the command, each the sum of what is alive at once:
//!
//! ```text
//! base        = 16 MiB                                   (binary, threads, allocator)
//! ICs         = N_p (4T + 4v) + 2 * 2T N_k(particles)    (noise, LPT fields psi1, psi2,
//!                                                         a potential and its scratch)
//! step        = N_p (4v + c v + l v + 8 r)                disp, mom, acc and the new acc;
//!                                                         c = 2 (2LPT) or 1 carried LPT
//!                                                         fields (COLA), l = 1 with lensing
//!                                                         (the step's start positions),
//!             + 3T N_m + 2 * 2T N_k(mesh)                 r = 1 on several ranks (ids);
//!                                                         3 force fields, density and
//!                                                         scratch in Fourier space
//! snapshot    = N_p (3v + v) + 4 MiB                      state, wrapped positions, buffer
//!             + 2 (T N_m + 2T N_k(mesh))                  density and its transform
//! lensing     = 2 * 8 npix per map                         map and its reduction
//!             + 128 B * min(crossings of the busiest step, deposits held at once: 4
//!                          crossings_held_at_once(threads)) pixels of 16 B and vector
//!                                                         slack (pm_lensing bounds them)
//! run         = base + max(ICs, step, snapshot) + lensing
//! ```
//!
//! The adjoint (`pm grad-check`, `pm reconstruct`) integrates backwards in time from the
//! final state (pm-adjoint's reverse mode keeps no trajectory): on top of the run it holds
//! the cotangent state and the force VJP's fields,
//!
//! ```text
//! adjoint     = base + max(ICs, step + N_p (2v + c v) + 2T N_m + 2 * 2T N_k(mesh))
//!             + N_p T * 6                                  noise, its gradient, directions
//!                                                         or Adam's moments and the truth
//!             + T N_d + 2T N_k(data) (+ 3v N_p reading)    data / objective density
//! power       = base + v N_p + 2 (T N_m + 2T N_k(mesh))    positions, density, transform
//! ```
//!
//! (`N_d = data mesh^3`.) The coefficients come from the allocations of pm-integrate,
//! pm-force and pm-adjoint and were checked against the measured peak resident memory of
//! release builds (the estimate is an upper bound within about 1.5x above 64^3).
//!
//! # Lensing load
//!
//! The cone's radius sweeps from `r(a_start)` (at most the source distance `chi_s`) to
//! `r(a_end)`; a step from `a_i` to `a_{i+1}` covers the shell `r_{i+1} <= r < r_i`. With
//! `Omega` the map's solid angle (`4 pi` full sky; `4 asin(sin^2(fov / 2))` for a square flat
//! field of side `fov`) and `L` the box side:
//!
//! ```text
//! crossings_i = N_p * Omega / 3 * (r_i^3 - r_{i+1}^3) / L^3
//! replicas_i  = Omega / (4 pi) * 4 pi / 3 * ((r_i + h)^3 - max(r_{i+1} - h, 0)^3) / L^3,
//!               h = sqrt(3) L / 2 (a box copy meets the shell when its centre is within
//!               h of it)
//! ```
//!
//! summed over steps. Each crossing costs about 110 ns on 2 cores (docs/BENCHMARKS.md), so
//! [`MAX_CROSSINGS`] (5e8) is about a minute of projection per map; more is refused unless
//! `--max-crossings` raises the limit.

use std::fmt;

use crate::CliError;
use crate::config::{Precision, RunPlan, StepperName};

/// Fixed start-up cost of the `pm` process (binary, thread pool, allocator), bytes.
const BASE: u128 = 16 << 20;

/// Default limit on the expected lightcone crossings of a run (all maps together).
pub const MAX_CROSSINGS: f64 = 5e8;

/// Bytes held per crossing in a round of the projection: 4 pixel deposits of (index,
/// value), 64 B, and up to as much again of slack in vectors grown by doubling (an upper
/// bound: 72 B per crossing measured on flat-sky runs).
const DEPOSIT_BYTES: f64 = 128.0;

/// One named part of an estimate.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    /// What it is.
    pub what: &'static str,
    /// Bytes.
    pub bytes: u64,
}

/// The expected work of the lightcone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LensingLoad {
    /// Periodic replicas of the box the cone visits, summed over steps and maps.
    pub replicas: f64,
    /// Particle crossings, summed over steps and maps.
    pub crossings: f64,
}

/// A command's resource estimate (see the module docs for the formula).
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    /// Peak resident memory, bytes.
    pub peak_bytes: u64,
    /// The phases and parts it is made of (the peak is `base + max(phases) + extras`).
    pub parts: Vec<Part>,
    /// The lightcone's load, when lensing maps are made.
    pub lensing: Option<LensingLoad>,
    /// The keys (config keys or options) that set the size, to name in a refusal.
    pub keys: Vec<&'static str>,
}

/// Bytes as `1.23 GB` (decimal units, as the run summary prints them).
pub struct Bytes(pub u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0 as f64;
        let units = [
            (1e15, "PB"),
            (1e12, "TB"),
            (1e9, "GB"),
            (1e6, "MB"),
            (1e3, "kB"),
        ];
        for (scale, unit) in units {
            if b >= scale {
                return write!(f, "{:.3} {unit}", b / scale);
            }
        }
        write!(f, "{} B", self.0)
    }
}

/// Checked arithmetic on byte counts; an overflow names the key whose size caused it.
#[derive(Clone, Copy)]
struct Sizer {
    key: &'static str,
}

impl Sizer {
    fn err(&self, what: &str) -> CliError {
        CliError::Config {
            key: self.key.to_string(),
            reason: format!(
                "{what} overflows: the sizes are far beyond any machine's memory; choose a \
                 smaller value"
            ),
        }
    }

    /// `n^3` (elements of a cubic grid).
    fn cube(&self, n: usize) -> Result<u128, CliError> {
        let n = n as u128;
        n.checked_mul(n)
            .and_then(|v| v.checked_mul(n))
            .ok_or_else(|| self.err(&format!("{n}^3")))
    }

    /// `n^2 (n/2 + 1)` complex elements of a real-to-complex transform of `n^3`.
    fn half_cube(&self, n: usize) -> Result<u128, CliError> {
        let n = n as u128;
        n.checked_mul(n)
            .and_then(|v| v.checked_mul(n / 2 + 1))
            .ok_or_else(|| self.err(&format!("{n}^2 ({n}/2 + 1)")))
    }

    fn mul(&self, a: u128, b: u128) -> Result<u128, CliError> {
        a.checked_mul(b).ok_or_else(|| self.err("the byte count"))
    }
}

/// `a + b`, checked.
fn add(a: u128, b: u128, key: &'static str) -> Result<u128, CliError> {
    a.checked_add(b)
        .ok_or_else(|| Sizer { key }.err("the byte count"))
}

/// The bytes of a float.
fn float_bytes(p: Precision) -> u128 {
    match p {
        Precision::F32 => 4,
        Precision::F64 => 8,
    }
}

/// The parts of the forward run that do not depend on the command: the ICs phase, the step
/// phase (with `extra_particle_vectors` more 3-vectors per particle) and the snapshot phase.
struct Forward {
    ics: u128,
    step: u128,
    snapshot: u128,
}

fn forward(
    particles: usize,
    mesh: usize,
    t: u128,
    carried: u128,
    lensing: bool,
    ranks: usize,
) -> Result<Forward, CliError> {
    let p = Sizer {
        key: "simulation.particles",
    };
    let m = Sizer {
        key: "simulation.mesh",
    };
    let np = p.cube(particles)?;
    let nkp = p.half_cube(particles)?;
    let nm = m.cube(mesh)?;
    let nkm = m.half_cube(mesh)?;
    let v = 3 * t;
    // ICs: N_p (4 T + 4 v) + 2 * 2T N_k(particles).
    let ics = add(
        p.mul(np, 4 * t + 4 * v)?,
        p.mul(nkp, 4 * t)?,
        "simulation.particles",
    )?;
    // Step: N_p (4 v + c v + l v + 8 r) + 3 T N_m + 4 T N_k(mesh).
    let per_particle = (4 + carried + u128::from(lensing)) * v + if ranks > 1 { 8 } else { 0 };
    let mesh_step = add(m.mul(nm, 3 * t)?, m.mul(nkm, 4 * t)?, "simulation.mesh")?;
    let step = add(p.mul(np, per_particle)?, mesh_step, "simulation.mesh")?;
    // Snapshot: N_p 4v + 4 MiB + 2 (T N_m + 2T N_k(mesh)).
    let density = add(m.mul(nm, 2 * t)?, m.mul(nkm, 4 * t)?, "simulation.mesh")?;
    let snapshot = add(
        add(p.mul(np, 4 * v)?, 4 << 20, "simulation.particles")?,
        density,
        "simulation.mesh",
    )?;
    Ok(Forward {
        ics,
        step,
        snapshot,
    })
}

/// LPT fields a stepper carries: psi1 (and psi2 for 2LPT) for COLA, none otherwise.
fn carried_fields(plan: &RunPlan) -> u128 {
    match plan.config.simulation.stepper {
        StepperName::Cola => u128::from(plan.config.simulation.lpt_order.min(2)),
        _ => 0,
    }
}

/// The peak as a `u64`, or an overflow error naming `key`.
fn to_u64(bytes: u128, key: &'static str) -> Result<u64, CliError> {
    u64::try_from(bytes).map_err(|_| Sizer { key }.err("the byte count"))
}

fn part(what: &'static str, bytes: u128) -> Part {
    Part {
        what,
        bytes: u64::try_from(bytes).unwrap_or(u64::MAX),
    }
}

impl Estimate {
    /// The estimate of `pm run` of `plan` on `ranks` thread ranks (all ranks in one
    /// process): memory, and the lightcone's replicas and crossings when `[lensing]` is on.
    ///
    /// Errors: a size whose byte count overflows (naming `simulation.particles`,
    /// `simulation.mesh`, `lensing.pixels` or `lensing.nside`); a lightcone distance that
    /// cannot be computed.
    pub fn run(plan: &RunPlan, ranks: usize) -> Result<Estimate, CliError> {
        let s = &plan.config.simulation;
        let t = float_bytes(s.precision);
        let lensing = plan.lensing.is_some();
        let f = forward(s.particles, s.mesh, t, carried_fields(plan), lensing, ranks)?;
        let mut keys = vec!["simulation.particles", "simulation.mesh"];
        if s.precision == Precision::F64 {
            keys.push("simulation.precision");
        }
        let mut parts = vec![
            part("base", BASE),
            part("initial conditions", f.ics),
            part("steps", f.step),
            part("snapshot", f.snapshot),
        ];
        let mut peak = add(BASE, f.ics.max(f.step).max(f.snapshot), "simulation.mesh")?;
        let mut load = None;
        if let Some(l) = &plan.lensing {
            let (bytes, lensing_load) = lensing_estimate(plan, l)?;
            parts.push(part("lensing maps and deposits", bytes));
            peak = add(peak, bytes, "lensing.nside")?;
            keys.extend(["lensing.source_z", "simulation.box_size"]);
            if l.full.is_some() {
                keys.push("lensing.nside");
            }
            if l.flat.is_some() {
                keys.extend(["lensing.pixels", "lensing.fov_deg"]);
            }
            load = Some(lensing_load);
        }
        Ok(Estimate {
            peak_bytes: to_u64(peak, "simulation.mesh")?,
            parts,
            lensing: load,
            keys,
        })
    }

    /// The estimate of the adjoint of `plan` (`pm grad-check` and `pm reconstruct`): the
    /// forward run's phases, the cotangent state and the force VJP's fields, the white
    /// noise with its gradient and the optimiser's moments, and a `data_mesh^3` density
    /// (the data or the objective's mesh). `read_particles`: the snapshot's positions are
    /// read too (reconstruct).
    pub fn adjoint(
        plan: &RunPlan,
        data_mesh: usize,
        data_key: &'static str,
        read_particles: bool,
    ) -> Result<Estimate, CliError> {
        let s = &plan.config.simulation;
        let t = float_bytes(s.precision);
        let carried = carried_fields(plan);
        let f = forward(s.particles, s.mesh, t, carried, false, 1)?;
        let p = Sizer {
            key: "simulation.particles",
        };
        let m = Sizer {
            key: "simulation.mesh",
        };
        let d = Sizer { key: data_key };
        let np = p.cube(s.particles)?;
        let v = 3 * t;
        let vjp = add(
            p.mul(np, (2 + carried) * v)?,
            add(
                m.mul(m.cube(s.mesh)?, 2 * t)?,
                m.mul(m.half_cube(s.mesh)?, 4 * t)?,
                "simulation.mesh",
            )?,
            "simulation.mesh",
        )?;
        let reverse = add(f.step, vjp, "simulation.mesh")?;
        let noise = p.mul(np, 6 * t)?;
        let mut data = add(
            d.mul(d.cube(data_mesh)?, t)?,
            d.mul(d.half_cube(data_mesh)?, 2 * t)?,
            data_key,
        )?;
        if read_particles {
            data = add(data, p.mul(np, v)?, "simulation.particles")?;
        }
        let peak = add(
            add(BASE, f.ics.max(reverse), "simulation.mesh")?,
            add(noise, data, data_key)?,
            data_key,
        )?;
        let mut keys = vec![data_key];
        if data_key != "simulation.mesh" {
            keys.push("the snapshot's particles and mesh");
        } else {
            keys.insert(0, "simulation.particles");
        }
        Ok(Estimate {
            peak_bytes: to_u64(peak, data_key)?,
            parts: vec![
                part("base", BASE),
                part("initial conditions", f.ics),
                part("reverse steps", reverse),
                part("white noise, gradient, optimiser", noise),
                part("data density", data),
            ],
            lensing: None,
            keys,
        })
    }

    /// The estimate of `pm power`: `particles^3` positions of `t_bytes` floats painted on a
    /// `mesh^3` grid and transformed. `mesh_key` names the option that sets the mesh.
    pub fn power(
        particles: usize,
        t_bytes: u128,
        mesh: usize,
        mesh_key: &'static str,
    ) -> Result<Estimate, CliError> {
        let p = Sizer {
            key: "the snapshot's particles",
        };
        let m = Sizer { key: mesh_key };
        let positions = p.mul(p.cube(particles)?, 3 * t_bytes)?;
        let density = m.mul(
            add(
                m.mul(m.cube(mesh)?, t_bytes)?,
                m.mul(m.half_cube(mesh)?, 2 * t_bytes)?,
                mesh_key,
            )?,
            2,
        )?;
        let peak = add(add(BASE, positions, mesh_key)?, density, mesh_key)?;
        Ok(Estimate {
            peak_bytes: to_u64(peak, mesh_key)?,
            parts: vec![
                part("base", BASE),
                part("positions", positions),
                part("density and its transform", density),
            ],
            lensing: None,
            keys: vec![mesh_key],
        })
    }

    /// One line: the peak and, with lensing, the replicas and crossings.
    pub fn summary(&self) -> String {
        let mut text = format!("peak memory about {}", Bytes(self.peak_bytes));
        if let Some(l) = self.lensing {
            text.push_str(&format!(
                ", lightcone about {:.3e} box replicas and {:.3e} crossings",
                l.replicas, l.crossings
            ));
        }
        text
    }

    /// The breakdown, `what = bytes` comma separated.
    pub fn breakdown(&self) -> String {
        self.parts
            .iter()
            .map(|p| format!("{} {}", p.what, Bytes(p.bytes)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The lensing part of a run's estimate: the maps and the busiest step's deposits (bytes),
/// and the replicas and crossings summed over steps and maps.
fn lensing_estimate(
    plan: &RunPlan,
    lensing: &crate::lensing::LensingPlan,
) -> Result<(u128, LensingLoad), CliError> {
    let s = &plan.config.simulation;
    let np = (s.particles as f64).powi(3);
    let volume = s.box_size.powi(3);
    let half_diagonal = 0.5 * 3f64.sqrt() * s.box_size;
    let sizer = |key| Sizer { key };
    let mut map_bytes: u128 = 0;
    // (solid angle, kernel) of each map.
    let mut maps = Vec::new();
    if let Some(p) = &lensing.flat {
        let n = lensing.section.pixels;
        let z = sizer("lensing.pixels");
        let npix = z.mul(n as u128, n as u128)?;
        map_bytes = add(map_bytes, z.mul(npix, 16)?, "lensing.pixels")?;
        let half = 0.5 * lensing.section.fov_deg.to_radians();
        let omega = 4.0 * (half.sin().powi(2)).asin();
        maps.push((omega, p.kernel()));
    }
    if let Some(p) = &lensing.full {
        let n = lensing.section.nside as u128;
        let z = sizer("lensing.nside");
        let npix = z.mul(z.mul(n, n)?, 12)?;
        map_bytes = add(map_bytes, z.mul(npix, 16)?, "lensing.nside")?;
        maps.push((4.0 * std::f64::consts::PI, p.kernel()));
    }
    let (mut replicas, mut crossings, mut busiest) = (0.0, 0.0, 0.0f64);
    let distance_error = |e: pm_lensing::LensingError| CliError::Config {
        key: "lensing.source_z".into(),
        reason: format!("the lightcone's distances: {e}"),
    };
    for (omega, kernel) in maps {
        let chi_s = kernel.source_distance();
        let mut step_crossings = 0.0f64;
        for w in plan.scale_factors.windows(2) {
            let r_hi = kernel.distance(w[0]).map_err(distance_error)?.min(chi_s);
            let r_lo = kernel.distance(w[1]).map_err(distance_error)?.min(chi_s);
            if r_hi <= r_lo {
                continue;
            }
            let c = np * omega / 3.0 * (r_hi.powi(3) - r_lo.powi(3)) / volume;
            let outer = r_hi + half_diagonal;
            let inner = (r_lo - half_diagonal).max(0.0);
            replicas += omega / 3.0 * (outer.powi(3) - inner.powi(3)) / volume;
            crossings += c;
            step_crossings = step_crossings.max(c);
        }
        busiest += step_crossings;
    }
    // The deposits the projection holds at once: 128 B per crossing, for at most the
    // busiest step's crossings and at most what its bounded rounds of tasks hold.
    let threads = match s.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        t => t,
    };
    let held = pm_lensing::crossings_held_at_once(threads) as f64;
    let deposits = DEPOSIT_BYTES * busiest.min(held);
    if !(deposits.is_finite() && crossings.is_finite() && replicas.is_finite()) {
        return Err(CliError::Config {
            key: "simulation.box_size".into(),
            reason: format!(
                "{}: the lightcone to lensing.source_z = {} holds too many box replicas to \
                 count; choose a larger box or a lower source redshift",
                s.box_size, lensing.section.source_z
            ),
        });
    }
    // Deposits beyond u128 are caught above (finite f64 < 2^128 always).
    let bytes = add(map_bytes, deposits as u128, "lensing.source_z")?;
    Ok((
        bytes,
        LensingLoad {
            replicas,
            crossings,
        },
    ))
}

/// The limit an estimate is checked against.
#[derive(Debug, Clone, PartialEq)]
pub enum MemoryLimit {
    /// `--max-memory`, bytes.
    Given(u64),
    /// `MemAvailable` of `/proc/meminfo`, bytes.
    Available(u64),
    /// Neither: the estimate is not checked (the reason says why).
    Unknown(String),
}

impl MemoryLimit {
    /// `--max-memory` when given, else the system's available memory.
    pub fn new(max_memory: Option<u64>) -> MemoryLimit {
        match max_memory {
            Some(b) => MemoryLimit::Given(b),
            None => available_memory(),
        }
    }

    fn describe(&self) -> String {
        match self {
            MemoryLimit::Given(b) => format!("{} allowed by --max-memory", Bytes(*b)),
            MemoryLimit::Available(b) => {
                format!("{} available on this machine (MemAvailable)", Bytes(*b))
            }
            MemoryLimit::Unknown(why) => format!("unknown ({why})"),
        }
    }
}

/// `MemAvailable` of `/proc/meminfo`, or why it cannot be read.
pub fn available_memory() -> MemoryLimit {
    let text = match std::fs::read_to_string("/proc/meminfo") {
        Ok(t) => t,
        Err(e) => return MemoryLimit::Unknown(format!("/proc/meminfo: {e}")),
    };
    let kb = text
        .lines()
        .find(|l| l.starts_with("MemAvailable:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok());
    match kb.and_then(|kb| kb.checked_mul(1024)) {
        Some(b) => MemoryLimit::Available(b),
        None => MemoryLimit::Unknown("/proc/meminfo has no readable MemAvailable line".into()),
    }
}

/// Refuses `estimate` when its peak exceeds `limit`; with an unknown limit it says on
/// stderr that the estimate is not checked, and goes on. `command` names what is refused
/// (`pm run`).
pub fn check_memory(
    estimate: &Estimate,
    limit: &MemoryLimit,
    command: &str,
) -> Result<(), CliError> {
    let allowed = match limit {
        MemoryLimit::Given(b) | MemoryLimit::Available(b) => *b,
        MemoryLimit::Unknown(why) => {
            crate::warn!(
                "pm: note: the available memory is unknown ({why}); the estimate ({}) is not \
                 checked (pass --max-memory SIZE to check it)",
                Bytes(estimate.peak_bytes)
            );
            return Ok(());
        }
    };
    if estimate.peak_bytes <= allowed {
        return Ok(());
    }
    Err(CliError::TooLarge {
        command: command.to_string(),
        what: format!(
            "needs about {} of memory ({}), more than the {}",
            Bytes(estimate.peak_bytes),
            estimate.breakdown(),
            limit.describe()
        ),
        keys: estimate.keys.join(", "),
        force: "--max-memory SIZE (e.g. 8G) sets the limit instead of the available memory".into(),
    })
}

/// Refuses a run whose lightcone crosses more than `max_crossings` particles (see
/// [`MAX_CROSSINGS`]).
pub fn check_crossings(estimate: &Estimate, max_crossings: f64) -> Result<(), CliError> {
    let Some(load) = estimate.lensing else {
        return Ok(());
    };
    if load.crossings <= max_crossings {
        return Ok(());
    }
    Err(CliError::TooLarge {
        command: "pm run".into(),
        what: format!(
            "expects the lightcone to visit about {:.3e} periodic box replicas and to find \
             about {:.3e} particle crossings (more than the limit of {max_crossings:.3e}, about {:.0} s of \
             projection on 2 cores)",
            load.replicas,
            load.crossings,
            load.crossings * 110e-9
        ),
        keys: "lensing.source_z (lower), simulation.box_size (larger), lensing.nside or \
               lensing.fov_deg (a smaller sky), simulation.particles"
            .into(),
        force: "--max-crossings COUNT raises the limit".into(),
    })
}

/// Parses a memory size: a number of bytes with an optional unit, `512M`, `2G`, `1.5GiB`,
/// `800MB`, `1073741824`. `K`, `M`, `G`, `T` and `KiB` ... `TiB` are powers of 1024; `kB`,
/// `MB`, `GB`, `TB` powers of 1000. The size must be positive and finite.
pub fn parse_size(text: &str) -> Result<u64, CliError> {
    let bad = |reason: String| CliError::Config {
        key: "--max-memory".into(),
        reason,
    };
    let t = text.trim();
    let split = t
        .find(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E')
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kib" => 1024.0,
        "m" | "mib" => 1024f64.powi(2),
        "g" | "gib" => 1024f64.powi(3),
        "t" | "tib" => 1024f64.powi(4),
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        other => {
            return Err(bad(format!(
                "\"{text}\": unknown unit \"{other}\" (use B, K, M, G, T, KiB..TiB or kB..TB)"
            )));
        }
    };
    let value: f64 = number.trim().parse().map_err(|_| {
        bad(format!(
            "\"{text}\" is not a size (a number of bytes with an optional unit: 512M, 2G, 1.5GiB)"
        ))
    })?;
    let bytes = value * scale;
    if !(bytes.is_finite() && bytes >= 1.0) {
        return Err(bad(format!(
            "\"{text}\": must be a positive, finite size of at least 1 byte"
        )));
    }
    if bytes >= u64::MAX as f64 {
        return Err(bad(format!("\"{text}\": larger than 2^64 bytes")));
    }
    Ok(bytes as u64)
}

/// Parses `--max-crossings`: a positive finite count (`1e10` accepted).
pub fn parse_count(text: &str) -> Result<f64, CliError> {
    let value: f64 = text.trim().parse().map_err(|_| CliError::Config {
        key: "--max-crossings".into(),
        reason: format!("\"{text}\" is not a number"),
    })?;
    if !(value.is_finite() && value >= 0.0) {
        return Err(CliError::Config {
            key: "--max-crossings".into(),
            reason: format!("\"{text}\": must be a finite number, at least 0"),
        });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("512M").unwrap(), 512 << 20);
        assert_eq!(parse_size("2G").unwrap(), 2 << 30);
        assert_eq!(parse_size("1.5GiB").unwrap(), 3 << 29);
        assert_eq!(parse_size("800MB").unwrap(), 800_000_000);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert_eq!(parse_size("1e9").unwrap(), 1_000_000_000);
        for bad in [
            "", "nan", "NaN", "-1", "-1G", "inf", "0", "garbage", "1X", "1e30T",
        ] {
            assert!(parse_size(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn bytes_print() {
        assert_eq!(Bytes(138_000_000).to_string(), "138.000 MB");
        assert_eq!(Bytes(12).to_string(), "12 B");
    }
}
