//! The WGSL sources in `shaders/`, embedded in the binary, and the one specialisation step they get.
//!
//! Each shader is written against the type alias `Elem`, the storage type of float tensors. The prelude
//! defines it: `alias Elem = f32;` for the f32 path, or `enable f16; alias Elem = f16;` for the f16-storage
//! path (kernels still accumulate in f32). Everything else is specialised with `override` constants.

use crate::error::{Error, Result};
use crate::graph::DType;

/// One `.wgsl` file of `shaders/`.
#[derive(Debug)]
pub struct Shader {
    /// File stem, e.g. `elementwise`.
    pub name: &'static str,
    /// The file's text.
    pub body: &'static str,
    /// Whether it uses subgroup built-ins (then the device needs `Features::SUBGROUP`).
    pub needs_subgroups: bool,
}

impl Shader {
    /// The prelude that defines `Elem` for `elem`.
    pub fn prelude(elem: DType) -> &'static str {
        match elem {
            DType::F16 => "enable f16;\nalias Elem = f16;\n",
            DType::F32 | DType::U32 => "alias Elem = f32;\n",
        }
    }

    /// Full source for storage type `elem`.
    pub fn source(&self, elem: DType) -> String {
        format!("{}{}", Self::prelude(elem), self.body)
    }

    /// Parses and validates the source with naga, with the capabilities a device with f16 and subgroups
    /// has. The error names the shader, line and problem.
    pub fn validate(&self, elem: DType) -> Result<naga::Module> {
        use naga::valid::{Capabilities, ValidationFlags, Validator};
        let source = self.source(elem);
        let file = format!("shaders/{}.wgsl ({elem:?} prelude)", self.name);
        let module = naga::front::wgsl::parse_str(&source).map_err(|e| {
            Error::Device(format!(
                "shader does not parse:\n{}",
                e.emit_to_string_with_path(&source, &file)
            ))
        })?;
        let mut caps = Capabilities::empty();
        if elem == DType::F16 {
            caps |= Capabilities::SHADER_FLOAT16;
        }
        if self.needs_subgroups {
            caps |= Capabilities::SUBGROUP | Capabilities::SUBGROUP_BARRIER;
        }
        Validator::new(ValidationFlags::all(), caps)
            .validate(&module)
            .map_err(|e| {
                Error::Device(format!(
                    "shader is invalid:\n{}",
                    e.emit_to_string_with_path(&source, &file)
                ))
            })?;
        Ok(module)
    }
}

macro_rules! shader {
    ($name:literal) => {
        shader!($name, false)
    };
    ($name:literal, $subgroups:expr) => {
        Shader {
            name: $name,
            body: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/shaders/",
                $name,
                ".wgsl"
            )),
            needs_subgroups: $subgroups,
        }
    };
}

/// Elementwise ops: add/mul with broadcasting, scale, activations, GEGLU.
pub static ELEMENTWISE: Shader = shader!("elementwise");

/// Sampler arithmetic on the latents: U-Net input, guided scheduler step, Gaussian noise.
pub static SAMPLER: Shader = shader!("sampler");

/// Tiled VAE: crop a tile out of a plane, blend a tile back in.
pub static TILE: Shader = shader!("tile");

/// Group norm (split reduction) and layer norm.
pub static NORM: Shader = shader!("norm");

/// Flash attention (online softmax over key tiles).
pub static ATTENTION: Shader = shader!("attention");

/// The software adapters' attention rows reading whole vec4s (head sizes that are multiples of 4).
pub static ATTENTION_ROWS_VEC4: Shader = shader!("attention_rows_vec4", true);

/// Shape ops: nearest 2× upsampling, channel concatenation, tiled transpose.
pub static SHAPE: Shader = shader!("shape");

/// Timestep (sinusoidal) and token + position embeddings.
pub static EMBEDDING: Shader = shader!("embedding");

/// Conv2d as an implicit GEMM through workgroup memory (real GPUs; the fallback without subgroups).
pub static CONV2D: Shader = shader!("conv2d");

/// Conv2d as an implicit GEMM with subgroup-broadcast register tiles (software adapters).
pub static CONV2D_SUBGROUP: Shader = shader!("conv2d_subgroup", true);

/// Batched matmul / linear, workgroup-memory tiled (real GPUs; the fallback without subgroups).
pub static MATMUL: Shader = shader!("matmul");

/// Batched matmul / linear with subgroup-broadcast register tiles (software adapters).
pub static MATMUL_SUBGROUP: Shader = shader!("matmul_subgroup", true);

/// Every shader, for the naga test.
pub static ALL: &[&Shader] = &[
    &ELEMENTWISE,
    &SAMPLER,
    &TILE,
    &NORM,
    &ATTENTION,
    &ATTENTION_ROWS_VEC4,
    &SHAPE,
    &EMBEDDING,
    &CONV2D,
    &CONV2D_SUBGROUP,
    &MATMUL,
    &MATMUL_SUBGROUP,
];
