"""Completes the full-size SD1.5 folder of make_full_size.py (unet/, vae/) into a whole diffusers pipeline
folder: a random-weight CLIP ViT-L text encoder (f16), the real CLIP tokenizer files (data/clip/), the
published scheduler config and model_index.json. wgsd's budget runs use it (`wgsd generate --model DIR`);
nothing here is compared with diffusers, so no references are written. Never committed (about 250 MB).

Run: python reference/make_full_pipeline.py /tmp/wgsd-sd15-full   (after make_full_size.py)
Versions: reference/requirements.txt.
"""

import json
import shutil
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO_DIR, build_text_encoder, load_config  # noqa: E402
from make_fixtures import structure_weights  # noqa: E402
from make_tokenizer_data import load_tokenizer  # noqa: E402


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/wgsd-sd15-full")
    if not (out / "unet" / "config.json").exists():
        sys.exit(f"{out} has no unet/: run make_full_size.py first")
    torch.manual_seed(3)
    text_encoder = build_text_encoder(load_config("sd15", "text_encoder")).eval()
    structure_weights(text_encoder, 3)
    text_encoder.to(torch.float16).save_pretrained(out / "text_encoder", safe_serialization=True)
    clip = REPO_DIR / "data" / "clip"
    tokenizer = load_tokenizer(clip)
    tokenizer.save_pretrained(out / "tokenizer")
    for f in ("vocab.json", "merges.txt"):
        shutil.copy(clip / f, out / "tokenizer" / f)
    (out / "scheduler").mkdir(exist_ok=True)
    scheduler = load_config("sd15", "scheduler")
    (out / "scheduler" / "scheduler_config.json").write_text(json.dumps(scheduler, indent=2) + "\n")
    shutil.copy(REPO_DIR / "reference" / "configs" / "sd15" / "model_index.json", out / "model_index.json")
    print(f"completed {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
