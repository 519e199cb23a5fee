//! Time-step schedules in the scale factor.

use crate::IntegrateError;

/// The scale factors of the step boundaries, from the start of the N-body integration to
/// its end.
///
/// ```
/// use pm_integrate::TimeSteps;
/// let a = TimeSteps::LinearA { a_start: 0.1, a_end: 1.0, steps: 9 }.scale_factors().unwrap();
/// assert_eq!(a.len(), 10);
/// assert!((a[1] - 0.2).abs() < 1e-15);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum TimeSteps {
    /// `steps` equal steps in `a` (FastPM's default).
    LinearA {
        /// First scale factor.
        a_start: f64,
        /// Last scale factor.
        a_end: f64,
        /// Number of steps.
        steps: usize,
    },
    /// `steps` equal steps in `ln a`.
    LogA {
        /// First scale factor.
        a_start: f64,
        /// Last scale factor.
        a_end: f64,
        /// Number of steps.
        steps: usize,
    },
    /// Explicit boundaries, strictly increasing.
    Explicit(Vec<f64>),
}

impl TimeSteps {
    /// The step boundaries (`steps + 1` values), validated: finite, positive, strictly
    /// increasing, at least one step.
    pub fn scale_factors(&self) -> Result<Vec<f64>, IntegrateError> {
        let a = match self {
            TimeSteps::LinearA {
                a_start,
                a_end,
                steps,
            } => {
                check_ends(*a_start, *a_end, *steps)?;
                (0..=*steps)
                    .map(|i| {
                        if i == *steps {
                            *a_end
                        } else {
                            a_start + (a_end - a_start) * i as f64 / *steps as f64
                        }
                    })
                    .collect()
            }
            TimeSteps::LogA {
                a_start,
                a_end,
                steps,
            } => {
                check_ends(*a_start, *a_end, *steps)?;
                let r = (a_end / a_start).ln();
                (0..=*steps)
                    .map(|i| {
                        if i == *steps {
                            *a_end
                        } else {
                            a_start * (r * i as f64 / *steps as f64).exp()
                        }
                    })
                    .collect()
            }
            TimeSteps::Explicit(a) => a.clone(),
        };
        if a.len() < 2 {
            return Err(IntegrateError::Schedule(format!(
                "need at least two scale factors, got {}",
                a.len()
            )));
        }
        if let Some(bad) = a.iter().find(|v| !(v.is_finite() && **v > 0.0)) {
            return Err(IntegrateError::Schedule(format!(
                "scale factor {bad} is not finite and positive"
            )));
        }
        if let Some(w) = a.windows(2).find(|w| w[1] <= w[0]) {
            return Err(IntegrateError::Schedule(format!(
                "scale factors must increase strictly, got {} then {}",
                w[0], w[1]
            )));
        }
        Ok(a)
    }
}

fn check_ends(a_start: f64, a_end: f64, steps: usize) -> Result<(), IntegrateError> {
    if steps == 0 {
        return Err(IntegrateError::Schedule("steps must be at least 1".into()));
    }
    if !(a_start.is_finite() && a_end.is_finite() && a_start > 0.0 && a_end > a_start) {
        return Err(IntegrateError::Schedule(format!(
            "need 0 < a_start < a_end, got a_start = {a_start}, a_end = {a_end}"
        )));
    }
    Ok(())
}
