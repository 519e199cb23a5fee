//! Smoke test of `MpiComm` and the distributed FFT under MPI.
//!
//! ```text
//! cargo build -p pm-decomp --features mpi --example mpi_smoke
//! mpirun --allow-run-as-root --oversubscribe -np 2 target/debug/examples/mpi_smoke
//! ```
//!
//! Every rank checks the collectives and that its block of the distributed FFT of a
//! deterministic field equals the same block of the serial `pm_fft::CpuFft3d` transform (computed on every rank);
//! rank 0 prints a summary. Exits with status 1 on any failure.

use pm_decomp::{Comm, CommExt, Complex, Decomposition, MpiComm, SlabDecomposition, SlabFft};
use pm_fft::{CpuFft3d, Fft3d};

fn field(shape: [usize; 3]) -> Vec<f64> {
    let n = shape.iter().product::<usize>();
    (0..n)
        .map(|i| ((i * 7919) % 1013) as f64 / 1013.0 - 0.5)
        .collect()
}

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

    // Distributed FFT vs serial, shape with uneven splits.
    let shape = [17, 8, 6];
    let global = field(shape);
    let serial_plan = CpuFft3d::<f64>::new(shape).map_err(|e| e.to_string())?;
    let mut g = global.clone();
    let mut serial = vec![Complex::new(0.0, 0.0); serial_plan.complex_len()];
    serial_plan
        .forward(&mut g, &mut serial)
        .map_err(|e| e.to_string())?;

    let d = SlabDecomposition::for_comm(shape, comm).map_err(e)?;
    let plan = SlabFft::<f64>::new(d.clone()).map_err(e)?;
    let [xr, _, _] = d.real_range();
    let plane = shape[1] * shape[2];
    let mut local = global[xr.start * plane..xr.end * plane].to_vec();
    let mut spec = vec![Complex::new(0.0, 0.0); plan.complex_len()];
    plan.forward(comm, &mut local, &mut spec).map_err(e)?;
    let [_, ky, _] = d.fourier_range();
    let nzc = shape[2] / 2 + 1;
    let mut err = 0.0f64;
    for x in 0..shape[0] {
        for (j, y) in ky.clone().enumerate() {
            for z in 0..nzc {
                let a = spec[(x * ky.len() + j) * nzc + z];
                let b = serial[(x * shape[1] + y) * nzc + z];
                err = err.max((a - b).norm());
            }
        }
    }
    let mut m = [err];
    comm.all_reduce_max(&mut m).map_err(e)?;
    if m[0] > 1e-12 {
        return Err(format!("distributed FFT differs from serial by {}", m[0]));
    }
    let mut back = vec![0.0; plan.real_len()];
    plan.inverse(comm, &mut spec, &mut back).map_err(e)?;
    let rt = back
        .iter()
        .zip(&global[xr.start * plane..xr.end * plane])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    Ok(format!(
        "{} ranks: collectives ok, FFT max |diff| vs serial {:.2e}, round trip {:.2e}",
        size, m[0], rt
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
