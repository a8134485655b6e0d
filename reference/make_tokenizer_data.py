"""CLIP tokenizer data.

1. Derives data/clip/vocab.json and data/clip/merges.txt from data/clip/bpe_simple_vocab_16e6.txt.gz
   (open_clip's copy of OpenAI CLIP's BPE file, MIT), exactly as OpenAI CLIP's simple_tokenizer does:
   256 byte symbols (bytes_to_unicode order), the same with `</w>`, one entry per merge for
   merges[1 : 49152-256-2+1] (48894 merges), then `<|startoftext|>` 49406 and `<|endoftext|>` 49407.
2. Checks transformers' CLIPTokenizer loaded from those files on "a photo of a cat".
3. Writes tests/data/tokenizer/cases.json (prompts from prompts.py, ids for SD1 and SD2 settings).

Also exposes `bytes_to_unicode`, `read_merges` and `write_tokenizer_files` for make_fixtures.py (the tiny
fixtures use a reduced vocab built the same way).
"""
import gzip
import hashlib
import json
import sys
import tempfile
from pathlib import Path

import tokenizers
import transformers
from transformers import CLIPTokenizer

from common import REPO_DIR
from jsonio import write_json_one_case_per_line
from prompts import prompt_cases

CLIP_DIR = REPO_DIR / "data" / "clip"
BPE_GZ = CLIP_DIR / "bpe_simple_vocab_16e6.txt.gz"
CASES_JSON = REPO_DIR / "tests" / "data" / "tokenizer" / "cases.json"
MAX_LENGTH = 77
N_MERGES_FULL = 49152 - 256 - 2  # OpenAI CLIP: merges = merges[1:49152-256-2+1]


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2 / CLIP byte -> printable unicode character table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def read_merges(n_merges: int = N_MERGES_FULL) -> list[tuple[str, str]]:
    lines = gzip.open(BPE_GZ, "rt", encoding="utf-8").read().split("\n")
    merges = lines[1 : n_merges + 1]  # line 0 is the "#version" header
    assert len(merges) == n_merges
    return [tuple(m.split()) for m in merges]


def build_vocab(merges: list[tuple[str, str]]) -> dict[str, int]:
    symbols = list(bytes_to_unicode().values())
    tokens = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {t: i for i, t in enumerate(tokens)}
    assert len(vocab) == len(tokens), "duplicate token"
    return vocab


def write_tokenizer_files(out_dir: Path, n_merges: int = N_MERGES_FULL) -> dict[str, int]:
    """Writes vocab.json + merges.txt (the layout of the published SD1.5/2.1 tokenizer folders)."""
    merges = read_merges(n_merges)
    vocab = build_vocab(merges)
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "vocab.json", "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(out_dir / "merges.txt", "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    return vocab


def load_tokenizer(folder: Path, pad_token: str = "<|endoftext|>") -> CLIPTokenizer:
    # model_max_length 77 as in the published SD tokenizer_config.json (the pipelines pad to it)
    return CLIPTokenizer(vocab=str(folder / "vocab.json"), merges=str(folder / "merges.txt"), pad_token=pad_token,
                         model_max_length=77)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    vocab = write_tokenizer_files(CLIP_DIR)
    assert len(vocab) == 49408 and vocab["<|startoftext|>"] == 49406 and vocab["<|endoftext|>"] == 49407

    sd1 = CLIPTokenizer.from_pretrained(str(CLIP_DIR))  # how a diffusers SD folder (vocab.json+merges.txt) loads
    sd2 = CLIPTokenizer.from_pretrained(str(CLIP_DIR), pad_token="!")  # stabilityai/stable-diffusion-2-1 tokenizer
    assert len(sd1) == 49408 and sd1.pad_token_id == 49407 and sd2.pad_token_id == 0
    cat = sd1("a photo of a cat").input_ids
    assert cat == [49406, 320, 1125, 539, 320, 2368, 49407], cat

    cases = []
    for i, (category, prompt) in enumerate(prompt_cases()):
        ids = sd1(prompt).input_ids
        ids_sd2_unpadded = sd2(prompt).input_ids
        padded = dict(padding="max_length", max_length=MAX_LENGTH, truncation=True)
        ids_sd1 = sd1(prompt, **padded).input_ids
        ids_sd2 = sd2(prompt, **padded).input_ids
        assert len(ids_sd1) == len(ids_sd2) == MAX_LENGTH
        cases.append({
            "index": i,
            "category": category,
            "prompt": prompt,
            "ids": ids,
            "tokens": sd1.convert_ids_to_tokens(ids),
            "sd2_unpadded_ids": ids_sd2_unpadded,
            "sd1_ids": ids_sd1,
            "sd2_ids": ids_sd2,
        })

    doc = {
        "generator": "reference/make_tokenizer_data.py",
        "versions": {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__},
        "tokenizer": {
            "class": "transformers.CLIPTokenizer (transformers 5: tokenizers-library backend, no slow path)",
            "ftfy": False,
            "path": "tokenizers normalizer NFC -> Replace(\\s+, ' ') -> Lowercase; pre-tokenizer Split(regex "
                    "`<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+`, "
                    "keep matches) -> ByteLevel; BPE with end_of_word_suffix '</w>'; no ftfy.fix_text, no html.unescape, "
                    "no BasicTokenizer",
            "vocab": "data/clip/vocab.json", "merges": "data/clip/merges.txt",
            "vocab_sha256": sha256(CLIP_DIR / "vocab.json"), "merges_sha256": sha256(CLIP_DIR / "merges.txt"),
        },
        "fields": {
            "ids": "SD1 tokenizer(prompt).input_ids: <|startoftext|> ... <|endoftext|>, no padding, no truncation",
            "tokens": "convert_ids_to_tokens(ids)",
            "sd2_unpadded_ids": "the same with the SD2 tokenizer. It differs from `ids` when the prompt contains '!': the pad "
                                "token '!' is a special added token (normalized=False), so every '!' in the raw text is split "
                                "out first and becomes id 0, instead of BPE tokens such as '!</w>' (256) or '!!!</w>'",
            "sd1_ids": "padding='max_length', max_length=77, truncation=True; pad token <|endoftext|> (49407)",
            "sd2_ids": "same, pad token '!' (id 0), as stabilityai/stable-diffusion-2-1's tokenizer",
        },
        "max_length": MAX_LENGTH,
        "bos_id": 49406, "eos_id": 49407, "sd1_pad_id": 49407, "sd2_pad_id": 0,
        "cases": cases,
    }
    CASES_JSON.parent.mkdir(parents=True, exist_ok=True)
    write_json_one_case_per_line(CASES_JSON, doc)
    n_long = sum(len(c["ids"]) > MAX_LENGTH for c in cases)
    n_bang = sum(c["ids"] != c["sd2_unpadded_ids"] for c in cases)
    print(f"{len(cases)} cases ({n_long} longer than {MAX_LENGTH} tokens, {n_bang} where SD2 splits out '!') -> {CASES_JSON}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
