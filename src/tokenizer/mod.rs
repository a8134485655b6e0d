//! The CLIP BPE tokenizer: prompt text → the token ids of the CLIP text encoder.
//!
//! It gives exactly the ids of transformers 5's `CLIPTokenizer`, because it is the same pipeline
//! built with the same library (HF `tokenizers`), as `transformers/models/clip/tokenization_clip.py`
//! builds it:
//! 1. normalizer: NFC, then every whitespace run → one space, then lower-case;
//! 2. pre-tokenizer: keep the pieces matching
//!    `<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`
//!    (whitespace drops out), then byte-level (GPT-2 byte → printable unicode alphabet);
//! 3. model: BPE with `</w>` ending each word, `<|endoftext|>` for unknown pieces;
//! 4. post-processor: `<|startoftext|>` … `<|endoftext|>`;
//! 5. wgsd's own: truncation to `model_max_length` (keeping EOS last, reporting the cut text as
//!    diffusers' pipelines warn), then padding with the pad token.
//!
//! Special tokens (BOS, EOS, unknown, pad) are matched in the raw prompt first, as transformers does:
//! a literal `<|endoftext|>` in a prompt is id 49407, and with SD2's pad token `!` every `!` is id 0.
//!
//! transformers 5 has no "slow" Python path for CLIP any more, so `ftfy.fix_text` and
//! `html.unescape` are **not** applied (the reference data, `tests/data/tokenizer/cases.json`, records
//! this: `"ftfy": false`).
//!
//! ## Vocabularies
//! - [`ClipTokenizer::embedded`]: single-file checkpoints carry no tokenizer, so wgsd embeds the CLIP
//!   BPE merges, `data/clip/bpe_simple_vocab_16e6.txt.gz` from open_clip
//!   (<https://github.com/mlfoundations/open_clip>, MIT licence, © Gabriel Ilharco et al., reproduced
//!   in `data/clip/LICENSE`; the merges were first published with OpenAI's CLIP, MIT), and derives
//!   the 49408-token vocabulary from it at run time (see [`BpeVocab::open_clip`]).
//! - [`ClipTokenizer::from_folder`]: a diffusers `tokenizer/` folder, with its `tokenizer.json` or its
//!   `vocab.json` + `merges.txt`, and its `tokenizer_config.json` / `special_tokens_map.json`. The tiny
//!   test fixtures (`tests/fixtures/<name>/tokenizer/`) load this way too.
//!
//! # Example usage
//! ```
//! use wgsd::tokenizer::{ClipTokenizer, TokenizerConfig};
//!
//! # fn main() -> wgsd::Result<()> {
//! let tokenizer = ClipTokenizer::embedded(&TokenizerConfig::sd_v1_5())?;
//! let encoding = tokenizer.encode("a photo of a cat")?;
//! assert_eq!(encoding.ids[..7], [49406, 320, 1125, 539, 320, 2368, 49407]);
//! assert_eq!(encoding.ids.len(), 77); // padded with <|endoftext|> (49407)
//! assert!(encoding.truncated.is_none());
//! # Ok(())
//! # }
//! ```

mod config;
mod vocab;

use std::fmt;
use std::path::Path;

use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::normalizers::replace::ReplacePattern;
use tokenizers::normalizers::{Lowercase, Replace, Sequence as NormalizerSequence, NFC};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence as PreTokenizerSequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::processors::roberta::RobertaProcessing;
use tokenizers::{SplitDelimiterBehavior, Tokenizer};

pub use config::{AddedToken, TokenizerConfig, CLIP_MAX_LENGTH};
pub use vocab::{
    byte_symbols, BpeVocab, BOS_TOKEN, END_OF_WORD_SUFFIX, EOS_TOKEN, OPEN_CLIP_MERGES,
};

use crate::{Error, Result};

/// CLIP's pre-tokenizer pattern: the pieces kept, everything else (whitespace) dropped.
const CLIP_PATTERN: &str =
    r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+";

/// The ids of one prompt, truncated and padded to the tokenizer's `model_max_length`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoding {
    /// `[model_max_length]`: `<|startoftext|>`, the prompt's tokens, `<|endoftext|>`, then pad ids.
    pub ids: Vec<u32>,
    /// What truncation cut off, if the prompt was too long.
    pub truncated: Option<Truncation>,
}

/// The part of a prompt that did not fit. Its `Display` is diffusers' warning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Truncation {
    /// The decoded text of the tokens cut off.
    pub text: String,
    /// How many tokens were cut off.
    pub tokens: usize,
    /// The tokenizer's `model_max_length`.
    pub model_max_length: usize,
}

impl fmt::Display for Truncation {
    /// The warning of diffusers' `StableDiffusionPipeline.encode_prompt`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "The following part of your input was truncated because CLIP can only handle sequences \
             up to {} tokens: {}",
            self.model_max_length, self.text
        )
    }
}

/// A CLIP BPE tokenizer with its truncation length and pad token.
#[derive(Clone, Debug)]
pub struct ClipTokenizer {
    /// The normalizer → pre-tokenizer → BPE → BOS/EOS pipeline.
    tokenizer: Tokenizer,
    /// Length of every [`Encoding`].
    model_max_length: usize,
    /// Id of `<|startoftext|>`.
    bos_id: u32,
    /// Id of `<|endoftext|>`.
    eos_id: u32,
    /// Id of the pad token.
    pad_id: u32,
}

impl ClipTokenizer {
    /// A tokenizer over the embedded open_clip vocabulary (49408 tokens), with `config`'s length and
    /// special tokens: [`TokenizerConfig::sd_v1_5`] or [`TokenizerConfig::sd_v2_1`].
    pub fn embedded(config: &TokenizerConfig) -> Result<Self> {
        Self::new(BpeVocab::open_clip()?, config)
    }

    /// A tokenizer from a diffusers `tokenizer/` folder: [`BpeVocab::from_folder`] and
    /// [`TokenizerConfig::from_folder`].
    pub fn from_folder(dir: &Path) -> Result<Self> {
        Self::new(
            BpeVocab::from_folder(dir)?,
            &TokenizerConfig::from_folder(dir)?,
        )
    }

    /// A tokenizer from a vocabulary and a config.
    pub fn new(vocab: BpeVocab, config: &TokenizerConfig) -> Result<Self> {
        if config.model_max_length < 2 {
            return Err(Error::Invalid(format!(
                "CLIP tokenizer: model_max_length {} leaves no room for BOS and EOS",
                config.model_max_length
            )));
        }
        // transformers would give a named token missing from the vocabulary a new id past the end,
        // which the text encoder's embedding table does not have: refuse it here instead.
        for (what, token) in [
            ("BOS", &config.bos_token),
            ("EOS", &config.eos_token),
            ("unknown", &config.unk_token),
            ("pad", &config.pad_token),
        ] {
            let known = vocab.vocab.contains_key(&token.content)
                || config
                    .added_tokens
                    .iter()
                    .any(|t| t.content == token.content);
            if !known {
                return Err(Error::Invalid(format!(
                    "CLIP tokenizer: the {what} token {:?} is not in the vocabulary",
                    token.content
                )));
            }
        }
        let model = BPE::builder()
            .vocab_and_merges(vocab.vocab.into_iter().collect::<Vocab>(), vocab.merges)
            .continuing_subword_prefix(String::new())
            .end_of_word_suffix(END_OF_WORD_SUFFIX.to_string())
            .fuse_unk(false)
            .unk_token(config.unk_token.content.clone())
            .build()
            .map_err(|e| Error::Invalid(format!("CLIP tokenizer vocabulary: {e}")))?;
        let mut tokenizer = Tokenizer::new(model);

        // 1. normalizer
        let whitespace =
            Replace::new(ReplacePattern::Regex(r"\s+".into()), " ").map_err(internal)?;
        tokenizer
            .with_normalizer(Some(NormalizerSequence::new(vec![
                NFC.into(),
                whitespace.into(),
                Lowercase.into(),
            ])))
            .map_err(internal)?;

        // 2. pre-tokenizer
        let split = Split::new(
            SplitPattern::Regex(CLIP_PATTERN.into()),
            SplitDelimiterBehavior::Removed,
            true,
        )
        .map_err(internal)?;
        tokenizer.with_pre_tokenizer(Some(PreTokenizerSequence::new(vec![
            split.into(),
            ByteLevel::new(false, true, true).into(),
        ])));
        tokenizer.with_decoder(Some(ByteLevelDecoder::default()));

        // 3. special tokens, matched in the prompt before the model: the folder's added tokens, then
        //    the named ones, the last setting of a token winning (transformers' `_post_init` order).
        let named = [
            &config.bos_token,
            &config.eos_token,
            &config.unk_token,
            &config.pad_token,
        ];
        for token in config.added_tokens.iter().chain(named) {
            let added = tokenizers::AddedToken {
                content: token.content.clone(),
                single_word: token.single_word,
                lstrip: token.lstrip,
                rstrip: token.rstrip,
                normalized: token.normalized,
                special: token.special,
            };
            if token.special {
                tokenizer.add_special_tokens([added]).map_err(internal)?;
            } else {
                tokenizer.add_tokens([added]).map_err(internal)?;
            }
        }
        let id = |token: &AddedToken, what: &str| {
            tokenizer.token_to_id(&token.content).ok_or_else(|| {
                Error::Invalid(format!(
                    "CLIP tokenizer: the {what} token {:?} is not in the vocabulary",
                    token.content
                ))
            })
        };
        let bos_id = id(&config.bos_token, "BOS")?;
        let eos_id = id(&config.eos_token, "EOS")?;
        let pad_id = id(&config.pad_token, "pad")?;

        // 4. post-processor
        tokenizer.with_post_processor(Some(
            RobertaProcessing::new(
                (config.eos_token.content.clone(), eos_id),
                (config.bos_token.content.clone(), bos_id),
            )
            .trim_offsets(false)
            .add_prefix_space(false),
        ));

        Ok(Self {
            tokenizer,
            model_max_length: config.model_max_length,
            bos_id,
            eos_id,
            pad_id,
        })
    }

    /// The ids of `prompt`, `<|startoftext|>` … `<|endoftext|>`, with no truncation or padding
    /// (transformers: `tokenizer(prompt).input_ids`).
    pub fn encode_unpadded(&self, prompt: &str) -> Result<Vec<u32>> {
        let encoding = self.tokenizer.encode(prompt, true).map_err(internal)?;
        Ok(encoding.get_ids().to_vec())
    }

    /// The ids of `prompt`, truncated and padded to `model_max_length` (transformers:
    /// `tokenizer(prompt, padding="max_length", max_length=model_max_length, truncation=True)`), and
    /// what truncation cut off.
    pub fn encode(&self, prompt: &str) -> Result<Encoding> {
        let mut ids = self.encode_unpadded(prompt)?;
        let max = self.model_max_length;
        let truncated = if ids.len() > max {
            // As diffusers reports it: the untruncated ids [max - 1 .. len - 1], i.e. everything
            // after the first max - 2 prompt tokens, before the final EOS.
            let cut = &ids[max - 1..ids.len() - 1];
            let truncation = Truncation {
                text: self.decode(cut)?,
                tokens: cut.len(),
                model_max_length: max,
            };
            ids.truncate(max - 1);
            ids.push(self.eos_id);
            Some(truncation)
        } else {
            None
        };
        ids.resize(max, self.pad_id);
        Ok(Encoding { ids, truncated })
    }

    /// The text of `ids`, as transformers' `CLIPTokenizer.decode`: byte-level decoding, `</w>` → a
    /// space, surrounding whitespace trimmed. Special tokens are kept.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        let text = self.tokenizer.decode(ids, false).map_err(internal)?;
        Ok(text.replace(END_OF_WORD_SUFFIX, " ").trim().to_string())
    }

    /// The token of `id`, if any (transformers: `convert_ids_to_tokens`).
    pub fn id_to_token(&self, id: u32) -> Option<String> {
        self.tokenizer.id_to_token(id)
    }

    /// Length of every [`Encoding`]: 77 for SD's CLIP text encoders.
    pub fn model_max_length(&self) -> usize {
        self.model_max_length
    }

    /// Id of `<|startoftext|>` (49406 in the CLIP vocabulary).
    pub fn bos_id(&self) -> u32 {
        self.bos_id
    }

    /// Id of `<|endoftext|>` (49407 in the CLIP vocabulary).
    pub fn eos_id(&self) -> u32 {
        self.eos_id
    }

    /// Id of the pad token: 49407 for SD1, 0 for SD2.
    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }

    /// Number of ids, added tokens included (49408 for the CLIP vocabulary).
    pub fn vocab_size(&self) -> usize {
        self.tokenizer.get_vocab_size(true)
    }
}

/// An error of the `tokenizers` library that no input should cause (a pattern that does not compile,
/// a failed regex match).
fn internal(e: impl fmt::Display) -> Error {
    Error::Invalid(format!("CLIP tokenizer: {e}"))
}
