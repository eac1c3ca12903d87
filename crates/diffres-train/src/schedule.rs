//! The learning rate of every step: a per-epoch step schedule ([`LrSchedule`]) and a linear
//! warm-up over the first steps ([`warmup_factor`]), in the conventions of the authors' code
//! (PSLA's `traintest.py`) so that a recipe's numbers mean what they meant there.
//!
//! # Epoch convention
//!
//! `--lr-schedule START,GAMMA,EVERY` is the paper's Table 4 notation: epoch `START` (1-based) is
//! the first to train at the decayed rate, and the rate is multiplied by `GAMMA` again every
//! `EVERY` epochs after it. In PyTorch this is
//! `MultiStepLR(optimizer, milestones=range(START - 1, EPOCHS, EVERY), gamma=GAMMA)` with
//! `scheduler.step()` called once after each epoch, which is how PSLA's `traintest.py` steps it
//! (its `--lrscheduler_start S` is our `START = S + 1`). `StepLR(step_size=K, gamma)` stepped
//! the same way is `K + 1,GAMMA,K`. The test `multi_step_lr_stepping_gives_the_same_rates`
//! replays PyTorch's stepping rule and checks every epoch's rate.

use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};

/// Step learning-rate schedule: from epoch `start` (1-based) on, multiply the rate by `gamma`
/// every `every` epochs (the paper's Table 4 notation; see the [module docs](self) for the
/// PyTorch equivalent).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LrSchedule {
    /// First epoch at which the rate decays.
    pub start: usize,
    /// Decay factor.
    pub gamma: f64,
    /// Decay period in epochs.
    pub every: usize,
}

impl LrSchedule {
    /// Parses `START,GAMMA,EVERY`, e.g. `25,0.9,1`.
    ///
    /// # Errors
    /// A malformed triple or values out of range.
    pub fn parse(s: &str) -> Result<Self> {
        let parts: Vec<&str> = s.split(',').map(str::trim).collect();
        let bad = || {
            TrainError::Config(format!(
                "--lr-schedule '{s}': expected START,GAMMA,EVERY such as 25,0.9,1"
            ))
        };
        if parts.len() != 3 {
            return Err(bad());
        }
        let schedule = LrSchedule {
            start: parts[0].parse().map_err(|_| bad())?,
            gamma: parts[1].parse().map_err(|_| bad())?,
            every: parts[2].parse().map_err(|_| bad())?,
        };
        if schedule.every == 0 || !(schedule.gamma > 0.0 && schedule.gamma <= 1.0) {
            return Err(bad());
        }
        Ok(schedule)
    }

    /// Learning-rate factor for a 1-based epoch.
    pub fn factor(&self, epoch: usize) -> f64 {
        if epoch < self.start {
            1.0
        } else {
            self.gamma
                .powi(((epoch - self.start) / self.every + 1) as i32)
        }
    }
}

impl std::fmt::Display for LrSchedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{},{},{}", self.start, self.gamma, self.every)
    }
}

impl std::str::FromStr for LrSchedule {
    type Err = TrainError;

    /// See [`LrSchedule::parse`].
    fn from_str(s: &str) -> Result<Self> {
        LrSchedule::parse(s)
    }
}

/// Times the warm-up's rate changes over its length (PSLA: every 50 of 1,000 steps).
pub const WARMUP_UPDATES: usize = 20;

/// Warm-up factor of a 0-based global training step: PSLA's warm-up generalised to `steps`
/// steps. The rate is `s0 / steps` of the scheduled one, where `s0` is the step rounded down to
/// a multiple of `steps / WARMUP_UPDATES`, until step `steps`, and 1 after; so the very first
/// step trains at rate 0, as in PSLA (its Adam moments still see the gradient). `steps = 0`:
/// no warm-up.
pub fn warmup_factor(step: usize, steps: usize) -> f64 {
    if steps == 0 || step >= steps {
        return 1.0;
    }
    let interval = (steps / WARMUP_UPDATES).max(1);
    (step / interval * interval) as f64 / steps as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_matches_the_papers_notation() {
        let s = LrSchedule::parse("3,0.5,2").unwrap();
        let f: Vec<f64> = (1..=7).map(|e| s.factor(e)).collect();
        assert_eq!(f, vec![1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.125]);
        assert!(LrSchedule::parse("3,0.5").is_err());
        assert!(LrSchedule::parse("3,1.5,1").is_err());
        assert_eq!(s.to_string().parse::<LrSchedule>().unwrap(), s);
    }

    /// PyTorch's `MultiStepLR` as PSLA steps it: the rate of epoch `e` (1-based) is the
    /// initial one times gamma for every milestone the scheduler's counter has reached after
    /// the `e - 1` calls of `scheduler.step()` that follow the epochs before it.
    fn multi_step_lr(milestones: &[usize], gamma: f64, epochs: usize) -> Vec<f64> {
        let (mut lr, mut last_epoch) = (1.0, 0usize);
        let mut rates = Vec::new();
        for _ in 1..=epochs {
            rates.push(lr);
            last_epoch += 1; // scheduler.step() after the epoch
            lr *= gamma.powi(milestones.iter().filter(|&&m| m == last_epoch).count() as i32);
        }
        rates
    }

    #[test]
    fn multi_step_lr_stepping_gives_the_same_rates() {
        let epochs = 60;
        for (start, gamma, every) in [(25, 0.9, 1), (11, 0.5, 5), (41, 0.95, 1), (2, 0.5, 3)] {
            let ours = LrSchedule {
                start,
                gamma,
                every,
            };
            let milestones: Vec<usize> = (start - 1..epochs).step_by(every).collect();
            let torch = multi_step_lr(&milestones, gamma, epochs);
            for (e, want) in (1..=epochs).zip(torch) {
                let got = ours.factor(e);
                assert!(
                    (got - want).abs() < 1e-12,
                    "{start},{gamma},{every} epoch {e}"
                );
            }
        }
        // StepLR(step_size=K) = MultiStepLR at K, 2K, ...: our K + 1,GAMMA,K.
        let step_lr: Vec<usize> = (1..=epochs).map(|e| (e - 1) / 4).collect();
        let ours = LrSchedule {
            start: 5,
            gamma: 0.5,
            every: 4,
        };
        for (e, k) in (1..=epochs).zip(step_lr) {
            assert_eq!(ours.factor(e), 0.5f64.powi(k as i32), "epoch {e}");
        }
    }

    #[test]
    fn warmup_is_pslas_staircase() {
        // PSLA: lr = step / 1000 * lr at every 50th step up to 1000.
        assert_eq!(warmup_factor(0, 1000), 0.0);
        assert_eq!(warmup_factor(49, 1000), 0.0);
        assert_eq!(warmup_factor(50, 1000), 0.05);
        assert_eq!(warmup_factor(999, 1000), 0.95);
        assert_eq!(warmup_factor(1000, 1000), 1.0);
        assert_eq!(warmup_factor(5, 0), 1.0);
        assert_eq!(warmup_factor(3, 10), 0.3);
    }
}
