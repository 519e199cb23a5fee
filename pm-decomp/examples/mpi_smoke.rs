//! Smoke test of `MpiComm`, the halo exchange and particle migration under MPI.
//!
//! ```text
//! cargo build -p pm-decomp --features mpi --example mpi_smoke
//! mpirun --allow-run-as-root --oversubscribe -np 2 target/debug/examples/mpi_smoke
//! ```
//!
//! Every rank checks the collectives, the halo fill and add and a migration; rank 0 prints a
//! summary. Exits with status 1 on any failure. (The distributed FFT, `pm_fft::SlabFft`, is
//! checked under MPI by pm-integrate's `mpi_run` and pm-adjoint's `mpi_gradient`, which
//! compare whole runs and gradients with the serial ones.)

use pm_decomp::{Comm, CommExt, Migration, MpiComm, SlabDecomposition, SlabHalo};

fn run(comm: &MpiComm) -> Result<String, String> {
    let (rank, size) = (comm.rank(), comm.size());
    let e = |e: pm_decomp::DecompError| e.to_string();
    // Collectives.
    let sum = comm.sum_f64(rank as f64 + 0.5).map_err(e)?;
    let expect = (0..size).map(|r| r as f64 + 0.5).sum::<f64>();
    if sum != expect {
        return Err(format!("all-reduce: {sum} != {expect}"));
    }
    let send: Vec<Vec<u64>> = (0..size)
        .map(|d| vec![(rank * 100 + d) as u64; d + 1])
        .collect();
    let got = comm.all_to_all_v(&send).map_err(e)?;
    for (s, v) in got.iter().enumerate() {
        if *v != vec![(s * 100 + rank) as u64; rank + 1] {
            return Err(format!("all-to-all-v from {s}: {v:?}"));
        }
    }
    let ring = comm
        .send_recv(
            &[rank as u32],
            (rank + 1) % size,
            (rank + size - 1) % size,
            7,
        )
        .map_err(e)?;
    if ring != vec![((rank + size - 1) % size) as u32] {
        return Err(format!("send_recv: {ring:?}"));
    }
    let row = comm.split(rank % 2, rank).map_err(e)?;
    let row_sum = row.sum_u64(1).map_err(e)?;
    if row_sum as usize != (0..size).filter(|r| r % 2 == rank % 2).count() {
        return Err(format!("split: {row_sum}"));
    }
    // Empty messages (an empty Vec<u8> has the address 0x1, Open MPI's MPI_IN_PLACE).
    let empty: Vec<Vec<f64>> = vec![Vec::new(); size];
    if comm.all_to_all_v(&empty).map_err(e)? != empty {
        return Err("empty all-to-all-v".into());
    }
    if comm.all_gather::<u8>(&[]).map_err(e)? != vec![Vec::<u8>::new(); size] {
        return Err("empty all-gather".into());
    }
    let mut nothing: Vec<u32> = Vec::new();
    comm.broadcast(0, &mut nothing).map_err(e)?;
    if !comm
        .send_recv::<u8>(&[], (rank + 1) % size, (rank + size - 1) % size, 3)
        .map_err(e)?
        .is_empty()
    {
        return Err("empty send_recv".into());
    }
    comm.barrier().map_err(e)?;

    // Halo fill: every ghost plane (3 below, 3 above: wider than a slab at -np 4) holds
    // the owner's plane of the global field; halo add then fill are each other's adjoint.
    let hshape = [8, 4, 2];
    let hd = SlabDecomposition::for_comm(hshape, comm).map_err(e)?;
    let halo = SlabHalo::new(hd.clone(), 3, 3).map_err(e)?;
    let g = |plane: usize, k: usize| (plane * 10 + k) as f64;
    let pl = halo.plane_len();
    let mut padded = vec![-1.0; halo.padded_len()];
    for p in 0..halo.padded_planes() {
        let gp = halo.global_plane(p);
        let owned =
            hd.x_range(rank).contains(&gp) && p >= halo.lo() && p < halo.lo() + halo.owned_planes();
        for k in 0..pl {
            padded[p * pl + k] = if owned { g(gp, k) } else { -1.0 };
        }
    }
    halo.halo_fill(comm, &mut padded).map_err(e)?;
    for p in 0..halo.padded_planes() {
        for k in 0..pl {
            if padded[p * pl + k] != g(halo.global_plane(p), k) {
                return Err(format!("halo_fill: padded plane {p} cell {k}"));
            }
        }
    }
    let u: Vec<f64> = (0..halo.padded_len())
        .map(|i| ((i * 31 + rank * 7) % 13) as f64 - 6.0)
        .collect();
    let v: Vec<f64> = (0..halo.padded_len())
        .map(|i| ((i * 17 + rank * 5) % 11) as f64 - 5.0)
        .collect();
    let (mut au, mut fv) = (u.clone(), v.clone());
    halo.halo_add(comm, &mut au).map_err(e)?;
    halo.halo_fill(comm, &mut fv).map_err(e)?;
    let owned = halo.owned_elements();
    let lhs = comm
        .sum_f64(
            au[owned.clone()]
                .iter()
                .zip(&v[owned])
                .map(|(a, b)| a * b)
                .sum(),
        )
        .map_err(e)?;
    let rhs = comm
        .sum_f64(u.iter().zip(&fv).map(|(a, b)| a * b).sum())
        .map_err(e)?;
    if (lhs - rhs).abs() > 1e-12 * lhs.abs().max(1.0) {
        return Err(format!("halo adjoint: {lhs} vs {rhs}"));
    }

    // Migration: particles spread over the whole box go to their owners; none is lost, and
    // the reverse brings every payload back.
    let box_size = 100.0;
    let xs: Vec<f64> = (0..50)
        .map(|i| ((i * 37 + rank * 11) % 97) as f64 * 1.03 - 1.5)
        .collect();
    let ids: Vec<u64> = (0..50).map(|i| (rank * 1000 + i) as u64).collect();
    let mig = Migration::for_slab_x(comm, &hd, box_size, &xs).map_err(e)?;
    let moved_x = mig.forward(comm, &xs).map_err(e)?;
    let moved_id = mig.forward(comm, &ids).map_err(e)?;
    for x in &moved_x {
        let plane = ((x / box_size * hshape[0] as f64).floor() as i64).rem_euclid(hshape[0] as i64);
        if hd.x_owner(plane as usize) != Some(rank) {
            return Err(format!("migration: x = {x} landed on rank {rank}"));
        }
    }
    let total = comm.sum_u64(moved_id.len() as u64).map_err(e)?;
    if total != 50 * size as u64 {
        return Err(format!(
            "migration: {total} particles after, {} before",
            50 * size
        ));
    }
    if mig.reverse(comm, &moved_id).map_err(e)? != ids {
        return Err("migration: reverse is not the identity".into());
    }
    Ok(format!(
        "{size} ranks: collectives ok, halo fill and adjoint ok, migration ok"
    ))
}

fn main() {
    let Some(universe) = pm_decomp::mpi::initialize() else {
        eprintln!("MPI was already initialised");
        std::process::exit(1);
    };
    let comm = MpiComm::world(&universe);
    match run(&comm) {
        Ok(msg) => {
            if comm.rank() == 0 {
                println!("mpi_smoke ok: {msg}");
            }
        }
        Err(msg) => {
            eprintln!("rank {}: FAILED: {msg}", comm.rank());
            std::process::exit(1);
        }
    }
}
