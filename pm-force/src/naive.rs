//! The naive kernel: exact continuum operators on the mesh.

use crate::ForceKernel;

/// Exact gradient and Laplacian, `F(k) = i k / k^2 c delta(k)` (Hockney & Eastwood 1988,
/// sec. 5-5; pmwd and JaxPM's default).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct NaiveKernel;

impl ForceKernel for NaiveKernel {
    fn name(&self) -> String {
        "naive".into()
    }
}
