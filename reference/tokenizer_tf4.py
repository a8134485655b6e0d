"""Adds transformers-4 ids to tests/data/tokenizer/cases.json (run AFTER make_tokenizer_data.py, in the
venv of requirements-tf4.txt: transformers 4.57.1, no torch, no ftfy).

transformers 4's slow `CLIPTokenizer` (the class diffusers' SD1/SD2 pipelines loaded under transformers 4)
falls back to `BasicTokenizer(strip_accents=False, do_split_on_punc=False)` when ftfy is missing: it drops
control/format characters (zero-width space, soft hyphen, BOM, U+FFFD, private use...), puts spaces
around CJK ideographs, and matches special tokens case-insensitively. Fields added per case:
- `tf4_slow_ids`: slow tokenizer, SD1 settings, unpadded/untruncated;
- `tf4_slow_sd2_ids`: the same with pad token "!";
- `tf4_fast_ids`: transformers 4's CLIPTokenizerFast, SD1 settings (equal to `ids` except where noted)."""
import json
import sys
from pathlib import Path

import tokenizers
import transformers
from transformers import CLIPTokenizer, CLIPTokenizerFast

from jsonio import write_json_one_case_per_line

REPO = Path(__file__).resolve().parent.parent
CASES = REPO / "tests" / "data" / "tokenizer" / "cases.json"


def main() -> None:
    assert transformers.__version__.startswith("4."), transformers.__version__
    vocab, merges = str(REPO / "data/clip/vocab.json"), str(REPO / "data/clip/merges.txt")
    slow = CLIPTokenizer(vocab, merges)
    slow_sd2 = CLIPTokenizer(vocab, merges, pad_token="!")
    fast = CLIPTokenizerFast(vocab, merges)
    assert slow.fix_text is None, "ftfy is installed; this script records the no-ftfy path"
    doc = json.loads(CASES.read_text(encoding="utf-8"))
    for c in doc["cases"]:
        c["tf4_slow_ids"] = slow(c["prompt"]).input_ids
        c["tf4_slow_sd2_ids"] = slow_sd2(c["prompt"]).input_ids
        c["tf4_fast_ids"] = fast(c["prompt"]).input_ids
    doc["tokenizer_tf4"] = {
        "versions": {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__},
        "generator": "reference/tokenizer_tf4.py",
        "ftfy": False,
        "slow_path": "transformers 4 CLIPTokenizer (Python): BasicTokenizer(strip_accents=False, do_split_on_punc=False) "
                     "-> whitespace_clean -> lower -> same regex -> byte-level BPE",
        "fields": {"tf4_slow_ids": "slow, SD1 settings, unpadded", "tf4_slow_sd2_ids": "slow, pad token '!', unpadded",
                   "tf4_fast_ids": "CLIPTokenizerFast, SD1 settings, unpadded"},
    }
    write_json_one_case_per_line(CASES, doc)
    n_slow = sum(c["tf4_slow_ids"] != c["ids"] for c in doc["cases"])
    n_fast = sum(c["tf4_fast_ids"] != c["ids"] for c in doc["cases"])
    print(f"tf4 slow differs from transformers 5 on {n_slow} cases, tf4 fast on {n_fast}", file=sys.stderr)


if __name__ == "__main__":
    main()
