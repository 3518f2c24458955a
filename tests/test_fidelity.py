"""Fidelity against the real high-resolution image: metrics, table, summary, figure and CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cxr_lib.analysis.fidelity import (
    FIDELITY_COLUMNS,
    error_map,
    fidelity_cases,
    fidelity_table,
    mean_ci,
    psnr,
    ssim,
    summarise_fidelity,
    summary_markdown,
    summary_text,
)
from cxr_lib.cli import main
from cxr_lib.data.artifacts import committed
from cxr_lib.errors import HRUnavailableError, UpscaleError
from cxr_lib.models.provenance import STAND_IN_LABEL
from cxr_lib.models.upscale import INTERPOLATIONS, load_super_resolver, resize, upscale_batch

NO_REFERENCE = 3
INTERP = list(INTERPOLATIONS)


@pytest.fixture(scope="module")
def sr(tmp_path_factory: pytest.TempPathFactory):
    from cxr_lib.models.stand_ins import build_swin2sr_stand_in

    return load_super_resolver(str(build_swin2sr_stand_in(tmp_path_factory.mktemp("swin2sr"))), device="cpu")


@pytest.fixture(scope="module")
def indices(hr) -> list[int]:
    return hr.available()[:24]


@pytest.fixture(scope="module")
def interp_table(test_split, hr, indices) -> pd.DataFrame:
    return fidelity_table(test_split, hr, INTERP, indices)


def test_metrics_on_known_images() -> None:
    a = np.full((32, 32), 100, np.uint8)
    b = a.copy()
    b[0, 0] = 110  # one pixel off by 10 → MSE 100/1024
    assert psnr(a, a) == np.inf and ssim(a, a) == pytest.approx(1.0)
    assert psnr(b, a) == pytest.approx(10 * np.log10(255**2 / (100 / 1024)))
    assert error_map(b, a).max() == 10 and error_map(b, a).sum() == 10


def test_headline_ssim_is_wang_et_al_gaussian_and_the_uniform_window_is_kept(interp_table, test_split, hr, indices) -> None:
    from skimage.metrics import structural_similarity

    from cxr_lib.analysis.fidelity import SSIM_WINDOWS, ssim_uniform7

    i = indices[5]
    estimate = upscale_batch([test_split.image(i)], "lanczos", 224)[0]
    reference = hr.image(i)
    gaussian = structural_similarity(reference, estimate, data_range=255, gaussian_weights=True, sigma=1.5,
                                     use_sample_covariance=False)
    assert ssim(estimate, reference) == pytest.approx(gaussian)
    assert ssim_uniform7(estimate, reference) == pytest.approx(structural_similarity(reference, estimate, data_range=255))
    assert abs(gaussian - ssim_uniform7(estimate, reference)) > 1e-3  # two different measures, both kept
    row = interp_table.query("index == @i and method == 'lanczos' and size == 224").iloc[0]
    assert row["ssim"] == pytest.approx(gaussian) and row["ssim_uniform7"] == pytest.approx(ssim_uniform7(estimate, reference))
    assert "Gaussian" in SSIM_WINDOWS["ssim"] and "7×7" in SSIM_WINDOWS["ssim_uniform7"]
    markdown = summary_markdown(summarise_fidelity(interp_table))
    assert "SSIM, Gaussian σ 1.5 (95% CI)" in markdown and "SSIM, uniform 7×7 (95% CI)" in markdown


def test_scores_of_a_stack_are_scikit_images_image_by_image(test_split, hr, indices) -> None:
    """:func:`image_scores` computes on stacks of images, in threads; every value must still be what
    scikit-image's ``peak_signal_noise_ratio`` and ``structural_similarity`` give for each pair alone, at
    both sizes, for more images than one stack holds, and for an image identical to its reference."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    from cxr_lib.analysis.fidelity import SCORE_CHUNK, image_scores

    chosen = (indices * 3)[:SCORE_CHUNK + 5]
    for size, method in ((224, "lanczos"), (112, "nearest")):
        references = [resize(hr.image(i), size) for i in chosen]
        estimates = upscale_batch([test_split.image(i) for i in chosen], method, size)
        estimates[1] = references[1].copy()
        scores = image_scores(estimates, references)
        assert {name: len(values) for name, values in scores.items()} == dict.fromkeys(("psnr", "ssim", "ssim_uniform7"), len(chosen))
        for k, (estimate, reference) in enumerate(zip(estimates, references)):
            with np.errstate(divide="ignore"):
                assert scores["psnr"][k] == pytest.approx(peak_signal_noise_ratio(reference, estimate, data_range=255), abs=1e-9)
            assert scores["ssim"][k] == pytest.approx(structural_similarity(
                reference, estimate, data_range=255, gaussian_weights=True, sigma=1.5, use_sample_covariance=False), abs=1e-12)
            assert scores["ssim_uniform7"][k] == pytest.approx(structural_similarity(reference, estimate, data_range=255), abs=1e-12)
        assert scores["psnr"][1] == np.inf and scores["ssim"][1] == pytest.approx(1.0)
        several = image_scores({"upscaled": estimates, "itself": references}, references)  # the references' moments shared
        assert all(np.array_equal(several["upscaled"][name], scores[name]) for name in scores)
        assert (several["itself"]["ssim"] == pytest.approx(1.0)) and (several["itself"]["psnr"] == np.inf).all()
    with pytest.raises(UpscaleError, match="one reference per image"):
        image_scores(estimates, references[:-1])
    with pytest.raises(UpscaleError, match="resize one first"):
        image_scores(estimates[:1], [resize(references[0], 224)])


def test_error_map_needs_the_same_shape() -> None:
    with pytest.raises(UpscaleError, match="resize one first"):
        error_map(np.zeros((28, 28), np.uint8), np.zeros((224, 224), np.uint8))


def test_table_has_a_row_per_index_method_and_size(interp_table, indices) -> None:
    assert list(interp_table.columns) == list(FIDELITY_COLUMNS)
    assert len(interp_table) == len(indices) * len(INTERP) * 2
    assert set(interp_table["size"]) == {224, 112} and not interp_table["stand_in"].any()
    assert np.isfinite(interp_table["psnr"]).all() and interp_table["ssim"].between(-1, 1).all()


def test_smooth_filters_beat_nearest_on_real_images(interp_table) -> None:
    means = interp_table[interp_table["size"] == 224].groupby("method")["psnr"].mean()
    assert means["lanczos"] > means["nearest"] and means["bicubic"] > means["nearest"]


def test_table_values_match_direct_computation(interp_table, test_split, hr, indices) -> None:
    i = indices[3]
    estimate = upscale_batch([test_split.image(i)], "bicubic", 112)[0]
    reference = resize(hr.image(i), 112, "lanczos")
    row = interp_table.query("index == @i and method == 'bicubic' and size == 112").iloc[0]
    assert row["psnr"] == pytest.approx(psnr(estimate, reference))
    assert row["ssim"] == pytest.approx(ssim(estimate, reference))


def test_summary_means_and_intervals(interp_table) -> None:
    summary = summarise_fidelity(interp_table)
    assert list(summary["method"][:len(INTERP)]) == INTERP and set(summary["size"][:len(INTERP)]) == {224}
    assert (summary["n"] == 24).all()
    assert ((summary["psnr_low"] < summary["psnr"]) & (summary["psnr"] < summary["psnr_high"])).all()
    one = interp_table.query("method == 'lanczos' and size == 224")["ssim"]
    assert summary.query("method == 'lanczos' and size == 224")["ssim"].iloc[0] == pytest.approx(one.mean())
    assert "STAND-IN" not in summary_markdown(summary) and "lanczos" in summary_text(summary)


def test_mean_ci_edge_cases() -> None:
    assert np.isnan(mean_ci([]).value) and np.isnan(mean_ci([1.0]).low)
    estimate = mean_ci([1.0, 2.0, 3.0])
    assert estimate.value == 2.0 and estimate.low < 2.0 < estimate.high


def test_swin2sr_rows_are_marked_and_consistent(test_split, hr, indices, sr) -> None:
    table = fidelity_table(test_split, hr, ["swin2sr"], indices[:5], sizes=(112,), sr_model=sr)
    assert table["stand_in"].all() and (table["model"] == sr.model_id).all() and (table["revision"] == "local").all()
    # At 112 the ×4 output is compared as it is: no final resize.
    i = indices[0]
    direct = sr.super_resolve([test_split.image(i)])[0]
    assert table.iloc[0]["psnr"] == pytest.approx(psnr(direct, resize(hr.image(i), 112)))
    summary = summarise_fidelity(table)
    assert "swin2sr (STAND-IN)" in summary_markdown(summary) and STAND_IN_LABEL in summary_text(summary)


def test_bad_inputs(test_split, hr) -> None:
    with pytest.raises(HRUnavailableError):
        fidelity_table(test_split, hr, ["nearest"], [NO_REFERENCE])
    with pytest.raises(UpscaleError, match="unknown upscaling method 'hr'"):
        fidelity_table(test_split, hr, ["hr"], [1])
    with pytest.raises(UpscaleError, match="out of range"):
        fidelity_table(test_split, hr, ["nearest"], [1], sizes=(16,))


def test_cases_and_figure(test_split, hr, sr) -> None:
    from cxr_lib.analysis.plots import fidelity_cases_figure, fidelity_summary_figure

    cases = fidelity_cases(test_split, hr, [22, 1], ["nearest", "swin2sr"], sr_model=sr)
    assert cases[0].outputs["nearest"].shape == (224, 224) and cases[0].errors["swin2sr"].dtype == np.float32
    assert cases[0].titles["swin2sr"] == "swin2sr (STAND-IN)"
    fig = fidelity_cases_figure(cases)
    assert STAND_IN_LABEL in fig._suptitle.get_text()
    assert len(fig.axes) == 2 * (2 + 2 * 2) + 1  # panels plus the colour bar
    table = fidelity_table(test_split, hr, ["nearest"], [1, 9, 22])
    assert len(fidelity_summary_figure(summarise_fidelity(table)).axes) == 2


def test_cli_fidelity_writes_csv_and_prints_summary(tmp_path: Path, capsys, data_dir, sr) -> None:
    out, md = tmp_path / "fid.csv", tmp_path / "fid.md"
    code = main(["fidelity", "--methods", "nearest,swin2sr", "--model", sr.model_id, "--limit", "4",
                 "--out", str(out), "--markdown", str(md)])
    printed = capsys.readouterr().out
    assert code == 0
    table = pd.read_csv(out)
    assert len(table) == 4 * 2 * 2 and {"index", "method", "psnr", "ssim"} <= set(table.columns)
    assert "swin2sr (STAND-IN)" in printed and STAND_IN_LABEL in printed
    assert "| swin2sr (STAND-IN) | 224 | 4 |" in md.read_text()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--methods", "nearest,cubic"], "unknown upscaling method 'cubic'"),
        (["--methods", "swin2sr", "--model", "/no/such/folder"], "does not exist"),
        (["--limit", "0"], "--limit 0 is not positive"),
        (["--sizes", "224,x"], "--sizes"),
        (["--sizes", "300"], "out of range"),
    ],
)
def test_cli_fidelity_bad_input(argv, message, tmp_path: Path, capsys, data_dir) -> None:
    code = main(["fidelity", "--out", str(tmp_path / "f.csv")] + argv)
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("cxr: error: ") and message in err, err
    assert not (tmp_path / "f.csv").exists()


# --------------------------------------------------------------------------- Real-ESRGAN, paired differences, committed tables

FAST = "realesr-animevideov3-x4"


@pytest.fixture(scope="module")
def small_table(test_split, hr, indices) -> pd.DataFrame:
    return fidelity_table(test_split, hr, ["bicubic", "lanczos", FAST], indices[:6])


def test_real_esrgan_rows_are_real_and_labelled(small_table) -> None:
    rows = small_table[small_table["method"] == FAST]
    assert len(rows) == 6 * 2 and not rows["stand_in"].any() and (rows["model"] == FAST).all()
    assert rows["revision"].str.contains("sha256:").all() and (rows["ms_per_image"] > 0).all()
    summary = summarise_fidelity(small_table)
    text, markdown = summary_text(summary), summary_markdown(summary)
    assert "Real-ESRGAN animevideov3 (real weights)" in text and "| Real-ESRGAN animevideov3 (real weights) | 224 | 6 |" in markdown
    assert "STAND-IN" not in markdown and "swin2sr" not in markdown.lower()


def test_paired_differences_match_per_image_arithmetic(small_table) -> None:
    from cxr_lib.analysis.fidelity import paired_differences, paired_findings, paired_markdown

    paired = paired_differences(small_table)
    assert set(paired["method"]) == {"bicubic", FAST} and (paired["baseline"] == "lanczos").all()
    row = paired.query("method == @FAST and size == 224").iloc[0]
    a = small_table.query("method == @FAST and size == 224").set_index("index")["psnr"]
    b = small_table.query("method == 'lanczos' and size == 224").set_index("index")["psnr"]
    assert row["d_psnr"] == pytest.approx((a - b).mean()) and row["d_psnr_low"] < row["d_psnr"] < row["d_psnr_high"]
    assert row["closer_psnr"] == pytest.approx(((a - b) > 0).mean()) and row["n"] == 6
    assert "| Real-ESRGAN animevideov3 (real weights) | 224 | 6 |" in paired_markdown(paired)
    assert "Real-ESRGAN animevideov3 (real weights) at 224×224: further from the real image than lanczos" in paired_findings(paired)
    assert paired_differences(small_table[small_table["method"] != "lanczos"]).empty


def test_fidelity_markdown_names_models_speed_and_file(small_table, tmp_path: Path) -> None:
    from cxr_lib.analysis.fidelity import FidelityRun, describe_model, paired_differences, write_fidelity
    from cxr_lib.models.realesrgan import default_realesrgan

    run = FidelityRun(small_table, summarise_fidelity(small_table), 1.5, paired_differences(small_table),
                      {FAST: describe_model(default_realesrgan(FAST))})
    csv, md = write_fidelity(run, tmp_path / "f.csv", tmp_path / "f.md")
    page = md.read_text()
    assert "## Image by image, against Lanczos" in page and "## Models" in page and "ncnn on the CPU" in page
    assert "Real-ESRGAN animevideov3 (real weights) " in page and " ms" in page
    assert str(tmp_path) not in page and "--out FILE.csv" in page  # no local paths in a page
    assert list(pd.read_csv(csv).columns) == list(FIDELITY_COLUMNS)


@pytest.fixture()
def committed_csv(small_table, tmp_path: Path) -> Path:
    path = tmp_path / "committed.csv"
    small_table.to_csv(path, index=False, float_format="%.6g")
    return path


def test_load_committed_returns_checked_rows(committed_csv, small_table, test_split, hr, indices) -> None:
    from cxr_lib.analysis.fidelity import load_committed

    rows = load_committed(committed_csv, test_split, hr, [FAST], indices[:4], spot_check=1)
    assert set(rows["method"]) == {FAST} and sorted(set(rows["index"])) == sorted(indices[:4]) and len(rows) == 8
    assert list(rows.columns) == list(FIDELITY_COLUMNS)


def _broken(table: pd.DataFrame, how: str) -> pd.DataFrame:
    table = table.copy()
    first = table.index[table["method"] == FAST][0]
    if how == "stranger":
        table.loc[first, "index"] = NO_REFERENCE
    elif how == "label":
        table.loc[table["index"] == table.loc[first, "index"], "label"] = 1 - table.loc[first, "label"]
    elif how == "stand-in":
        table["stand_in"] = True
    elif how == "duplicate":
        table = pd.concat([table, table.iloc[[0]]])
    elif how == "missing":
        table = table[table["method"] != FAST]
    elif how == "values":
        table.loc[(table["method"] == FAST), "psnr"] += 1.0
    elif how == "columns":
        table = table.drop(columns=["ssim"])
    elif how == "empty":
        table["ssim"] = table["ssim"].astype(object)
        table.loc[first, "ssim"] = "n/a"
    return table


@pytest.mark.parametrize("how, message", [
    ("stranger", f"scores test index {NO_REFERENCE}, which has no real high-resolution image"),
    ("label", "the wrong label"),
    ("stand-in", "rows made by a stand-in model"),
    ("duplicate", "repeats an (index, method, size) row"),
    ("missing", f"lacks {FAST} at 224×224 for 6 of 6 images"),
    ("values", "recomputed now"),
    ("columns", "lacks columns ssim"),
    ("empty", "empty or non-numeric PSNR or SSIM values"),
])
def test_load_committed_rejects_a_table_that_does_not_match(how, message, small_table, tmp_path: Path, test_split, hr, indices) -> None:
    from cxr_lib.analysis.fidelity import load_committed
    from cxr_lib.errors import DataError

    path = tmp_path / "bad.csv"
    _broken(small_table, how).to_csv(path, index=False)
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        load_committed(path, test_split, hr, [FAST], indices[:6], spot_check=1)
    assert "\n" not in str(info.value)


def test_load_committed_missing_file(tmp_path: Path, test_split, hr) -> None:
    from cxr_lib.analysis.fidelity import load_committed
    from cxr_lib.errors import DataError

    with pytest.raises(DataError, match="does not exist: write it with cxr fidelity --methods realesrgan-x4plus"):
        load_committed(tmp_path / "none.csv", test_split, hr, ["realesrgan-x4plus"])


def test_combined_scores_live_and_committed(committed_csv, test_split, hr, indices) -> None:
    from cxr_lib.analysis.fidelity import combined_scores
    from cxr_lib.errors import ParameterError

    table, note = combined_scores(test_split, hr, ["lanczos"], str(committed_csv), [FAST], indices[:6], spot_check=1)
    assert sorted(set(table["method"])) == ["lanczos", FAST] and len(table) == 2 * 6 * 2
    assert note.startswith("Computed now: lanczos.") and "Real-ESRGAN animevideov3 (real weights)" in note
    assert "the same 6 test images" in note
    with pytest.raises(ParameterError, match="both computed now and read from a file"):
        combined_scores(test_split, hr, [FAST], str(committed_csv), [FAST], indices[:6])
    with pytest.raises(ParameterError, match="no committed fidelity table"):
        combined_scores(test_split, hr, ["lanczos"], None, [FAST], indices[:6])


def test_committed_realesrgan_table_matches_the_data(test_split, hr) -> None:
    """The committed x4plus scores cover all 555 references and one image recomputes to the same values."""
    from cxr_lib.analysis.fidelity import load_committed

    path = committed("fidelity/fidelity_realesrgan.csv")
    rows = load_committed(path, test_split, hr, ["realesrgan-x4plus"], spot_check=1)
    assert rows["index"].nunique() == len(hr.available(test_split.indices)) == 555
    assert set(rows["size"]) == {224, 112} and not rows["stand_in"].any()


def test_error_map_figure_labels_real_weights_and_stand_ins(test_split, hr, sr) -> None:
    from cxr_lib.analysis.plots import fidelity_cases_figure

    cases = fidelity_cases(test_split, hr, [22], ["lanczos", FAST, "swin2sr"], size=112, sr_model=sr)
    assert cases[0].titles == {"lanczos": "lanczos", FAST: "Real-ESRGAN animevideov3 (real weights)",
                               "swin2sr": "swin2sr (STAND-IN)"}
    assert cases[0].outputs[FAST].shape == cases[0].hr.shape == (112, 112)
    fig = fidelity_cases_figure(cases)
    heading = fig._suptitle.get_text()
    assert "Real-ESRGAN: real weights" in heading and f"swin2sr: {STAND_IN_LABEL}" in heading
    titles = [ax.get_title() for ax in fig.axes]
    assert "Real-ESRGAN\nanimevideov3\n(real weights)" in titles and "swin2sr\n(STAND-IN)" in titles
    assert len(fig.axes) == 1 * (2 + 2 * 3) + 1  # input, 3 outputs, HR, 3 error maps, colour bar
    only_real = fidelity_cases_figure(fidelity_cases(test_split, hr, [22], ["lanczos", FAST], size=112))
    assert "STAND-IN" not in only_real._suptitle.get_text()
