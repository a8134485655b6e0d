//! The tokenizer settings a model folder carries: `tokenizer_config.json` and
//! `special_tokens_map.json`.
//!
//! Only what changes the ids is read: `model_max_length`, the BOS, EOS, unknown and pad tokens, and
//! `added_tokens_decoder`. The precedence is transformers 5's (`PreTrainedTokenizerBase.from_pretrained`):
//! - `tokenizer_config.json` gives the values;
//! - when it has no `added_tokens_decoder` (files written before transformers 4.34, such as the
//!   published SD1.5 and SD2.1 folders), `special_tokens_map.json` overrides its special tokens;
//!   and the `added_tokens` of `tokenizer.json`, if any, stand for `added_tokens_decoder`;
//! - a named special token whose text is in `added_tokens_decoder` takes that entry's flags.

use std::path::Path;

use serde_json::{Map, Value};

use super::vocab::{read_json, BOS_TOKEN, EOS_TOKEN};
use crate::{Error, Result};

/// The sequence length of every CLIP text encoder in Stable Diffusion
/// (`max_position_embeddings` in their `text_encoder/config.json`).
pub const CLIP_MAX_LENGTH: usize = 77;

/// A `model_max_length` at or above this is transformers' "no limit" placeholder
/// (`int(1e30)`, written when a config has none); wgsd then uses [`CLIP_MAX_LENGTH`].
const NO_LIMIT_PLACEHOLDER: f64 = 1e9;

/// A token matched in the raw prompt before BPE, as transformers' `AddedToken`.
///
/// All flags default to `false`, as transformers 5 does for a special token given as a plain
/// string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddedToken {
    /// The token's text, e.g. `<|endoftext|>` or `!`.
    pub content: String,
    /// A special token (always the case for the BOS, EOS, unknown and pad tokens).
    pub special: bool,
    /// Matched in the normalized (lower-cased, NFC, whitespace-collapsed) prompt rather than the raw
    /// one.
    pub normalized: bool,
    /// Swallows the whitespace on its left.
    pub lstrip: bool,
    /// Swallows the whitespace on its right.
    pub rstrip: bool,
    /// Only matched as a whole word.
    pub single_word: bool,
}

impl AddedToken {
    /// A special token with every flag off.
    pub fn special(content: &str) -> Self {
        Self {
            content: content.to_string(),
            special: true,
            normalized: false,
            lstrip: false,
            rstrip: false,
            single_word: false,
        }
    }

    /// A token as a config file writes it: a plain string, or an object with `content` and flags.
    fn from_json(value: &Value, special: bool, path: &Path, key: &str) -> Result<Self> {
        match value {
            Value::String(content) => Ok(Self {
                special,
                ..Self::special(content)
            }),
            Value::Object(object) => {
                let content = object
                    .get("content")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        Error::format(path, format!("{key} has no string \"content\": {value}"))
                    })?;
                let flag = |name: &str| -> Result<bool> {
                    match object.get(name) {
                        None | Some(Value::Null) => Ok(false),
                        Some(Value::Bool(b)) => Ok(*b),
                        Some(other) => Err(Error::format(
                            path,
                            format!("{key}.{name} is not true or false: {other}"),
                        )),
                    }
                };
                Ok(Self {
                    content: content.to_string(),
                    special: object
                        .get("special")
                        .and_then(Value::as_bool)
                        .unwrap_or(special),
                    normalized: flag("normalized")?,
                    lstrip: flag("lstrip")?,
                    rstrip: flag("rstrip")?,
                    single_word: flag("single_word")?,
                })
            }
            other => Err(Error::format(
                path,
                format!("{key} is neither a string nor a {{\"content\": ...}} object: {other}"),
            )),
        }
    }
}

/// The settings of a CLIP tokenizer that change its ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenizerConfig {
    /// Encodings are truncated and padded to this many tokens, BOS and EOS included.
    pub model_max_length: usize,
    /// Starts every sequence: `<|startoftext|>`.
    pub bos_token: AddedToken,
    /// Ends every sequence: `<|endoftext|>`.
    pub eos_token: AddedToken,
    /// Stands for a piece missing from the vocabulary: `<|endoftext|>`.
    pub unk_token: AddedToken,
    /// Fills a sequence up to `model_max_length`: `<|endoftext|>` for SD1, `!` (id 0) for SD2.
    ///
    /// Like every special token it is also matched in the prompt: with SD2's `!`, each `!` of a prompt
    /// becomes id 0 instead of a BPE token such as `!</w>` (256) or `!!!</w>`.
    pub pad_token: AddedToken,
    /// Other added tokens of the folder (`added_tokens_decoder`), in id order.
    pub added_tokens: Vec<AddedToken>,
}

impl Default for TokenizerConfig {
    /// transformers' `CLIPTokenizer` defaults, with the CLIP text encoder's 77 tokens: BOS
    /// `<|startoftext|>`, EOS, unknown and pad `<|endoftext|>`, all plain special tokens.
    fn default() -> Self {
        Self {
            model_max_length: CLIP_MAX_LENGTH,
            bos_token: AddedToken::special(BOS_TOKEN),
            eos_token: AddedToken::special(EOS_TOKEN),
            unk_token: AddedToken::special(EOS_TOKEN),
            pad_token: AddedToken::special(EOS_TOKEN),
            added_tokens: Vec::new(),
        }
    }
}

impl TokenizerConfig {
    /// SD1.x (`runwayml/stable-diffusion-v1-5` `tokenizer/`): 77 tokens, padded with `<|endoftext|>`
    /// (49407).
    pub fn sd_v1_5() -> Self {
        Self::default()
    }

    /// SD2.x (`stabilityai/stable-diffusion-2-1` `tokenizer/`, and SDXL's `tokenizer_2/`): 77 tokens,
    /// padded with `!` (id 0).
    pub fn sd_v2_1() -> Self {
        Self {
            pad_token: AddedToken::special("!"),
            ..Self::default()
        }
    }

    /// Reads `tokenizer_config.json` and `special_tokens_map.json` of a tokenizer folder, over
    /// [`TokenizerConfig::default`]. Missing files keep the defaults; unreadable ones are errors that
    /// name them.
    pub fn from_folder(dir: &Path) -> Result<Self> {
        let mut config = Self::default();
        let config_path = dir.join("tokenizer_config.json");
        let mut has_added_tokens_decoder = false;
        let mut decoder_flags: Vec<AddedToken> = Vec::new();
        if config_path.is_file() {
            let json = read_json(&config_path)?;
            let object = as_object(&json, &config_path)?;
            if let Some(length) = object.get("model_max_length") {
                config.model_max_length = parse_max_length(length, &config_path)?;
            }
            config.set_special_tokens(object, &config_path)?;
            if let Some(decoder) = object.get("added_tokens_decoder") {
                has_added_tokens_decoder = true;
                decoder_flags = parse_added_tokens_decoder(decoder, &config_path)?;
            }
        }
        if !has_added_tokens_decoder {
            let map_path = dir.join("special_tokens_map.json");
            if map_path.is_file() {
                let json = read_json(&map_path)?;
                config.set_special_tokens(as_object(&json, &map_path)?, &map_path)?;
            }
            let tokenizer_json = dir.join("tokenizer.json");
            if tokenizer_json.is_file() {
                decoder_flags = parse_tokenizer_json_added_tokens(&tokenizer_json)?;
            }
        }
        for named in [
            &mut config.bos_token,
            &mut config.eos_token,
            &mut config.unk_token,
            &mut config.pad_token,
        ] {
            if let Some(entry) = decoder_flags.iter().find(|t| t.content == named.content) {
                *named = AddedToken {
                    special: true,
                    ..entry.clone()
                };
            }
        }
        config.added_tokens = decoder_flags;
        Ok(config)
    }

    /// Sets the BOS, EOS, unknown and pad tokens that `object` names (a `null` keeps the current one).
    fn set_special_tokens(&mut self, object: &Map<String, Value>, path: &Path) -> Result<()> {
        for (key, token) in [
            ("bos_token", &mut self.bos_token),
            ("eos_token", &mut self.eos_token),
            ("unk_token", &mut self.unk_token),
            ("pad_token", &mut self.pad_token),
        ] {
            match object.get(key) {
                None | Some(Value::Null) => {}
                Some(value) => *token = AddedToken::from_json(value, true, path, key)?,
            }
        }
        Ok(())
    }
}

/// The JSON value as an object, or an error naming the file.
fn as_object<'a>(json: &'a Value, path: &Path) -> Result<&'a Map<String, Value>> {
    json.as_object()
        .ok_or_else(|| Error::format(path, "is not a JSON object"))
}

/// `model_max_length`: an integer of at least 2 (BOS and EOS); transformers' "no limit" placeholder
/// gives [`CLIP_MAX_LENGTH`].
fn parse_max_length(value: &Value, path: &Path) -> Result<usize> {
    let invalid = || {
        Error::format(
            path,
            format!("model_max_length must be an integer of at least 2, found {value}"),
        )
    };
    match value.as_f64() {
        Some(x) if x >= NO_LIMIT_PLACEHOLDER => Ok(CLIP_MAX_LENGTH),
        Some(_) => value
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n >= 2)
            .ok_or_else(invalid),
        None => Err(invalid()),
    }
}

/// `added_tokens_decoder`: `{"49406": {"content": ..., flags}, ...}`, returned in id order.
fn parse_added_tokens_decoder(value: &Value, path: &Path) -> Result<Vec<AddedToken>> {
    let object = value.as_object().ok_or_else(|| {
        Error::format(
            path,
            "added_tokens_decoder is not an {\"id\": token} object",
        )
    })?;
    let mut tokens = object
        .iter()
        .map(|(id, token)| {
            let id: u32 = id.parse().map_err(|_| {
                Error::format(
                    path,
                    format!("added_tokens_decoder key {id:?} is not an id"),
                )
            })?;
            let key = format!("added_tokens_decoder[{id}]");
            Ok((id, AddedToken::from_json(token, false, path, &key)?))
        })
        .collect::<Result<Vec<_>>>()?;
    tokens.sort_by_key(|(id, _)| *id);
    Ok(tokens.into_iter().map(|(_, token)| token).collect())
}

/// The `added_tokens` list of a `tokenizer.json` (`[{"id": 49406, "content": ..., flags}, ...]`), in
/// id order.
fn parse_tokenizer_json_added_tokens(path: &Path) -> Result<Vec<AddedToken>> {
    let json = read_json(path)?;
    let Some(list) = json.get("added_tokens") else {
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .ok_or_else(|| Error::format(path, "added_tokens is not a list"))?;
    let mut tokens = list
        .iter()
        .enumerate()
        .map(|(i, token)| {
            let key = format!("added_tokens[{i}]");
            let id = token
                .get("id")
                .and_then(Value::as_u64)
                .ok_or_else(|| Error::format(path, format!("{key} has no integer \"id\"")))?;
            Ok((id, AddedToken::from_json(token, false, path, &key)?))
        })
        .collect::<Result<Vec<_>>>()?;
    tokens.sort_by_key(|(id, _)| *id);
    Ok(tokens.into_iter().map(|(_, token)| token).collect())
}
