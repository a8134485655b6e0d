"""End-to-end references: each tiny fixture run through diffusers' StableDiffusionPipeline with fixed
initial latents, for three samplers. Writes tests/fixtures/<name>/pipeline/:
- pipeline.safetensors  f32 tensors (names in reference/README.md)
- <sampler>.png         the pipeline's PIL output
- pipeline.json         settings and versions

Settings: prompt "a photo of a cat", negative prompt "" (the default), guidance_scale 7.5,
STEPS steps, height x width HxW, `latents=` given (unit variance; the pipeline multiplies them by
scheduler.init_noise_sigma itself). Samplers are built from the fixture's own scheduler config as loaded
(`cls.from_config(pipe.scheduler.config, **options)`, the usual way to swap samplers; so e.g. Euler
inherits PNDM's timestep_spacing "leading"):
ddim = DDIMScheduler, euler = EulerDiscreteScheduler,
dpmpp_2m_karras = DPMSolverMultistepScheduler(algorithm_type="dpmsolver++", solver_order=2, use_karras_sigmas=True)."""
import json
import sys

import diffusers
import torch
import transformers
from diffusers import DDIMScheduler, DPMSolverMultistepScheduler, EulerDiscreteScheduler, StableDiffusionPipeline
from safetensors.torch import save_file

from common import REPO_DIR

FIXTURE_DIR = REPO_DIR / "tests" / "fixtures"
PROMPT = "a photo of a cat"
GUIDANCE = 7.5
STEPS = 5
HEIGHT, WIDTH = 32, 48
SAMPLERS = {
    "ddim": (DDIMScheduler, {}),
    "euler": (EulerDiscreteScheduler, {}),
    "dpmpp_2m_karras": (DPMSolverMultistepScheduler,
                        {"algorithm_type": "dpmsolver++", "solver_order": 2, "use_karras_sigmas": True}),
}


@torch.no_grad()
def run_fixture(name: str) -> dict:
    folder = FIXTURE_DIR / name
    out_dir = folder / "pipeline"
    out_dir.mkdir(exist_ok=True)
    pipe = StableDiffusionPipeline.from_pretrained(str(folder), torch_dtype=torch.float32, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    factor = pipe.vae_scale_factor
    latents = torch.randn(1, pipe.unet.config.in_channels, HEIGHT // factor, WIDTH // factor,
                          generator=torch.Generator().manual_seed(7))
    tensors = {"latents": latents}
    meta = {"samplers": {}}
    base_config = pipe.scheduler.config  # the fixture's scheduler as loaded (all its defaults filled in)
    for sampler, (cls, options) in SAMPLERS.items():
        pipe.scheduler = cls.from_config(base_config, **options)
        steps = []

        def on_step_end(_pipe, _i, t, kwargs):
            steps.append(kwargs["latents"].clone())
            return kwargs

        final = pipe(PROMPT, height=HEIGHT, width=WIDTH, num_inference_steps=STEPS, guidance_scale=GUIDANCE,
                     latents=latents.clone(), output_type="latent", callback_on_step_end=on_step_end).images
        decoded = pipe.vae.decode(final / pipe.vae.config.scaling_factor).sample
        image01 = (decoded / 2 + 0.5).clamp(0, 1)
        pil = pipe.image_processor.postprocess(decoded, output_type="pil")[0]
        pil.save(out_dir / f"{sampler}.png")
        # the same call with the default output type gives the same image
        check = pipe(PROMPT, height=HEIGHT, width=WIDTH, num_inference_steps=STEPS, guidance_scale=GUIDANCE,
                     latents=latents.clone(), output_type="np").images[0]
        assert abs(torch.from_numpy(check).permute(2, 0, 1) - image01[0]).max() < 1e-6
        u8std = (image01 * 255).std().item()
        assert torch.isfinite(decoded).all() and u8std > 20, (name, sampler, u8std)
        tensors |= {f"{sampler}.timesteps": pipe.scheduler.timesteps.float(),
                    f"{sampler}.step_latents": torch.cat(steps), f"{sampler}.final_latents": final,
                    f"{sampler}.decoded": decoded, f"{sampler}.image": image01}
        meta["samplers"][sampler] = {"class": cls.__name__, "options": options,
                                     "timesteps": [float(t) for t in pipe.scheduler.timesteps], "image_u8_std": u8std}
    save_file({k: v.float().contiguous() for k, v in tensors.items()}, out_dir / "pipeline.safetensors",
              metadata={"generator": "reference/make_pipeline_runs.py"})
    meta |= {"generator": "reference/make_pipeline_runs.py", "prompt": PROMPT, "negative_prompt": "",
             "guidance_scale": GUIDANCE, "num_inference_steps": STEPS, "height": HEIGHT, "width": WIDTH,
             "latents_seed": 7, "scheduler_base_config": dict(base_config),
             "versions": {"torch": torch.__version__, "diffusers": diffusers.__version__,
                          "transformers": transformers.__version__}}
    (out_dir / "pipeline.json").write_text(json.dumps(meta, indent=1) + "\n")
    return meta


def main() -> None:
    torch.set_num_threads(1)
    for name in sys.argv[1:] or ["tiny-sd1", "tiny-sd2", "tiny-3level"]:
        meta = run_fixture(name)
        print(name, {s: round(m["image_u8_std"], 1) for s, m in meta["samplers"].items()}, file=sys.stderr)


if __name__ == "__main__":
    main()
