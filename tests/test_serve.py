"""``cxr serve``'s request checks, its batching, and the thought put back into the text it sends.

The server itself, end to end against the stand-in, is tested in ``test_endpoint.py``.
"""

from __future__ import annotations

import time

import pytest

from cxr_lib.app.serve import Batcher, RequestError, _Job, parse_request, raw_content
from cxr_lib.models.endpoint_messages import chat_messages
from cxr_lib.models.thoughts import split_text
from cxr_lib.models.vlm import Generation, GenerationSettings


def image():
    from PIL import Image

    return Image.new("RGB", (16, 16), (10, 20, 30))


def body(**fields):
    return {"messages": chat_messages(image(), "Describe this chest X-ray."), **fields}


def test_a_request_in_the_projects_form_is_read():
    request = parse_request(body(max_tokens=7, temperature=0), max_logprobs=50)
    assert request.prompt == "Describe this chest X-ray." and request.image.size == (16, 16)
    assert request.settings == GenerationSettings(max_new_tokens=7, batch_size=1)
    sampled = parse_request(body(max_tokens=7, temperature=0.5, top_p=0.9, seed=4), max_logprobs=50).settings
    assert sampled.do_sample and sampled.seed == 4 and sampled.top_p == 0.9
    scoring = parse_request(body(max_tokens=1, logprobs=True, top_logprobs=50), max_logprobs=50)
    assert scoring.logprobs and scoring.top_logprobs == 50


@pytest.mark.parametrize("change, message", [
    (lambda b: b.update(messages=[]), "one user turn"),
    (lambda b: b["messages"][0].update(role="system"), "one user turn"),
    (lambda b: b["messages"][0]["content"].reverse(), "exactly one image"),
    (lambda b: b["messages"][0]["content"].pop(0), "exactly one image"),
    (lambda b: b["messages"][0]["content"][0]["image_url"].update(url="https://example.org/x.png"), "data URL"),
    (lambda b: b["messages"][0]["content"][0]["image_url"].update(url="data:image/png;base64,AAAA"), "readable image"),
    (lambda b: b["messages"][0]["content"][1].update(text="  "), "empty"),
    (lambda b: b.update(max_tokens=0), "max_new_tokens"),
    (lambda b: b.update(temperature="hot"), "could not convert"),
    (lambda b: b.update(logprobs=True, max_tokens=5), "max_tokens=1"),
    (lambda b: b.update(logprobs=True, max_tokens=1, top_logprobs=51), "greater than max allowed: 50"),
    (lambda b: b.update(logprobs=True, max_tokens=1, top_logprobs=-1), "between 0 and 50"),
    (lambda b: b.update(n=3), "n=1"),
])
def test_requests_outside_the_form_are_refused(change, message):
    request = body()
    change(request)
    with pytest.raises(RequestError) as info:
        parse_request(request, max_logprobs=50)
    assert info.value.status == 400 and message in info.value.message


@pytest.mark.parametrize("state, text, thought", [("none", "Clear lungs.", ""), ("closed", "Clear lungs.", "check the bases"),
                                                   ("unclosed", "", "check the bases")])
def test_the_thought_goes_back_between_its_markers(state, text, thought):
    generation = Generation(text, "eos", 5, 300, 0.1, thought=thought, thought_state=state)
    split = split_text(raw_content(generation))
    assert (split.answer, split.thought, split.state) == (text, thought, state)


class CountingModel:
    """Stands in for a VLM: records the batch sizes it is asked for."""

    def __init__(self):
        self.batches = []

    def generate(self, images, prompts, settings):
        self.batches.append(len(images))
        time.sleep(0.05)
        return [Generation(p, "eos", 1, 1, 0.0) for p in prompts]


def test_requests_sent_together_share_a_batch_sampled_ones_run_alone():
    model = CountingModel()
    batcher = Batcher(model, max_batch=3)
    greedy = parse_request(body(max_tokens=4), max_logprobs=0)
    sampled = parse_request(body(max_tokens=4, temperature=0.7, seed=1), max_logprobs=0)
    jobs = [_Job("generate", ("generate", greedy.settings, 0), greedy) for _ in range(5)]
    jobs += [_Job("generate", None, sampled) for _ in range(2)]
    with batcher._ready:  # all queued before the worker looks: the batches do not depend on timing
        batcher._jobs.extend(jobs)
        batcher._ready.notify()
    results = [job.future.result(timeout=30) for job in jobs]
    batcher.stop()
    assert all(r.text == "Describe this chest X-ray." for r in results)
    assert sorted(model.batches) == [1, 1, 2, 3] and max(model.batches) <= 3
