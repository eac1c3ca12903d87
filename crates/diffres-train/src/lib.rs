//! # diffres-train
//!
//! Everything after the layer: datasets to features ([`data`]), batches and augmentation
//! ([`batch`]), recipes ([`recipe`]), learning-rate schedules ([`schedule`]), weight
//! averaging ([`averaging`]), the model ([`model::AudioModel`]: a front end from `diffres` and a classifier
//! from `diffres-models`), initialising it from checkpoints ([`init`]), the training loop
//! ([`trainer::train`]), the run folder ([`run`]), evaluation and prediction ([`inference`]),
//! PyTorch-named export ([`export`]), experiment grids ([`experiment`]), the demo
//! ([`demo`]), and figures ([`visualize`] for audio files and training curves,
//! [`analysis_figures`] for the confusion matrix and per-class comparisons).
//!
//! Every run is reproducible: all randomness derives from the run's seed, per epoch and step,
//! so a killed run resumed with `resume: true` continues exactly where it stopped.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod ablation;
pub mod analysis_figures;
pub mod averaging;
pub mod batch;
pub mod config;
pub mod curves;
pub mod data;
pub mod demo;
pub mod error;
pub mod experiment;
pub mod export;
pub mod filterbank;
pub mod grid;
pub mod hops;
pub mod inference;
pub mod init;
pub mod integrity;
pub mod lock;
pub mod loss;
pub mod model;
pub mod predict;
pub mod recipe;
pub mod reporter;
pub mod run;
pub mod schedule;
pub mod steps;
pub mod table3;
pub mod trainer;
pub mod visualize;

pub use config::{LrSchedule, TrainConfig};
pub use error::{error_chain, Result, TrainError};
pub use recipe::Recipe;
pub use run::{RunDir, RunInfo, RunResults};
pub use trainer::{train, TrainOptions};
