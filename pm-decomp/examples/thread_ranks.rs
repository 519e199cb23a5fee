//! Two ranks as two threads: the collective steps of a distributed particle-mesh code
//! (particle migration, halo exchange, reductions) on pm-decomp's `ThreadComm`, checked
//! against the same computation on one rank.
//!
//! `cargo run -p pm-decomp --example thread_ranks`
//!
//! Each rank starts with an arbitrary share of the particles. It sends every particle to
//! the rank owning its x-plane of the mesh ([`Migration`]), paints its particles with
//! cloud-in-cell weights into its x-slab plus the one ghost plane above it that CIC reaches,
//! adds the ghost plane into the neighbour's slab ([`SlabHalo::halo_add`]), and sums the
//! mass over the ranks ([`CommExt`]). The slabs put together must equal the density painted
//! on one rank from all the particles (to rounding: the additions come in another order),
//! and the total mass must be the number of particles; the example exits with status 1
//! otherwise. The same rank code runs on `SerialComm` and, with the `mpi` feature, on
//! `MpiComm` under `mpirun`.

use pm_decomp::{Comm, CommExt, DecompError, Migration, SlabDecomposition, SlabHalo, ThreadComm};

/// Mesh cells per side.
const N: usize = 16;
/// Box side, Mpc/h (cells of 1 Mpc/h).
const L: f64 = 16.0;
/// Number of particles.
const PARTICLES: usize = 1000;
/// Number of ranks.
const RANKS: usize = 2;

/// Particle `i`'s position in Mpc/h: a low-discrepancy sequence (Roberts' R3) fills the box
/// evenly without a random-number generator.
fn position(i: usize) -> [f64; 3] {
    let alpha = [
        0.754_877_666_246_692_7,
        0.569_840_290_998_053_2,
        0.430_159_709_001_946_8,
    ];
    alpha.map(|a| (0.5 + a * i as f64).fract() * L)
}

/// Adds the cloud-in-cell weights of `particles` to `grid`, whose rows of `N * N` cells are
/// the x-planes `first, first + 1, ...` of the periodic mesh (the whole mesh for `first =
/// 0`, a rank's padded slab otherwise).
fn paint(grid: &mut [f64], first: usize, particles: &[[f64; 3]]) {
    for x in particles {
        // Cell size 1: the lower cell and the weight of the upper one per axis.
        let cell = x.map(|c| c.floor() as usize);
        let frac = [0, 1, 2].map(|a| x[a] - cell[a] as f64);
        for (dx, wx) in [(0, 1.0 - frac[0]), (1, frac[0])] {
            let row = (cell[0] + dx + N - first) % N;
            for (dy, wy) in [(0, 1.0 - frac[1]), (1, frac[1])] {
                for (dz, wz) in [(0, 1.0 - frac[2]), (1, frac[2])] {
                    let (y, z) = ((cell[1] + dy) % N, (cell[2] + dz) % N);
                    grid[(row * N + y) * N + z] += wx * wy * wz;
                }
            }
        }
    }
}

/// What one rank reports: how many particles it started with and held after the migration,
/// the whole mesh gathered from every rank's slab, and the total mass.
struct Report {
    started: usize,
    held: usize,
    mesh: Vec<f64>,
    mass: f64,
}

/// The work of one rank: collective, every rank calls it with its own communicator.
fn rank(comm: &dyn Comm) -> Result<Report, DecompError> {
    let decomp = SlabDecomposition::for_comm([N; 3], comm)?;
    // CIC from the plane a particle lies in reaches one plane above: halo widths 0 and 1.
    let halo = SlabHalo::for_support(decomp.clone(), 2)?;
    // An arbitrary start: rank r holds particles r, r + RANKS, r + 2 RANKS, ...
    let start: Vec<[f64; 3]> = (comm.rank()..PARTICLES)
        .step_by(comm.size())
        .map(position)
        .collect();
    // 1. Migration: every particle to the rank owning its x-plane.
    let x: Vec<f64> = start.iter().map(|p| p[0]).collect();
    let migration = Migration::for_slab_x(comm, &decomp, L, &x)?;
    let mine = migration.forward(comm, &start)?;
    // 2. Paint into the padded slab, then add the ghost plane into its owner.
    let first = (decomp.x_range(comm.rank()).start + N - halo.lo()) % N;
    let mut padded = vec![0.0; halo.padded_len()];
    paint(&mut padded, first, &mine);
    halo.halo_add(comm, &mut padded)?;
    let owned = &padded[halo.owned_elements()];
    // 3. Reductions: the total mass, and every slab gathered in rank (= x) order.
    let mass = comm.sum_f64(owned.iter().sum())?;
    let mesh = comm.all_gather(owned)?.concat();
    Ok(Report {
        started: start.len(),
        held: mine.len(),
        mesh,
        mass,
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let reports = ThreadComm::run(RANKS, |comm| rank(comm))?
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    // The same computation on one rank: all the particles painted on the whole mesh.
    let all: Vec<[f64; 3]> = (0..PARTICLES).map(position).collect();
    let mut serial = vec![0.0; N * N * N];
    paint(&mut serial, 0, &all);

    let mut ok = true;
    for (r, report) in reports.iter().enumerate() {
        let diff = report
            .mesh
            .iter()
            .zip(&serial)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        println!(
            "rank {r}: {} particles at the start, {} after the migration; total mass {:.9}, \
             max |distributed - serial| = {diff:.1e}",
            report.started, report.held, report.mass
        );
        ok &= diff < 1e-12 && (report.mass - PARTICLES as f64).abs() < 1e-9;
    }
    let held: usize = reports.iter().map(|r| r.held).sum();
    ok &= held == PARTICLES;
    if ok {
        println!(
            "the distributed density equals the serial one and every particle is counted once"
        );
        Ok(())
    } else {
        eprintln!("FAILED: the distributed result differs from the serial one");
        std::process::exit(1);
    }
}
