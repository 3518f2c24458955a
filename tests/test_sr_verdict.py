"""The super-resolution verdict is written from the tables: change a number, and the verb and the clause change."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxr_lib.analysis import reader, sr_verdict
from cxr_lib.analysis.fidelity import paired_differences

N = 160


def frame(strong: tuple[str, ...] = (), weak: tuple[str, ...] = (), seed: int = 0) -> pd.DataFrame:
    """Every family input and the CNN on the same cases. One shared score plus a little noise each, so
    inputs rank alike; ``strong`` inputs separate the classes far better, ``weak`` ones far worse."""
    rng = np.random.default_rng(seed)
    labels = np.array([0, 1] * (N // 2))
    shared = labels * 1.0 + rng.normal(0, 1.0, N)
    rows = []
    for name in (*reader.FAMILY, reader.CNN_ROW):
        score = shared + rng.normal(0, 0.05, N)
        if name in strong:
            score = labels * 4.0 + rng.normal(0, 0.5, N)
        if name in weak:
            score = rng.normal(0, 1.0, N)
        p = 1 / (1 + np.exp(-score))
        rows.append(pd.DataFrame({"input": name, "index": np.arange(N), "label": labels, "prob_pneumonia": p,
                                  "pred": (p >= 0.5).astype(int), "stand_in": False}))
    return pd.concat(rows, ignore_index=True)


def comparisons(data: pd.DataFrame) -> pd.DataFrame:
    draws = reader.Resamples.of(data, {i: f"child{i // 2}" for i in range(N)}, n_resamples=200)
    return reader.family_comparisons(draws)


def test_the_reader_line_follows_the_comparisons() -> None:
    alike = sr_verdict.reader_line(comparisons(frame()))
    assert "swin2sr-cxr" in alike and "no different from" in alike and "higher than" not in alike
    assert "no learned upscaler gives this reader more than Lanczos" in alike
    # swin2sr-cxr far better: now higher than Lanczos and than nearest, and the clause says more than sharpness
    better = sr_verdict.reader_line(comparisons(frame(strong=("swin2sr-cxr",))))
    assert "swin2sr-cxr" in better and "higher than" in better
    assert "swin2sr-cxr gives this reader more than sharpness alone" in better
    # nearest neighbour just as good: the gain over Lanczos is no more than sharpness gives
    sharp = sr_verdict.reader_line(comparisons(frame(strong=("swin2sr-cxr", "nearest"))))
    assert "is not shown to exceed what nearest neighbour gets" in sharp


def test_the_bottleneck_line_follows_the_comparisons() -> None:
    alike = sr_verdict.bottleneck_line(comparisons(frame()))
    assert "no different for 7 of 7" in alike and "not shown to be information missing at 28×28" in alike
    cnn_weak = sr_verdict.bottleneck_line(comparisons(frame(weak=("cnn-28",))))
    assert "lower than the reader on the originals" in cnn_weak and "hold less" in cnn_weak
    costly = sr_verdict.bottleneck_line(comparisons(frame(weak=("lanczos", "bicubic"))))
    assert costly.count("lower for 2 of 7") == 1 and "no different for 5 of 7" in costly


def fidelity_scores(offset: float) -> pd.DataFrame:
    """Per-image PSNR of Lanczos and swin2sr-cxr at 112; swin2sr-cxr ``offset`` dB away from Lanczos on each."""
    rng = np.random.default_rng(1)
    base = 28 + rng.normal(0, 1, 50)
    rows = [pd.DataFrame({"index": range(50), "method": method, "size": 112, "psnr": psnr,
                          "ssim": 0.7, "ssim_uniform7": 0.7, "stand_in": False})
            for method, psnr in (("lanczos", base), ("swin2sr-cxr", base + offset + rng.normal(0, 0.05, 50)))]
    return pd.concat(rows, ignore_index=True)


@pytest.mark.parametrize("offset, verb", [(0.4, "closer to"), (-3.6, "further from"), (0.0, "no closer to nor further from")])
def test_the_fidelity_line_follows_the_interval(offset: float, verb: str) -> None:
    scores = fidelity_scores(offset)
    line = sr_verdict.fidelity_line(paired_differences(scores))
    assert f"swin2sr-cxr is {verb} it than Lanczos" in line
    by = scores.pivot(index="index", columns="method", values="psnr")
    gap = (by["swin2sr-cxr"] - by["lanczos"]).mean()
    assert f"({gap:+.2f} dB [" in line and f"closer on {int((by['swin2sr-cxr'] > by['lanczos']).sum())} of 50 images" in line


def test_stand_in_fidelity_rows_are_left_out() -> None:
    paired = paired_differences(fidelity_scores(0.4)).assign(stand_in=True)
    assert sr_verdict.fidelity_line(paired) == ""


def test_verdict_has_three_lines() -> None:
    lines = sr_verdict.verdict_lines(paired_differences(fidelity_scores(0.4)), comparisons(frame()))
    assert [line.split("**")[1] for line in lines] == ["Closeness to the real image", "The reader trained on real X-rays",
                                                      "What 28×28 holds"]


# --------------------------------------------------------------------------- from the committed artifacts


@pytest.fixture(scope="module")
def numbers(data_dir) -> dict[str, str]:
    from cxr_lib import study

    return study.book_numbers(data_dir)


def test_every_number_a_page_names_is_computed(numbers: dict[str, str]) -> None:
    import re
    from pathlib import Path

    pages = Path(__file__).resolve().parents[1] / "book"
    named = {m for page in pages.glob("*.md") for m in re.findall(r"\{\{\s*(\w+)\s*\}\}", page.read_text())}
    assert named and named <= set(numbers), sorted(named - set(numbers))
    assert all(isinstance(v, str) and v for v in numbers.values())
    intro = (pages / "intro.md").read_text()
    assert "{{ sr_verdict }}" in intro and "{{ earlier_brief }}" in intro


def test_front_page_verdict_states_the_committed_numbers(numbers: dict[str, str]) -> None:
    from sklearn.metrics import roc_auc_score

    from cxr_lib.data.artifacts import committed

    verdict = numbers["sr_verdict"]
    assert verdict.count("\n- ") == 2 and verdict.startswith("- **Closeness to the real image**")
    predictions = pd.read_csv(committed("hr_reader/predictions_test.csv"))
    for name in ("swin2sr-cxr", "lanczos", "hr"):
        rows = predictions[predictions["input"] == name]
        assert f"{roc_auc_score(rows['label'], rows['prob_pneumonia']):.3f}" in verdict
    scores = pd.concat([pd.read_csv(committed(f"fidelity/{n}.csv")) for n in ("fidelity_swin2sr_cxr", "fidelity_realesrgan")])
    at = scores[scores["size"] == 112].drop_duplicates(["index", "method"]).pivot(index="index", columns="method", values="psnr")
    gap = (at["swin2sr-cxr"] - at["lanczos"]).mean()
    assert f"({gap:+.2f} dB [" in verdict
    closer = int((at["swin2sr-cxr"] > at["lanczos"]).sum())
    assert f"closer on {closer} of 555 images" in verdict


def test_the_calibration_line_follows_the_shift() -> None:
    def table(shift: float) -> pd.DataFrame:
        data = frame()
        normal = (data["input"] == "realesrgan-x4plus") & (data["label"] == 0)
        data.loc[normal, "prob_pneumonia"] = np.clip(data.loc[normal, "prob_pneumonia"] + shift, 0, 0.999)
        draws = reader.Resamples.of(data, {i: f"child{i // 2}" for i in range(N)}, n_resamples=200)
        return reader.calibration_table(draws, reader.val_thresholds(data, range(N)))

    shifted = sr_verdict.calibration_line(table(0.6))
    assert "lower for 1 of 7 upscaled inputs (Real-ESRGAN x4plus)" in shifted and "does not carry over" in shifted
    steady = sr_verdict.calibration_line(table(0.0))
    assert "lower for 0 of 7" in steady and "is not shown to call upscaled normal X-rays differently" in steady
