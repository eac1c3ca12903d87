//! d-prime, the AudioSet summary of a mean AUC, and the inverse normal CDF it needs.

/// Inverse of the standard normal CDF, Wichura's algorithm AS241 (PPND16), accurate to
/// about 1e-16 relative. `p` must lie in (0, 1); 0 and 1 give `-inf` / `+inf`, anything
/// else outside (or NaN) gives NaN.
// The coefficients are the published ones (Wichura 1988), kept at full length.
#[allow(clippy::excessive_precision)]
pub fn inverse_normal_cdf(p: f64) -> f64 {
    if p.is_nan() || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    let q = p - 0.5;
    if q.abs() <= 0.425 {
        let r = 0.180625 - q * q;
        let num = (((((((2.509_080_928_730_122_7e3 * r + 3.343_057_558_358_812_8e4) * r
            + 6.726_577_092_700_870_1e4)
            * r
            + 4.592_195_393_154_987_1e4)
            * r
            + 1.373_169_376_550_946_1e4)
            * r
            + 1.971_590_950_306_551_4e3)
            * r
            + 1.331_416_678_917_843_8e2)
            * r
            + 3.387_132_872_796_366_6)
            * q;
        let den = ((((((5.226_495_278_852_854_6e3 * r + 2.872_908_573_572_194_3e4) * r
            + 3.930_789_580_009_271_1e4)
            * r
            + 2.121_379_430_158_659_6e4)
            * r
            + 5.394_196_021_424_751e3)
            * r
            + 6.871_870_074_920_579e2)
            * r
            + 4.231_333_070_160_091e1)
            * r
            + 1.0;
        return num / den;
    }
    let mut r = if q <= 0.0 { p } else { 1.0 - p };
    r = (-r.ln()).sqrt();
    let x = if r <= 5.0 {
        r -= 1.6;
        let num = ((((((7.745_450_142_783_414e-4 * r + 2.272_384_498_926_918_5e-2) * r
            + 2.417_807_251_774_506e-1)
            * r
            + 1.270_458_252_452_368_4)
            * r
            + 3.647_848_324_763_204_6)
            * r
            + 5.769_497_221_460_691)
            * r
            + 4.630_337_846_156_545)
            * r
            + 1.423_437_110_749_683_6;
        let den = ((((((1.050_750_071_644_416_8e-9 * r + 5.475_938_084_995_345e-4) * r
            + 1.519_866_656_361_645_7e-2)
            * r
            + 1.481_039_764_274_800_8e-1)
            * r
            + 6.897_673_349_851e-1)
            * r
            + 1.676_384_830_183_803_8)
            * r
            + 2.053_191_626_637_758_8)
            * r
            + 1.0;
        num / den
    } else {
        r -= 5.0;
        let num = ((((((2.010_334_399_292_288_1e-7 * r + 2.711_555_568_743_487_6e-5) * r
            + 1.242_660_947_388_078_4e-3)
            * r
            + 2.653_218_952_657_612_3e-2)
            * r
            + 2.965_605_718_285_048_9e-1)
            * r
            + 1.784_826_539_917_291_3)
            * r
            + 5.463_784_911_164_114)
            * r
            + 6.657_904_643_501_103_8;
        let den = ((((((2.044_263_103_389_939_8e-15 * r + 1.421_511_758_316_445_9e-7) * r
            + 1.846_318_317_510_054_7e-5)
            * r
            + 7.868_691_311_456_132_6e-4)
            * r
            + 1.487_536_129_085_061_5e-2)
            * r
            + 1.369_298_809_227_358e-1)
            * r
            + 5.998_322_065_558_879_4e-1)
            * r
            + 1.0;
        num / den
    };
    if q < 0.0 {
        -x
    } else {
        x
    }
}

/// d-prime from an AUC: `sqrt(2) * Phi^{-1}(auc)`, with `auc` clamped to
/// `(1e-12, 1 - 1e-12)` so that a perfect (or perfectly wrong) classifier gives a large
/// finite value. NaN gives NaN.
pub fn d_prime(auc: f64) -> f64 {
    if auc.is_nan() {
        return f64::NAN;
    }
    std::f64::consts::SQRT_2 * inverse_normal_cdf(auc.clamp(1e-12, 1.0 - 1e-12))
}

#[cfg(test)]
mod tests {
    use super::super::test_util::close;
    use super::*;

    #[test]
    fn d_prime_values() {
        // sqrt(2) * scipy.stats.norm.ppf(auc)
        assert!(d_prime(0.5).abs() < 1e-15);
        assert!(close(d_prime(0.8413447), 1.414213293122539, 1e-9));
        assert!(close(
            d_prime(0.8413447460685429),
            std::f64::consts::SQRT_2,
            1e-9
        ));
        assert!(close(d_prime(0.9), 1.8123876048736465, 1e-9));
        assert!(close(d_prime(0.99), 3.289952714266374, 1e-9));
        assert!(close(d_prime(0.01), -3.289952714266374, 1e-9));
        assert!(close(d_prime(0.999999), 6.7223571252430805, 1e-9));
        // Clamped, finite at the ends.
        assert!(d_prime(1.0).is_finite() && d_prime(1.0) > 9.0);
        assert!(d_prime(0.0).is_finite() && d_prime(0.0) < -9.0);
        assert!(d_prime(f64::NAN).is_nan());
        // Symmetry and monotonicity over a sweep.
        let mut prev = f64::NEG_INFINITY;
        for i in 1..1000 {
            let p = i as f64 / 1000.0;
            let z = inverse_normal_cdf(p);
            assert!(z > prev);
            assert!(close(z, -inverse_normal_cdf(1.0 - p), 1e-12));
            prev = z;
        }
    }
}
