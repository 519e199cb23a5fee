//! Force kernels (the user-extensible `ForceKernel` trait) and the PM gravity solve with its adjoint.
