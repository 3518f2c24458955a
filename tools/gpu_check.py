"""Check the CUDA paths of the engine with the stand-ins (bfloat16 generation, batching, scoring,
streaming, prefix reuse, Swin2SR). Writes a JSON summary. Usage: python tools/gpu_check.py OUT.json [device]"""

from __future__ import annotations

import json
import platform
import sys
import tempfile
import time

import numpy as np

out = sys.argv[1]
device = sys.argv[2] if len(sys.argv) > 2 else "cuda"
report: dict = {"device": device, "python": platform.python_version()}
import torch  # noqa: E402
import transformers  # noqa: E402

report.update(torch=torch.__version__, transformers=transformers.__version__,
              gpu=torch.cuda.get_device_name(0) if torch.cuda.is_available() else None)

from cxr_lib.errors import ParameterError  # noqa: E402
from cxr_lib.models.prefix_reuse import generate_with_shared_prefix  # noqa: E402
from cxr_lib.models.prompts import build_prompt  # noqa: E402
from cxr_lib.models.stand_ins import build_stand_ins  # noqa: E402
from cxr_lib.models.upscale import load_super_resolver  # noqa: E402
from cxr_lib.models.vlm import GenerationSettings, load_vlm  # noqa: E402

folder = tempfile.mkdtemp()
paths = build_stand_ins(folder)
rng = np.random.default_rng(0)
images = [rng.integers(0, 256, (64, 64, 3), dtype=np.uint8) for _ in range(4)]
prompts = [build_prompt(s, l) for s, l in (("structured", "en"), ("reference", "en"), ("radiologist", "ar"), ("zero-shot", "fr"))]

vlm = load_vlm(paths["medgemma"], device=device)
report["dtype"] = str(vlm.dtype)
settings = GenerationSettings(max_new_tokens=40, batch_size=4)
started = time.perf_counter()
batched = vlm.generate(images, prompts, settings)
report["batched_seconds"] = round(time.perf_counter() - started, 3)
single = [vlm.generate([i], [p], settings)[0] for i, p in zip(images, prompts)]
report["batched_equals_single"] = [a.text == b.text for a, b in zip(batched, single)]
report["non_empty"] = all(g.text.strip() for g in batched)
report["stop_reasons"] = [g.stop_reason for g in batched]
scores = vlm.score(images)
report["scores"] = [round(float(s), 4) for s in scores]
report["scores_are_probabilities"] = all(0.0 <= s <= 1.0 for s in scores)
streamed = list(vlm.stream(images[0], prompts[0], settings))
report["stream_ends_with_report"] = bool(streamed) and streamed[-1].strip() == single[0].text.strip()
shared = generate_with_shared_prefix(vlm, images[0], prompts, settings, batch_size=4)
plain = [vlm.generate([images[0]], [p], settings)[0].text for p in prompts]
report["prefix_reuse_equals_plain"] = [a.text == b for a, b in zip(shared.generations, plain)]
try:
    load_vlm(paths["medgemma"], device=device, dtype="float16")
    report["float16_refused"] = False
except ParameterError:
    report["float16_refused"] = True

sr = load_super_resolver(str(paths["swin2sr"]), device=device)
gray = [rng.integers(0, 256, (28, 28), dtype=np.uint8) for _ in range(6)]
on_device = sr.super_resolve(gray, batch_size=6)
on_cpu = load_super_resolver(str(paths["swin2sr"]), device="cpu").super_resolve(gray, batch_size=1)
report["swin2sr_shapes"] = sorted({a.shape for a in on_device})
report["swin2sr_max_diff_vs_cpu"] = int(max(np.abs(a.astype(int) - b.astype(int)).max() for a, b in zip(on_device, on_cpu)))
print(json.dumps(report, indent=1, default=str))
with open(out, "w") as handle:
    json.dump(report, handle, indent=1, default=str)
