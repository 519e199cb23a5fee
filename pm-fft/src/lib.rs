//! 3D real FFT: the `Real` float trait, the `Fft3d` trait and its CPU (later distributed and CUDA) plans.
