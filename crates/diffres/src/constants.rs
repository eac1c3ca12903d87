//! Numerical constants shared by the layer's modules and the host kernels (`cpu`), kept here so
//! that each value is written once and no kernel has to import the module that calls it.

/// The floor added before the warp's logarithm, `log(v + 1e-12)`, as in the reference.
pub const LOG_EPS: f64 = 1e-12;

/// The paper's ε of the guide loss (eq. 7): a frame is empty when its mean linear energy is
/// below `ε` times the loudest frame of its clip (-40 dB). The default of
/// [`crate::DiffResConfig::empty_eps`] and [`crate::FrontEndConfig::empty_eps`].
pub const DEFAULT_EMPTY_EPS: f64 = 1e-4;

/// The paper's guide-loss threshold λ (eq. 7, section 3): the default of
/// [`crate::DiffResConfig::guide_lambda`] and [`crate::FrontEndConfig::guide_lambda`].
pub const DEFAULT_GUIDE_LAMBDA: f64 = 0.5;

#[cfg(test)]
mod tests {
    use super::*;

    /// The configs take their default from the constant (Burn's `#[config(default = ...)]`
    /// names it by path).
    #[test]
    fn config_defaults_are_the_constants() {
        assert_eq!(DEFAULT_EMPTY_EPS, 1e-4);
        assert_eq!(crate::DiffResConfig::new(64).empty_eps, DEFAULT_EMPTY_EPS);
        let kind = crate::FrontEndKind::DiffRes;
        assert_eq!(
            crate::FrontEndConfig::new(kind, 64).empty_eps,
            DEFAULT_EMPTY_EPS
        );
        assert_eq!(DEFAULT_GUIDE_LAMBDA, 0.5);
        assert_eq!(
            crate::DiffResConfig::new(64).guide_lambda,
            DEFAULT_GUIDE_LAMBDA
        );
        assert_eq!(
            crate::FrontEndConfig::new(kind, 64).guide_lambda,
            DEFAULT_GUIDE_LAMBDA
        );
    }
}
