//! pm-lensing against exact counts, adjoint identities, finite differences and the mean
//! convergence of a full sky.

use pm_cosmo::Cosmology;
use pm_decomp::SerialComm;
use pm_integrate::{Simulation, StepperKind, TimeSteps};
use pm_lensing::{
    BornKernel, BornProjection, ConvergenceLoss, ConvergenceObserver, FlatSky, FullSky, Lightcone,
    SkyMap, Sources,
};
use pm_mesh::{Positions, RealField};
use pm_testkit::{SplitMix64, max_rel_diff};

/// A deterministic pseudo-random sequence in [0, 1) (splitmix64).
fn uniform(seed: u64, n: usize) -> Vec<f64> {
    let mut rng = SplitMix64::new(seed);
    (0..n).map(|_| rng.uniform()).collect()
}

fn kernel(z: f64) -> BornKernel {
    BornKernel::new(&Cosmology::planck18(), &Sources::Plane { z }).unwrap()
}

/// Every periodic image of a particle crosses the lightcone exactly once between `a_start`
/// and `a_end` when its distance lies in `[r(a_end), r(a_start))`, and never otherwise,
/// however the steps cut the run; a particle exactly on the sphere at a step boundary is
/// counted once.
#[test]
fn each_replica_of_a_particle_crosses_once() {
    let l = 64.0;
    let k = kernel(0.3);
    let scale_factors = [0.88, 0.9, 0.93, 0.95, 0.975, 1.0];
    let r: Vec<f64> = scale_factors
        .iter()
        .map(|&a| k.distance(a).unwrap())
        .collect();
    let cone = Lightcone::new([0.0; 3], [l; 3], k.source_distance());
    let born = BornProjection::new(k.clone(), cone, FullSky::new(4).unwrap());
    // Stationary particles: random ones, plus one exactly at distance r(a_2) (a boundary).
    let u = uniform(7, 3 * 300);
    let mut x: Vec<[f64; 3]> = u
        .chunks(3)
        .map(|c| [c[0] * l, c[1] * l, c[2] * l])
        .collect();
    // r2 - n L is exact (Sterbenz) and so is its sum with n L again: |y| = r(a_2) exactly.
    let n_boxes = (r[2] / l).floor();
    assert!(n_boxes >= 2.0);
    let on_boundary = r[2] - n_boxes * l;
    assert_eq!(on_boundary + n_boxes * l, r[2]);
    x.push([on_boundary, 0.0, 0.0]);
    let mut kappa = vec![0.0; born.map().npix()];
    let mut found = 0;
    for w in scale_factors.windows(2) {
        let p = Positions::Absolute(&x);
        found += born
            .add_step(&step(w[0], w[1], &p, &p), &mut kappa)
            .unwrap()
            .crossings;
    }
    // Brute force over images: |x + n L| in [r_end, r_start).
    let reach = (r[0] / l).ceil() as i64 + 1;
    let mut expected = 0;
    for p in &x {
        for nx in -reach..=reach {
            for ny in -reach..=reach {
                for nz in -reach..=reach {
                    let y = [
                        p[0] + nx as f64 * l,
                        p[1] + ny as f64 * l,
                        p[2] + nz as f64 * l,
                    ];
                    let d = (y[0] * y[0] + y[1] * y[1] + y[2] * y[2]).sqrt();
                    if d >= r[5] && d < r[0] {
                        expected += 1;
                    }
                }
            }
        }
    }
    println!("crossings {found}, expected {expected}");
    assert!(expected > 1000);
    assert_eq!(found, expected);
}

/// Moving particles: the crossing count equals the number of images whose `|y| - r(a)`
/// changes sign between step ends (checked independently here), and positions that wrap
/// around the box between the two ends of a step are followed as one particle.
#[test]
#[allow(clippy::needless_range_loop)] // particle i of every step's array
fn moving_particles_cross_once_per_replica_even_across_box_faces() {
    let l = 60.0;
    // Sources beyond the run's first step: no crossing is cut off at r_max.
    let k = kernel(0.3);
    let a = [0.9, 0.95, 1.0];
    let r: Vec<f64> = a.iter().map(|&a| k.distance(a).unwrap()).collect();
    let born = BornProjection::new(
        k.clone(),
        Lightcone::new([30.0; 3], [l; 3], k.source_distance()),
        FullSky::new(2).unwrap(),
    );
    let u = uniform(3, 6 * 200);
    let pos = |t: f64| -> Vec<[f64; 3]> {
        u.chunks(6)
            .map(|c| {
                // 20 Mpc/h per unit time in a random direction, wrapped into the box.
                std::array::from_fn(|i| (c[i] * l + t * 20.0 * (c[3 + i] - 0.5)).rem_euclid(l))
            })
            .collect()
    };
    let xs: Vec<_> = (0..3).map(|i| pos(i as f64)).collect();
    let mut kappa = vec![0.0; born.map().npix()];
    let mut found = 0;
    for s in 0..2 {
        found += born
            .add_step(
                &step(
                    a[s],
                    a[s + 1],
                    &Positions::Absolute(&xs[s]),
                    &Positions::Absolute(&xs[s + 1]),
                ),
                &mut kappa,
            )
            .unwrap()
            .crossings;
    }
    let reach = (r[0] / l).ceil() as i64 + 1;
    let mut expected = 0;
    for i in 0..xs[0].len() {
        // Unwrapped path: each step moves by the minimum image.
        let mut path = vec![xs[0][i]];
        for s in 1..3 {
            let prev = path[s - 1];
            path.push(std::array::from_fn(|c| {
                let d = xs[s][i][c] - prev[c];
                prev[c] + d - l * (d / l).round()
            }));
        }
        for nx in -reach..=reach {
            for ny in -reach..=reach {
                for nz in -reach..=reach {
                    let f: Vec<f64> = (0..3)
                        .map(|s| {
                            let y = [
                                path[s][0] + nx as f64 * l - 30.0,
                                path[s][1] + ny as f64 * l - 30.0,
                                path[s][2] + nz as f64 * l - 30.0,
                            ];
                            (y[0] * y[0] + y[1] * y[1] + y[2] * y[2]).sqrt() - r[s]
                        })
                        .collect();
                    expected += (0..2).filter(|&s| f[s] < 0.0 && f[s + 1] >= 0.0).count();
                }
            }
        }
    }
    println!("crossings {found}, expected {expected}");
    assert!(expected > 500);
    assert_eq!(found, expected);
}

/// <kappa_bar, J dx> = <J^T kappa_bar, dx> for the flat and the full sky.
#[test]
fn born_projection_vjp_passes_the_dot_product_test() {
    let l = 50.0;
    let k = kernel(0.06);
    let n = 600;
    let u = uniform(11, 9 * n);
    let x0: Vec<[f64; 3]> = u
        .chunks(9)
        .map(|c| [c[0] * l, c[1] * l, c[2] * l])
        .collect();
    let x1: Vec<[f64; 3]> = u
        .chunks(9)
        .map(|c| {
            [
                c[0] * l + 3.0 * c[3],
                c[1] * l - 2.0 * c[4],
                c[2] * l + c[5],
            ]
        })
        .collect();
    let dx0: Vec<[f64; 3]> = u
        .chunks(9)
        .map(|c| [c[6] - 0.5, c[7] - 0.5, c[8] - 0.5])
        .collect();
    let dx1: Vec<[f64; 3]> = u
        .chunks(9)
        .map(|c| [c[8] - 0.5, c[6] - 0.5, c[3] - 0.5])
        .collect();
    fn check<M: SkyMap>(born: BornProjection<M>, x: [&[[f64; 3]]; 4]) {
        let [x0, x1, dx0, dx1] = x;
        let (p0, p1) = (Positions::Absolute(x0), Positions::Absolute(x1));
        let npix = born.map().npix();
        let bar = uniform(5, npix);
        let mut jv = vec![0.0; npix];
        born.step_jvp(&step(0.9, 0.97, &p0, &p1), [dx0, dx1], &mut jv)
            .unwrap();
        let mut b0 = vec![[0.0; 3]; x0.len()];
        let mut b1 = vec![[0.0; 3]; x0.len()];
        born.step_vjp(&step(0.9, 0.97, &p0, &p1), &bar, &mut b0, &mut b1)
            .unwrap();
        let lhs: f64 = bar.iter().zip(&jv).map(|(a, b)| a * b).sum();
        let rhs: f64 = (0..x0.len())
            .map(|i| {
                (0..3)
                    .map(|a| b0[i][a] * dx0[i][a] + b1[i][a] * dx1[i][a])
                    .sum::<f64>()
            })
            .sum();
        let rel = (lhs - rhs).abs() / lhs.abs();
        println!("dot-product test: {lhs:.6e} {rhs:.6e} rel {rel:.1e}");
        assert!(lhs.abs() > 0.0);
        assert!(rel < 1e-12, "{rel}");
    }
    let cone = Lightcone::new([25.0; 3], [l; 3], k.source_distance());
    let args = [x0.as_slice(), &x1, &dx0, &dx1];
    check(
        BornProjection::new(
            k.clone(),
            cone,
            FlatSky::new([1.0, 0.2, 0.1], 30.0, 24).unwrap(),
        ),
        args,
    );
    check(BornProjection::new(k, cone, FullSky::new(8).unwrap()), args);
}

fn small_run(
    particles: usize,
    box_size: f64,
    a_start: f64,
    steps: usize,
) -> Simulation<f64, pm_force::FastPmKernel> {
    Simulation::<f64, _>::builder(Cosmology::planck18())
        .box_size(box_size)
        .particles(particles)
        .mesh(2 * particles)
        .stepper(StepperKind::FastPm)
        .steps(TimeSteps::LinearA {
            a_start,
            a_end: 1.0,
            steps,
        })
        .seed(42)
        .build()
        .unwrap()
}

/// The gradient of a flat-sky map's chi^2 with respect to the white noise, through the whole
/// simulation and the lightcone, against central differences (f64; step 1e-6 as in the
/// other gradient checks of the workspace).
#[test]
fn kappa_map_gradient_matches_finite_differences() {
    let sim = small_run(8, 40.0, 0.5, 4);
    let k = kernel(0.04);
    let born = BornProjection::new(
        k.clone(),
        Lightcone::new([20.0; 3], [40.0; 3], k.source_distance()),
        FlatSky::new([1.0, 0.4, 0.25], 40.0, 12).unwrap(),
    );
    let npix = born.map().npix();
    let observed: Vec<f64> = uniform(9, npix).iter().map(|u| 1e-3 * (u - 0.5)).collect();
    let prior = pm_adjoint::WhiteNoisePrior::with_weight(0.0).unwrap();
    let loss = |w: &RealField<f64>| -> (f64, RealField<f64>) {
        let mut obs = ConvergenceLoss::new(&born, observed.clone(), 1e-3).unwrap();
        let g =
            pm_adjoint::value_and_gradient_along(&SerialComm, &sim, w, &prior, &mut obs).unwrap();
        (g.value, g.noise)
    };
    let noise = sim.white_noise().unwrap();
    let (value, grad) = loss(&noise);
    let mesh = *sim.particle_mesh();
    let direction =
        RealField::from_array(mesh, pm_integrate::white_noise::<f64>(mesh.shape(), 3)).unwrap();
    let adjoint: f64 = grad
        .as_slice()
        .iter()
        .zip(direction.as_slice())
        .map(|(a, b)| a * b)
        .sum();
    let h = 1e-6;
    let moved = |s: f64| {
        let mut w = noise.clone();
        w.as_slice_mut()
            .iter_mut()
            .zip(direction.as_slice())
            .for_each(|(x, d)| *x += s * h * d);
        loss(&w).0
    };
    let fd = (moved(1.0) - moved(-1.0)) / (2.0 * h);
    let rel = (adjoint - fd).abs() / fd.abs();
    println!("L = {value:.6e}: adjoint {adjoint:.12e}, fd {fd:.12e}, rel {rel:.2e}");
    assert!(fd.abs() > 1e-3 * value.abs());
    assert!(rel < 1e-6, "{rel}");
}

/// The full-sky mean of kappa vanishes: the mean term removes the lightcone's average
/// density, leaving the monopole of delta over the shells. For a uniform lattice (delta = 0
/// in every shell up to the lattice's sampling of the shells) the mean is zero to 1e-3 of the
/// mean term; for an evolved field it is a small fraction of the pixel rms (the monopole of
/// delta over shells hundreds of Mpc/h across is tiny compared to the pixel-scale
/// fluctuations).
#[test]
fn full_sky_mean_convergence_vanishes() {
    let sim = small_run(32, 128.0, 0.6, 5);
    let k = kernel(0.1);
    let born = BornProjection::new(
        k.clone(),
        // Off the lattice: a particle at the observer would sit at r = 0.
        Lightcone::new([64.3, 63.1, 64.7], [128.0; 3], k.source_distance()),
        FullSky::new(16).unwrap(),
    );
    let mean_of = |kappa: &[f64]| kappa.iter().sum::<f64>() / kappa.len() as f64;
    // The unperturbed lattice, held still through the same steps.
    let lattice = pm_mesh::Lattice::cubic(32, 128.0).unwrap();
    let zero = vec![[0.0f64; 3]; lattice.len()];
    let still = Positions::Displaced {
        lattice,
        disp: &zero,
    };
    let a = sim.scale_factors().to_vec();
    let mut kappa = vec![0.0; born.map().npix()];
    for w in a.windows(2) {
        born.add_step(&step(w[0], w[1], &still, &still), &mut kappa)
            .unwrap();
    }
    let mean_term = born.mean_convergence(a[0], 1.0).unwrap();
    let lattice_mean = mean_of(&kappa) - mean_term;
    println!("lattice: mean {lattice_mean:.3e}, mean term {mean_term:.3e}");
    assert!(mean_term > 0.0);
    assert!(lattice_mean.abs() < 1e-3 * mean_term);
    // The evolved field.
    let mut observer = ConvergenceObserver::new(&born);
    sim.run(&mut [&mut observer]).unwrap();
    let kappa = observer.finish(&SerialComm).unwrap();
    let mean = mean_of(&kappa);
    let rms = (kappa.iter().map(|k| (k - mean).powi(2)).sum::<f64>() / kappa.len() as f64).sqrt();
    println!(
        "evolved: mean {mean:.3e}, rms {rms:.3e}, ratio {:.3e}",
        mean / rms
    );
    assert!(rms > 0.0);
    assert!(mean.abs() < 0.1 * rms);
}

/// The same seed gives the same map bit for bit on 1 and 2 threads.
#[test]
fn maps_do_not_depend_on_the_thread_count() {
    let sim = small_run(16, 64.0, 0.7, 3);
    let k = kernel(0.05);
    let born = BornProjection::new(
        k.clone(),
        Lightcone::new([32.0; 3], [64.0; 3], k.source_distance()),
        FullSky::new(8).unwrap(),
    );
    let map = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                let mut observer = ConvergenceObserver::new(&born);
                sim.run(&mut [&mut observer]).unwrap();
                observer.finish(&SerialComm).unwrap()
            })
    };
    let one = map(1);
    assert!(one.iter().any(|k| *k != one[0]));
    assert_eq!(one, map(2));
}

/// Maps built on 2 and 3 thread ranks (each rank projects its own particles, the maps are
/// added in rank order) equal the one-rank maps to 1e-12 (relative to the largest pixel;
/// measured up to 1.1e-14: the particles' final positions agree to ~1e-15 and the per-pixel sums
/// run in another order), flat and full sky.
#[test]
fn maps_on_several_ranks_equal_the_one_rank_maps() {
    let builder = || {
        Simulation::<f64, _>::builder(Cosmology::planck18())
            .box_size(64.0)
            .particles(12)
            .mesh(24)
            .stepper(StepperKind::FastPm)
            .steps(TimeSteps::LinearA {
                a_start: 0.6,
                a_end: 1.0,
                steps: 3,
            })
            .seed(5)
    };
    let k = kernel(0.08);
    let cone = Lightcone::new([31.0, 33.0, 32.5], [64.0; 3], k.source_distance());
    let flat = BornProjection::new(
        k.clone(),
        cone,
        FlatSky::new([1.0, 0.37, 0.21], 30.0, 20).unwrap(),
    );
    let full = BornProjection::new(k, cone, FullSky::new(8).unwrap());
    let maps = |comm: &dyn pm_decomp::Comm, sim: &Simulation<f64, pm_force::FastPmKernel>| {
        let mut f = ConvergenceObserver::new(&flat);
        let mut h = ConvergenceObserver::new(&full);
        sim.run_on(comm, &mut [&mut f, &mut h]).unwrap();
        (f.finish(comm).unwrap(), h.finish(comm).unwrap())
    };
    let one = maps(&SerialComm, &builder().build().unwrap());
    assert!(one.0.iter().any(|&v| v != 0.0) && one.1.iter().any(|&v| v != 0.0));
    let rel = |a: &[f64], b: &[f64]| max_rel_diff(a.iter().copied(), b.iter().copied());
    for ranks in [2, 3] {
        let all = pm_decomp::ThreadComm::run(ranks, |comm| {
            maps(comm, &builder().build_on(comm).unwrap())
        })
        .unwrap();
        for (r, (f, h)) in all.iter().enumerate() {
            let (df, dh) = (rel(f, &one.0), rel(h, &one.1));
            println!("{ranks} ranks, rank {r}: flat {df:.1e}, full sky {dh:.1e}");
            assert!(df < 1e-12 && dh < 1e-12, "{ranks} ranks: {df:e} {dh:e}");
        }
    }
}

/// The step from `x0` at `a0` to `x1` at `a1`, as a run hands it to its observers.
fn step<'a, T: pm_fft::Real>(
    a0: f64,
    a1: f64,
    x0: &pm_mesh::Positions<'a, T>,
    x1: &pm_mesh::Positions<'a, T>,
) -> pm_integrate::StepPositions<'a, T> {
    pm_integrate::StepPositions {
        step: 0,
        a0,
        a1,
        x0: *x0,
        x1: *x1,
    }
}
