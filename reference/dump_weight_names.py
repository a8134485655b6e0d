"""Write tests/data/weight_names/<arch>_<component>.txt: one line per state_dict() entry, in state_dict()
order, `name<TAB>shape` (shape as comma-separated ints; a 0-d tensor has an empty shape).

Models are instantiated on the `meta` device, so this needs no memory and no download. state_dict() holds
parameters and *persistent* buffers only; non-persistent buffers (CLIP's
`text_model.embeddings.position_ids` in transformers 5) are NOT listed. Keys are exactly what
`save_pretrained` of these library versions writes. For CLIP that is WITHOUT the `text_model.` prefix
(transformers 5 state_dict() names start at `embeddings.` / `encoder.` / `final_layer_norm.`), while the
published SD1.5/2.1 folders carry `text_model.embeddings...`; a loader must accept both."""
import sys

import torch

from common import CONFIG_DIR, REPO_DIR, build, load_config

OUT_DIR = REPO_DIR / "tests" / "data" / "weight_names"
ARCHS = {
    "sd15": ["unet", "vae", "text_encoder"],
    "sd21": ["unet", "vae", "text_encoder"],
    "sdxl": ["unet", "vae", "text_encoder", "text_encoder_2"],
    "tiny-sd1": ["unet", "vae", "text_encoder"],
    "tiny-sd2": ["unet", "vae", "text_encoder"],
    "tiny-3level": ["unet", "vae", "text_encoder"],
}


def main() -> None:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for arch, components in ARCHS.items():
        for component in components:
            with torch.device("meta"):
                model = build(component, load_config(arch, component))
            sd = model.state_dict()
            lines = [f"{name}\t{','.join(str(d) for d in t.shape)}\n" for name, t in sd.items()]
            n_params = sum(t.numel() for t in sd.values())
            (OUT_DIR / f"{arch}_{component}.txt").write_text("".join(lines))
            print(f"{arch}_{component}: {len(lines)} tensors, {n_params:,} elements", file=sys.stderr)


if __name__ == "__main__":
    main()
