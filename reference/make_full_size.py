"""Builds the real SD1.5 U-Net and VAE with random (structured) weights and dumps reference outputs at a
16x16 latent, for wgsd's full-size test. About 4 GB; written outside the repo, never committed.

Run: python reference/make_full_size.py /tmp/wgsd-sd15-full
Then: WGSD_FULL_SIZE=/tmp/wgsd-sd15-full cargo test --release --test parity_full_size -- --nocapture
Versions: reference/requirements.txt (diffusers 0.42.1, torch 2.15.0).
"""

import json
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import build, load_config  # noqa: E402
from make_fixtures import structure_weights  # noqa: E402


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/wgsd-sd15-full")
    torch.manual_seed(0)
    torch.set_num_threads(2)
    refs = {}
    times = {}
    for component, seed in (("unet", 1), ("vae", 2)):
        cfg = load_config("sd15", component)
        model = build(component, cfg).eval()
        structure_weights(model, seed)
        d = out / component
        d.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(d, safe_serialization=True)  # f32: > 2 GiB for the U-Net
        g = torch.Generator().manual_seed(10 + seed)
        with torch.no_grad():
            if component == "unet":
                sample = torch.randn(1, 4, 16, 16, generator=g)
                context = torch.randn(1, 77, 768, generator=g)
                t0 = time.time()
                y = model(sample, torch.tensor([421.0]), encoder_hidden_states=context).sample
                times["unet_16x16_s"] = time.time() - t0
                refs.update({"unet.sample": sample, "unet.timestep": torch.tensor([421.0]),
                             "unet.encoder_hidden_states": context, "unet.out": y})
            else:
                latent = torch.randn(1, 4, 16, 16, generator=g)
                t0 = time.time()
                y = model.decode(latent).sample
                times["vae_decode_16x16_s"] = time.time() - t0
                refs.update({"vae.decode.latent": latent, "vae.decode.out": y})
        print(component, "output std", float(y.std()), "time", times)
    save_file({k: v.contiguous() for k, v in refs.items()}, out / "reference.safetensors")
    (out / "reference.json").write_text(json.dumps({"torch_cpu_seconds": times}, indent=1))


if __name__ == "__main__":
    main()
