//! Communicators, domain decomposition, halo exchange and particle migration (serial, threads, MPI).
