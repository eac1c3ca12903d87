//! Checkpoint files as named host tensors: PyTorch `.pth`/`.pt` (read with burn-store's
//! PyTorch reader), safetensors (read and written) and Burn burnpack payloads, and the one
//! way they reach a module: [`apply`], which loads what matches by name and shape and reports
//! the rest as a [`LoadReport`].
//!
//! The container is recognised from the file's first bytes, never its extension: a ZIP
//! (`torch.save` since PyTorch 1.6) or a legacy pickle is PyTorch, anything else is tried as
//! safetensors. What a checkpoint *is* (PSLA's classifier, ImageNet weights, the authors'
//! layer, ours) is recognised from its tensor names: [`Checkpoint::kinds`].
//!
//! Every floating-point tensor is read as `f32` (`f64`, `f16` and `bf16` are converted);
//! integer tensors (batch norm's `num_batches_tracked`) carry nothing a Burn module holds and
//! are listed in [`Checkpoint::dropped`].

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use burn::store::pytorch_reader::{DType as TorchDType, PytorchReader};
use burn::store::{ApplyError, ApplyResult, ModuleSnapshot};
use burn::tensor::{Bytes, DType};
use safetensors::{Dtype as SafeDtype, SafeTensors};

use crate::error::{ModelError, Result};
use crate::weights::LoadReport;

/// A tensor on the host: row-major `f32` values and their shape.
#[derive(Clone, Debug, PartialEq)]
pub struct HostTensor {
    /// Extents, outermost first (empty for a scalar).
    pub shape: Vec<usize>,
    /// `shape.iter().product()` values, row-major.
    pub data: Vec<f32>,
}

impl HostTensor {
    /// A tensor of `shape` holding `data`.
    ///
    /// # Errors
    /// [`ModelError::Config`] when the lengths differ.
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Result<Self> {
        if shape.iter().product::<usize>() != data.len() {
            return Err(ModelError::Config(format!(
                "a tensor of shape {shape:?} needs {} values, got {}",
                shape.iter().product::<usize>(),
                data.len()
            )));
        }
        Ok(Self { shape, data })
    }

    /// The same values with the last two axes swapped (a convolution kernel's height and
    /// width, a matrix's rows and columns).
    pub fn transpose_last_two(&self) -> HostTensor {
        let n = self.shape.len();
        if n < 2 {
            return self.clone();
        }
        let (rows, cols) = (self.shape[n - 2], self.shape[n - 1]);
        let mut data = Vec::with_capacity(self.data.len());
        for block in self.data.chunks(rows * cols) {
            for c in 0..cols {
                data.extend((0..rows).map(|r| block[r * cols + c]));
            }
        }
        let mut shape = self.shape.clone();
        shape.swap(n - 2, n - 1);
        HostTensor { shape, data }
    }

    /// The same values under another shape with as many elements.
    ///
    /// # Errors
    /// [`ModelError::Config`] when the element counts differ.
    pub fn reshape(self, shape: Vec<usize>) -> Result<HostTensor> {
        HostTensor::new(shape, self.data)
    }
}

/// What a checkpoint holds, recognised from its tensor names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CheckpointKind {
    /// PSLA's `EffNetAttention` (`effnet.*`, `attention.*`): a whole classifier.
    Psla,
    /// `efficientnet_pytorch`'s `EfficientNet` (`_conv_stem.*`, `_blocks.*`, `_fc.*`): a
    /// backbone, e.g. the ImageNet weights.
    EfficientNet,
    /// The authors' `pydiffres.DiffRes` layer (`model.blks.*`, `pos_emb`).
    PyDiffRes,
    /// Our classifier, saved by [`crate::save_weights`] (`Cnn.*`, `EfficientNetB0.*`, ...).
    Classifier,
    /// A whole model of a run (`frontend.*`, `classifier.*`): a run's `.bpk` checkpoint.
    RunModel,
}

impl CheckpointKind {
    /// Whether it initialises a classifier (else a front end, or both for a run's model).
    pub fn is_classifier(self) -> bool {
        !matches!(self, CheckpointKind::PyDiffRes)
    }
}

impl fmt::Display for CheckpointKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CheckpointKind::Psla => "a PSLA EffNetAttention classifier",
            CheckpointKind::EfficientNet => "efficientnet_pytorch EfficientNet weights",
            CheckpointKind::PyDiffRes => "a pydiffres DiffRes layer",
            CheckpointKind::Classifier => "a diffres classifier",
            CheckpointKind::RunModel => "a diffres run's model",
        })
    }
}

/// The tensors of a checkpoint file, by name.
#[derive(Clone, Debug, Default)]
pub struct Checkpoint {
    /// The file (for messages).
    pub path: PathBuf,
    /// Floating-point tensors, as `f32`.
    pub tensors: BTreeMap<String, HostTensor>,
    /// Names of the integer tensors left out (`num_batches_tracked` and the like).
    pub dropped: Vec<String>,
    /// The safetensors header's metadata (empty for other containers).
    pub metadata: BTreeMap<String, String>,
}

/// `\x50\x4b\x03\x04`: a ZIP archive, `torch.save`'s container since PyTorch 1.6.
const ZIP_MAGIC: [u8; 4] = *b"PK\x03\x04";
/// The start of a pickle of protocol 2 or later (`\x80` and the protocol number).
const PICKLE_OPCODE: u8 = 0x80;

impl Checkpoint {
    /// Reads a PyTorch or safetensors file, recognising the container from its first bytes.
    ///
    /// # Errors
    /// [`ModelError::Weights`] naming the file: missing, not a regular file, or not a
    /// readable checkpoint.
    pub fn read(path: &Path) -> Result<Self> {
        let head = read_head(path)?;
        if head.starts_with(&ZIP_MAGIC) || head.first() == Some(&PICKLE_OPCODE) {
            Self::read_pytorch(path)
        } else {
            Self::read_safetensors(path)
        }
    }

    /// Reads a PyTorch `.pth`/`.pt` file (a `state_dict`, possibly under `state_dict` or
    /// `model`) with burn-store's PyTorch reader.
    ///
    /// # Errors
    /// [`ModelError::Weights`] naming the file.
    pub fn read_pytorch(path: &Path) -> Result<Self> {
        read_head(path)?;
        let err = |reason: String| weights_err(path, reason);
        let reader = PytorchReader::new(path)
            .map_err(|e| err(format!("not a readable PyTorch checkpoint ({e})")))?;
        let mut tensors = reader.into_tensors();
        // A training checkpoint that nests its weights: take the nested state dict.
        for key in ["state_dict", "model"] {
            let prefix = format!("{key}.");
            if !tensors.is_empty() && tensors.keys().all(|k| k.starts_with(&prefix)) {
                tensors = tensors
                    .into_iter()
                    .map(|(k, v)| (k[prefix.len()..].to_string(), v))
                    .collect();
            }
        }
        let mut out = Checkpoint {
            path: path.to_path_buf(),
            ..Default::default()
        };
        for (name, tensor) in tensors {
            let bytes = tensor
                .read()
                .map_err(|e| err(format!("cannot read tensor {name} ({e})")))?;
            let values = match tensor.dtype() {
                TorchDType::F32 => Some(f32s(&bytes, 4, |b| {
                    f32::from_le_bytes(b.try_into().expect("4"))
                })),
                TorchDType::F64 => Some(f32s(&bytes, 8, |b| {
                    f64::from_le_bytes(b.try_into().expect("8")) as f32
                })),
                TorchDType::F16 => Some(f32s(&bytes, 2, |b| {
                    f16_to_f32(u16::from_le_bytes([b[0], b[1]]))
                })),
                TorchDType::BF16 => Some(f32s(&bytes, 2, |b| {
                    f32::from_bits((u16::from_le_bytes([b[0], b[1]]) as u32) << 16)
                })),
                _ => None,
            };
            match values {
                Some(data) => {
                    let t = HostTensor::new(tensor.shape().to_vec(), data)
                        .map_err(|e| err(format!("tensor {name}: {e}")))?;
                    out.tensors.insert(name, t);
                }
                None => out.dropped.push(name),
            }
        }
        out.check_not_empty()
    }

    /// Reads a safetensors file.
    ///
    /// # Errors
    /// [`ModelError::Weights`] naming the file.
    pub fn read_safetensors(path: &Path) -> Result<Self> {
        read_head(path)?;
        let err = |reason: String| weights_err(path, reason);
        let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
        let file = SafeTensors::deserialize(&bytes).map_err(|e| {
            err(format!(
                "neither a PyTorch checkpoint nor a readable safetensors file ({e})"
            ))
        })?;
        let (_, header) =
            SafeTensors::read_metadata(&bytes).map_err(|e| err(format!("bad header ({e})")))?;
        let mut out = Checkpoint {
            path: path.to_path_buf(),
            metadata: header
                .metadata()
                .clone()
                .unwrap_or_default()
                .into_iter()
                .collect(),
            ..Default::default()
        };
        for (name, view) in file.tensors() {
            let data = view.data();
            let values = match view.dtype() {
                SafeDtype::F32 => Some(f32s(data, 4, |b| {
                    f32::from_le_bytes(b.try_into().expect("4"))
                })),
                SafeDtype::F64 => Some(f32s(data, 8, |b| {
                    f64::from_le_bytes(b.try_into().expect("8")) as f32
                })),
                SafeDtype::F16 => Some(f32s(data, 2, |b| {
                    f16_to_f32(u16::from_le_bytes([b[0], b[1]]))
                })),
                SafeDtype::BF16 => Some(f32s(data, 2, |b| {
                    f32::from_bits((u16::from_le_bytes([b[0], b[1]]) as u32) << 16)
                })),
                _ => None,
            };
            match values {
                Some(values) => {
                    let t = HostTensor::new(view.shape().to_vec(), values)
                        .map_err(|e| err(format!("tensor {name}: {e}")))?;
                    out.tensors.insert(name, t);
                }
                None => out.dropped.push(name),
            }
        }
        out.check_not_empty()
    }

    /// The tensors of a Burn burnpack payload (a run's checkpoint without its checksum
    /// trailer), named by module path.
    ///
    /// # Errors
    /// [`ModelError::Weights`] naming `path` when the bytes are not a burnpack.
    pub fn from_burnpack(path: &Path, payload: Vec<u8>) -> Result<Self> {
        let err = |reason: String| weights_err(path, reason);
        let reader = burn::store::burn_pack::Reader::from_bytes(Bytes::from_bytes_vec(payload))
            .map_err(|e| err(format!("not a readable Burn checkpoint ({e})")))?;
        let mut out = Checkpoint {
            path: path.to_path_buf(),
            ..Default::default()
        };
        for tensor in reader
            .into_tensors()
            .map_err(|e| err(format!("not a readable Burn checkpoint ({e})")))?
        {
            let (name, dtype, shape, _, bytes) = tensor
                .into_parts()
                .map_err(|e| err(format!("cannot read a tensor ({e})")))?;
            if dtype != DType::F32 {
                out.dropped.push(name);
                continue;
            }
            let data = f32s(&bytes, 4, |b| f32::from_le_bytes(b.try_into().expect("4")));
            let t = HostTensor::new(shape.to_vec(), data)
                .map_err(|e| err(format!("tensor {name}: {e}")))?;
            out.tensors.insert(name, t);
        }
        out.check_not_empty()
    }

    fn check_not_empty(self) -> Result<Self> {
        if self.tensors.is_empty() {
            return Err(weights_err(
                &self.path,
                "holds no floating-point tensor".into(),
            ));
        }
        Ok(self)
    }

    /// What the checkpoint holds, from its names (after removing a `module.` prefix, which
    /// `torch.nn.DataParallel` adds): any of PSLA's classifier, `efficientnet_pytorch`
    /// weights, the authors' layer, our classifier, a run's model. Empty when nothing is
    /// recognised. A file exported by `diffres export` holds PSLA's classifier and the
    /// authors' layer.
    pub fn kinds(&self) -> Vec<CheckpointKind> {
        let names: Vec<&str> = self
            .tensors
            .keys()
            .map(|k| k.strip_prefix("module.").unwrap_or(k))
            .collect();
        let any = |p: &dyn Fn(&str) -> bool| names.iter().any(|n| p(n));
        let mut kinds = Vec::new();
        if any(&|n| n.starts_with("effnet._") || n.starts_with("attention.att.")) {
            kinds.push(CheckpointKind::Psla);
        } else if any(&|n| n.starts_with("_conv_stem.") || n.starts_with("_blocks.")) {
            kinds.push(CheckpointKind::EfficientNet);
        }
        if any(&|n| n.starts_with("model.blks.")) {
            kinds.push(CheckpointKind::PyDiffRes);
        }
        if any(&|n| {
            ["Cnn.", "EfficientNetB0.", "EfficientNetB2."]
                .iter()
                .any(|p| n.starts_with(p))
        }) {
            kinds.push(CheckpointKind::Classifier);
        }
        if any(&|n| n.starts_with("frontend.") || n.starts_with("classifier.")) {
            kinds.push(CheckpointKind::RunModel);
        }
        kinds
    }

    /// Writes `tensors` as a safetensors file (`f32`), with `counters` as `int64` scalar zeros
    /// (PyTorch's `num_batches_tracked`, so that `load_state_dict` finds every key) and the
    /// header metadata `metadata`. Replaces any file there.
    ///
    /// # Errors
    /// [`ModelError::WeightsSave`] naming the file.
    pub fn write_safetensors(
        path: &Path,
        tensors: &BTreeMap<String, HostTensor>,
        counters: &[String],
        metadata: &BTreeMap<String, String>,
    ) -> Result<()> {
        let save_err = |reason: String| ModelError::WeightsSave {
            path: path.display().to_string(),
            reason,
        };
        let bytes: Vec<(String, Vec<usize>, SafeDtype, Vec<u8>)> = tensors
            .iter()
            .map(|(name, t)| {
                let raw = t.data.iter().flat_map(|v| v.to_le_bytes()).collect();
                (name.clone(), t.shape.clone(), SafeDtype::F32, raw)
            })
            .chain(counters.iter().map(|name| {
                (
                    name.clone(),
                    Vec::new(),
                    SafeDtype::I64,
                    0i64.to_le_bytes().to_vec(),
                )
            }))
            .collect();
        let views = bytes
            .iter()
            .map(|(name, shape, dtype, raw)| {
                safetensors::tensor::TensorView::new(*dtype, shape.clone(), raw)
                    .map(|v| (name.clone(), v))
                    .map_err(|e| save_err(format!("tensor {name}: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let info: HashMap<String, String> = metadata.clone().into_iter().collect();
        let out = safetensors::serialize(views, Some(info)).map_err(|e| save_err(e.to_string()))?;
        std::fs::write(path, out).map_err(|e| save_err(e.to_string()))
    }
}

/// The first bytes of a regular file.
fn read_head(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => {}
        Ok(_) => return Err(weights_err(path, "not a regular file".into())),
        Err(e) => return Err(weights_err(path, e.to_string())),
    }
    let mut head = Vec::with_capacity(8);
    std::fs::File::open(path)
        .and_then(|f| f.take(8).read_to_end(&mut head))
        .map_err(|e| weights_err(path, e.to_string()))?;
    Ok(head)
}

pub(crate) fn weights_err(path: &Path, reason: String) -> ModelError {
    ModelError::Weights {
        path: path.display().to_string(),
        reason,
    }
}

fn f32s(bytes: &[u8], size: usize, convert: impl Fn(&[u8]) -> f32) -> Vec<f32> {
    bytes.chunks_exact(size).map(convert).collect()
}

/// IEEE half precision to single precision (subnormals, infinities and NaN included).
fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exponent = ((h >> 10) & 0x1f) as u32;
    let mantissa = (h & 0x3ff) as u32;
    let bits = match (exponent, mantissa) {
        (0, 0) => sign,
        (0, m) => {
            // Subnormal: normalise the mantissa.
            let shift = m.leading_zeros() - 21;
            sign | ((113 - shift) << 23) | (((m << shift) & 0x3ff) << 13)
        }
        (0x1f, m) => sign | 0x7f80_0000 | (m << 13),
        (e, m) => sign | ((e + 112) << 23) | (m << 13),
    };
    f32::from_bits(bits)
}

/// A module initialised from a checkpoint, with what was loaded and what the user should know
/// about the rest (a freshly initialised head, a dropped ImageNet classifier, ...).
#[derive(Debug)]
pub struct Imported<M> {
    /// The module.
    pub module: M,
    /// Tensors loaded, skipped, missing and unused, under the module's names.
    pub report: LoadReport,
    /// One sentence per thing that did not simply load.
    pub notes: Vec<String>,
}

/// Loads `tensors` (named by module path, with or without enum variant names as
/// `skip_enum_variants` says) into `module` where name and shape match, and reports the rest.
///
/// # Errors
/// [`ModelError::Weights`] naming `source` for a tensor Burn cannot take (another dtype).
pub fn apply<M: ModuleSnapshot>(
    module: &mut M,
    tensors: Vec<(String, HostTensor)>,
    skip_enum_variants: bool,
    source: &Path,
) -> Result<LoadReport> {
    let pack: Vec<burn::store::burn_pack::Tensor> = tensors
        .into_iter()
        .map(|(name, t)| {
            let raw: Vec<u8> = t.data.iter().flat_map(|v| v.to_le_bytes()).collect();
            burn::store::burn_pack::Tensor::new(
                name,
                DType::F32,
                t.shape,
                None,
                Bytes::from_bytes_vec(raw),
            )
        })
        .collect();
    let result = module.apply(pack, None, None, skip_enum_variants);
    report(result).map_err(|reason| weights_err(source, reason))
}

/// The module's tensors by module path (with or without enum variant names), as `f32`.
pub fn collect<M: ModuleSnapshot>(
    module: &M,
    skip_enum_variants: bool,
) -> BTreeMap<String, HostTensor> {
    module
        .collect(None, None, skip_enum_variants)
        .into_iter()
        // Flags (a batch norm's training switch) are not tensors of the model's.
        .filter(|t| t.dtype == DType::F32)
        .filter_map(|t| {
            let name = t.name.clone();
            let shape = t.shape.to_vec();
            let bytes = t.into_bytes().ok()?;
            let data = f32s(&bytes, 4, |b| f32::from_le_bytes(b.try_into().expect("4")));
            Some((name, HostTensor { shape, data }))
        })
        .collect()
}

/// A [`LoadReport`] from Burn's apply result; the reason when a tensor failed other than by
/// its shape.
pub(crate) fn report(result: ApplyResult) -> std::result::Result<LoadReport, String> {
    let mut skipped = Vec::new();
    let mut fatal = Vec::new();
    for e in &result.errors {
        match e {
            ApplyError::ShapeMismatch {
                path,
                expected,
                found,
            } => skipped.push(format!(
                "{path}: model {:?}, file {:?}",
                expected.as_slice(),
                found.as_slice()
            )),
            other => fatal.push(other.to_string()),
        }
    }
    if !fatal.is_empty() {
        return Err(fatal.join("; "));
    }
    Ok(LoadReport {
        applied: result.applied,
        skipped,
        missing: result.missing.into_iter().map(|(p, _)| p).collect(),
        unused: result.unused,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_converts_exactly() {
        for (bits, want) in [
            (0x3c00u16, 1.0f32),
            (0xc000, -2.0),
            (0x3555, 0.333_251_95),
            (0x0001, 5.960_464_5e-8),
            (0x7bff, 65504.0),
            (0x0000, 0.0),
        ] {
            assert_eq!(f16_to_f32(bits), want, "{bits:#06x}");
        }
        assert!(f16_to_f32(0x7c00).is_infinite() && f16_to_f32(0x7e00).is_nan());
    }

    #[test]
    fn transposing_swaps_the_last_two_axes() {
        let t = HostTensor::new(vec![2, 2, 3], (0..12).map(|v| v as f32).collect()).unwrap();
        let u = t.transpose_last_two();
        assert_eq!(u.shape, vec![2, 3, 2]);
        assert_eq!(&u.data[..6], &[0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
        assert_eq!(u.transpose_last_two(), t);
        assert!(HostTensor::new(vec![2, 2], vec![1.0]).is_err());
    }
}
