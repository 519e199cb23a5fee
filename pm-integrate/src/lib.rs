//! Initial conditions, LPT and the FastPM, leapfrog and COLA time steppers, with observers.
