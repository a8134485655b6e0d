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

from common import REPO_DIR, build, load_config
from ldm_keys import ldm_checkpoint

OUT_DIR = REPO_DIR / "tests" / "data" / "weight_names"
ARCHS = {
    "sd15": ["unet", "vae", "text_encoder"],
    "sd21": ["unet", "vae", "text_encoder"],
    "sdxl": ["unet", "vae", "text_encoder", "text_encoder_2"],
    "tiny-sd1": ["unet", "vae", "text_encoder"],
    "tiny-sd2": ["unet", "vae", "text_encoder"],
    "tiny-3level": ["unet", "vae", "text_encoder"],
}


def write_list(path, sd: dict) -> None:
    lines = [f"{name}\t{','.join(str(d) for d in t.shape)}\n" for name, t in sd.items()]
    path.write_text("".join(lines))
    print(f"{path.name}: {len(lines)} tensors, {sum(t.numel() for t in sd.values()):,} elements", file=sys.stderr)


def ldm_lists() -> None:
    """<arch>_ldm.txt: the original single-file layout (sorted keys, as in a .safetensors file) that
    ldm_keys.py maps the diffusers weights to: SD1.5 (CLIP) and SD2.1 (OpenCLIP with its unused 24th
    resblock, text_projection, logit_scale), plus betas/alphas_cumprod/alphas_cumprod_prev and, for SD1,
    the int64 position_ids."""
    for arch, kind in (("sd15", "sd1"), ("sd21", "sd2")):
        with torch.device("meta"):
            models = {c: build(c, load_config(arch, c)) for c in ("unet", "vae", "text_encoder")}
            ckpt = ldm_checkpoint(kind, models["unet"].state_dict(), dict(models["unet"].config),
                                  models["vae"].state_dict(), dict(models["vae"].config),
                                  models["text_encoder"].state_dict(), models["text_encoder"].config,
                                  lambda _name, shape: torch.empty(shape))
        write_list(OUT_DIR / f"{arch}_ldm.txt", ckpt)


def main() -> None:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for arch, components in ARCHS.items():
        for component in components:
            with torch.device("meta"):
                model = build(component, load_config(arch, component))
            write_list(OUT_DIR / f"{arch}_{component}.txt", model.state_dict())
    ldm_lists()


if __name__ == "__main__":
    main()
