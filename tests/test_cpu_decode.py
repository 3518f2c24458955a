"""The CPU decode route: one-row float32 linears through OpenBLAS, one PyTorch thread per decode step."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from cxr_lib.errors import ParameterError  # noqa: E402
from cxr_lib.models import cpu_decode  # noqa: E402
from cxr_lib.models.vlm import GenerationSettings, load_vlm  # noqa: E402


class TwoLayers(torch.nn.Module):
    """A small model whose forward takes ``input_ids``-shaped input, as the route expects."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.first = torch.nn.Linear(48, 96)
        self.second = torch.nn.Linear(96, 40, bias=False)
        self.threads_seen: list[int] = []

    def forward(self, inputs_embeds, logits_to_keep: int = 0):
        self.threads_seen.append(torch.get_num_threads())
        return self.second(torch.relu(self.first(inputs_embeds)))


@pytest.fixture()
def model():
    return TwoLayers().eval()


@pytest.fixture(scope="module")
def vlm(stand_in_dir):
    return load_vlm(stand_in_dir / "medgemma")


def test_one_row_goes_to_openblas_and_matches_pytorch(model, monkeypatch):
    x = torch.randn(1, 1, 48)
    with torch.inference_mode():
        expected = model(inputs_embeds=x)
    assert cpu_decode.install(model) == 2 and cpu_decode.installed(model)

    calls = []
    real_from_numpy = torch.from_numpy
    monkeypatch.setattr(torch, "from_numpy", lambda a: calls.append(a.shape) or real_from_numpy(a))
    with torch.inference_mode():
        routed = model(inputs_embeds=x)
    assert calls == [(96,), (40,)]  # both layers took the NumPy route
    assert routed.shape == expected.shape == (1, 1, 40)
    torch.testing.assert_close(routed, expected, rtol=1e-5, atol=1e-6)
    assert not torch.equal(routed, torch.zeros_like(routed))


def test_several_rows_and_gradients_stay_with_pytorch(model, monkeypatch):
    cpu_decode.install(model)
    calls = []
    monkeypatch.setattr(torch, "from_numpy", lambda a: calls.append(a.shape))
    x = torch.randn(1, 5, 48)
    with torch.inference_mode():
        out = model(inputs_embeds=x)
    assert out.shape == (1, 5, 40) and calls == []
    one = torch.randn(1, 1, 48, requires_grad=True)
    out = model(inputs_embeds=one)  # grad mode on, input needs grad: PyTorch, so backward works
    out.sum().backward()
    assert calls == [] and one.grad is not None and one.grad.abs().sum() > 0


def test_one_pytorch_thread_during_a_one_token_step_only(model):
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        cpu_decode.install(model)
        with torch.inference_mode():
            model(inputs_embeds=torch.randn(1, 1, 48))
            model(inputs_embeds=torch.randn(1, 7, 48))
            model(inputs_embeds=torch.randn(3, 1, 48))
        assert model.threads_seen == [1, 2, 2]
        assert torch.get_num_threads() == 2  # restored
    finally:
        torch.set_num_threads(before)


def test_keeps_the_forward_signature_and_uninstalls(model):
    cpu_decode.install(model)
    assert "logits_to_keep" in inspect.signature(model.forward).parameters  # generate() inspects it
    assert cpu_decode.install(model) == 2  # idempotent: not wrapped twice
    cpu_decode.uninstall(model)
    assert not cpu_decode.installed(model)
    assert "forward" not in model.__dict__ and "forward" not in model.first.__dict__
    cpu_decode.uninstall(model)  # a second time is harmless


def test_other_precisions_are_left_alone(model):
    assert cpu_decode.install(model.to(torch.float64)) == 0
    assert not cpu_decode.installed(model)


def test_switch_by_environment(model, monkeypatch):
    monkeypatch.setenv(cpu_decode.ENV_SWITCH, "torch")
    assert cpu_decode.install(model) == 0 and "forward" not in model.first.__dict__
    monkeypatch.setenv(cpu_decode.ENV_SWITCH, "mkl")
    with pytest.raises(ParameterError) as info:
        cpu_decode.install(model)
    assert "CXR_CPU_GEMV" in str(info.value) and "\n" not in str(info.value)


def test_the_cpu_engine_routes_and_decodes_as_pytorch_does(vlm, data_dir):
    """Loaded on the CPU, the stand-in MedGemma has the route; greedy reports equal PyTorch's own."""
    from cxr_lib.data.datasets import load_split
    from cxr_lib.models.upscale import upscale

    assert cpu_decode.installed(vlm.model)
    test = load_split("test")
    images = [upscale(test.image(i), "lanczos", 64, rgb=True) for i in (1, 22)]
    prompts = ["Describe this chest X-ray.", "Is there pneumonia?"]
    settings = GenerationSettings(max_new_tokens=12)
    routed = [g.text for g in vlm.generate(images, prompts, settings)]
    cpu_decode.uninstall(vlm.model)
    try:
        plain = [g.text for g in vlm.generate(images, prompts, settings)]
    finally:
        cpu_decode.install(vlm.model)
    assert routed == plain
    assert all(text for text in routed)


def test_logits_of_a_decode_step_match(vlm):
    model = vlm.model
    ids = vlm.processor.tokenizer("Describe this chest X-ray, please.", return_tensors="pt")["input_ids"]
    assert ids.shape[1] > 3
    with torch.inference_mode():
        out = model(input_ids=ids, use_cache=True)
        step = torch.tensor([[int(out.logits[0, -1].argmax())]])
        routed = model(input_ids=step, past_key_values=out.past_key_values, use_cache=True).logits
    cpu_decode.uninstall(model)
    try:
        with torch.inference_mode():
            out = model(input_ids=ids, use_cache=True)
            plain = model(input_ids=step, past_key_values=out.past_key_values, use_cache=True).logits
    finally:
        cpu_decode.install(model)
    np.testing.assert_allclose(routed.numpy(), plain.numpy(), rtol=1e-4, atol=1e-5)
