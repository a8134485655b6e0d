"""Tiny random-weight SD pipelines and their reference outputs, for wgsd's parity tests.

For each fixture NAME in FIXTURES this writes
- tests/fixtures/NAME/                      diffusers folder (pipe.save_pretrained, safetensors)
- tests/fixtures/NAME/reference.safetensors inputs and f32 outputs (names: see reference/README.md)
- tests/fixtures/NAME/reference.json        prompts, timestep, settings, versions
- tests/fixtures/NAME.ldm.safetensors       same weights in the original LDM single-file layout
                                            (fixtures with `ldm` set)

Weights: diffusers/transformers default init from a fixed seed, then made "structured" (see
`structure_weights`) and rounded to f16-representable values, so the f16 files on disk hold exactly
the f32 values the references were computed with. All reference outputs are computed on the CPU in f32
by the pipeline *reloaded from the saved folder*, and the LDM file is checked to load back (through
diffusers' from_single_file, offline) to the same outputs.
"""
import json
import shutil
import sys
import tempfile
from pathlib import Path

import diffusers
import safetensors
import torch
import transformers
from diffusers import DDIMScheduler, PNDMScheduler, StableDiffusionPipeline
from safetensors.torch import load_file, save_file

from common import REPO_DIR, build_text_encoder, build_unet, build_vae, load_config
from ldm_keys import ldm_checkpoint, schedule_buffers
from make_tokenizer_data import load_tokenizer, write_tokenizer_files

FIXTURE_DIR = REPO_DIR / "tests" / "fixtures"
TINY_MERGES = 486  # 512 byte symbols + 486 merges + 2 specials = 1000 = text encoder vocab_size
PROMPTS = ["a photo of a cat", ""]
WEIGHT_SCALE = 1.5
SEED = 0

FIXTURES = {
    # unet_hw: latent size for the U-Net (multiple of 2^(levels-1)); vae_latent_hw: latent to decode;
    # vae_image_hw: image to encode (multiple of the VAE factor).
    "tiny-sd1": dict(pad_token="<|endoftext|>", scheduler=PNDMScheduler, unet_hw=(10, 14), vae_latent_hw=(8, 12),
                     vae_image_hw=(20, 28), timestep=421, weights_dtype=torch.float16, ldm="sd1", ldm_dtype=torch.float16),
    "tiny-sd2": dict(pad_token="!", scheduler=DDIMScheduler, unet_hw=(10, 14), vae_latent_hw=(8, 12),
                     vae_image_hw=(20, 28), timestep=421, weights_dtype=torch.float16, ldm="sd2", ldm_dtype=torch.float16),
    "tiny-3level": dict(pad_token="<|endoftext|>", scheduler=PNDMScheduler, unet_hw=(12, 20), vae_latent_hw=(5, 7),
                        vae_image_hw=(24, 40), timestep=421, weights_dtype=torch.float16, ldm=None, ldm_dtype=None),
}


def structure_weights(model: torch.nn.Module, seed: int) -> None:
    """Default init gives near-constant outputs and leaves every norm at weight 1 / bias 0 (so a loader
    that forgot a norm would still pass). Instead: norm weights 1 + 0.2 N(0,1), all biases 0.1 N(0,1),
    embeddings 0.5 N(0,1), every other weight (conv, linear) = default init x WEIGHT_SCALE. Then round
    everything to f16-representable values."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            is_norm = p.ndim == 1 and any(s in name for s in ("norm", "ln_", "layer_norm"))
            if is_norm and name.endswith("weight"):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            elif "embedding" in name:
                p.copy_(0.5 * torch.randn(p.shape, generator=g))
            else:
                p.mul_(WEIGHT_SCALE)
            p.copy_(p.half().float())


def build_pipeline(name: str, spec: dict, tok_dir: Path) -> StableDiffusionPipeline:
    torch.manual_seed(SEED)
    unet = build_unet(load_config(name, "unet"))
    torch.manual_seed(SEED)
    vae = build_vae(load_config(name, "vae"))
    torch.manual_seed(SEED)
    text_encoder = build_text_encoder(load_config(name, "text_encoder"))
    for seed, model in enumerate((unet, vae, text_encoder), start=1):
        structure_weights(model, seed)
    scheduler = spec["scheduler"].from_config(load_config(name, "scheduler"))
    tokenizer = load_tokenizer(tok_dir, pad_token=spec["pad_token"])
    return StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet, scheduler=scheduler,
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)


def save_folder(pipe: StableDiffusionPipeline, out: Path, tok_dir: Path, dtype: torch.dtype) -> None:
    if out.exists():
        shutil.rmtree(out)
    pipe.to(dtype).save_pretrained(out, safe_serialization=True)
    pipe.to(torch.float32)
    # transformers 5 writes tokenizer.json; the published SD1.5/2.1 folders have vocab.json + merges.txt.
    for f in ("vocab.json", "merges.txt"):
        shutil.copy(tok_dir / f, out / "tokenizer" / f)


def module_outputs(model: torch.nn.Module, names: list[str], run) -> dict:
    """Runs `run()` and captures the first tensor output of each named submodule."""
    captured, hooks = {}, []
    for n in names:
        def hook(_m, _inp, output, n=n):
            t = output[0] if isinstance(output, tuple) else output
            captured[n] = t.detach().clone()
        hooks.append(model.get_submodule(n).register_forward_hook(hook))
    try:
        run()
    finally:
        for h in hooks:
            h.remove()
    return captured


@torch.no_grad()
def reference_outputs(pipe: StableDiffusionPipeline, spec: dict) -> dict:
    g = torch.Generator().manual_seed(1234)
    ref = {}
    # text encoder: batch 2, prompt and "" (the classifier-free-guidance pair), padded to 77
    ids = pipe.tokenizer(PROMPTS, padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids
    te = pipe.text_encoder(ids, output_hidden_states=True)
    ref["text_encoder.input_ids"] = ids.to(torch.int64)
    ref["text_encoder.last_hidden_state"] = te.last_hidden_state
    for i, h in enumerate(te.hidden_states):
        ref[f"text_encoder.hidden_states.{i}"] = h
    ctx = te.last_hidden_state

    # U-Net: batch 1 = (latent a, context of the prompt); batch 2 = (latents a, b; contexts prompt, "")
    unet = pipe.unet
    h, w = spec["unet_hw"]
    lat = torch.randn(2, unet.config.in_channels, h, w, generator=g)
    t = spec["timestep"]
    unet_debug = ["time_embedding", "conv_in"] + [f"down_blocks.{i}" for i in range(len(unet.down_blocks))] + \
        ["mid_block"] + [f"up_blocks.{i}" for i in range(len(unet.up_blocks))] + ["conv_norm_out"]
    out1 = {}
    dbg = module_outputs(unet, unet_debug, lambda: out1.setdefault("y", unet(lat[:1], torch.tensor([t]), encoder_hidden_states=ctx[:1]).sample))
    ref |= {"unet.b1.sample": lat[:1], "unet.b1.timestep": torch.tensor([t], dtype=torch.float32),
            "unet.b1.encoder_hidden_states": ctx[:1], "unet.b1.out": out1["y"]}
    ref |= {f"unet.b1.debug.{k}": v for k, v in dbg.items()}
    ref |= {"unet.b2.sample": lat, "unet.b2.timestep": torch.tensor([t, t], dtype=torch.float32),
            "unet.b2.encoder_hidden_states": ctx,
            "unet.b2.out": unet(lat, torch.tensor([t, t]), encoder_hidden_states=ctx).sample}

    # VAE: decode of a raw latent (no 1/scaling_factor applied), encode of an image in [-1, 1]
    vae = pipe.vae
    lh, lw = spec["vae_latent_hw"]
    z = torch.randn(1, vae.config.latent_channels, lh, lw, generator=g)
    vae_debug = ["post_quant_conv", "decoder.conv_in", "decoder.mid_block"] + \
        [f"decoder.up_blocks.{i}" for i in range(len(vae.decoder.up_blocks))] + ["decoder.conv_norm_out"]
    out = {}
    dbg = module_outputs(vae, vae_debug, lambda: out.setdefault("x", vae.decode(z).sample))
    ref |= {"vae.decode.latent": z, "vae.decode.out": out["x"]}
    ref |= {f"vae.decode.debug.{k}": v for k, v in dbg.items()}
    ih, iw = spec["vae_image_hw"]
    img = torch.rand(1, 3, ih, iw, generator=g) * 2 - 1
    # a smooth component too, so the image is not pure noise
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, ih), torch.linspace(-1, 1, iw), indexing="ij")
    img = (0.5 * img + 0.5 * torch.stack([xx, yy, xx * yy])[None]).clamp(-1, 1)
    dist = vae.encode(img).latent_dist
    ref |= {"vae.encode.image": img, "vae.encode.mean": dist.mean, "vae.encode.logvar": dist.logvar}
    return {k: (v if v.dtype == torch.int64 else v.float()).contiguous().clone() for k, v in ref.items()}


def check_structure(ref: dict) -> dict:
    """The outputs must carry signal: no NaN, a healthy spread, the context must matter, the image not clipped."""
    stats = {}
    for k, v in ref.items():
        if v.dtype != torch.int64:
            assert torch.isfinite(v).all(), k
    b1, b2 = ref["unet.b1.out"], ref["unet.b2.out"]
    assert torch.allclose(b1[0], b2[0], atol=1e-4), "batch-1 and batch-2 item 0 disagree"
    # same latent, the other context: how much does cross-attention change the output?
    stats["unet.out.std"] = b1.std().item()
    stats["vae.decode.u8_std"] = ((ref["vae.decode.out"] / 2 + 0.5).clamp(0, 1) * 255).std().item()
    x01 = ref["vae.decode.out"] / 2 + 0.5
    stats["vae.decode.clipped_fraction"] = ((x01 <= 0) | (x01 >= 1)).float().mean().item()
    stats["vae.encode.mean.std"] = ref["vae.encode.mean"].std().item()
    stats["text_encoder.last_hidden_state.std"] = ref["text_encoder.last_hidden_state"].std().item()
    assert 0.1 < stats["unet.out.std"] < 5, stats
    assert stats["vae.decode.u8_std"] > 20 and stats["vae.decode.clipped_fraction"] < 0.2, stats
    assert stats["vae.encode.mean.std"] > 0.05, stats
    return stats


@torch.no_grad()
def context_sensitivity(pipe, ref) -> float:
    lat = ref["unet.b1.sample"]
    t = torch.tensor([int(ref["unet.b1.timestep"].item())])
    other = pipe.unet(lat, t, encoder_hidden_states=ref["unet.b2.encoder_hidden_states"][1:]).sample
    return ((other - ref["unet.b1.out"]).norm() / ref["unet.b1.out"].norm()).item()


def write_ldm(pipe: StableDiffusionPipeline, kind: str, path: Path, dtype: torch.dtype) -> None:
    g = torch.Generator().manual_seed(99)

    def make_unused(name: str, shape: tuple) -> torch.Tensor:
        # SD2 only: the unused OpenCLIP tensors, random (norm weights 1, logit_scale ln(100))
        if name.endswith(("ln_1.weight", "ln_2.weight")):
            return torch.ones(shape)
        if name == "logit_scale":
            return torch.tensor(4.6052)
        return (0.1 * torch.randn(*shape, generator=g)).half().float()

    ckpt = ldm_checkpoint(kind, pipe.unet.state_dict(), dict(pipe.unet.config), pipe.vae.state_dict(),
                          dict(pipe.vae.config), pipe.text_encoder.state_dict(), pipe.text_encoder.config, make_unused)
    keep_f32 = set(schedule_buffers())
    ckpt = {k: (v if v.dtype == torch.int64 or k in keep_f32 else v.to(dtype)).contiguous() for k, v in ckpt.items()}
    metadata = {"format": "pt", "generator": "reference/make_fixtures.py"}
    save_file(ckpt, path, metadata=metadata)
    canonical_metadata_order(path, metadata)


def canonical_metadata_order(path: Path, metadata: dict) -> None:
    """safetensors writes `__metadata__` from a hash map, so with two or more entries their order in the
    header changes from run to run. Rewrites the header in place with the entries in `metadata`'s order
    (same length, so nothing else moves): the file is then the same bytes on every run."""
    raw = bytearray(path.read_bytes())
    n = int.from_bytes(raw[:8], "little")
    header = raw[8:8 + n].decode()
    want = json.dumps(metadata, separators=(",", ":"))
    found = json.dumps(json.loads(header)["__metadata__"], separators=(",", ":"))
    assert json.loads(found) == metadata and len(found) == len(want) and header.count(found) == 1, (found, want)
    raw[8:8 + n] = header.replace(found, want).encode()
    path.write_bytes(bytes(raw))


def load_single_file(ldm_path: Path, folder: Path, kind: str) -> tuple[StableDiffusionPipeline, str]:
    """The LDM file loaded with diffusers' own single-file loader (offline, config from the folder), in f32.
    For SD2 it loads a temporary copy without the unused last OpenCLIP resblock: diffusers only knows to
    skip index 23 (the real SD2 layout)."""
    path = ldm_path
    note = ""
    if kind == "sd2":
        sd = load_file(ldm_path)
        n = json.load(open(folder / "text_encoder" / "config.json"))["num_hidden_layers"]
        sd = {k: v for k, v in sd.items() if not k.startswith(f"cond_stage_model.model.transformer.resblocks.{n}.")}
        tmp = Path(tempfile.mkdtemp()) / "ldm.safetensors"
        save_file(sd, tmp)
        path = tmp
        note = f" (checked without the unused resblocks.{n}, which diffusers only skips at index 23)"
    pipe = StableDiffusionPipeline.from_single_file(str(path), config=str(folder), local_files_only=True,
                                                    torch_dtype=torch.float32, safety_checker=None,
                                                    requires_safety_checker=False)
    return pipe, note


@torch.no_grad()
def check_ldm_roundtrip(ldm_path: Path, folder: Path, kind: str, ref: dict, spec: dict) -> str:
    """Loads the LDM file back with diffusers' own single-file loader (offline, config from the folder)
    and compares its outputs with the references."""
    pipe, note = load_single_file(ldm_path, folder, kind)
    got = reference_outputs(pipe, spec)
    worst = 0.0
    for k, v in ref.items():
        if v.dtype == torch.int64:
            assert torch.equal(v, got[k]), k
            continue
        worst = max(worst, (v - got[k]).abs().max().item())
    assert worst < 1e-5, f"LDM round trip differs by {worst}"
    return f"from_single_file(config=folder, local_files_only=True): max |diff| {worst:.2e}{note}"


def make_fixture(name: str, spec: dict) -> dict:
    tok_dir = Path(tempfile.mkdtemp())
    write_tokenizer_files(tok_dir, n_merges=TINY_MERGES)
    pipe = build_pipeline(name, spec, tok_dir)
    folder = FIXTURE_DIR / name
    save_folder(pipe, folder, tok_dir, spec["weights_dtype"])
    reloaded = StableDiffusionPipeline.from_pretrained(str(folder), torch_dtype=torch.float32, local_files_only=True)
    ref = reference_outputs(reloaded, spec)
    ref_mem = reference_outputs(pipe, spec)
    assert all(torch.equal(ref[k], ref_mem[k]) for k in ref), "reloaded folder differs from the in-memory pipeline"
    stats = check_structure(ref)
    stats["unet.context_sensitivity"] = context_sensitivity(reloaded, ref)
    assert stats["unet.context_sensitivity"] > 0.01, stats
    save_file(ref, folder / "reference.safetensors", metadata={"generator": "reference/make_fixtures.py"})
    meta = {
        "generator": "reference/make_fixtures.py",
        "versions": {"torch": torch.__version__, "diffusers": diffusers.__version__, "transformers": transformers.__version__,
                     "safetensors": safetensors.__version__},
        "prompts": PROMPTS,
        "tokenizer": {"pad_token": spec["pad_token"], "merges": TINY_MERGES, "vocab_size": len(reloaded.tokenizer)},
        "timestep": spec["timestep"],
        "weights": {"on_disk_dtype": str(spec["weights_dtype"]).replace("torch.", ""), "seed": SEED, "weight_scale": WEIGHT_SCALE,
                    "note": "values are f16-exact; references are f32 computations with these values"},
        "vae_scale_factor": 2 ** (len(reloaded.vae.config.block_out_channels) - 1),
        "vae_scaling_factor": reloaded.vae.config.scaling_factor,
        "stats": stats,
        "tensors": {k: {"dtype": str(v.dtype).replace("torch.", ""), "shape": list(v.shape)} for k, v in sorted(ref.items())},
    }
    if spec["ldm"]:
        ldm_path = FIXTURE_DIR / f"{name}.ldm.safetensors"
        write_ldm(reloaded, spec["ldm"], ldm_path, spec["ldm_dtype"])
        meta["ldm"] = {"file": f"tests/fixtures/{name}.ldm.safetensors", "layout": spec["ldm"],
                       "dtype": str(spec["ldm_dtype"]).replace("torch.", ""),
                       "roundtrip": check_ldm_roundtrip(ldm_path, folder, spec["ldm"], ref, spec)}
    (folder / "reference.json").write_text(json.dumps(meta, indent=1) + "\n")
    return meta


def main() -> None:
    torch.set_num_threads(1)
    names = sys.argv[1:] or list(FIXTURES)
    for name in names:
        meta = make_fixture(name, FIXTURES[name])
        print(name, json.dumps(meta["stats"]), meta.get("ldm", {}).get("roundtrip", ""), file=sys.stderr)


if __name__ == "__main__":
    main()
