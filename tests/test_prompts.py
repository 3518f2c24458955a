"""Prompt strategies, languages and the chat messages MedGemma sees."""

from __future__ import annotations

import pytest

from cxr_lib.errors import PromptError
from cxr_lib.models.prompts import (
    LANGUAGES,
    REFERENCE_PROMPT,
    STRATEGIES,
    UI_PRESETS,
    build_messages,
    build_prompt,
    language_code,
)


def test_reference_prompt_is_verbatim():
    assert build_prompt("reference") == (
        "Examine this chest X-ray. 1. Describe the lungs. 2. Describe the heart. "
        "3. Conclude if pneumonia opacities are present."
    )
    assert build_prompt("reference") == REFERENCE_PROMPT


def test_required_strategies_and_languages():
    assert {"reference", "structured", "zero-shot"} <= set(STRATEGIES)  # named by the study, its primary analysis, the app
    # each supported language is checked in its own tests/test_language_<name>.py


@pytest.mark.parametrize("language", sorted(LANGUAGES))
@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_every_strategy_and_language(strategy, language):
    prompt = build_prompt(strategy, language)
    assert prompt.strip()
    if language == "en":
        assert "Please answer in" not in prompt
    else:
        assert f"Please answer in {LANGUAGES[language].name}." in prompt
    if strategy == "structured":  # the parseable line stays in English in every language
        assert "Final answer: PNEUMONIA" in prompt and "Final answer: NORMAL" in prompt


def test_radiologist_asks_for_findings_and_impression():
    prompt = build_prompt("radiologist")
    assert "radiologist" in prompt and "Findings" in prompt and "Impression" in prompt


def test_language_by_name_or_code():
    assert language_code("Arabic") == "ar"
    assert language_code(" DE ") == "de"
    assert build_prompt("zero-shot", "Chinese") == build_prompt("zero-shot", "zh")


def test_custom_prompt_keeps_language_and_final_line():
    prompt = build_prompt("structured", "fr", custom="  Is this lung clear?  ")
    assert prompt.startswith("Is this lung clear?")
    assert "Final answer: PNEUMONIA" in prompt and "Please answer in French." in prompt
    assert build_prompt("zero-shot", custom="Look.") == "Look."


@pytest.mark.parametrize("call", [
    lambda: build_prompt("chain-of-thought"),
    lambda: build_prompt("structured", "klingon"),
    lambda: build_prompt("structured", custom=""),
    lambda: build_prompt("structured", custom="   \n"),
    lambda: build_messages(""),
    lambda: build_prompt(None),  # type: ignore[arg-type]
])
def test_bad_prompt_inputs(call):
    with pytest.raises(PromptError) as info:
        call()
    assert "\n" not in str(info.value)


def test_messages_follow_the_medgemma_15_card():
    messages = build_messages("Describe this chest X-ray.")
    assert len(messages) == 1 and messages[0]["role"] == "user"  # no system prompt
    content = messages[0]["content"]
    assert [item["type"] for item in content] == ["image", "text"]  # image first
    assert content[1]["text"] == "Describe this chest X-ray."
    assert "image" not in content[0]
    assert build_messages("x", image="IMG")[0]["content"][0]["image"] == "IMG"


def test_ui_presets_are_the_reference_four():
    assert len(UI_PRESETS) == 4
    assert "Describe this chest X-ray." in UI_PRESETS.values()
    assert any(text.startswith("Describe the key findings in this medical image.") for text in UI_PRESETS.values())


def test_app_menu_is_the_reference_presets_then_every_strategy():
    from cxr_lib.models.prompts import prompt_presets

    menu = prompt_presets()
    assert list(menu)[:len(UI_PRESETS)] == list(UI_PRESETS) and set(STRATEGIES) <= set(menu)
    assert all(menu[name] == strategy.text for name, strategy in STRATEGIES.items())  # one text per strategy


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_a_strategy_with_the_final_line_keeps_it_under_a_custom_prompt(strategy):
    ending = STRATEGIES[strategy].final_answer_line
    assert ("Final answer: PNEUMONIA" in build_prompt(strategy)) is ending
    assert ("Final answer: PNEUMONIA" in build_prompt(strategy, custom="Is this lung clear?")) is ending


def test_custom_prompts_are_cleaned_in_the_library():
    from cxr_lib.models.prompts import MAX_PROMPT_CHARS, build_prompt

    assert build_prompt("zero-shot", custom="Describe\x00 this\x07 X-ray.") == "Describe this X-ray."
    rtl = build_prompt("zero-shot", "ar", custom="صف هذه الصورة")
    assert rtl.startswith("صف هذه الصورة") and "Arabic" in rtl
    with pytest.raises(PromptError, match="characters long"):
        build_prompt("zero-shot", custom="x" * (MAX_PROMPT_CHARS + 1))
    with pytest.raises(PromptError, match="empty"):
        build_prompt("zero-shot", custom="\x00\x01  ")
