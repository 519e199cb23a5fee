//! Reverse-time adjoint gradients of objectives with respect to initial conditions and parameters.
