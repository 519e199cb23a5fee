//! The force kernels a config can name, as one type so the pipeline is compiled once.

use pm_force::{FastPmKernel, ForceKernel, NaiveKernel, SharpenedKernel};

use crate::config::{ForceSection, KernelName};

/// One of pm-force's stock kernels, chosen at run time (a `match` per call is cheaper than
/// a virtual call and lets the stock kernels inline).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ConfiguredKernel {
    /// FastPM's finite-difference kernel.
    FastPm(FastPmKernel),
    /// The exact `i k / k^2` kernel.
    Naive(NaiveKernel),
    /// FastPM's kernel with pmwd's sharpening filter.
    Sharpened(SharpenedKernel),
}

impl ConfiguredKernel {
    /// The kernel of a `[force]` section.
    pub fn from_config(force: &ForceSection) -> Self {
        match force.kernel {
            KernelName::Fastpm => Self::FastPm(FastPmKernel),
            KernelName::Naive => Self::Naive(NaiveKernel),
            KernelName::Sharpened => Self::Sharpened(SharpenedKernel::new(force.sharpen)),
        }
    }

    fn inner(&self) -> &dyn ForceKernel {
        match self {
            Self::FastPm(k) => k,
            Self::Naive(k) => k,
            Self::Sharpened(k) => k,
        }
    }
}

macro_rules! dispatch {
    ($self:ident, $k:ident => $e:expr) => {
        match $self {
            ConfiguredKernel::FastPm($k) => $e,
            ConfiguredKernel::Naive($k) => $e,
            ConfiguredKernel::Sharpened($k) => $e,
        }
    };
}

impl ForceKernel for ConfiguredKernel {
    fn name(&self) -> String {
        self.inner().name()
    }
    fn gradient_1d(&self, k: f64, dx: f64) -> f64 {
        dispatch!(self, kernel => kernel.gradient_1d(k, dx))
    }
    fn laplacian_1d(&self, k: f64, dx: f64) -> f64 {
        dispatch!(self, kernel => kernel.laplacian_1d(k, dx))
    }
    #[inline]
    fn filter(&self, k: [f64; 3], dx: [f64; 3], axis: usize) -> f64 {
        dispatch!(self, kernel => kernel.filter(k, dx, axis))
    }
    fn params(&self) -> Vec<f64> {
        dispatch!(self, kernel => kernel.params())
    }
    fn filter_param_grad(&self, k: [f64; 3], dx: [f64; 3], axis: usize, grad: &mut [f64]) {
        dispatch!(self, kernel => kernel.filter_param_grad(k, dx, axis, grad))
    }
}
