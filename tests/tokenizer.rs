//! The CLIP tokenizer against transformers 5.24's `CLIPTokenizer`.
//!
//! `tests/data/tokenizer/cases.json` (made by `reference/make_tokenizer_data.py`, versions inside)
//! holds the ids of 256 prompts for SD1 settings (pad `<|endoftext|>`) and SD2 settings (pad `!`),
//! unpadded and padded/truncated to 77. Every case must match exactly, from each source of the
//! vocabulary: (a) the embedded open_clip file, (b) `data/clip/vocab.json` + `merges.txt`, (c) a
//! `tokenizer.json`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use proptest::prelude::*;
use serde::Deserialize;
use wgsd::tokenizer::{
    AddedToken, BpeVocab, ClipTokenizer, TokenizerConfig, Truncation, CLIP_MAX_LENGTH,
};
use wgsd::Error;

/// One prompt of `cases.json`.
#[derive(Deserialize)]
struct Case {
    index: usize,
    prompt: String,
    /// SD1 tokenizer, no padding or truncation.
    ids: Vec<u32>,
    /// SD2 tokenizer, no padding or truncation.
    sd2_unpadded_ids: Vec<u32>,
    /// SD1 tokenizer, padded/truncated to 77.
    sd1_ids: Vec<u32>,
    /// SD2 tokenizer, padded/truncated to 77.
    sd2_ids: Vec<u32>,
}

/// `cases.json`.
#[derive(Deserialize)]
struct Cases {
    max_length: usize,
    cases: Vec<Case>,
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn cases() -> &'static Cases {
    static CASES: OnceLock<Cases> = OnceLock::new();
    CASES.get_or_init(|| {
        let text = std::fs::read_to_string(repo("tests/data/tokenizer/cases.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    })
}

fn open_clip() -> &'static BpeVocab {
    static VOCAB: OnceLock<BpeVocab> = OnceLock::new();
    VOCAB.get_or_init(|| BpeVocab::open_clip().unwrap())
}

/// A fresh empty folder under the system temp folder.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wgsd-tokenizer-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Checks every case of `cases.json` with the SD1 and SD2 tokenizers built from `vocab`; returns
/// how many prompts matched (all of them, or it panics with the first mismatch).
fn check_all_cases(vocab: &BpeVocab, source: &str) -> usize {
    let cases = cases();
    assert!(cases.cases.len() >= 220, "{} cases", cases.cases.len());
    assert_eq!(cases.max_length, CLIP_MAX_LENGTH);
    let sd1 = ClipTokenizer::new(vocab.clone(), &TokenizerConfig::sd_v1_5()).unwrap();
    let sd2 = ClipTokenizer::new(vocab.clone(), &TokenizerConfig::sd_v2_1()).unwrap();
    for case in &cases.cases {
        let what = |setting: &str| {
            format!(
                "{source}, {setting}, case {}: {:?}",
                case.index, case.prompt
            )
        };
        assert_eq!(
            sd1.encode_unpadded(&case.prompt).unwrap(),
            case.ids,
            "{}",
            what("SD1 unpadded")
        );
        assert_eq!(
            sd2.encode_unpadded(&case.prompt).unwrap(),
            case.sd2_unpadded_ids,
            "{}",
            what("SD2 unpadded")
        );
        let e1 = sd1.encode(&case.prompt).unwrap();
        let e2 = sd2.encode(&case.prompt).unwrap();
        assert_eq!(e1.ids, case.sd1_ids, "{}", what("SD1 padded"));
        assert_eq!(e2.ids, case.sd2_ids, "{}", what("SD2 padded"));
        assert_eq!(
            e1.truncated.is_some(),
            case.ids.len() > cases.max_length,
            "{}",
            what("SD1 truncation")
        );
        assert_eq!(
            e2.truncated.is_some(),
            case.sd2_unpadded_ids.len() > cases.max_length,
            "{}",
            what("SD2 truncation")
        );
    }
    cases.cases.len()
}

#[test]
fn embedded_vocabulary_matches_transformers_on_every_case() {
    let n = check_all_cases(open_clip(), "embedded open_clip vocabulary");
    assert_eq!(n, 256);
}

#[test]
fn vocab_json_and_merges_txt_match_transformers_on_every_case() {
    let vocab =
        BpeVocab::from_vocab_merges(&repo("data/clip/vocab.json"), &repo("data/clip/merges.txt"))
            .unwrap();
    check_all_cases(&vocab, "data/clip/vocab.json + merges.txt");
}

#[test]
fn tokenizer_json_matches_transformers_on_every_case() {
    // A tokenizer.json as transformers 5 writes it (merges as ["a", "b"] pairs), and as older
    // versions did ("a b" strings): half of each here.
    let vocab = open_clip();
    let merges: Vec<serde_json::Value> = vocab
        .merges
        .iter()
        .enumerate()
        .map(|(i, (a, b))| {
            if i % 2 == 0 {
                serde_json::json!([a, b])
            } else {
                serde_json::json!(format!("{a} {b}"))
            }
        })
        .collect();
    let json = serde_json::json!({
        "version": "1.0",
        "model": {"type": "BPE", "vocab": vocab.vocab, "merges": merges, "end_of_word_suffix": "</w>"},
    });
    let dir = temp_dir("tokenizer-json");
    let path = dir.join("tokenizer.json");
    std::fs::write(&path, serde_json::to_string(&json).unwrap()).unwrap();
    let read = BpeVocab::from_tokenizer_json(&path).unwrap();
    assert_eq!(&read, vocab);
    check_all_cases(&read, "tokenizer.json");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn embedded_vocabulary_is_the_published_vocab_json() {
    // data/clip/vocab.json + merges.txt are the layout of the SD1.5/2.1 `tokenizer/` folders, derived
    // by the Python reference (sha256s in cases.json).
    let files =
        BpeVocab::from_vocab_merges(&repo("data/clip/vocab.json"), &repo("data/clip/merges.txt"))
            .unwrap();
    let embedded = open_clip();
    assert_eq!(embedded.vocab.len(), 49408);
    assert_eq!(embedded.merges.len(), 48894);
    assert_eq!(embedded.vocab["<|startoftext|>"], 49406);
    assert_eq!(embedded.vocab["<|endoftext|>"], 49407);
    assert_eq!(embedded.vocab["!"], 0);
    assert_eq!(&files, embedded);
}

#[test]
fn a_photo_of_a_cat() {
    // CLIPTokenizer.from_pretrained("openai/clip-vit-large-patch14")("a photo of a cat").input_ids
    let sd1 = ClipTokenizer::embedded(&TokenizerConfig::sd_v1_5()).unwrap();
    let sd2 = ClipTokenizer::embedded(&TokenizerConfig::sd_v2_1()).unwrap();
    let expected = [49406, 320, 1125, 539, 320, 2368, 49407];
    assert_eq!(sd1.encode_unpadded("a photo of a cat").unwrap(), expected);
    let e1 = sd1.encode("a photo of a cat").unwrap();
    let e2 = sd2.encode("a photo of a cat").unwrap();
    assert_eq!(e1.ids[..7], expected);
    assert_eq!(e2.ids[..7], expected);
    assert!(e1.ids[7..].iter().all(|&id| id == 49407));
    assert!(e2.ids[7..].iter().all(|&id| id == 0));
    assert_eq!(
        (sd1.pad_id(), sd2.pad_id(), sd1.bos_id(), sd1.eos_id()),
        (49407, 0, 49406, 49407)
    );
    assert_eq!(sd1.vocab_size(), 49408);
    assert_eq!(sd1.model_max_length(), 77);
    assert_eq!(
        sd1.decode(&e1.ids[..7]).unwrap(),
        "<|startoftext|>a photo of a cat <|endoftext|>"
    );
}

#[test]
fn truncation_reports_what_was_cut_as_diffusers_does() {
    // Expected texts: for case c of cases.json, with tok = CLIPTokenizer.from_pretrained("data/clip",
    // model_max_length=77) (transformers 5.24):
    //   u = tok(c["prompt"], padding="longest").input_ids; tok.batch_decode([u[76:-1]])[0]
    // (diffusers 0.42's StableDiffusionPipeline.encode_prompt warning).
    let sd1 = ClipTokenizer::embedded(&TokenizerConfig::sd_v1_5()).unwrap();
    let by_index = |i: usize| cases().cases.iter().find(|c| c.index == i).unwrap();
    for (index, untruncated, text) in [
        (244, 78, "resolution"),
        (250, 79, "cat cat"),
        (
            254,
            122,
            ", a , a , a , a , a , a , a , a , a , a , a , a , a , a , a , a , a , a , a , a , a , a ,",
        ),
    ] {
        let encoding = sd1.encode(&by_index(index).prompt).unwrap();
        let truncation = encoding.truncated.expect("truncated");
        assert_eq!(
            truncation,
            Truncation { text: text.to_string(), tokens: untruncated - 77, model_max_length: 77 },
            "case {index}"
        );
        assert_eq!(encoding.ids.len(), 77);
        assert_eq!(encoding.ids[76], 49407, "EOS stays last");
    }
    let truncation = sd1
        .encode(&by_index(244).prompt)
        .unwrap()
        .truncated
        .unwrap();
    assert_eq!(
        truncation.to_string(),
        "The following part of your input was truncated because CLIP can only handle sequences up to 77 \
         tokens: resolution"
    );
}

#[test]
fn any_prompt_tokenizes() {
    let sd2 = ClipTokenizer::embedded(&TokenizerConfig::sd_v2_1()).unwrap();
    for prompt in [
        "",
        " ",
        "\t\n\r ",
        "\u{3000}\u{a0}",
        "\0",
        "\u{feff}",
        "\u{200b}",
        "\u{10ffff}",
        "\u{301}",
    ] {
        let e = sd2.encode(prompt).unwrap();
        assert_eq!(e.ids.len(), 77);
        assert_eq!(e.ids[0], 49406, "{prompt:?}");
    }
    assert_eq!(sd2.encode_unpadded("").unwrap(), [49406, 49407]);
    assert_eq!(sd2.encode_unpadded(" \t\n ").unwrap(), [49406, 49407]);
    let long = "🐈".repeat(10_000);
    let e = sd2.encode(&long).unwrap();
    assert_eq!(e.ids.len(), 77);
    assert!(e.truncated.unwrap().tokens > 1000);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn every_string_gives_bos_prompt_eos_padding(prompt in any::<String>()) {
        static SD1: OnceLock<ClipTokenizer> = OnceLock::new();
        let sd1 = SD1.get_or_init(|| ClipTokenizer::new(open_clip().clone(), &TokenizerConfig::sd_v1_5()).unwrap());
        let unpadded = sd1.encode_unpadded(&prompt).unwrap();
        let e = sd1.encode(&prompt).unwrap();
        prop_assert_eq!(e.ids.len(), 77);
        prop_assert_eq!(e.ids[0], 49406);
        prop_assert_eq!(*unpadded.last().unwrap(), 49407);
        prop_assert!(e.ids.iter().all(|&id| id < 49408));
        if unpadded.len() <= 77 {
            prop_assert_eq!(&e.ids[..unpadded.len()], &unpadded[..]);
            prop_assert!(e.truncated.is_none());
        } else {
            prop_assert_eq!(&e.ids[..76], &unpadded[..76]);
            prop_assert_eq!(e.truncated.unwrap().tokens, unpadded.len() - 77);
        }
    }
}

/// A prompt and its expected ids.
type PromptIds<'a> = (&'a str, &'a [u32]);

/// The published SD1.5 / SD2.1 `tokenizer/` configs predate transformers 4.34: their BOS, EOS and
/// unknown tokens are `AddedToken` objects with `"normalized": true`, and there is no
/// `added_tokens_decoder`, so `special_tokens_map.json` wins. transformers 5 then matches
/// `<|startoftext|>` (and, for SD2.1, `<|endoftext|>`) in the lower-cased prompt.
#[test]
fn published_configs_with_normalized_special_tokens() {
    let object = |content: &str| serde_json::json!({"content": content, "lstrip": false, "normalized": true, "rstrip": false, "single_word": false});
    let config = |pad: &str| {
        let with_type = |content: &str| {
            let mut o = object(content);
            o["__type"] = "AddedToken".into();
            o
        };
        serde_json::json!({
            "add_prefix_space": false, "bos_token": with_type("<|startoftext|>"), "do_lower_case": true,
            "eos_token": with_type("<|endoftext|>"), "errors": "replace", "model_max_length": 77,
            "name_or_path": "openai/clip-vit-large-patch14", "pad_token": pad,
            "special_tokens_map_file": "./special_tokens_map.json", "tokenizer_class": "CLIPTokenizer",
            "unk_token": with_type("<|endoftext|>"),
        })
    };
    let special_tokens_map = |pad: &str| {
        serde_json::json!({"bos_token": object("<|startoftext|>"), "eos_token": object("<|endoftext|>"),
                           "pad_token": pad, "unk_token": object("<|endoftext|>")})
    };
    // Expected ids: CLIPTokenizer.from_pretrained(folder)(prompt).input_ids (transformers 5.24), the
    // folder holding data/clip's vocab.json + merges.txt and these two files.
    let expectations: [(&str, &[PromptIds]); 2] = [
        (
            "<|endoftext|>",
            &[
                (
                    "<|ENDOFTEXT|>",
                    &[49406, 27, 347, 40786, 4160, 91, 285, 49407],
                ),
                ("<|StartOfText|> x", &[49406, 49406, 343, 49407]),
                ("wow!!", &[49406, 2781, 748, 49407]),
            ],
        ),
        (
            "!",
            &[
                ("<|ENDOFTEXT|>", &[49406, 49407, 49407]),
                ("<|StartOfText|> x", &[49406, 49406, 343, 49407]),
                ("wow!!", &[49406, 2781, 0, 0, 49407]),
            ],
        ),
    ];
    for (pad, cases) in expectations {
        let dir = temp_dir(if pad == "!" { "sd21" } else { "sd15" });
        std::fs::write(dir.join("tokenizer_config.json"), config(pad).to_string()).unwrap();
        std::fs::write(
            dir.join("special_tokens_map.json"),
            special_tokens_map(pad).to_string(),
        )
        .unwrap();
        let config = TokenizerConfig::from_folder(&dir).unwrap();
        assert_eq!(config.pad_token, AddedToken::special(pad));
        assert!(config.bos_token.normalized);
        let tokenizer = ClipTokenizer::new(open_clip().clone(), &config).unwrap();
        for (prompt, ids) in cases {
            assert_eq!(
                tokenizer.encode_unpadded(prompt).unwrap(),
                *ids,
                "pad {pad:?}, {prompt:?}"
            );
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn config_files_set_length_and_pad_token() {
    let dir = temp_dir("config");
    // No files: CLIPTokenizer's defaults.
    assert_eq!(
        TokenizerConfig::from_folder(&dir).unwrap(),
        TokenizerConfig::sd_v1_5()
    );
    // transformers 5's save_pretrained without a model_max_length writes int(1e30): CLIP's 77.
    std::fs::write(
        dir.join("tokenizer_config.json"),
        r#"{"model_max_length": 1000000000000000019884624838656, "pad_token": "!"}"#,
    )
    .unwrap();
    assert_eq!(
        TokenizerConfig::from_folder(&dir).unwrap(),
        TokenizerConfig::sd_v2_1()
    );
    // A shorter length truncates there; a pad token given as an object.
    std::fs::write(
        dir.join("tokenizer_config.json"),
        r#"{"model_max_length": 6, "pad_token": {"content": "!", "normalized": false}}"#,
    )
    .unwrap();
    let config = TokenizerConfig::from_folder(&dir).unwrap();
    assert_eq!(config.model_max_length, 6);
    let tokenizer = ClipTokenizer::new(open_clip().clone(), &config).unwrap();
    let e = tokenizer.encode("a photo of a cat").unwrap();
    assert_eq!(e.ids, [49406, 320, 1125, 539, 320, 49407]);
    assert_eq!(e.truncated.unwrap().text, "cat");
    assert_eq!(
        tokenizer.encode("a").unwrap().ids,
        [49406, 320, 49407, 0, 0, 0]
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// The tiny fixtures' reduced vocabulary: 512 byte symbols + 486 merges + 2 specials = 1000 tokens.
#[test]
fn reduced_vocabulary_as_the_tiny_fixtures() {
    // Expected ids: CLIPTokenizer.from_pretrained("tests/fixtures/tiny-sd1/tokenizer")(prompt).input_ids
    // and likewise tiny-sd2 (pad "!"), transformers 5.24.
    let vocab = BpeVocab::open_clip_with_merges(486).unwrap();
    assert_eq!(vocab.vocab.len(), 1000);
    let sd1 = ClipTokenizer::new(vocab.clone(), &TokenizerConfig::sd_v1_5()).unwrap();
    let sd2 = ClipTokenizer::new(vocab.clone(), &TokenizerConfig::sd_v2_1()).unwrap();
    let expectations: [(&str, &[u32], &[u32]); 3] = [
        (
            "a photo of a cat",
            &[998, 320, 816, 531, 539, 320, 66, 536, 999],
            &[998, 320, 816, 531, 539, 320, 66, 536, 999],
        ),
        (
            "Hello, World!!",
            &[998, 71, 826, 334, 267, 641, 730, 748, 999],
            &[998, 71, 826, 334, 267, 641, 730, 0, 0, 999],
        ),
        ("", &[998, 999], &[998, 999]),
    ];
    for (prompt, ids1, ids2) in expectations {
        assert_eq!(sd1.encode_unpadded(prompt).unwrap(), ids1, "{prompt:?}");
        assert_eq!(sd2.encode_unpadded(prompt).unwrap(), ids2, "{prompt:?}");
    }
    assert_eq!(sd1.encode("").unwrap().ids[76], 999);
    assert_eq!(sd2.encode("").unwrap().ids[76], 0);
}

/// The tiny fixtures' `tokenizer/` folders (made by reference/make_fixtures.py), where this checkout
/// has them: both file layouts hold the reduced open_clip vocabulary, and the folder's tokenizer
/// gives the same ids as that vocabulary with the folder's config on every prompt of cases.json.
#[test]
fn tiny_fixture_folders_tokenize() {
    for name in ["tiny-sd1", "tiny-sd2", "tiny-3level"] {
        let dir = repo(&format!("tests/fixtures/{name}/tokenizer"));
        if !dir.is_dir() {
            eprintln!("{} absent: fixture folder not checked", dir.display());
            continue;
        }
        let from_folder = BpeVocab::from_folder(&dir).unwrap();
        let derived = BpeVocab::open_clip_with_merges(from_folder.merges.len()).unwrap();
        assert_eq!(from_folder, derived, "{name}");
        let from_pair =
            BpeVocab::from_vocab_merges(&dir.join("vocab.json"), &dir.join("merges.txt")).unwrap();
        assert_eq!(from_pair, derived, "{name}");

        let tokenizer = ClipTokenizer::from_folder(&dir).unwrap();
        let reference =
            ClipTokenizer::new(derived, &TokenizerConfig::from_folder(&dir).unwrap()).unwrap();
        assert_eq!(tokenizer.model_max_length(), 77, "{name}");
        for case in &cases().cases {
            assert_eq!(
                tokenizer.encode(&case.prompt).unwrap(),
                reference.encode(&case.prompt).unwrap(),
                "{name}: case {}",
                case.index
            );
        }
    }
}

#[test]
fn bad_files_give_errors_that_name_them() {
    let dir = temp_dir("bad");
    let message = |e: Error| e.to_string();

    // Missing vocabulary.
    let e = ClipTokenizer::from_folder(&dir).unwrap_err();
    assert!(
        matches!(&e, Error::Io { path, .. } if path.ends_with("vocab.json")),
        "{e}"
    );

    // Corrupt vocab.json.
    std::fs::write(dir.join("vocab.json"), "{\"a\": 0,").unwrap();
    std::fs::write(dir.join("merges.txt"), "#version: 0.2\n").unwrap();
    let e = message(ClipTokenizer::from_folder(&dir).unwrap_err());
    assert!(
        e.contains("vocab.json") && e.contains("not valid JSON"),
        "{e}"
    );
    std::fs::write(dir.join("vocab.json"), "{\"a\": -1}").unwrap();
    let e = message(ClipTokenizer::from_folder(&dir).unwrap_err());
    assert!(e.contains("vocab.json") && e.contains("\"a\""), "{e}");

    // Missing / corrupt merges.txt.
    std::fs::write(
        dir.join("vocab.json"),
        r#"{"a": 0, "b</w>": 1, "ab</w>": 2, "<|startoftext|>": 3, "<|endoftext|>": 4}"#,
    )
    .unwrap();
    std::fs::remove_file(dir.join("merges.txt")).unwrap();
    let e = ClipTokenizer::from_folder(&dir).unwrap_err();
    assert!(
        matches!(&e, Error::Io { path, .. } if path.ends_with("merges.txt")),
        "{e}"
    );
    std::fs::write(dir.join("merges.txt"), "#version: 0.2\na b</w>\nab\n").unwrap();
    let e = message(ClipTokenizer::from_folder(&dir).unwrap_err());
    assert!(e.contains("merges.txt") && e.contains("line 3"), "{e}");
    std::fs::write(dir.join("merges.txt"), "#version: 0.2\na c</w>\n").unwrap();
    let e = message(ClipTokenizer::from_folder(&dir).unwrap_err());
    assert!(e.contains("merges.txt") && e.contains("\"c</w>\""), "{e}");
    std::fs::write(dir.join("merges.txt"), [0xff, 0xfe]).unwrap();
    let e = message(ClipTokenizer::from_folder(&dir).unwrap_err());
    assert!(e.contains("merges.txt") && e.contains("UTF-8"), "{e}");

    // A tiny valid folder works, unknown pieces become <|endoftext|> (the unknown token).
    std::fs::write(dir.join("merges.txt"), "#version: 0.2\na b</w>\n").unwrap();
    let tokenizer = ClipTokenizer::from_folder(&dir).unwrap();
    assert_eq!(tokenizer.encode_unpadded("AB zz").unwrap(), [3, 2, 4, 4, 4]);

    // A named token that is not in the vocabulary (transformers would give it an id past the end).
    std::fs::write(
        dir.join("tokenizer_config.json"),
        r#"{"pad_token": "<pad>"}"#,
    )
    .unwrap();
    let e = message(ClipTokenizer::from_folder(&dir).unwrap_err());
    assert!(e.contains("pad token \"<pad>\""), "{e}");

    // Corrupt configs.
    std::fs::write(
        dir.join("tokenizer_config.json"),
        r#"{"model_max_length": "long"}"#,
    )
    .unwrap();
    let e = message(ClipTokenizer::from_folder(&dir).unwrap_err());
    assert!(
        e.contains("tokenizer_config.json") && e.contains("model_max_length"),
        "{e}"
    );
    std::fs::write(
        dir.join("tokenizer_config.json"),
        r#"{"model_max_length": 1}"#,
    )
    .unwrap();
    let e = message(ClipTokenizer::from_folder(&dir).unwrap_err());
    assert!(e.contains("tokenizer_config.json"), "{e}");
    std::fs::write(dir.join("tokenizer_config.json"), r#"{"pad_token": 5}"#).unwrap();
    let e = message(ClipTokenizer::from_folder(&dir).unwrap_err());
    assert!(
        e.contains("tokenizer_config.json") && e.contains("pad_token"),
        "{e}"
    );
    std::fs::write(dir.join("tokenizer_config.json"), "[]").unwrap();
    let e = message(ClipTokenizer::from_folder(&dir).unwrap_err());
    assert!(e.contains("tokenizer_config.json"), "{e}");
    std::fs::remove_file(dir.join("tokenizer_config.json")).unwrap();
    std::fs::write(
        dir.join("special_tokens_map.json"),
        r#"{"pad_token": {"lstrip": false}}"#,
    )
    .unwrap();
    let e = message(ClipTokenizer::from_folder(&dir).unwrap_err());
    assert!(
        e.contains("special_tokens_map.json") && e.contains("content"),
        "{e}"
    );
    std::fs::remove_file(dir.join("special_tokens_map.json")).unwrap();

    // A corrupt tokenizer.json is preferred over vocab.json, and named.
    std::fs::write(
        dir.join("tokenizer.json"),
        r#"{"model": {"type": "WordPiece", "vocab": {}}}"#,
    )
    .unwrap();
    let e = message(ClipTokenizer::from_folder(&dir).unwrap_err());
    assert!(
        e.contains("tokenizer.json") && e.contains("WordPiece"),
        "{e}"
    );
    std::fs::write(
        dir.join("tokenizer.json"),
        r#"{"model": {"vocab": {"a": 0}, "merges": ["a b c"]}}"#,
    )
    .unwrap();
    let e = message(ClipTokenizer::from_folder(&dir).unwrap_err());
    assert!(
        e.contains("tokenizer.json") && e.contains("merges[0]"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
