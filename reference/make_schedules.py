"""tests/fixtures/schedulers.json: timesteps / sigmas of diffusers schedulers, plus a short deterministic
`step()` trajectory for the samplers without noise injection.

Base configs: `sd15` = configs/sd15/scheduler.json (epsilon, "leading" spacing, steps_offset 1), and
`v_trailing` = configs/sd21/scheduler.json (v_prediction) with timestep_spacing "trailing".
Each scheduler is built with `<Class>.from_config(base, **options)`.

Trajectory: x_0 = init_noise_sigma * randn([1, 4, 2, 2], seed 0); at each step
model_in = scale_model_input(x, t); model_output = A * model_in + B * (t / 1000) (A, B below);
x = step(model_output, t, x).prev_sample. Recorded: t, model_in, model_output, prev_sample (flattened,
row-major [1, 4, 2, 2])."""
import json
import sys

import diffusers
import torch
from diffusers import (DDIMScheduler, DPMSolverMultistepScheduler, EulerAncestralDiscreteScheduler,
                       EulerDiscreteScheduler, LCMScheduler)

from common import REPO_DIR, load_config

OUT = REPO_DIR / "tests" / "fixtures" / "schedulers.json"
A, B = 0.5, 0.25
TRAJECTORY_STEPS = {7}  # record trajectories at this step count

SAMPLERS = [
    ("ddim", DDIMScheduler, {}, True),
    ("euler", EulerDiscreteScheduler, {}, True),
    ("euler_ancestral", EulerAncestralDiscreteScheduler, {}, False),
    ("dpmpp_2m", DPMSolverMultistepScheduler, {"algorithm_type": "dpmsolver++", "solver_order": 2}, True),
    ("dpmpp_2m_karras", DPMSolverMultistepScheduler,
     {"algorithm_type": "dpmsolver++", "solver_order": 2, "use_karras_sigmas": True}, True),
    ("lcm", LCMScheduler, {}, False),
]


def base_configs() -> dict:
    sd15 = load_config("sd15", "scheduler")
    v = dict(load_config("sd21", "scheduler"), timestep_spacing="trailing")
    return {"sd15": sd15, "v_trailing": v}


def floats(t: torch.Tensor) -> list:
    return [float(x) for x in t.detach().to(torch.float64).flatten()]


def trajectory(sched) -> list:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 4, 2, 2, generator=g) * sched.init_noise_sigma
    steps = [{"x0": floats(x)}]
    for t in sched.timesteps:
        model_in = sched.scale_model_input(x, t)
        model_output = A * model_in + B * (t.float() / 1000)
        x = sched.step(model_output, t, x).prev_sample
        steps.append({"t": float(t), "model_in": floats(model_in), "model_output": floats(model_output),
                      "prev_sample": floats(x)})
    return steps


def main() -> None:
    cases = []
    for cfg_name, cfg in base_configs().items():
        for name, cls, options, deterministic in SAMPLERS:
            for n in (20, 7):
                sched = cls.from_config(cfg, **options)
                sched.set_timesteps(n)
                case = {
                    "config": cfg_name, "sampler": name, "class": cls.__name__, "options": options,
                    "num_inference_steps": n,
                    "timesteps": floats(sched.timesteps),
                    "sigmas": floats(sched.sigmas) if hasattr(sched, "sigmas") and torch.is_tensor(sched.sigmas) else None,
                    "init_noise_sigma": float(sched.init_noise_sigma),
                    "resolved_config": {k: v for k, v in dict(sched.config).items() if not k.startswith("_")},
                }
                if deterministic and n in TRAJECTORY_STEPS:
                    sched = cls.from_config(cfg, **options)
                    sched.set_timesteps(n)
                    case["trajectory"] = trajectory(sched)
                cases.append(case)
    doc = {
        "generator": "reference/make_schedules.py",
        "versions": {"torch": torch.__version__, "diffusers": diffusers.__version__},
        "base_configs": base_configs(),
        "trajectory_model": {"A": A, "B": B, "formula": "model_output = A * model_in + B * (t / 1000)",
                             "x0": "init_noise_sigma * torch.randn([1,4,2,2], generator=manual_seed(0))"},
        "cases": cases,
    }
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"{len(cases)} cases -> {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
