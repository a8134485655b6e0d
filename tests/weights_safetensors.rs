//! Synthetic safetensors files, written with the `safetensors` crate into a temp dir: single files,
//! sharded indexes, diffusers folders, dtype conversion, and every malformed-input error.

use std::path::{Path, PathBuf};

use half::{bf16, f16};
use safetensors::tensor::TensorView as StView;
use safetensors::Dtype;
use wgsd::graph::DType;
use wgsd::weights::{
    convert, Component, DiffusersFolder, SafetensorsFile, StoredDtype, TensorSpec, Weights,
};
use wgsd::Error;

/// One tensor to write: name, dtype, shape, little-endian bytes.
type Raw = (&'static str, Dtype, Vec<usize>, Vec<u8>);

fn write(path: &Path, tensors: &[Raw]) {
    let views: Vec<(&str, StView<'_>)> = tensors
        .iter()
        .map(|(n, d, s, b)| (*n, StView::new(*d, s.clone(), b).unwrap()))
        .collect();
    safetensors::serialize_to_file(views, None, path).unwrap();
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn f16_bytes(v: &[f32]) -> Vec<u8> {
    v.iter()
        .flat_map(|x| f16::from_f32(*x).to_bits().to_le_bytes())
        .collect()
}

fn bf16_bytes(v: &[f32]) -> Vec<u8> {
    v.iter()
        .flat_map(|x| bf16::from_f32(*x).to_bits().to_le_bytes())
        .collect()
}

fn f32_tensor(name: &'static str, shape: &[usize]) -> Raw {
    let n: usize = shape.iter().product();
    let vals: Vec<f32> = (0..n).map(|i| i as f32 * 0.5 - 1.0).collect();
    (name, Dtype::F32, shape.to_vec(), f32_bytes(&vals))
}

fn message(err: Error) -> String {
    err.to_string()
}

fn specs(list: &[(&str, &[usize])]) -> Vec<TensorSpec> {
    list.iter().map(|(n, s)| TensorSpec::new(*n, *s)).collect()
}

#[test]
fn single_file_views_borrow_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.safetensors");
    write(
        &path,
        &[
            f32_tensor("conv_in.weight", &[2, 1, 3, 3]),
            f32_tensor("conv_in.bias", &[2]),
        ],
    );
    let file = SafetensorsFile::open(&path).unwrap();
    assert_eq!(file.len(), 2);
    assert_eq!(
        file.names().collect::<Vec<_>>(),
        ["conv_in.bias", "conv_in.weight"]
    );
    let view = file.tensor("conv_in.weight").unwrap();
    assert_eq!(view.shape(), &[2, 1, 3, 3]);
    assert_eq!(view.dtype(), &StoredDtype::F32);
    assert_eq!(view.numel(), 18);
    assert_eq!(view.path(), path.as_path());
    let expected: Vec<f32> = (0..18).map(|i| i as f32 * 0.5 - 1.0).collect();
    assert_eq!(view.data(), f32_bytes(&expected).as_slice());
    assert!(file.tensor("nope").is_none());

    let weights = Weights::from_file(Component::Unet, &path).unwrap();
    assert_eq!(
        convert::to_f32_vec(&weights.tensor("conv_in.weight").unwrap()).unwrap(),
        expected
    );
}

#[test]
fn conversion_values_are_exact() {
    // Values and expected results follow IEEE rounding; in numpy:
    //   np.float16(np.float32(1 + 2**-11)) == 1.0          (a tie rounds to even)
    //   np.float16(np.float32(1 + 3 * 2**-11)) == 1 + 2**-9  (a tie rounds to even, upwards)
    //   np.float16(np.float32(70000.0)) == inf               (beyond 65504)
    //   2**-24 is the smallest f16 subnormal; 65504 is the largest f16.
    let exact_in_f16 = [
        1.0f32,
        -2.5,
        65504.0,
        2f32.powi(-24),
        0.0,
        -0.0,
        1.0 + 2f32.powi(-10),
    ];
    let exact_in_bf16 = [
        1.0f32,
        -2.5,
        3.140625,
        2f32.powi(100),
        -3.0 * 2f32.powi(-100),
        0.0,
    ];
    let f32_vals = [
        1.0 + 2f32.powi(-11),
        1.0 + 3.0 * 2f32.powi(-11),
        70000.0,
        0.1,
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dtypes.safetensors");
    write(
        &path,
        &[
            ("h", Dtype::F16, vec![7], f16_bytes(&exact_in_f16)),
            ("b", Dtype::BF16, vec![6], bf16_bytes(&exact_in_bf16)),
            (
                "b_small",
                Dtype::BF16,
                vec![2],
                bf16_bytes(&[3.140625, -0.5]),
            ),
            ("f", Dtype::F32, vec![4], f32_bytes(&f32_vals)),
        ],
    );
    let w = Weights::from_file(Component::Unet, &path).unwrap();

    // F16 → F32 and BF16 → F32 are exact.
    assert_eq!(
        convert::to_f32_vec(&w.tensor("h").unwrap()).unwrap(),
        exact_in_f16
    );
    assert_eq!(
        convert::to_f32_vec(&w.tensor("b").unwrap()).unwrap(),
        exact_in_bf16
    );
    // F32 → F32 and F16 → F16 are bit-exact copies.
    let mut dst = vec![0u8; 16];
    w.write_converted("f", DType::F32, &mut dst).unwrap();
    assert_eq!(dst, f32_bytes(&f32_vals));
    let mut dst = vec![0u8; 14];
    w.write_converted("h", DType::F16, &mut dst).unwrap();
    assert_eq!(dst, f16_bytes(&exact_in_f16));
    // F32 → F16 rounds to nearest even and overflows to inf.
    let got = convert::to_f16_vec(&w.tensor("f").unwrap()).unwrap();
    assert_eq!(got[0].to_f32(), 1.0);
    assert_eq!(got[1].to_f32(), 1.0 + 2f32.powi(-9));
    assert_eq!(got[2], f16::INFINITY);
    assert_eq!(got[3], f16::from_f32(0.1));
    // BF16 → F16 (values representable in both).
    let got = convert::to_f16_vec(&w.tensor("b_small").unwrap()).unwrap();
    assert_eq!(got, [f16::from_f32(3.140625), f16::from_f32(-0.5)]);
}

#[test]
fn conversion_rejects_bad_destinations_and_dtypes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.safetensors");
    write(
        &path,
        &[
            f32_tensor("w", &[4]),
            ("ids", Dtype::I64, vec![1, 3], vec![0u8; 24]),
        ],
    );
    let w = Weights::from_file(Component::TextEncoder, &path).unwrap();
    let err = message(
        w.write_converted("w", DType::F16, &mut [0u8; 7])
            .unwrap_err(),
    );
    assert!(err.contains("`text_model.w`"), "{err}");
    assert!(err.contains("8-byte destination, got 7"), "{err}");
    let err = message(
        w.write_converted("w", DType::U32, &mut [0u8; 16])
            .unwrap_err(),
    );
    assert!(err.contains("not U32"), "{err}");
    let err = message(
        w.write_converted("ids", DType::F32, &mut [0u8; 12])
            .unwrap_err(),
    );
    assert!(err.contains("stored as I64"), "{err}");
    assert!(err.contains("x.safetensors"), "{err}");
    let err = message(
        w.write_converted("absent", DType::F32, &mut [])
            .unwrap_err(),
    );
    assert!(err.contains("no tensor `absent`"), "{err}");
}

#[test]
fn sharded_index_loads_every_shard() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("m-00001-of-00002.safetensors"),
        &[f32_tensor("a.weight", &[2, 2]), f32_tensor("a.bias", &[2])],
    );
    write(
        &dir.path().join("m-00002-of-00002.safetensors"),
        &[f32_tensor("b.weight", &[3])],
    );
    let index = dir.path().join("m.safetensors.index.json");
    std::fs::write(
        &index,
        r#"{"metadata": {"total_size": 36}, "weight_map": {
            "a.weight": "m-00001-of-00002.safetensors",
            "a.bias": "m-00001-of-00002.safetensors",
            "b.weight": "m-00002-of-00002.safetensors"}}"#,
    )
    .unwrap();
    let w = Weights::from_index(Component::Vae, &index).unwrap();
    assert_eq!(
        w.names().collect::<Vec<_>>(),
        ["a.bias", "a.weight", "b.weight"]
    );
    assert_eq!(w.tensor("b.weight").unwrap().shape(), &[3]);
    assert!(w
        .tensor("b.weight")
        .unwrap()
        .path()
        .ends_with("m-00002-of-00002.safetensors"));
    let report = w
        .validate(&specs(&[("a.weight", &[2, 2]), ("b.weight", &[3])]))
        .unwrap();
    assert_eq!(report.checked, 2);
    assert_eq!(report.stored_bytes, 28);
    assert_eq!(report.unused, ["a.bias"]);

    // The index names a tensor its shard lacks.
    std::fs::write(
        &index,
        r#"{"weight_map": {"b.weight": "m-00001-of-00002.safetensors"}}"#,
    )
    .unwrap();
    let err = message(Weights::from_index(Component::Vae, &index).unwrap_err());
    assert!(
        err.contains("puts `b.weight` in m-00001-of-00002.safetensors"),
        "{err}"
    );
    // A shard that does not exist.
    std::fs::write(&index, r#"{"weight_map": {"c": "m-00003.safetensors"}}"#).unwrap();
    let err = message(Weights::from_index(Component::Vae, &index).unwrap_err());
    assert!(err.contains("m-00003.safetensors"), "{err}");
    // A shard outside the folder.
    std::fs::write(&index, r#"{"weight_map": {"c": "../evil.safetensors"}}"#).unwrap();
    let err = message(Weights::from_index(Component::Vae, &index).unwrap_err());
    assert!(err.contains("not a plain file name"), "{err}");
    // No weight_map, and not JSON.
    std::fs::write(&index, r#"{"metadata": {}}"#).unwrap();
    let err = message(Weights::from_index(Component::Vae, &index).unwrap_err());
    assert!(err.contains("no `weight_map`"), "{err}");
    std::fs::write(&index, "{").unwrap();
    let err = message(Weights::from_index(Component::Vae, &index).unwrap_err());
    assert!(err.contains("invalid JSON"), "{err}");
    // The same tensor in two shards.
    write(
        &dir.path().join("m-00002-of-00002.safetensors"),
        &[f32_tensor("a.bias", &[2])],
    );
    std::fs::write(
        &index,
        r#"{"weight_map": {"a.weight": "m-00001-of-00002.safetensors",
                           "a.bias": "m-00002-of-00002.safetensors"}}"#,
    )
    .unwrap();
    let err = message(Weights::from_index(Component::Vae, &index).unwrap_err());
    assert!(err.contains("`a.bias` is given twice"), "{err}");
}

#[test]
fn validation_reports_every_problem_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("unet.safetensors");
    write(
        &path,
        &[
            f32_tensor("conv_in.weight", &[4, 4, 3, 3]),
            f32_tensor("conv_in.bias", &[4]),
            ("time_ids", Dtype::I64, vec![2], vec![0u8; 16]),
            f32_tensor("extra", &[1]),
        ],
    );
    let w = Weights::from_file(Component::Unet, &path).unwrap();
    let mut required = specs(&[
        ("conv_in.weight", &[4, 4, 3, 3]),
        ("conv_in.bias", &[8]),
        ("time_ids", &[2]),
    ]);
    let missing: Vec<String> = (0..11).map(|i| format!("down.{i:02}.weight")).collect();
    required.extend(missing.iter().map(|n| TensorSpec::new(n.clone(), [1])));
    let err = message(w.validate(&required).unwrap_err());
    assert!(
        err.contains("unet weights do not match the model (14 required)"),
        "{err}"
    );
    assert!(err.contains("11 missing tensor(s)"), "{err}");
    assert!(
        err.contains("`down.00.weight`") && err.contains("`down.07.weight`"),
        "{err}"
    );
    assert!(
        !err.contains("`down.08.weight`"),
        "only the first 8 are listed: {err}"
    );
    assert!(err.contains("(and 3 more)"), "{err}");
    assert!(
        err.contains("`conv_in.bias`: expected shape [8], found [4]"),
        "{err}"
    );
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains("`time_ids`: stored as I64"), "{err}");

    let report = w
        .validate(&specs(&[
            ("conv_in.weight", &[4, 4, 3, 3]),
            ("conv_in.bias", &[4]),
        ]))
        .unwrap();
    assert_eq!(report.unused, ["extra", "time_ids"]);
    let warning = report.unused_warning(1).unwrap();
    assert!(
        warning.contains("2 unused") && warning.contains("(and 1 more)"),
        "{warning}"
    );
}

/// Writes `bytes` as a file and returns the error opening it.
fn open_err(dir: &Path, bytes: &[u8]) -> String {
    let path = dir.join("bad.safetensors");
    std::fs::write(&path, bytes).unwrap();
    let err = message(SafetensorsFile::open(&path).unwrap_err());
    assert!(
        err.contains("bad.safetensors"),
        "the error names the file: {err}"
    );
    err
}

fn with_header(header: &str, data: usize) -> Vec<u8> {
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.resize(bytes.len() + data, 0);
    bytes
}

#[test]
fn malformed_files_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Too short for the length field.
    assert!(open_err(d, &[1, 2, 3]).contains("too short"));
    // Header length past the end of the file.
    let mut bytes = 1000u64.to_le_bytes().to_vec();
    bytes.extend_from_slice(b"{}");
    let err = open_err(d, &bytes);
    assert!(
        err.contains("header length 1000 is larger than the rest of the file (2 bytes)"),
        "{err}"
    );
    let err = open_err(d, &u64::MAX.to_le_bytes());
    assert!(err.contains("larger than the rest of the file"), "{err}");
    // Garbage header.
    let err = open_err(d, &with_header("not json at all", 0));
    assert!(err.contains("not a JSON object"), "{err}");
    let err = open_err(d, &with_header("[1, 2]", 0));
    assert!(err.contains("not a JSON object"), "{err}");
    let err = open_err(
        d,
        &with_header(r#"{"w": {"dtype": "F32", "shape": [2]}}"#, 8),
    );
    assert!(err.contains("entry for tensor `w` is malformed"), "{err}");
    // Offsets out of range.
    let err = open_err(
        d,
        &with_header(
            r#"{"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}"#,
            8,
        ),
    );
    assert!(
        err.contains(
            "tensor `w`: data offsets [0, 16] are out of range (the data section is 8 bytes)"
        ),
        "{err}"
    );
    let err = open_err(
        d,
        &with_header(
            r#"{"w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}}"#,
            8,
        ),
    );
    assert!(err.contains("out of range"), "{err}");
    // Byte count does not match the shape, including an overflowing shape.
    let err = open_err(
        d,
        &with_header(
            r#"{"w": {"dtype": "F16", "shape": [3], "data_offsets": [0, 8]}}"#,
            8,
        ),
    );
    assert!(
        err.contains("F16 shape [3] needs 6 bytes but its data offsets [0, 8] hold 8"),
        "{err}"
    );
    let huge = format!(
        r#"{{"w": {{"dtype": "F32", "shape": [{m}, {m}], "data_offsets": [0, 8]}}}}"#,
        m = usize::MAX
    );
    assert!(open_err(d, &with_header(&huge, 8)).contains("too many"));

    // A real file cut short.
    let good = dir.path().join("good.safetensors");
    write(&good, &[f32_tensor("a", &[16]), f32_tensor("b", &[16])]);
    let bytes = std::fs::read(&good).unwrap();
    let err = open_err(d, &bytes[..bytes.len() - 10]);
    assert!(
        err.contains("tensor `b`") && err.contains("truncated"),
        "{err}"
    );
    let err = open_err(d, &bytes[..20]);
    assert!(err.contains("larger than the rest of the file"), "{err}");
    // A missing file is an I/O error naming it.
    let err = message(SafetensorsFile::open(d.join("absent.safetensors")).unwrap_err());
    assert!(err.contains("absent.safetensors"), "{err}");
}

/// A tiny diffusers folder: model_index.json, unet (fp16 variant only), vae (sharded), text encoder
/// with keys as given, tokenizer and scheduler configs.
fn make_folder(root: &Path, text_keys_prefixed: bool) -> PathBuf {
    std::fs::write(
        root.join("model_index.json"),
        r#"{"_class_name": "StableDiffusionPipeline"}"#,
    )
    .unwrap();
    for c in ["unet", "vae", "text_encoder", "tokenizer", "scheduler"] {
        std::fs::create_dir(root.join(c)).unwrap();
    }
    std::fs::write(root.join("unet/config.json"), r#"{"sample_size": 8}"#).unwrap();
    std::fs::write(root.join("scheduler/scheduler_config.json"), "{}").unwrap();
    write(
        &root.join("unet/diffusion_pytorch_model.fp16.safetensors"),
        &[(
            "conv_in.weight",
            Dtype::F16,
            vec![2],
            f16_bytes(&[1.0, 2.0]),
        )],
    );
    write(
        &root.join("vae/diffusion_pytorch_model-00001-of-00001.safetensors"),
        &[f32_tensor("decoder.conv_out.weight", &[3, 4, 3, 3])],
    );
    std::fs::write(
        root.join("vae/diffusion_pytorch_model.safetensors.index.json"),
        r#"{"weight_map": {"decoder.conv_out.weight": "diffusion_pytorch_model-00001-of-00001.safetensors"}}"#,
    )
    .unwrap();
    let (emb, ids): (&'static str, &'static str) = if text_keys_prefixed {
        (
            "text_model.embeddings.token_embedding.weight",
            "text_model.embeddings.position_ids",
        )
    } else {
        (
            "embeddings.token_embedding.weight",
            "embeddings.position_ids",
        )
    };
    write(
        &root.join("text_encoder/model.safetensors"),
        &[
            f32_tensor(emb, &[10, 4]),
            (ids, Dtype::I64, vec![1, 77], vec![0u8; 616]),
        ],
    );
    root.to_path_buf()
}

#[test]
fn text_encoder_names_with_and_without_the_prefix() {
    for prefixed in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let folder = DiffusersFolder::open(make_folder(dir.path(), prefixed)).unwrap();
        let te = folder.weights(Component::TextEncoder).unwrap();
        // Stored names always carry the prefix; both spellings look up the same tensor.
        assert_eq!(
            te.names().collect::<Vec<_>>(),
            [
                "text_model.embeddings.position_ids",
                "text_model.embeddings.token_embedding.weight"
            ]
        );
        let a = te.tensor("embeddings.token_embedding.weight").unwrap();
        let b = te
            .tensor("text_model.embeddings.token_embedding.weight")
            .unwrap();
        assert_eq!(a.data().as_ptr(), b.data().as_ptr());
        assert_eq!(a.shape(), &[10, 4]);
        for name in [
            "embeddings.token_embedding.weight",
            "text_model.embeddings.token_embedding.weight",
        ] {
            let report = te.validate(&specs(&[(name, &[10, 4])])).unwrap();
            assert_eq!(report.unused, ["text_model.embeddings.position_ids"]);
        }
        let err = message(
            te.validate(&specs(&[("embeddings.token_embedding.weight", &[10, 5])]))
                .unwrap_err(),
        );
        assert!(
            err.contains("expected shape [10, 5], found [10, 4]"),
            "{err}"
        );
    }
}

#[test]
fn text_encoder_with_both_spellings_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    write(
        &path,
        &[
            f32_tensor("final_layer_norm.weight", &[4]),
            f32_tensor("text_model.final_layer_norm.weight", &[4]),
        ],
    );
    let err = message(Weights::from_file(Component::TextEncoder, &path).unwrap_err());
    assert!(
        err.contains("`text_model.final_layer_norm.weight` is given twice"),
        "{err}"
    );
    // Other components take names literally.
    let w = Weights::from_file(Component::Unet, &path).unwrap();
    assert_eq!(w.len(), 2);
}

#[test]
fn folder_layout_variants_and_missing_parts() {
    let dir = tempfile::tempdir().unwrap();
    let root = make_folder(dir.path(), true);
    let folder = DiffusersFolder::open(&root).unwrap();
    assert!(folder
        .model_index_json()
        .contains("StableDiffusionPipeline"));
    assert_eq!(
        folder.config_json(Component::Unet).unwrap(),
        r#"{"sample_size": 8}"#
    );
    assert!(folder
        .config_path(Component::Scheduler)
        .unwrap()
        .ends_with("scheduler/scheduler_config.json"));

    // fp16 variant as a fallback, and as a preference.
    let unet = folder.weights(Component::Unet).unwrap();
    assert!(unet
        .origin()
        .ends_with("diffusion_pytorch_model.fp16.safetensors"));
    assert_eq!(
        unet.tensor("conv_in.weight").unwrap().dtype(),
        &StoredDtype::F16
    );
    write(
        &root.join("unet/diffusion_pytorch_model.safetensors"),
        &[f32_tensor("conv_in.weight", &[2])],
    );
    let unet = folder.weights(Component::Unet).unwrap();
    assert_eq!(
        unet.tensor("conv_in.weight").unwrap().dtype(),
        &StoredDtype::F32
    );
    let unet = folder
        .weights_with_variant(Component::Unet, "fp16")
        .unwrap();
    assert_eq!(
        unet.tensor("conv_in.weight").unwrap().dtype(),
        &StoredDtype::F16
    );
    // Sharded VAE.
    let vae = folder.weights(Component::Vae).unwrap();
    assert!(vae
        .origin()
        .ends_with("diffusion_pytorch_model.safetensors.index.json"));
    assert_eq!(
        vae.tensor("decoder.conv_out.weight").unwrap().shape(),
        &[3, 4, 3, 3]
    );

    // Missing pieces name the path.
    let err = message(folder.config_json(Component::Vae).unwrap_err());
    assert!(
        err.contains("vae/config.json") && err.contains("missing"),
        "{err}"
    );
    let err = message(folder.weights(Component::Tokenizer).unwrap_err());
    assert!(err.contains("no weights"), "{err}");
    std::fs::remove_file(root.join("text_encoder/model.safetensors")).unwrap();
    std::fs::write(root.join("text_encoder/model.bin"), b"pickle").unwrap();
    let err = message(folder.weights(Component::TextEncoder).unwrap_err());
    assert!(
        err.contains("text_encoder")
            && err.contains(
                "model.safetensors, model.safetensors.index.json, model.fp16.safetensors"
            ),
        "{err}"
    );
    assert!(err.contains("model.bin, a PyTorch pickle"), "{err}");
    std::fs::remove_dir_all(root.join("vae")).unwrap();
    let err = message(folder.weights(Component::Vae).unwrap_err());
    assert!(
        err.contains("/vae") && err.contains("no `vae` component"),
        "{err}"
    );
    std::fs::write(root.join("model_index.json"), "nope").unwrap();
    let err = message(DiffusersFolder::open(&root).unwrap_err());
    assert!(err.contains("model_index.json: invalid JSON"), "{err}");
    let err = message(DiffusersFolder::open(root.join("unet")).unwrap_err());
    assert!(
        err.contains("unet/model_index.json") && err.contains("not a diffusers folder"),
        "{err}"
    );
}

#[test]
fn name_lists_parse() {
    let path = Path::new("list.txt");
    let list = TensorSpec::parse_list("# comment\na.weight\t3,4\n\nscalar\t\n", path).unwrap();
    assert_eq!(
        list,
        [
            TensorSpec::new("a.weight", [3, 4]),
            TensorSpec::new("scalar", [])
        ]
    );
    let err = message(TensorSpec::parse_list("a\t3,x\n", path).unwrap_err());
    assert!(err.contains("list.txt: line 1: bad shape `3,x`"), "{err}");
    let err = message(TensorSpec::parse_list("ok\t1\nno-tab\n", path).unwrap_err());
    assert!(err.contains("line 2"), "{err}");
}
