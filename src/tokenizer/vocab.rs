//! Where a CLIP BPE vocabulary comes from: the embedded open_clip file, a `vocab.json` + `merges.txt`
//! pair, or a `tokenizer.json`.
//!
//! All three give the same two tables, a token → id map and the ranked merges, which is all
//! transformers 5's `CLIPTokenizer` takes from them: it rebuilds the normalizer, pre-tokenizer and
//! post-processor itself, even when a `tokenizer.json` is given.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use serde_json::Value;

use crate::{Error, Result};

/// The BOS token of every CLIP vocabulary.
pub const BOS_TOKEN: &str = "<|startoftext|>";
/// The EOS token of every CLIP vocabulary (also its unknown token, and SD1's pad token).
pub const EOS_TOKEN: &str = "<|endoftext|>";
/// What the BPE model appends to the last piece of a word.
pub const END_OF_WORD_SUFFIX: &str = "</w>";

/// open_clip's copy of OpenAI CLIP's BPE merges, `open_clip/bpe_simple_vocab_16e6.txt.gz` from the
/// `open-clip-torch` wheel, MIT licence (see `data/clip/LICENSE` and `data/clip/README.md`).
const OPEN_CLIP_BPE_GZ: &[u8] = include_bytes!("../../data/clip/bpe_simple_vocab_16e6.txt.gz");

/// The name errors give for [`OPEN_CLIP_BPE_GZ`].
const OPEN_CLIP_BPE_NAME: &str = "data/clip/bpe_simple_vocab_16e6.txt.gz (embedded)";

/// How many merges OpenAI CLIP takes from the file: a 49152-token vocabulary less the 256 byte
/// symbols and the 2 special tokens (`merges[1:49152-256-2+1]` in CLIP's `simple_tokenizer.py`, line
/// 0 being the `#version` header). With the 256 byte symbols and their 256 `</w>` forms, that makes
/// `<|startoftext|>` id 49406 and `<|endoftext|>` id 49407, 49408 tokens in all.
pub const OPEN_CLIP_MERGES: usize = 49152 - 256 - 2;

/// A BPE vocabulary: token → id, and the merges in rank order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BpeVocab {
    /// Token (in the byte-to-unicode alphabet, `</w>` ending a word) → id.
    pub vocab: HashMap<String, u32>,
    /// The merges, highest priority first: `("a", "b</w>")` makes `"ab</w>"`.
    pub merges: Vec<(String, String)>,
}

impl BpeVocab {
    /// The CLIP vocabulary embedded in wgsd, derived from open_clip's `bpe_simple_vocab_16e6.txt.gz`
    /// (the same 49408 tokens as the `tokenizer/vocab.json` of the published SD1.x/2.x folders).
    pub fn open_clip() -> Result<Self> {
        Self::open_clip_with_merges(OPEN_CLIP_MERGES)
    }

    /// The embedded vocabulary cut to its first `n_merges` merges (`512 + n_merges + 2` tokens), as
    /// the tiny test fixtures' `tokenizer/` folders are made (`reference/make_tokenizer_data.py`).
    pub fn open_clip_with_merges(n_merges: usize) -> Result<Self> {
        let mut text = String::new();
        flate2::read::GzDecoder::new(OPEN_CLIP_BPE_GZ)
            .read_to_string(&mut text)
            .map_err(|e| Error::format(OPEN_CLIP_BPE_NAME, format!("cannot gunzip: {e}")))?;
        Self::from_open_clip_text(&text, n_merges, Path::new(OPEN_CLIP_BPE_NAME))
    }

    /// Derives a vocabulary from the text of an open_clip / OpenAI CLIP BPE file, as CLIP's
    /// `SimpleTokenizer` does:
    /// - the merges are lines `1..=n_merges` (line 0 is a `#version` header);
    /// - the vocabulary is the 256 byte symbols in [`byte_symbols`] order, the same 256 with `</w>`,
    ///   one token per merge (its two halves joined), then `<|startoftext|>` and `<|endoftext|>`.
    fn from_open_clip_text(text: &str, n_merges: usize, path: &Path) -> Result<Self> {
        let lines: Vec<&str> = text.split('\n').skip(1).take(n_merges).collect();
        if lines.len() != n_merges {
            return Err(Error::format(
                path,
                format!("has {} merge lines, {n_merges} needed", lines.len()),
            ));
        }
        let merges = lines
            .iter()
            .enumerate()
            .map(
                |(i, line)| match line.split_whitespace().collect::<Vec<_>>()[..] {
                    [a, b] => Ok((a.to_string(), b.to_string())),
                    _ => Err(Error::format(
                        path,
                        format!("line {}: expected two symbols, found {line:?}", i + 2),
                    )),
                },
            )
            .collect::<Result<Vec<_>>>()?;

        let symbols = byte_symbols();
        let tokens = symbols
            .iter()
            .map(|c| c.to_string())
            .chain(symbols.iter().map(|c| format!("{c}{END_OF_WORD_SUFFIX}")))
            .chain(merges.iter().map(|(a, b)| format!("{a}{b}")))
            .chain([BOS_TOKEN.to_string(), EOS_TOKEN.to_string()]);
        let mut vocab = HashMap::with_capacity(512 + n_merges + 2);
        for (id, token) in tokens.enumerate() {
            let id = u32::try_from(id).map_err(|_| Error::format(path, "too many tokens"))?;
            if let Some(first) = vocab.insert(token.clone(), id) {
                return Err(Error::format(
                    path,
                    format!("token {token:?} is made twice (ids {first} and {id})"),
                ));
            }
        }
        Ok(Self { vocab, merges })
    }

    /// Reads a `vocab.json` (`{"token": id, ...}`) and a `merges.txt` (an optional `#version` line,
    /// then one `a b` pair a line), the layout of the published SD1.x/2.x `tokenizer/` folders.
    pub fn from_vocab_merges(vocab_json: &Path, merges_txt: &Path) -> Result<Self> {
        let json = read_json(vocab_json)?;
        let vocab = vocab_from_json(&json, vocab_json)?;
        let text = read_text(merges_txt)?;
        // Like the `tokenizers` crate's reader: `#version` lines are skipped, every other line is
        // exactly two symbols separated by one space.
        let merges = text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.starts_with("#version"))
            .map(|(i, line)| match line.split(' ').collect::<Vec<_>>()[..] {
                [a, b] => Ok((a.to_string(), b.to_string())),
                _ => Err(Error::format(
                    merges_txt,
                    format!(
                        "line {}: expected two symbols separated by one space, found {line:?}",
                        i + 1
                    ),
                )),
            })
            .collect::<Result<Vec<_>>>()?;
        let bpe = Self { vocab, merges };
        bpe.check_merges(merges_txt)?;
        Ok(bpe)
    }

    /// Reads the `model` of a `tokenizer.json` (a BPE model: `vocab` object, `merges` as `"a b"`
    /// strings or `["a", "b"]` pairs), as transformers 5 saves a CLIP tokenizer.
    pub fn from_tokenizer_json(path: &Path) -> Result<Self> {
        let json = read_json(path)?;
        let model = json
            .get("model")
            .ok_or_else(|| Error::format(path, "has no \"model\""))?;
        if let Some(kind) = model.get("type").and_then(Value::as_str) {
            if kind != "BPE" {
                return Err(Error::format(
                    path,
                    format!("model type is {kind:?}; a CLIP tokenizer is \"BPE\""),
                ));
            }
        }
        let vocab = model
            .get("vocab")
            .ok_or_else(|| Error::format(path, "has no \"model.vocab\""))?;
        let vocab = vocab_from_json(vocab, path)?;
        let merges = model
            .get("merges")
            .and_then(Value::as_array)
            .ok_or_else(|| Error::format(path, "has no \"model.merges\" list"))?
            .iter()
            .enumerate()
            .map(|(i, merge)| {
                let pair = match merge {
                    Value::String(s) => match s.split(' ').collect::<Vec<_>>()[..] {
                        [a, b] => Some((a.to_string(), b.to_string())),
                        _ => None,
                    },
                    Value::Array(pair) => match &pair[..] {
                        [Value::String(a), Value::String(b)] => Some((a.clone(), b.clone())),
                        _ => None,
                    },
                    _ => None,
                };
                pair.ok_or_else(|| {
                    Error::format(
                        path,
                        format!("model.merges[{i}] is not a pair of symbols: {merge}"),
                    )
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let bpe = Self { vocab, merges };
        bpe.check_merges(path)?;
        Ok(bpe)
    }

    /// Reads a tokenizer folder: its `tokenizer.json` when there is one, otherwise its `vocab.json` +
    /// `merges.txt` (the order transformers 5 prefers).
    pub fn from_folder(dir: &Path) -> Result<Self> {
        let tokenizer_json = dir.join("tokenizer.json");
        if tokenizer_json.is_file() {
            return Self::from_tokenizer_json(&tokenizer_json);
        }
        Self::from_vocab_merges(&dir.join("vocab.json"), &dir.join("merges.txt"))
    }

    /// Checks that both halves of every merge, and what they make, are tokens of the vocabulary;
    /// errors name `path` (where the merges came from) and the merge's rank.
    fn check_merges(&self, path: &Path) -> Result<()> {
        for (rank, (a, b)) in self.merges.iter().enumerate() {
            let merged = format!("{a}{b}");
            for token in [a, b, &merged] {
                if !self.vocab.contains_key(token) {
                    return Err(Error::format(
                        path,
                        format!("merge {rank} ({a:?} + {b:?}) needs {token:?}, which is not in the vocabulary"),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The printable stand-ins of the 256 byte values, in vocabulary order (GPT-2's and CLIP's
/// `bytes_to_unicode`): the bytes that are printable in Latin-1 (`!`..=`~`, `¡`..=`¬`, `®`..=`ÿ`)
/// stand for themselves and come first in ascending order; the other 68 follow in ascending order,
/// standing for U+0100, U+0101, …
pub fn byte_symbols() -> Vec<char> {
    let printable = |b: u8| matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
    let mut symbols: Vec<char> = (0..=255u8)
        .filter(|&b| printable(b))
        .map(char::from)
        .collect();
    // U+0100..U+0143: all valid scalar values, so `filter_map` drops nothing.
    symbols.extend(
        (0..=255u8)
            .filter(|&b| !printable(b))
            .zip(0x100u32..)
            .filter_map(|(_, code)| char::from_u32(code)),
    );
    debug_assert_eq!(symbols.len(), 256);
    symbols
}

/// A `{"token": id}` object as a map; ids must be integers that fit `u32`.
fn vocab_from_json(json: &Value, path: &Path) -> Result<HashMap<String, u32>> {
    let object = json
        .as_object()
        .ok_or_else(|| Error::format(path, "the vocabulary is not a {\"token\": id} object"))?;
    object
        .iter()
        .map(|(token, id)| {
            id.as_u64()
                .and_then(|id| u32::try_from(id).ok())
                .map(|id| (token.clone(), id))
                .ok_or_else(|| {
                    Error::format(
                        path,
                        format!("the id of token {token:?} is not a 32-bit unsigned integer: {id}"),
                    )
                })
        })
        .collect()
}

/// A whole file as UTF-8 text; errors name the path.
pub(crate) fn read_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    String::from_utf8(bytes).map_err(|e| Error::format(path, format!("is not UTF-8: {e}")))
}

/// A whole file as JSON; errors name the path.
pub(crate) fn read_json(path: &Path) -> Result<Value> {
    serde_json::from_str(&read_text(path)?)
        .map_err(|e| Error::format(path, format!("is not valid JSON: {e}")))
}
