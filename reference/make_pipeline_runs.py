"""End-to-end references: each tiny fixture run through diffusers' StableDiffusionPipeline (txt2img) with
fixed initial latents for several samplers, and (tiny-sd1, tiny-sd2) through
StableDiffusionImg2ImgPipeline from a synthetic init image. Writes tests/fixtures/<name>/pipeline/:
- pipeline.safetensors  f32 tensors (names in reference/README.md)
- <sampler>.png, img2img_<sampler>.png   the pipelines' PIL outputs
- init.png              the img2img init image (RGB8, exactly HEIGHT x WIDTH: no resize happens)
- pipeline.json         settings, timesteps and versions

txt2img: prompt "a photo of a cat", the fixture's negative prompt (SETTINGS: "" = diffusers' default
unconditional "" for tiny-sd1 / tiny-3level, "blurry, low quality" for tiny-sd2), guidance_scale 7.5,
STEPS steps, height x width HxW, `latents=` given (unit variance; the pipeline multiplies them by
scheduler.init_noise_sigma itself). Samplers are built from the fixture's own scheduler config as loaded
(`cls.from_config(pipe.scheduler.config, **options)`, the usual way to swap samplers; so e.g. Euler
inherits PNDM's timestep_spacing "leading"):
ddim = DDIMScheduler, euler = EulerDiscreteScheduler,
dpmpp_2m_karras = DPMSolverMultistepScheduler(algorithm_type="dpmsolver++", solver_order=2, use_karras_sigmas=True);
tiny-sd1 also euler_nocfg = EulerDiscreteScheduler with guidance_scale 1.0 (diffusers then runs one
unguided U-Net pass per step, batch 1; checked).

img2img (tiny-sd1, tiny-sd2; samplers ddim, euler): same prompt, negative prompt and guidance, STEPS steps,
strength 0.6 (diffusers runs the last int(STEPS * 0.6) = 3 of the STEPS timesteps). The init latent is
the VAE posterior's MEAN times scaling_factor, as wgsd does: diffusers 0.42.1 samples from the posterior by
default (retrieve_latents(..., sample_mode="sample")), so its module-level retrieve_latents is patched to
sample_mode="argmax" (= latent_dist.mode() = mean) for these runs. The noise that diffusers adds with
scheduler.add_noise (randn_tensor from a generator seeded IMG2IMG_NOISE_SEED) is captured and stored;
the script checks that encoding `init_image` to the mean, add_noise with that noise at the first run
timestep and a plain CFG loop over the recorded timesteps reproduce diffusers' final latents.

Single file: for fixtures with an LDM checkpoint the script loads it with diffusers' from_single_file
(config = the folder) and checks that U-Net, VAE and text-encoder weights equal the folder's bit for bit;
pipeline.json then names it (`single_file`, relative to the fixture folder), so a test can reuse these
references for the single-file model."""
import json
import sys

import diffusers
import diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion_img2img as img2img_module
import numpy as np
import torch
import transformers
from diffusers import (DDIMScheduler, DPMSolverMultistepScheduler, EulerDiscreteScheduler, StableDiffusionImg2ImgPipeline,
                       StableDiffusionPipeline)
from diffusers.utils.torch_utils import randn_tensor
from PIL import Image
from safetensors.torch import save_file

from common import REPO_DIR
from make_fixtures import FIXTURES, load_single_file

FIXTURE_DIR = REPO_DIR / "tests" / "fixtures"
PROMPT = "a photo of a cat"
GUIDANCE = 7.5
STEPS = 5
HEIGHT, WIDTH = 32, 48
LATENTS_SEED = 7
IMG2IMG_STRENGTH = 0.6
IMG2IMG_NOISE_SEED = 11
# name -> (scheduler class, from_config options, guidance_scale)
SAMPLERS = {
    "ddim": (DDIMScheduler, {}, GUIDANCE),
    "euler": (EulerDiscreteScheduler, {}, GUIDANCE),
    "dpmpp_2m_karras": (DPMSolverMultistepScheduler,
                        {"algorithm_type": "dpmsolver++", "solver_order": 2, "use_karras_sigmas": True}, GUIDANCE),
}
NOCFG_SAMPLERS = {"euler_nocfg": (EulerDiscreteScheduler, {}, 1.0)}
IMG2IMG_SAMPLERS = {k: SAMPLERS[k] for k in ("ddim", "euler")}
SETTINGS = {
    "tiny-sd1": dict(negative_prompt="", extra_samplers=NOCFG_SAMPLERS, img2img=True),
    "tiny-sd2": dict(negative_prompt="blurry, low quality", extra_samplers={}, img2img=True),
    "tiny-3level": dict(negative_prompt="", extra_samplers={}, img2img=False),
}


def init_image(height: int, width: int) -> Image.Image:
    """A deterministic synthetic RGB picture: smooth gradients, a disc and a bar (no noise)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    u, v = x / (width - 1), y / (height - 1)
    rgb = np.stack([40 + 180 * u, 30 + 160 * v, 200 - 120 * u * v], axis=-1)
    disc = (x - 0.62 * width) ** 2 + (y - 0.45 * height) ** 2 <= (0.28 * height) ** 2
    rgb[disc] = (235, 190, 50)
    bar = (np.abs(x - 0.2 * width) <= 0.06 * width) & (v >= 0.2) & (v <= 0.85)
    rgb[bar] = (20, 60, 120)
    return Image.fromarray(np.rint(rgb).clip(0, 255).astype(np.uint8))


class UNetBatches:
    """Records the batch size of every U-Net call (to check how many passes diffusers makes)."""

    def __init__(self, unet):
        self.sizes = []
        self.handle = unet.register_forward_pre_hook(lambda _m, args: self.sizes.append(args[0].shape[0]))

    def remove(self):
        self.handle.remove()


def txt2img(pipe, sampler, cls, options, guidance, negative, latents, base_config, out_dir) -> tuple[dict, dict]:
    pipe.scheduler = cls.from_config(base_config, **options)
    steps = []

    def on_step_end(_pipe, _i, _t, kwargs):
        steps.append(kwargs["latents"].clone())
        return kwargs

    args = dict(prompt=PROMPT, negative_prompt=negative or None, height=HEIGHT, width=WIDTH,
                num_inference_steps=STEPS, guidance_scale=guidance)
    batches = UNetBatches(pipe.unet)
    try:
        final = pipe(**args, latents=latents.clone(), output_type="latent", callback_on_step_end=on_step_end).images
    finally:
        batches.remove()
    # guidance 1.0: one unguided pass (batch 1) per step; otherwise one batch-2 pass (uncond, cond)
    assert batches.sizes == [1 if guidance <= 1 else 2] * STEPS, (sampler, batches.sizes)
    decoded = pipe.vae.decode(final / pipe.vae.config.scaling_factor).sample
    image01 = (decoded / 2 + 0.5).clamp(0, 1)
    pipe.image_processor.postprocess(decoded, output_type="pil")[0].save(out_dir / f"{sampler}.png")
    # the same call with the default output type gives the same image
    check = pipe(**args, latents=latents.clone(), output_type="np").images[0]
    assert abs(torch.from_numpy(check).permute(2, 0, 1) - image01[0]).max() < 1e-6
    u8std = (image01 * 255).std().item()
    assert torch.isfinite(decoded).all() and u8std > 20, (sampler, u8std)
    tensors = {f"{sampler}.timesteps": pipe.scheduler.timesteps.float(), f"{sampler}.step_latents": torch.cat(steps),
               f"{sampler}.final_latents": final, f"{sampler}.decoded": decoded, f"{sampler}.image": image01}
    meta = {"class": cls.__name__, "options": options, "guidance_scale": guidance,
            "timesteps": [float(t) for t in pipe.scheduler.timesteps], "image_u8_std": u8std}
    return tensors, meta


def argmax_retrieve_latents(encoder_output, generator=None, sample_mode="sample"):
    """diffusers' retrieve_latents, always taking the posterior's mode (= mean), as wgsd encodes."""
    return ORIGINAL_RETRIEVE_LATENTS(encoder_output, generator=generator, sample_mode="argmax")


ORIGINAL_RETRIEVE_LATENTS = img2img_module.retrieve_latents


@torch.no_grad()
def img2img(i2i, sampler, cls, options, guidance, negative, pil, base_config, out_dir) -> tuple[dict, dict]:
    scheduler = cls.from_config(base_config, **options)
    i2i.scheduler = scheduler
    record = {}
    add_noise = scheduler.add_noise

    def recording_add_noise(original_samples, noise, timesteps):
        out = add_noise(original_samples, noise, timesteps)
        record.setdefault("add_noise", []).append((original_samples.clone(), noise.clone(), timesteps.clone(), out.clone()))
        return out

    scheduler.add_noise = recording_add_noise
    hook = i2i.vae.encoder.register_forward_pre_hook(lambda _m, args: record.setdefault("encoder_in", []).append(args[0].clone()))
    run_t = []

    def on_step_end(_pipe, _i, t, kwargs):
        run_t.append(float(t))
        return kwargs

    args = dict(prompt=PROMPT, image=pil, strength=IMG2IMG_STRENGTH, negative_prompt=negative or None,
                num_inference_steps=STEPS, guidance_scale=guidance)
    img2img_module.retrieve_latents = argmax_retrieve_latents
    try:
        final = i2i(**args, generator=torch.Generator().manual_seed(IMG2IMG_NOISE_SEED), output_type="latent",
                    callback_on_step_end=on_step_end).images
    finally:
        img2img_module.retrieve_latents = ORIGINAL_RETRIEVE_LATENTS
        hook.remove()
        del scheduler.add_noise
    (image_in,) = record["encoder_in"]
    ((original, noise, t0, noisy),) = record["add_noise"]
    sf = i2i.vae.config.scaling_factor

    # What was captured is what wgsd computes: preprocess, posterior mean x scaling_factor, the seeded
    # noise, add_noise at the first run timestep, then a plain CFG loop over the run timesteps.
    assert image_in.shape == (1, 3, HEIGHT, WIDTH) and torch.equal(image_in, i2i.image_processor.preprocess(pil))
    u8 = torch.from_numpy(np.asarray(pil).astype(np.float32) / 255.0).permute(2, 0, 1)[None]
    assert torch.equal(image_in, 2.0 * u8 - 1.0)
    mean = i2i.vae.encode(image_in).latent_dist.mean
    assert torch.equal(original, mean * sf), "init latent is not the posterior mean x scaling_factor"
    assert torch.equal(noise, randn_tensor(mean.shape, generator=torch.Generator().manual_seed(IMG2IMG_NOISE_SEED)))
    n_run = min(int(STEPS * IMG2IMG_STRENGTH), STEPS)
    assert len(run_t) == n_run and t0.tolist() == run_t[:1], (run_t, t0)
    replay = cls.from_config(base_config, **options)
    replay.set_timesteps(STEPS)
    start = (STEPS - n_run) * replay.order
    assert [float(t) for t in replay.timesteps[start:]] == run_t
    if hasattr(replay, "set_begin_index"):  # as the pipeline does (Euler; DDIM has none)
        replay.set_begin_index(start)
    latents = replay.add_noise(mean * sf, noise, replay.timesteps[start:start + 1])
    assert torch.equal(latents, noisy)
    do_cfg = guidance > 1
    cond, uncond = i2i.encode_prompt(PROMPT, "cpu", 1, do_cfg, negative or None)
    context = torch.cat([uncond, cond]) if do_cfg else cond
    for t in replay.timesteps[start:]:
        x = torch.cat([latents] * 2) if do_cfg else latents
        pred = i2i.unet(replay.scale_model_input(x, t), t, encoder_hidden_states=context).sample
        if do_cfg:
            pred_uncond, pred_cond = pred.chunk(2)
            pred = pred_uncond + guidance * (pred_cond - pred_uncond)
        latents = replay.step(pred, t, latents).prev_sample
    replay_diff = (latents - final).abs().max().item()
    assert replay_diff < 1e-5, (sampler, replay_diff)

    decoded = i2i.vae.decode(final / sf).sample
    image01 = (decoded / 2 + 0.5).clamp(0, 1)
    i2i.image_processor.postprocess(decoded, output_type="pil")[0].save(out_dir / f"img2img_{sampler}.png")
    img2img_module.retrieve_latents = argmax_retrieve_latents
    try:
        check = i2i(**args, generator=torch.Generator().manual_seed(IMG2IMG_NOISE_SEED), output_type="np").images[0]
    finally:
        img2img_module.retrieve_latents = ORIGINAL_RETRIEVE_LATENTS
    assert abs(torch.from_numpy(check).permute(2, 0, 1) - image01[0]).max() < 1e-6
    u8std = (image01 * 255).std().item()
    assert torch.isfinite(decoded).all() and u8std > 20, (sampler, u8std)
    key = f"img2img_{sampler}"
    tensors = {f"{key}.init_image": image_in, f"{key}.noise": noise, f"{key}.timesteps": torch.tensor(run_t),
               f"{key}.final_latents": final, f"{key}.decoded": decoded, f"{key}.image": image01}
    meta = {"class": cls.__name__, "options": options, "guidance_scale": guidance, "timesteps": run_t,
            "image_u8_std": u8std, "replay_max_abs_diff": replay_diff}
    return tensors, meta


@torch.no_grad()
def check_single_file(name: str, pipe: StableDiffusionPipeline) -> str | None:
    """The fixture's LDM file, loaded by diffusers' from_single_file, holds exactly the folder's weights."""
    kind = FIXTURES[name]["ldm"]
    if not kind:
        return None
    ldm = FIXTURE_DIR / f"{name}.ldm.safetensors"
    single, _note = load_single_file(ldm, FIXTURE_DIR / name, kind)
    for component in ("unet", "vae", "text_encoder"):
        a, b = getattr(pipe, component).state_dict(), getattr(single, component).state_dict()
        assert a.keys() == b.keys(), (name, component, set(a) ^ set(b))
        differ = [k for k in a if not torch.equal(a[k], b[k])]
        assert not differ, f"{name} single file: {component} weights differ from the folder: {differ[:5]}"
    return f"../{ldm.name}"


@torch.no_grad()
def run_fixture(name: str) -> dict:
    settings = SETTINGS[name]
    negative = settings["negative_prompt"]
    folder = FIXTURE_DIR / name
    out_dir = folder / "pipeline"
    out_dir.mkdir(exist_ok=True)
    pipe = StableDiffusionPipeline.from_pretrained(str(folder), torch_dtype=torch.float32, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    factor = pipe.vae_scale_factor
    latents = torch.randn(1, pipe.unet.config.in_channels, HEIGHT // factor, WIDTH // factor,
                          generator=torch.Generator().manual_seed(LATENTS_SEED))
    tensors = {"latents": latents}
    base_config = pipe.scheduler.config  # the fixture's scheduler as loaded (all its defaults filled in)
    meta = {"generator": "reference/make_pipeline_runs.py", "prompt": PROMPT, "negative_prompt": negative,
            "guidance_scale": GUIDANCE, "num_inference_steps": STEPS, "height": HEIGHT, "width": WIDTH,
            "vae_scale_factor": int(factor), "prediction_type": base_config["prediction_type"],
            "latents_seed": LATENTS_SEED}
    single_file = check_single_file(name, pipe)
    if single_file:
        meta["single_file"] = single_file
    meta["samplers"] = {}
    for sampler, (cls, options, guidance) in (SAMPLERS | settings["extra_samplers"]).items():
        t, m = txt2img(pipe, sampler, cls, options, guidance, negative, latents, base_config, out_dir)
        tensors |= t
        meta["samplers"][sampler] = m
    if settings["img2img"]:
        pil = init_image(HEIGHT, WIDTH)
        pil.save(out_dir / "init.png")
        with Image.open(out_dir / "init.png") as reread:
            assert reread.mode == "RGB" and reread.size == (WIDTH, HEIGHT)
            pil = reread.convert("RGB")
        i2i = StableDiffusionImg2ImgPipeline(**pipe.components, requires_safety_checker=False)
        i2i.set_progress_bar_config(disable=True)
        meta["img2img"] = {"strength": IMG2IMG_STRENGTH, "init_image": "init.png", "noise_seed": IMG2IMG_NOISE_SEED,
                           "init_latents": "vae.encode(init_image).latent_dist.mean * scaling_factor", "samplers": {}}
        for sampler, (cls, options, guidance) in IMG2IMG_SAMPLERS.items():
            t, m = img2img(i2i, sampler, cls, options, guidance, negative, pil, base_config, out_dir)
            tensors |= t
            meta["img2img"]["samplers"][sampler] = m
    save_file({k: v.float().contiguous() for k, v in tensors.items()}, out_dir / "pipeline.safetensors",
              metadata={"generator": "reference/make_pipeline_runs.py"})
    meta |= {"scheduler_base_config": dict(base_config),
             "versions": {"torch": torch.__version__, "diffusers": diffusers.__version__,
                          "transformers": transformers.__version__}}
    (out_dir / "pipeline.json").write_text(json.dumps(meta, indent=1) + "\n")
    return meta


def main() -> None:
    torch.set_num_threads(1)
    for name in sys.argv[1:] or list(SETTINGS):
        meta = run_fixture(name)
        stds = {s: round(m["image_u8_std"], 1) for s, m in meta["samplers"].items()}
        stds |= {f"img2img_{s}": round(m["image_u8_std"], 1) for s, m in meta.get("img2img", {}).get("samplers", {}).items()}
        print(name, stds, meta.get("single_file"), file=sys.stderr)


if __name__ == "__main__":
    main()
