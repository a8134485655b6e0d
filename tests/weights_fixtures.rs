//! The tiny reference fixtures (`tests/fixtures/`, made by `reference/make_fixtures.py` with diffusers
//! 0.42.1): each diffusers folder loads and validates against its name list
//! (`tests/data/weight_names/<model>_<component>.txt`), the numbers read from shapes match its
//! `config.json`, and each single-file LDM checkpoint maps to exactly the same names and shapes with
//! bit-identical data.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use wgsd::weights::{
    Arch, Component, DiffusersFolder, LdmCheckpoint, PredictionType, StoredDtype, TensorSpec,
    TextDims, UNetDims, VaeDims, Weights,
};

const MODELS: [&str; 3] = ["tiny-sd1", "tiny-sd2", "tiny-3level"];
const COMPONENTS: [Component; 3] = [Component::Unet, Component::Vae, Component::TextEncoder];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn name_list(model: &str, component: Component) -> Vec<TensorSpec> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/weight_names")
        .join(format!("{model}_{}.txt", component.dir_name()));
    TensorSpec::read_list(path).unwrap()
}

fn config(folder: &DiffusersFolder, component: Component) -> serde_json::Value {
    serde_json::from_str(&folder.config_json(component).unwrap()).unwrap()
}

fn usizes(v: &serde_json::Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

fn arch_of(model: &str) -> Arch {
    if model == "tiny-sd2" {
        Arch::Sd2
    } else {
        Arch::Sd1
    }
}

#[test]
fn diffusers_folders_validate_against_their_name_lists() {
    for model in MODELS {
        let folder = DiffusersFolder::open(fixtures().join(model)).unwrap();
        for component in COMPONENTS {
            let weights = folder.weights(component).unwrap();
            let required = name_list(model, component);
            let report = weights.validate(&required).unwrap();
            assert_eq!(report.checked, required.len(), "{model} {component}");
            assert_eq!(report.unused, Vec::<String>::new(), "{model} {component}");
            assert_eq!(weights.len(), required.len(), "{model} {component}");
            // The fixtures store float16.
            for name in weights.names() {
                assert_eq!(weights.tensor(name).unwrap().dtype(), &StoredDtype::F16);
            }
            // A shape off by one is caught, naming the tensor and both shapes.
            let mut wrong = required.clone();
            wrong[0].shape[0] += 1;
            let err = weights.validate(&wrong).unwrap_err().to_string();
            assert!(
                err.contains(&format!("`{}`: expected shape", wrong[0].name)),
                "{err}"
            );
        }
    }
}

#[test]
fn dims_read_from_folder_shapes_match_the_configs() {
    for model in MODELS {
        let folder = DiffusersFolder::open(fixtures().join(model)).unwrap();
        let arch = arch_of(model);

        let unet = UNetDims::from_weights(&folder.weights(Component::Unet).unwrap(), arch).unwrap();
        let cfg = config(&folder, Component::Unet);
        assert_eq!(
            unet.in_channels,
            cfg["in_channels"].as_u64().unwrap() as usize
        );
        assert_eq!(
            unet.out_channels,
            cfg["out_channels"].as_u64().unwrap() as usize
        );
        assert_eq!(
            unet.block_out_channels,
            usizes(&cfg["block_out_channels"]),
            "{model}"
        );
        assert_eq!(
            unet.layers_per_block,
            cfg["layers_per_block"].as_u64().unwrap() as usize
        );
        assert_eq!(
            unet.cross_attention_dim,
            cfg["cross_attention_dim"].as_u64().unwrap() as usize
        );
        assert_eq!(
            unet.use_linear_projection,
            cfg["use_linear_projection"].as_bool().unwrap(),
            "{model}"
        );
        let cross: Vec<bool> = cfg["down_block_types"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap() == "CrossAttnDownBlock2D")
            .collect();
        assert_eq!(unet.cross_attention, cross, "{model}");
        assert!(unet.mid_block_attention);
        assert_eq!(unet.transformer_layers_per_block, 1);
        assert_eq!(unet.time_embed_dim, 4 * unet.block_out_channels[0]);

        let vae = VaeDims::from_weights(&folder.weights(Component::Vae).unwrap()).unwrap();
        let cfg = config(&folder, Component::Vae);
        assert_eq!(
            vae.block_out_channels,
            usizes(&cfg["block_out_channels"]),
            "{model}"
        );
        assert_eq!(
            vae.layers_per_block,
            cfg["layers_per_block"].as_u64().unwrap() as usize
        );
        assert_eq!(
            vae.latent_channels,
            cfg["latent_channels"].as_u64().unwrap() as usize
        );
        assert_eq!((vae.in_channels, vae.out_channels), (3, 3));

        let text =
            TextDims::from_weights(&folder.weights(Component::TextEncoder).unwrap(), arch).unwrap();
        let cfg = config(&folder, Component::TextEncoder);
        for (got, key) in [
            (text.vocab_size, "vocab_size"),
            (text.hidden_size, "hidden_size"),
            (text.intermediate_size, "intermediate_size"),
            (text.max_position_embeddings, "max_position_embeddings"),
            (text.num_hidden_layers, "num_hidden_layers"),
        ] {
            assert_eq!(got, cfg[key].as_u64().unwrap() as usize, "{model} {key}");
        }
        assert_eq!(
            text.hidden_act,
            cfg["hidden_act"].as_str().unwrap(),
            "{model}"
        );
    }
}

/// Asserts that `ldm` holds exactly `folder`'s names, with equal shapes, dtypes and bytes (besides the
/// int64 `position_ids` buffer that SD1 LDM files carry and transformers 5 no longer saves).
fn assert_same_tensors(ldm: &Weights, folder: &Weights, what: &str) {
    let a: BTreeSet<&str> = ldm
        .names()
        .filter(|n| *n != "text_model.embeddings.position_ids")
        .collect();
    let b: BTreeSet<&str> = folder.names().collect();
    let only_ldm: Vec<_> = a.difference(&b).collect();
    let only_folder: Vec<_> = b.difference(&a).collect();
    assert!(
        only_ldm.is_empty() && only_folder.is_empty(),
        "{what}: only in LDM {only_ldm:?}, only in folder {only_folder:?}"
    );
    for name in folder.names() {
        let x = ldm.tensor(name).unwrap();
        let y = folder.tensor(name).unwrap();
        assert_eq!(x.shape(), y.shape(), "{what} {name}");
        assert_eq!(x.dtype(), y.dtype(), "{what} {name}");
        assert!(x.data() == y.data(), "{what} {name}: data differs");
    }
}

#[test]
fn ldm_single_files_map_onto_the_folders_bit_for_bit() {
    for (model, arch) in [("tiny-sd1", Arch::Sd1), ("tiny-sd2", Arch::Sd2)] {
        let ldm = LdmCheckpoint::open(fixtures().join(format!("{model}.ldm.safetensors"))).unwrap();
        let folder = DiffusersFolder::open(fixtures().join(model)).unwrap();
        let info = ldm.info();
        assert_eq!(info.arch, arch, "{model}");
        for component in COMPONENTS {
            let mapped = ldm.weights(component).unwrap();
            let from_folder = folder.weights(component).unwrap();
            assert_same_tensors(mapped, &from_folder, &format!("{model} {component}"));
            let required = name_list(model, component);
            let report = mapped.validate(&required).unwrap();
            let expected_unused: Vec<String> = match (arch, component) {
                (Arch::Sd1, Component::TextEncoder) => {
                    vec!["text_model.embeddings.position_ids".into()]
                }
                (Arch::Sd2, Component::TextEncoder) => {
                    let mut v: Vec<String> = [
                        "attn.in_proj_bias",
                        "attn.in_proj_weight",
                        "attn.out_proj.bias",
                        "attn.out_proj.weight",
                        "ln_1.bias",
                        "ln_1.weight",
                        "ln_2.bias",
                        "ln_2.weight",
                        "mlp.c_fc.bias",
                        "mlp.c_fc.weight",
                        "mlp.c_proj.bias",
                        "mlp.c_proj.weight",
                    ]
                    .iter()
                    .map(|k| format!("cond_stage_model.model.transformer.resblocks.2.{k}"))
                    .collect();
                    v.push("cond_stage_model.model.logit_scale".into());
                    v.push("cond_stage_model.model.text_projection".into());
                    v.sort();
                    v
                }
                _ => vec![],
            };
            assert_eq!(report.unused, expected_unused, "{model} {component}");
        }
        assert_eq!(
            ldm.unmapped_keys(),
            ["alphas_cumprod", "alphas_cumprod_prev", "betas"]
        );

        // The numbers read from the LDM shapes equal those read from the folder.
        assert_eq!(
            info.unet,
            UNetDims::from_weights(&folder.weights(Component::Unet).unwrap(), arch).unwrap()
        );
        assert_eq!(
            info.vae.as_ref().unwrap(),
            &VaeDims::from_weights(&folder.weights(Component::Vae).unwrap()).unwrap()
        );
        let text = info.text.as_ref().unwrap();
        let folder_text =
            TextDims::from_weights(&folder.weights(Component::TextEncoder).unwrap(), arch).unwrap();
        assert_eq!(text.num_hidden_layers, folder_text.num_hidden_layers);
        assert_eq!(text.hidden_size, folder_text.hidden_size);
        assert_eq!(text.intermediate_size, folder_text.intermediate_size);
        match arch {
            Arch::Sd1 => {
                assert_eq!(text.layers_in_file, 5);
                assert_eq!(text.num_hidden_layers, 5);
                assert_eq!(info.prediction_type, PredictionType::Epsilon);
                assert!(!info.unet.use_linear_projection);
            }
            Arch::Sd2 => {
                // The tiny OpenCLIP has one extra, unused resblock (like SD2's resblocks.23).
                assert_eq!(text.layers_in_file, 3);
                assert_eq!(text.num_hidden_layers, 2);
                assert_eq!(info.prediction_type, PredictionType::VPrediction);
                assert!(info.unet.use_linear_projection);
            }
        }
    }
}
