//! Single-file LDM checkpoints: the full-size SD1.5 and SD2.1 layouts (sparse files built from the name
//! lists `tests/data/weight_names/sd{15,21}_ldm.txt`, which `reference/ldm_keys.py` wrote) map onto
//! exactly the diffusers names and shapes of `sd{15,21}_{unet,vae,text_encoder}.txt`; and damaged
//! variants of the tiny fixture give errors that name the tensor, never panics.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use safetensors::tensor::TensorView as StView;
use safetensors::{Dtype, SafeTensors};
use wgsd::weights::{Arch, Component, LdmCheckpoint, Mapping, PredictionType, TensorSpec};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/weight_names")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Writes a safetensors file holding `specs` as F16 without writing their data: the data section is a
/// hole (a sparse file), so a full-size checkpoint costs no disk and no time.
fn write_sparse(path: &Path, specs: &[TensorSpec]) {
    let mut header = BTreeMap::new();
    let mut offset = 0usize;
    for spec in specs {
        let bytes = 2 * spec.shape.iter().product::<usize>();
        header.insert(
            spec.name.clone(),
            serde_json::json!({"dtype": "F16", "shape": spec.shape, "data_offsets": [offset, offset + bytes]}),
        );
        offset += bytes;
    }
    let mut text = serde_json::to_string(&header).unwrap();
    while text.len() % 8 != 0 {
        text.push(' ');
    }
    let mut file = std::fs::File::create(path).unwrap();
    file.write_all(&(text.len() as u64).to_le_bytes()).unwrap();
    file.write_all(text.as_bytes()).unwrap();
    file.set_len((8 + text.len() + offset) as u64).unwrap();
}

fn list(name: &str) -> Vec<TensorSpec> {
    TensorSpec::read_list(data_dir().join(name)).unwrap()
}

fn open_full_size(model: &str) -> (tempfile::TempDir, LdmCheckpoint) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{model}.safetensors"));
    write_sparse(&path, &list(&format!("{model}_ldm.txt")));
    let ldm = LdmCheckpoint::open(&path).unwrap();
    (dir, ldm)
}

fn validate_all(model: &str, ldm: &LdmCheckpoint) -> Vec<String> {
    let mut unused = Vec::new();
    for component in [Component::Unet, Component::Vae, Component::TextEncoder] {
        let required = list(&format!("{model}_{}.txt", component.dir_name()));
        let weights = ldm.weights(component).unwrap();
        let report = weights
            .validate(&required)
            .unwrap_or_else(|e| panic!("{model} {component}: {e}"));
        // Every mapped tensor is either required or reported unused.
        let mapped_unused = report
            .unused
            .iter()
            .filter(|u| weights.get(u).is_some())
            .count();
        assert_eq!(
            weights.len(),
            required.len() + mapped_unused,
            "{model} {component}"
        );
        assert_eq!(report.checked, required.len());
        unused.extend(report.unused);
    }
    unused
}

#[test]
fn full_size_sd15_maps_onto_diffusers_names() {
    let (_dir, ldm) = open_full_size("sd15");
    let info = ldm.info();
    assert_eq!(info.arch, Arch::Sd1);
    assert_eq!(info.prediction_type, PredictionType::Epsilon);
    assert_eq!(info.sample_size, 64);
    let u = &info.unet;
    assert_eq!(u.block_out_channels, [320, 640, 1280, 1280]);
    assert_eq!(u.layers_per_block, 2);
    assert_eq!(u.cross_attention, [true, true, true, false]);
    assert_eq!(u.cross_attention_dim, 768);
    assert!(!u.use_linear_projection);
    assert_eq!(
        (u.in_channels, u.out_channels, u.time_embed_dim),
        (4, 4, 1280)
    );
    assert_eq!(u.num_attention_heads, [8, 8, 8, 8]);
    let v = info.vae.as_ref().unwrap();
    assert_eq!(v.block_out_channels, [128, 256, 512, 512]);
    assert_eq!((v.layers_per_block, v.latent_channels), (2, 4));
    let t = info.text.as_ref().unwrap();
    assert_eq!(
        (
            t.vocab_size,
            t.hidden_size,
            t.intermediate_size,
            t.num_hidden_layers
        ),
        (49408, 768, 3072, 12)
    );
    assert_eq!((t.num_attention_heads, t.hidden_act), (12, "quick_gelu"));

    assert_eq!(
        validate_all("sd15", &ldm),
        ["text_model.embeddings.position_ids"]
    );
    assert_eq!(
        ldm.unmapped_keys(),
        ["alphas_cumprod", "alphas_cumprod_prev", "betas"]
    );
    // Spot checks of the mapping.
    let unet = ldm.unet();
    let src = unet.source("up_blocks.1.upsamplers.0.conv.weight").unwrap();
    assert_eq!(
        src.key,
        "model.diffusion_model.output_blocks.5.2.conv.weight"
    );
    let src = unet
        .source("down_blocks.2.downsamplers.0.conv.weight")
        .unwrap();
    assert_eq!(src.key, "model.diffusion_model.input_blocks.9.0.op.weight");
    let vae = ldm.vae();
    let src = vae.source("decoder.up_blocks.0.resnets.2.conv_shortcut.weight");
    assert!(
        src.is_none(),
        "up_blocks.0 has 512→512 resnets, no shortcut"
    );
    let src = vae
        .source("decoder.up_blocks.2.resnets.0.conv_shortcut.weight")
        .unwrap();
    assert_eq!(
        src.key,
        "first_stage_model.decoder.up.1.block.0.nin_shortcut.weight"
    );
    let src = vae
        .source("encoder.mid_block.attentions.0.to_out.0.weight")
        .unwrap();
    assert_eq!(
        src.key,
        "first_stage_model.encoder.mid.attn_1.proj_out.weight"
    );
    assert_eq!(src.mapping, &Mapping::Reshape);
    assert_eq!(
        vae.tensor("encoder.mid_block.attentions.0.to_out.0.weight")
            .unwrap()
            .shape(),
        &[512, 512]
    );
}

#[test]
fn full_size_sd21_maps_onto_diffusers_names() {
    let (_dir, ldm) = open_full_size("sd21");
    let info = ldm.info();
    assert_eq!(info.arch, Arch::Sd2);
    assert_eq!(info.prediction_type, PredictionType::VPrediction);
    assert_eq!(info.sample_size, 96);
    let u = &info.unet;
    assert_eq!(u.block_out_channels, [320, 640, 1280, 1280]);
    assert_eq!(u.cross_attention_dim, 1024);
    assert!(u.use_linear_projection);
    assert_eq!(u.num_attention_heads, [5, 10, 20, 20]);
    let t = info.text.as_ref().unwrap();
    assert_eq!((t.hidden_size, t.intermediate_size), (1024, 4096));
    assert_eq!((t.num_hidden_layers, t.layers_in_file), (23, 24));
    assert_eq!((t.num_attention_heads, t.hidden_act), (16, "gelu"));

    let unused = validate_all("sd21", &ldm);
    assert_eq!(unused.len(), 14, "{unused:?}");
    assert!(unused
        .iter()
        .filter(|k| !k.ends_with("logit_scale") && !k.ends_with("text_projection"))
        .all(|k| k.starts_with("cond_stage_model.model.transformer.resblocks.23.")));

    let te = ldm.text_encoder();
    for (i, proj) in ["q_proj", "k_proj", "v_proj"].iter().enumerate() {
        let name = format!("text_model.encoder.layers.22.self_attn.{proj}.weight");
        let src = te.source(&name).unwrap();
        assert_eq!(
            src.key,
            "cond_stage_model.model.transformer.resblocks.22.attn.in_proj_weight"
        );
        assert_eq!(src.mapping, &Mapping::Slice { index: i, count: 3 });
        assert_eq!(te.tensor(&name).unwrap().shape(), &[1024, 1024]);
    }
}

/// The tiny SD1 fixture's tensors, rewritten through `edit` into a temp file.
fn edited_tiny_sd1(
    edit: impl FnOnce(&mut BTreeMap<String, (Dtype, Vec<usize>, Vec<u8>)>),
) -> (tempfile::TempDir, PathBuf) {
    let bytes = std::fs::read(fixture("tiny-sd1.ldm.safetensors")).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut tensors: BTreeMap<String, (Dtype, Vec<usize>, Vec<u8>)> = st
        .tensors()
        .into_iter()
        .map(|(n, v)| (n, (v.dtype(), v.shape().to_vec(), v.data().to_vec())))
        .collect();
    edit(&mut tensors);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("edited.safetensors");
    let views: Vec<(String, StView<'_>)> = tensors
        .iter()
        .map(|(n, (d, s, b))| (n.clone(), StView::new(*d, s.clone(), b).unwrap()))
        .collect();
    safetensors::serialize_to_file(views, None, &path).unwrap();
    (dir, path)
}

fn open_err(path: &Path) -> String {
    let err = LdmCheckpoint::open(path).unwrap_err().to_string();
    assert!(
        err.contains(&path.display().to_string()),
        "names the file: {err}"
    );
    err
}

#[test]
fn damaged_checkpoints_name_the_tensor() {
    let required_unet = list("tiny-sd1_unet.txt");
    let required_vae = list("tiny-sd1_vae.txt");

    // A decoder tensor with the wrong shape: the error names the diffusers tensor (the decoder's levels
    // are reversed: LDM up.0 is diffusers up_blocks.1 here) and the LDM key.
    let (_d, path) = edited_tiny_sd1(|t| {
        let entry = t
            .get_mut("first_stage_model.decoder.up.0.block.0.conv1.weight")
            .unwrap();
        let n = entry.1.iter().product();
        entry.1 = vec![n];
    });
    let ldm = LdmCheckpoint::open(&path).unwrap();
    let err = ldm.vae().validate(&required_vae).unwrap_err().to_string();
    let spec = required_vae
        .iter()
        .find(|s| s.name == "decoder.up_blocks.1.resnets.0.conv1.weight")
        .unwrap();
    let expected = format!(
        "`decoder.up_blocks.1.resnets.0.conv1.weight`: expected shape {:?}, found [{}]",
        spec.shape,
        spec.shape.iter().product::<usize>()
    );
    assert!(err.contains(&expected), "{err}");
    assert!(
        err.contains("key `first_stage_model.decoder.up.0.block.0.conv1.weight`"),
        "{err}"
    );

    // A missing tensor and an unsupported dtype, reported together.
    let (_d, path) = edited_tiny_sd1(|t| {
        t.remove("model.diffusion_model.middle_block.1.proj_out.weight");
        t.get_mut("model.diffusion_model.out.2.bias").unwrap().0 = Dtype::I16;
    });
    let ldm = LdmCheckpoint::open(&path).unwrap();
    let err = ldm.unet().validate(&required_unet).unwrap_err().to_string();
    assert!(err.contains("1 missing tensor(s)"), "{err}");
    assert!(
        err.contains("`mid_block.attentions.0.proj_out.weight`"),
        "{err}"
    );
    assert!(err.contains("`conv_out.bias`: stored as I16"), "{err}");
    assert!(
        err.contains("key `model.diffusion_model.out.2.bias`"),
        "{err}"
    );

    // A U-Net whose blocks do not follow SD's layout.
    let (_d, path) = edited_tiny_sd1(|t| {
        t.retain(|k, _| !k.starts_with("model.diffusion_model.input_blocks.3."));
    });
    assert!(open_err(&path).contains("unknown architecture"));

    // No text encoder and a context width that is neither SD1's nor SD2's.
    let (_d, path) = edited_tiny_sd1(|t| t.retain(|k, _| !k.starts_with("cond_stage_model.")));
    let err = open_err(&path);
    assert!(
        err.contains("width of 20 is neither SD1's 768 nor SD2's 1024"),
        "{err}"
    );

    // SDXL.
    let (_d, path) = edited_tiny_sd1(|t| {
        t.insert(
            "conditioner.embedders.0.transformer.x".into(),
            (Dtype::F16, vec![1], vec![0, 0]),
        );
    });
    assert!(open_err(&path).contains("SDXL"));

    // Not an LDM file at all: a diffusers U-Net.
    let err = open_err(&fixture(
        "tiny-sd1/unet/diffusion_pytorch_model.safetensors",
    ));
    assert!(err.contains("diffusers model file"), "{err}");
}

#[test]
fn sd1_clip_keys_without_text_model_and_ema_weights() {
    // Some SD1 files store `cond_stage_model.transformer.embeddings.*` (no `text_model.`) and carry EMA
    // copies `model_ema.*`: the first map to the same names, the second are reported, not mapped.
    let (_d, path) = edited_tiny_sd1(|t| {
        let keys: Vec<String> = t
            .keys()
            .filter(|k| k.starts_with("cond_stage_model.transformer.text_model."))
            .cloned()
            .collect();
        for key in keys {
            let value = t.remove(&key).unwrap();
            t.insert(key.replacen("text_model.", "", 1), value);
        }
        t.insert("model_ema.decay".into(), (Dtype::F32, vec![], vec![0; 4]));
        t.insert(
            "model_ema.diffusion_modelout2bias".into(),
            (Dtype::F16, vec![4], vec![0; 8]),
        );
    });
    let edited = LdmCheckpoint::open(&path).unwrap();
    let original = LdmCheckpoint::open(fixture("tiny-sd1.ldm.safetensors")).unwrap();
    assert_eq!(edited.info(), original.info());
    let names: Vec<&str> = edited.text_encoder().names().collect();
    assert_eq!(names, original.text_encoder().names().collect::<Vec<_>>());
    for name in names {
        assert_eq!(
            edited.text_encoder().tensor(name).unwrap().data(),
            original.text_encoder().tensor(name).unwrap().data()
        );
    }
    edited
        .text_encoder()
        .validate(&list("tiny-sd1_text_encoder.txt"))
        .unwrap();
    assert_eq!(
        edited.unmapped_keys(),
        [
            "alphas_cumprod",
            "alphas_cumprod_prev",
            "betas",
            "model_ema.decay",
            "model_ema.diffusion_modelout2bias"
        ]
    );
}

#[test]
fn mapped_views_borrow_the_checkpoint() {
    // No weight is copied: q, k and v of a fused OpenCLIP tensor are consecutive ranges of one mapping,
    // and a reshaped VAE projection is the source tensor's own bytes.
    let ldm = LdmCheckpoint::open(fixture("tiny-sd2.ldm.safetensors")).unwrap();
    let te = ldm.text_encoder();
    let view = |p: &str| {
        te.tensor(&format!("text_model.encoder.layers.0.self_attn.{p}.weight"))
            .unwrap()
    };
    let (q, k, v) = (view("q_proj"), view("k_proj"), view("v_proj"));
    assert_eq!(q.shape(), &[12, 12]);
    let step = q.data().len();
    assert_eq!(step, 12 * 12 * 2);
    assert_eq!(k.data().as_ptr(), q.data().as_ptr().wrapping_add(step));
    assert_eq!(v.data().as_ptr(), q.data().as_ptr().wrapping_add(2 * step));
    let file = wgsd::weights::SafetensorsFile::open(fixture("tiny-sd2.ldm.safetensors")).unwrap();
    let fused = file
        .tensor("cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight")
        .unwrap();
    assert_eq!(fused.data(), [q.data(), k.data(), v.data()].concat());
    let to_q = ldm
        .vae()
        .tensor("decoder.mid_block.attentions.0.to_q.weight")
        .unwrap();
    let conv = file
        .tensor("first_stage_model.decoder.mid.attn_1.q.weight")
        .unwrap();
    assert_eq!(conv.shape(), &[16, 16, 1, 1]);
    assert_eq!(to_q.shape(), &[16, 16]);
    assert_eq!(to_q.data(), conv.data());
}
