//! The command line's arguments: one struct per command, parsed by clap into typed options
//! (every kind through its `FromStr`), with the training defaults taken from
//! [`TrainConfig::default`].

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use diffres::{Aggregation, FrontEndKind, ScoreNormalization, WarpKind};
use diffres_audio::{FeatureKind, Normalization};
use diffres_data::Format;
use diffres_models::{ClassifierHead, ClassifierKind};
use diffres_train::batch::MixupDomain;
use diffres_train::config::{Balance, DEFAULT_SEED};
use diffres_train::filterbank::FilterbankKind;
use diffres_train::loss::LossKind;
use diffres_train::model::ComputeDevice;
use diffres_train::predict::DEFAULT_TOP_K;
use diffres_train::{LrSchedule, Recipe, TrainConfig};

/// `--normalize`: fixed values, measured on the training features, or none.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum NormalizeArg {
    /// `MEAN,STD`.
    Fixed(Normalization),
    /// `auto`: measured on the training clips' features.
    Auto,
    /// `none`.
    Off,
}

impl std::str::FromStr for NormalizeArg {
    type Err = diffres_audio::AudioError;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(NormalizeArg::Auto),
            "none" | "off" => Ok(NormalizeArg::Off),
            _ => s.parse().map(NormalizeArg::Fixed),
        }
    }
}

/// Audio classification with DiffRes, a learned temporal resolution (Liu et al., ICLR 2023).
///
/// DiffRes sits between a log-mel spectrogram and a classifier: it scores every frame, keeps
/// the important ones and merges the rest, so the classifier sees 25-75% fewer frames.
/// Start with `diffres demo`; train on your own data with `diffres train --data DIR`.
#[derive(Parser, Debug)]
#[command(name = "diffres", version, about, long_about)]
pub(crate) struct Cli {
    /// Threads for every pool (feature extraction, the layer's kernels, the tensor backend);
    /// default: one per core.
    #[arg(long, global = true, value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) threads: Option<u16>,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Show DiffRes working in minutes: synthetic sound events, 100-FPS baseline vs DiffRes,
    /// AvgPool and ChangeHopSize at 25 and 50 FPS; writes report.md with a table and figures.
    Demo(DemoArgs),
    /// Train a front end + classifier on a labelled audio dataset.
    Train(TrainArgs),
    /// Evaluate a trained run on its test split (or on another dataset with the same labels).
    Eval(EvalArgs),
    /// Predict the labels of audio files with a trained run.
    Predict(PredictArgs),
    /// Draw the paper's Figure 4 for audio files (score, input, output, resolution encoding)
    /// and Figure 11 (their warp matrices), Figures 6-7 (activeness, guide loss) and the
    /// confusion matrix of a run, or Figure 10a (per-class change) between two runs.
    Visualize(VisualizeArgs),
    /// Run the paper's Table 1 grid: front ends x reductions x seeds (resumable).
    Experiment(ExperimentArgs),
    /// Write the synthetic sound-event dataset (WAV + manifest.csv).
    Synth(SynthArgs),
    /// Write a trained run's model as PyTorch-named safetensors: the classifier under PSLA's
    /// EffNetAttention names, the DiffRes layer under pydiffres' DiffRes names.
    Export(ExportArgs),
    /// Print a shell completion script (e.g. `diffres completions bash > ~/.local/share/bash-completion/completions/diffres`).
    Completions(CompletionsArgs),
}

#[derive(Args, Debug)]
pub(crate) struct CompletionsArgs {
    /// Shell: bash, zsh, fish, elvish or powershell.
    pub(crate) shell: clap_complete::Shell,
}

#[derive(Args, Debug)]
pub(crate) struct DemoArgs {
    /// Output folder (data, runs, figures, report.md).
    #[arg(long, default_value = "runs/demo")]
    pub(crate) out: PathBuf,
    /// Tiny version (4 clips per class, 1 epoch, 25 FPS only): checks the pipeline in seconds.
    #[arg(long)]
    pub(crate) quick: bool,
    /// Seed of the data and the training runs.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub(crate) seed: u64,
    /// Epochs per run (default 20; 1 with --quick).
    #[arg(long)]
    pub(crate) epochs: Option<usize>,
    /// Synthetic clips per class (default 120; 4 with --quick).
    #[arg(long)]
    pub(crate) clips_per_class: Option<usize>,
    /// No progress bars (warnings are still shown).
    #[arg(long)]
    pub(crate) quiet: bool,
    /// Device: cpu, or wgpu / vulkan in a build with that cargo feature.
    #[arg(long, default_value_t = defaults().device)]
    pub(crate) device: ComputeDevice,
}

/// The front end and its reduction (for `train`; `experiment` takes lists instead).
#[derive(Args, Debug, Clone)]
pub(crate) struct FrontEndOpts {
    /// Front end: diffres, avgpool, avgmaxpool, convavgpool, changehopsize, identity.
    #[arg(long, default_value_t = defaults().frontend)]
    pub(crate) frontend: FrontEndKind,
    /// Fraction of frames removed (delta), in (0, 1): 0.75 keeps 25%.
    #[arg(long, default_value_t = defaults().reduction)]
    pub(crate) reduction: f64,
}

/// Dataset, classifier and optimisation options.
#[derive(Args, Debug, Clone)]
pub(crate) struct TrainOpts {
    /// Dataset: a folder (one sub-folder per class, ESC-50, Speech Commands or FSDD layout) or a CSV manifest.
    /// With --resume it may be left out: the run's config.json has it.
    #[arg(long)]
    pub(crate) data: Option<PathBuf>,
    /// Dataset layout: auto, folders, csv, esc50, speech-commands, fsdd, audioset, fsd50k, nsynth.
    #[arg(long, default_value_t = defaults().format)]
    pub(crate) format: Format,
    /// Validation fraction (for layouts without an official validation split).
    #[arg(long, default_value_t = defaults().val_fraction)]
    pub(crate) val_fraction: f64,
    /// Test fraction (for layouts without an official test split).
    #[arg(long, default_value_t = defaults().test_fraction)]
    pub(crate) test_fraction: f64,
    /// ESC-50 test fold (1-5).
    #[arg(long)]
    pub(crate) fold: Option<u32>,
    /// Spectrogram hop in milliseconds (1-40).
    #[arg(long, default_value_t = defaults().hop_ms)]
    pub(crate) hop_ms: f32,
    /// Mel bins.
    #[arg(long, default_value_t = defaults().mels)]
    pub(crate) mels: usize,
    /// Input features: log-mel (librosa-style) or kaldi (Kaldi filterbanks, as PSLA, AST and
    /// the authors' DiffRes recipes compute them).
    #[arg(long, default_value_t = defaults().features)]
    pub(crate) features: FeatureKind,
    /// Filterbank: mel (the fixed features above) or one learned from the waveform with the
    /// model: tdfbank (time-domain filterbanks), sincnet or leaf, --mels filters at --hop-ms,
    /// initialised on the mel scale; any temporal front end follows it (LEAF + DiffRes).
    #[arg(long, default_value_t = defaults().filterbank)]
    pub(crate) filterbank: FilterbankKind,
    /// Normalise the features as PSLA does, (x - MEAN) / (2 STD): MEAN,STD of the dataset
    /// (e.g. -4.2677393,4.5689974, PSLA's AudioSet values), auto (the mean and standard
    /// deviation of the training clips' features, measured when the run starts and saved in
    /// config.json) or none.
    #[arg(long, allow_hyphen_values = true)]
    pub(crate) normalize: Option<NormalizeArg>,
    /// DiffRes score normalisation: exact (scores sum to t, every output frame gets weight 1)
    /// or reference (the authors' rule, for comparison).
    #[arg(long, default_value_t = defaults().score_norm)]
    pub(crate) score_norm: ScoreNormalization,
    /// DiffRes importance-network dilation growth: 1 = the paper's 41-frame receptive field,
    /// 2 widens it to 125 frames (useful at 1 ms hops).
    #[arg(long, default_value_t = defaults().dilation)]
    pub(crate) dilation: usize,
    /// DiffRes guide loss: frames below this fraction of the clip's loudest frame's energy
    /// count as empty (the paper's epsilon).
    #[arg(long, default_value_t = defaults().empty_eps)]
    pub(crate) empty_eps: f64,
    /// DiffRes guide-loss threshold lambda (paper eq. 7): empty frames are penalised only for
    /// scores above lambda (1 - delta). The paper uses 0.5 and notes it may need tuning.
    #[arg(long, default_value_t = defaults().guide_lambda)]
    pub(crate) guide_lambda: f64,
    /// DiffRes ablation (paper Figure 8): the aggregations given to the classifier, mean, max
    /// or mean,max (the paper's).
    #[arg(long, default_value_t = defaults().aggregation)]
    pub(crate) aggregation: Aggregation,
    /// DiffRes ablation (paper Figure 8): leave the resolution encoding channel out.
    #[arg(long)]
    pub(crate) no_resolution_encoding: bool,
    /// DiffRes ablation (paper Figure 8): full (equation 5 then Algorithm 1, every output
    /// frame gets weight 1; the paper's) or eq5 (equation 5 alone).
    #[arg(long, default_value_t = defaults().warp)]
    pub(crate) warp: WarpKind,
    /// Frames per clip (pad or crop); default: the longest training clip (at most
    /// 30 s of audio: 3,000 frames at 10 ms, 30,000 at 1 ms). Cropped clips are reported.
    #[arg(long)]
    pub(crate) frames: Option<usize>,
    /// Give the front end each clip's true length (padding is ignored, not treated as signal).
    #[arg(long)]
    pub(crate) variable_length: bool,
    /// Classifier: cnn, efficientnet-b0, efficientnet-b2.
    #[arg(long, default_value_t = defaults().model)]
    pub(crate) model: ClassifierKind,
    /// Width of the compact CNN's first block.
    #[arg(long, default_value_t = defaults().cnn_width)]
    pub(crate) cnn_width: usize,
    /// Dropout before the compact CNN's classifier (EfficientNet: drop-connect rate); 0 = off.
    #[arg(long, default_value_t = defaults().dropout)]
    pub(crate) dropout: f64,
    /// EfficientNet's head: logits, or psla (PSLA's model exactly: sigmoid branches and static
    /// padding, probabilities out, trained with BCE on them).
    #[arg(long, default_value_t = defaults().head)]
    pub(crate) head: ClassifierHead,
    /// Initialise from a checkpoint (repeatable; the kind is read from its names): a run folder
    /// or one of its .bpk files, a PyTorch .pth of PSLA's EffNetAttention or efficientnet_pytorch
    /// (the classifier) or of pydiffres' DiffRes (the front end), or safetensors.
    #[arg(long)]
    pub(crate) init: Vec<PathBuf>,
    /// Epochs.
    #[arg(long, default_value_t = defaults().epochs)]
    pub(crate) epochs: usize,
    /// Batch size.
    #[arg(long, default_value_t = defaults().batch_size)]
    pub(crate) batch_size: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = defaults().lr)]
    pub(crate) lr: f64,
    /// Step schedule START,GAMMA,EVERY, the paper's Table 4 notation: epoch START is the first
    /// to train at GAMMA times the rate, and it is multiplied by GAMMA again every EVERY
    /// epochs (25,0.9,1: epochs 1-24 at --lr, 25 at 0.9x, 26 at 0.81x). In PyTorch: MultiStepLR
    /// with milestones range(START-1, EPOCHS, EVERY), scheduler.step() after each epoch, as
    /// PSLA steps it (PSLA's --lrscheduler_start S is START = S+1).
    #[arg(long)]
    pub(crate) lr_schedule: Option<LrSchedule>,
    /// Warm-up: the learning rate grows linearly from 0 over the first N steps, updated 20
    /// times (PSLA: 1000 steps, every 50); 0 = none.
    #[arg(long, default_value_t = defaults().warmup_steps)]
    pub(crate) warmup_steps: usize,
    /// Adam's beta1 (PSLA trains with 0.95).
    #[arg(long, default_value_t = defaults().adam_beta1)]
    pub(crate) adam_beta1: f64,
    /// Adam's L2 weight decay, added to the gradient like PyTorch's Adam(weight_decay) (PSLA
    /// 5e-7); 0 = none.
    #[arg(long, default_value_t = defaults().weight_decay)]
    pub(crate) weight_decay: f64,
    /// Weight averaging: evaluate (test, eval, predict) with the mean of the weights of every
    /// epoch from this one to the last, as PSLA's --wa; saved with the checkpoints, so a
    /// resumed run averages the same epochs.
    #[arg(long)]
    pub(crate) average_from: Option<usize>,
    /// Classification loss: auto (bce for multi-label data and PSLA's head, softmax
    /// cross-entropy otherwise), bce (also for single-label data: the paper's equation 8, the
    /// authors' recipes) or ce.
    #[arg(long, default_value_t = defaults().loss)]
    pub(crate) loss: LossKind,
    /// The paper's recipe for a task: speechcommands, esc50, audioset, fsd50k or nsynth. Sets
    /// Table 4's and Table 5's values and, where the paper is silent, the authors' scripts'
    /// (model, features, SpecAugment, mixup, loss, normalisation, averaging, warm-up, Adam);
    /// prints them; every option given here overrides the recipe's.
    #[arg(long)]
    pub(crate) recipe: Option<Recipe>,
    /// The options given on the command line (clap ids), for --recipe to leave them alone.
    #[arg(skip)]
    pub(crate) explicit: Vec<String>,
    /// Seed of everything random.
    #[arg(long, default_value_t = defaults().seed)]
    pub(crate) seed: u64,
    /// SpecAugment: one frequency and one time mask per clip (by default up to 37.5% of the
    /// bins and 50% of the frames; see --freq-mask, --time-mask).
    #[arg(long)]
    pub(crate) specaugment: bool,
    /// SpecAugment's widest frequency mask in bins (PSLA's --freqm); turns SpecAugment on.
    #[arg(long)]
    pub(crate) freq_mask: Option<usize>,
    /// SpecAugment's widest time mask in frames (PSLA's --timem); turns SpecAugment on.
    #[arg(long)]
    pub(crate) time_mask: Option<usize>,
    /// Mixup: each clip is mixed with another of its batch with this probability (alone:
    /// 0.5), weights from Beta(10, 10); 0 = off.
    #[arg(long, num_args = 0..=1, default_value_t = defaults().mixup, default_missing_value = "0.5")]
    pub(crate) mixup: f64,
    /// What mixup mixes: logmel (the features) or waveform (the mean-free waveforms, then
    /// the features of the mix: PSLA's way).
    #[arg(long, default_value_t = defaults().mixup_on)]
    pub(crate) mixup_on: MixupDomain,
    /// Weight of DiffRes's guide loss (0 turns it off: the ablation of Figure 8; it is still
    /// measured and logged).
    #[arg(long, default_value_t = defaults().guide_weight)]
    pub(crate) guide_weight: f64,
    /// Write one line to steps.jsonl (loss, guide loss, activeness of that step's batch) every
    /// N training steps; steps.png draws them against the step, with the validation metric.
    #[arg(long, default_value_t = defaults().log_every)]
    pub(crate) log_every: usize,
    /// Class re-balancing sampler: on, off, or auto (on for multi-label data).
    #[arg(long, default_value_t = Balance::from(defaults().balance))]
    pub(crate) balance: Balance,
    /// Fail on the first unreadable audio file instead of skipping it.
    #[arg(long)]
    pub(crate) strict: bool,
    /// Device: cpu, or wgpu / vulkan in a build with that cargo feature.
    #[arg(long, default_value_t = defaults().device)]
    pub(crate) device: ComputeDevice,
    /// Feature cache folder (default ~/.cache/diffres); "none" disables it.
    #[arg(long)]
    pub(crate) cache_dir: Option<PathBuf>,
    /// Read features from the feature cache batch by batch instead of holding them in memory
    /// (chosen by itself for datasets with more than 4 GiB of features).
    #[arg(long)]
    pub(crate) stream: bool,
    /// No progress bars (warnings are still shown).
    #[arg(long)]
    pub(crate) quiet: bool,
}

#[derive(Args, Debug)]
pub(crate) struct TrainArgs {
    #[command(flatten)]
    pub(crate) frontend: FrontEndOpts,
    #[command(flatten)]
    pub(crate) opts: TrainOpts,
    /// Run folder (config.json, metrics.jsonl, results.json, checkpoints, curves).
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// Continue a killed run in --out from its last finished epoch. Alone (without --data) it
    /// continues the run as its config.json says; --epochs may raise the epoch count.
    #[arg(long)]
    pub(crate) resume: bool,
    /// ESC-50: 5-fold cross-validation, one run per test fold in --out/fold-K, and the mean and
    /// standard deviation in --out/cv.json.
    #[arg(long)]
    pub(crate) cv: bool,
}

#[derive(Args, Debug)]
pub(crate) struct EvalArgs {
    /// Run folder written by `diffres train`.
    #[arg(long)]
    pub(crate) run: PathBuf,
    /// Evaluate on this dataset instead of the run's own test split.
    #[arg(long)]
    pub(crate) data: Option<PathBuf>,
    /// Print the metrics as JSON on stdout (the summary line goes to stderr either way).
    #[arg(long)]
    pub(crate) json: bool,
    /// No progress bars (warnings are still shown).
    #[arg(long)]
    pub(crate) quiet: bool,
    /// Device to run on: cpu, or wgpu / vulkan in a build with that cargo feature (default:
    /// the run's own, or cpu in a build without it).
    #[arg(long)]
    pub(crate) device: Option<ComputeDevice>,
}

#[derive(Args, Debug)]
pub(crate) struct PredictArgs {
    /// Run folder written by `diffres train`.
    #[arg(long)]
    pub(crate) run: PathBuf,
    /// Audio files (WAV, FLAC, OGG, MP3) or folders of them (searched recursively). Files of
    /// any length: a window of the run's training length slides over each whole file.
    #[arg(required = true)]
    pub(crate) files: Vec<PathBuf>,
    /// Labels per file (and per window), most probable first.
    #[arg(long, default_value_t = DEFAULT_TOP_K as u64, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) top_k: u64,
    /// Report every label scoring at least this probability instead of the top k (for
    /// multi-label runs).
    #[arg(long)]
    pub(crate) threshold: Option<f32>,
    /// Seconds between window starts (default: half the run's window).
    #[arg(long)]
    pub(crate) window_hop: Option<f64>,
    /// Print JSON objects ({file, duration_s, labels: [{label, score}], windows: [{start_s,
    /// end_s, labels}]}) instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
    /// Device to run on: cpu, or wgpu / vulkan in a build with that cargo feature (default:
    /// the run's own, or cpu in a build without it).
    #[arg(long)]
    pub(crate) device: Option<ComputeDevice>,
}

#[derive(Args, Debug)]
pub(crate) struct VisualizeArgs {
    /// Run folder written by `diffres train`: draws activeness.png and guide_loss.png, and,
    /// for a single-label run with a test split, confusion.png (its test confusion matrix,
    /// rows true class, columns predicted, shaded by row share). Needed unless --compare is
    /// given.
    #[arg(long)]
    pub(crate) run: Option<PathBuf>,
    /// Audio files to draw (each whole, or the part --start/--end chooses): FILE.png
    /// (Figure 4) and, for a DiffRes run, FILE-warp.png (Figure 11, the clip's warp matrix).
    pub(crate) files: Vec<PathBuf>,
    /// An eval.json written by `diffres eval` (e.g. on another dataset): also draws its
    /// confusion matrix, confusion-eval.png (with --run).
    #[arg(long, value_name = "EVAL_JSON")]
    pub(crate) eval: Option<PathBuf>,
    /// Figure 10a: the per-class metric change from run A to run B (e.g. two hop sizes),
    /// sorted by the change, as `per-class-<metric>.png` and `per-class-<metric>.csv` (class,
    /// a, b, change). A and B are run folders, results.json or eval.json files, with the same
    /// classes. The metric is the one the runs' primary metric is built on: per-class AP for
    /// multi-label runs (mAP is its mean), per-class accuracy for single-label ones.
    #[arg(long, num_args = 2, value_names = ["A", "B"])]
    pub(crate) compare: Vec<PathBuf>,
    /// Start of the part to draw, in seconds.
    #[arg(long, default_value_t = 0.0)]
    pub(crate) start: f64,
    /// End of the part to draw, in seconds (default: the end of the file).
    #[arg(long)]
    pub(crate) end: Option<f64>,
    /// Output folder for the PNGs (and the CSV of --compare).
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// Device to run on: cpu, or wgpu / vulkan in a build with that cargo feature (default:
    /// the run's own, or cpu in a build without it).
    #[arg(long)]
    pub(crate) device: Option<ComputeDevice>,
}

/// `experiment --reductions` by default (the paper's Table 1).
pub(crate) const DEFAULT_REDUCTIONS: &str = "0.25,0.5,0.75";

#[derive(Args, Debug)]
pub(crate) struct ExperimentArgs {
    #[command(flatten)]
    pub(crate) opts: TrainOpts,
    /// Front ends to compare, comma-separated (the identity baseline is always included).
    #[arg(long, default_value = "diffres,avgpool,changehopsize,convavgpool")]
    pub(crate) frontends: String,
    /// Reductions, comma-separated (with --ablations: one, default 0.75 as in the paper).
    #[arg(long, default_value = DEFAULT_REDUCTIONS)]
    pub(crate) reductions: String,
    /// Run the paper's Figure 8 ablations instead of the grid: DiffRes as published, without
    /// the guide loss (--guide-weight 0), without the resolution encoding, without the max
    /// aggregation (--aggregation mean) and without Algorithm 1 (--warp eq5), each with the
    /// other options given here; writes ablations.md, ablations.csv and ablations.png (guide
    /// loss, activeness and validation metric against the training step).
    #[arg(long)]
    pub(crate) ablations: bool,
    /// Run the paper's Table 2 instead of the grid: one column per hop (e.g. 10,6,3,1), DiffRes
    /// at the reduction that keeps --fps frames per second (the identity where that is every
    /// frame); frames per clip follow the clip length at each hop. Writes table2.md,
    /// table2.csv and table2.png.
    #[arg(long)]
    pub(crate) hops_ms: Option<String>,
    /// Output frames per second at every hop of --hops-ms.
    #[arg(long, default_value_t = diffres_train::hops::TABLE2_FPS)]
    pub(crate) fps: f64,
    /// Run the paper's Table 3 instead of the grid: one column per filterbank (e.g.
    /// mel,tdfbank,sincnet,leaf; each with the identity front end at --hop-ms) and a
    /// Mel+DiffRes column at the same frame rate (see --diffres-hop-ms). Writes table3.md,
    /// table3.csv and table3.png. The paper's setting: --model efficientnet-b0 --mels 40,
    /// no SpecAugment or mixup.
    #[arg(long)]
    pub(crate) filterbanks: Option<String>,
    /// Table 3's Mel+DiffRes column: DiffRes on a mel spectrogram of this finer hop, keeping
    /// the frame rate of --hop-ms (6 ms: 40% of the frames removed); 0 leaves the column out.
    #[arg(long, default_value_t = diffres_train::table3::DEFAULT_DIFFRES_HOP_MS)]
    pub(crate) diffres_hop_ms: f32,
    /// Seeds per cell (seed, seed+1, ...).
    #[arg(long, default_value_t = 3)]
    pub(crate) seeds: usize,
    /// ESC-50: run the grid once per test fold (in --out/fold-K) and report the mean over
    /// folds and seeds in --out/table.md.
    #[arg(long)]
    pub(crate) cv: bool,
    /// Output folder (one run folder per cell, table.md, table.csv, table.png).
    #[arg(long)]
    pub(crate) out: PathBuf,
}

#[derive(Args, Debug)]
pub(crate) struct ExportArgs {
    /// Run folder written by `diffres train` (its best checkpoint is exported).
    #[arg(long)]
    pub(crate) run: PathBuf,
    /// Output file (safetensors).
    #[arg(long)]
    pub(crate) out: PathBuf,
}

#[derive(Args, Debug)]
pub(crate) struct SynthArgs {
    /// Output folder.
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// Clips per class.
    #[arg(long, default_value_t = 100)]
    pub(crate) clips_per_class: usize,
    /// Clip length in seconds.
    #[arg(long, default_value_t = 1.0)]
    pub(crate) seconds: f32,
    /// Seed.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub(crate) seed: u64,
    /// Signal-to-noise range of the events in dB, as LOW,HIGH.
    #[arg(long, default_value = "0,20")]
    pub(crate) snr_db: String,
}

impl TrainOpts {
    /// The training configuration for `frontend` (a `train` run, or one cell of an experiment).
    pub(crate) fn config(&self, frontend: &FrontEndOpts) -> Result<TrainConfig> {
        let Some(data) = &self.data else {
            bail!("--data is required (it may be left out only with --resume)");
        };
        let config = TrainConfig {
            data: data.clone(),
            score_norm: self.score_norm,
            dilation: self.dilation,
            empty_eps: self.empty_eps,
            guide_lambda: self.guide_lambda,
            aggregation: self.aggregation,
            no_resolution_encoding: self.no_resolution_encoding,
            warp: self.warp,
            format: self.format,
            val_fraction: self.val_fraction,
            test_fraction: self.test_fraction,
            fold: self.fold,
            frontend: frontend.frontend,
            reduction: if frontend.frontend == FrontEndKind::Identity {
                0.0
            } else {
                frontend.reduction
            },
            hop_ms: self.hop_ms,
            mels: self.mels,
            features: self.features,
            filterbank: self.filterbank,
            normalize: match self.normalize {
                Some(NormalizeArg::Fixed(n)) => Some(n),
                _ => None,
            },
            normalize_from_training: self.normalize == Some(NormalizeArg::Auto),
            frames: self.frames,
            variable_length: self.variable_length,
            model: self.model,
            cnn_width: self.cnn_width,
            dropout: self.dropout,
            head: self.head,
            init: self.init.clone(),
            epochs: self.epochs,
            batch_size: self.batch_size,
            lr: self.lr,
            lr_schedule: self.lr_schedule,
            seed: self.seed,
            specaugment: self.specaugment || self.freq_mask.is_some() || self.time_mask.is_some(),
            freq_mask: self.freq_mask,
            time_mask: self.time_mask,
            mixup: self.mixup,
            mixup_on: self.mixup_on,
            loss: self.loss,
            average_from: self.average_from,
            warmup_steps: self.warmup_steps,
            adam_beta1: self.adam_beta1,
            weight_decay: self.weight_decay,
            guide_weight: self.guide_weight,
            balance: self.balance.into(),
            strict: self.strict,
            device: self.device,
            stream: self.stream,
            log_every: self.log_every,
            ..TrainConfig::default()
        };
        let mut config = config;
        let mut notes = Vec::new();
        if let Some(recipe) = self.recipe {
            let explicit =
                |flag: &str| self.explicit.iter().any(|id| id == &flag.replace('-', "_"));
            let applied = recipe.apply(&mut config, &explicit);
            notes.push(recipe.summary(&applied));
            notes.extend(
                recipe
                    .conflicts()
                    .iter()
                    .map(|c| format!("recipe {recipe}: {c}")),
            );
        }
        config.validate()?;
        if !data.exists() {
            bail!("dataset {} does not exist", data.display());
        }
        if let Some(init) = self.init.iter().find(|p| !p.exists()) {
            bail!("--init {} does not exist", init.display());
        }
        // Said once the options are known to be valid (a bad option stays a one-line error).
        for note in notes {
            eprintln!("note: {note}");
        }
        // Runs remember their dataset by an absolute path, so `eval` works from anywhere.
        let data =
            std::fs::canonicalize(data).with_context(|| format!("dataset {}", data.display()))?;
        Ok(TrainConfig { data, ..config })
    }

    pub(crate) fn cache(&self) -> Option<PathBuf> {
        match &self.cache_dir {
            Some(p) if p.as_os_str() == "none" => None,
            Some(p) => Some(p.clone()),
            None => Some(diffres_train::data::default_cache_dir()),
        }
    }
}

/// The single source of every training option's default.
pub(crate) fn defaults() -> TrainConfig {
    TrainConfig::default()
}
