"""The benchmark and the prefix-reuse engine: identical outputs, and the JSON's shape (never its speed)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cxr_lib.models.prefix_reuse import common_prefix_length


def test_common_prefix_length():
    assert common_prefix_length([[1, 2, 3, 4], [1, 2, 5], [1, 2, 3]]) == 2
    assert common_prefix_length([[1, 2, 3], [1, 2, 3]]) == 3
    assert common_prefix_length([[7], [8]]) == 0
    assert common_prefix_length([]) == 0


@pytest.fixture(scope="module")
def stand_in_vlm(stand_in_dir):
    from cxr_lib.models.vlm import load_vlm

    return load_vlm(stand_in_dir / "medgemma", device="cpu")


@pytest.fixture(scope="module")
def wide_window_vlm(stand_in_dir):
    """The stand-in with its sliding window widened past every prompt, as MedGemma's (1024) is."""
    from cxr_lib.models.vlm import load_vlm

    vlm = load_vlm(stand_in_dir / "medgemma", device="cpu")
    vlm.model.config.get_text_config().sliding_window = 4096
    for module in vlm.model.modules():
        if getattr(module, "sliding_window", None):
            module.sliding_window = 4096
    return vlm


@pytest.mark.parametrize("batch_size", [1, 3, 8])
@pytest.mark.parametrize("fixed", [False, True], ids=["free-length", "fixed-length"])
def test_prefix_reuse_gives_the_reference_loops_greedy_outputs(wide_window_vlm, fixed, batch_size):
    stand_in_vlm = wide_window_vlm
    from cxr_lib.models.prefix_reuse import generate_with_shared_prefix
    from cxr_lib.models.vlm import GenerationSettings
    from cxr_lib.tooling.bench.model import eight_prompts

    image = np.random.default_rng(3).integers(0, 256, (28, 28), dtype=np.uint8)
    prompts = [p for _, _, p in eight_prompts()]
    settings = GenerationSettings(max_new_tokens=10, min_new_tokens=10 if fixed else None, batch_size=1)
    reference = [stand_in_vlm.generate([image], [p], settings)[0] for p in prompts]
    engine = generate_with_shared_prefix(stand_in_vlm, image, prompts, settings, batch_size=batch_size)

    assert engine.reused
    assert [g.text for g in engine.generations] == [g.text for g in reference]
    assert [g.new_tokens for g in engine.generations] == [g.new_tokens for g in reference]
    assert [g.stop_reason for g in engine.generations] == [g.stop_reason for g in reference]
    assert [g.prompt_tokens for g in engine.generations] == [g.prompt_tokens for g in reference]
    # The shared prefix holds every image token; each prompt's own part is what differs.
    image_tokens = stand_in_vlm.processor.image_seq_length
    assert engine.prefix_tokens > image_tokens
    assert all(s > 0 for s in engine.suffix_tokens)
    assert len(set(engine.suffix_tokens)) > 1
    if fixed:
        assert all(g.new_tokens == 10 and g.stop_reason == "max_new_tokens" for g in engine.generations)


def test_batched_prefix_reuse_falls_back_when_padding_would_not_fit_the_window(stand_in_vlm):
    """The stand-in's window (64 tokens) is shorter than its prompts: batching would change outputs."""
    from cxr_lib.models.prefix_reuse import generate_with_shared_prefix
    from cxr_lib.models.vlm import GenerationSettings
    from cxr_lib.tooling.bench.model import eight_prompts

    image = np.random.default_rng(5).integers(0, 256, (28, 28), dtype=np.uint8)
    prompts = [p for _, _, p in eight_prompts()]
    settings = GenerationSettings(max_new_tokens=8, batch_size=1)
    reference = [stand_in_vlm.generate([image], [p], settings)[0].text for p in prompts]
    engine = generate_with_shared_prefix(stand_in_vlm, image, prompts, settings, batch_size=8)
    assert [g.text for g in engine.generations] == reference


def test_prefix_reuse_of_one_prompt_matches_too(stand_in_vlm):
    from cxr_lib.models.prefix_reuse import generate_with_shared_prefix
    from cxr_lib.models.vlm import GenerationSettings

    image = np.full((28, 28), 90, dtype=np.uint8)
    settings = GenerationSettings(max_new_tokens=6, batch_size=1)
    (reference,) = stand_in_vlm.generate([image], ["Describe this chest X-ray."], settings)
    engine = generate_with_shared_prefix(stand_in_vlm, image, ["Describe this chest X-ray."], settings)
    assert engine.generations[0].text == reference.text
    assert generate_with_shared_prefix(stand_in_vlm, image, [], settings).generations == []


def test_thresholds_and_summary_read_a_results_dict():
    from cxr_lib.tooling.bench.report import check_thresholds, summary_lines

    results = {
        "quick": False,
        "environment": {"device": "cpu", "cpu": "x", "threads": 2, "torch": "2"},
        "workloads": {
            "prompts": {"speedup": 3.5, "identical_outputs": True, "reference_seconds": 7, "engine_seconds": 2},
            "decode": {"baseline": "float32", "speedup": 1.5,
                       "float32": {"seconds_per_token": 1.0, "bound_seconds": 0.6, "times_bound": 1.67},
                       "int8": {"seconds_per_token": 0.66, "bound_seconds": 0.2, "times_bound": 3.3}},
            "cache": {"cold_seconds": 10, "warm_seconds": 0.1, "speedup": 100.0},
        },
        "total_seconds": 1,
    }
    checks = {c["threshold"]: c["pass"] for c in check_thresholds(results)}
    assert checks == {">= 3x and identical greedy outputs": True, ">= 1.8x": False, "within 2x": True,
                      "within 2x (int8)": False, ">= 20x": True}
    results["workloads"]["prompts"]["identical_outputs"] = False
    assert not check_thresholds(results)[0]["pass"]
    text = "\n".join(summary_lines(results))
    assert "3.5×" in text and "FAIL" in text


def test_bench_modules_import_without_torch():
    """The benchmark's modules defer torch and transformers to the functions that need them."""
    import subprocess
    import sys

    code = ("import sys; import cxr_lib.tooling.bench.run, cxr_lib.tooling.bench.report; "
            "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_bandwidth_buffer_dwarfs_a_gpus_caches_on_full_runs_only():
    from cxr_lib.tooling.bench.configs import FULL, GPU_BANDWIDTH_MIB, QUICK

    assert FULL.bandwidth_mib_on("cuda:0") == GPU_BANDWIDTH_MIB
    assert FULL.bandwidth_mib_on("cpu") == FULL.bandwidth_mib
    assert QUICK.bandwidth_mib_on("cuda") == QUICK.bandwidth_mib < GPU_BANDWIDTH_MIB


def test_unknown_workload_is_one_clear_error(tmp_path):
    from cxr_lib.cli import main

    assert main(["bench", "--quick", "--only", "nonsense", "--out", str(tmp_path / "b.json")]) == 2


@pytest.mark.slow  # every workload, two local servers included: ~45 s here
def test_quick_bench_writes_json_of_the_documented_shape(tmp_path, capsys):
    from cxr_lib.cli import main
    from cxr_lib.tooling.bench.run import WORKLOADS

    out = tmp_path / "bench" / "quick.json"
    assert main(["bench", "--quick", "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    assert results["quick"] is True and "never quote" in results["note"]
    env = results["environment"]
    for key in ("torch", "transformers", "device", "threads", "cpu"):
        assert env[key]
    assert set(results["workloads"]) == set(WORKLOADS)
    w = results["workloads"]
    assert w["prompts"]["identical_outputs"] is True
    assert len(w["prompts"]["prompts"]) == 8
    assert {p["language"] for p in w["prompts"]["prompts"]} == {"en", "fr"}
    assert w["prompts"]["engine_seconds"] > 0 and w["prompts"]["reference_seconds"] > 0
    assert w["prompts"]["prefix_tokens"] > results["config"]["mm_tokens_per_image"]
    for name in ("float32", "int8"):
        d = w["decode"][name]
        assert d["seconds_per_token"] > 0 and d["bound_seconds"] > 0 and d["bytes_per_token"] > 0
    # The engine's OpenBLAS decode route, beside PyTorch's own linear, measured in the same run.
    assert w["decode"]["float32"]["routed_layers"] > 0
    assert w["decode"]["float32_pytorch"]["seconds_per_token"] > 0
    assert w["decode"]["float32_pytorch"]["weight_bytes"] == w["decode"]["float32"]["weight_bytes"]
    assert isinstance(w["decode"]["float32"]["greedy_tokens_agree_with_pytorch"], bool)
    kernels = w["bandwidth"]["read_gb_per_s_by_kernel"]
    assert set(kernels) == {"torch_sum", "openblas_gemv"}
    assert w["bandwidth"]["read_gb_per_s"] == max(kernels.values())
    # int8 reads about a quarter of float32's weight bytes.
    assert w["decode"]["int8"]["weight_bytes"] < 0.4 * w["decode"]["float32"]["weight_bytes"]
    assert "random" in w["decode"]["quality_note"]
    assert 0 <= w["scoring"]["score"] <= 1
    assert w["swin2sr"]["output_shape"] == [112, 112]
    assert w["batching"]["identical_outputs"] is True
    # The endpoint path at 1, 4 and 16 requests in flight, beside in-process, with the reports compared.
    e = w["endpoint"]
    assert e["in_process"]["batch_1"]["images_per_min"] > 0 and set(e["cxr_serve"]) == {"1", "4", "16"}
    assert all(run["identical_reports"] == e["images"] for run in e["cxr_serve"].values())
    assert results["targets"] == []  # quick figures are never judged
    assert "QUICK" in capsys.readouterr().out
    # Rerunning one workload keeps the others (same mode and device) and says so.
    assert main(["bench", "--quick", "--only", "swin2sr", "--out", str(out)]) == 0
    again = json.loads(out.read_text())
    assert set(again["workloads"]) == set(WORKLOADS) and again["rerun_workloads"] == ["swin2sr"]
