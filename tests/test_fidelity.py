"""Fidelity against the real high-resolution image: metrics, table, summary, figure and CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cxr_lib.cli import main
from cxr_lib.errors import HRUnavailableError, UpscaleError
from cxr_lib.fidelity import (
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
from cxr_lib.stand_ins import STAND_IN_LABEL
from cxr_lib.upscale import load_super_resolver, resize, upscale_batch

NO_REFERENCE = 3
INTERP = ["nearest", "bilinear", "bicubic", "lanczos"]


@pytest.fixture(scope="module")
def sr(tmp_path_factory: pytest.TempPathFactory):
    from cxr_lib.stand_ins import build_swin2sr_stand_in

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
    assert list(summary["method"][:4]) == INTERP and list(summary["size"][:4]) == [224] * 4
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
    from cxr_lib.plots import fidelity_cases_figure, fidelity_summary_figure

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
