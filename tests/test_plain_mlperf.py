"""Plain MLPerf Tiny DUTs: firmware without hilbench's extensions, as third parties build it,
and the names MLPerf Tiny's runner expects from ours."""

from __future__ import annotations

import pytest

from hilbench.compile import compile_model
from hilbench.mlperf_tiny import MODEL_IDS, MODEL_OF_ID, device_model_name


def test_reference_models_go_by_their_mlperf_tiny_ids():
    assert [device_model_name(stem) for stem in MODEL_IDS] == ["kws01", "vww01", "ic01", "ad01"]
    assert all(MODEL_OF_ID[MODEL_IDS[stem]] == stem for stem in MODEL_IDS)
    assert device_model_name("my_model") == "my_model"


@pytest.mark.parametrize("stem", ["ad01_int8", "kws_ref_model"])
def test_firmware_for_a_reference_model_answers_with_its_id(tmp_path, mlperf_tiny, stem):
    compiled = compile_model(mlperf_tiny(stem), tmp_path / "c")
    assert compiled.model_name == MODEL_IDS[stem]
    assert f'hb_model_name[] = "{MODEL_IDS[stem]}";' in (tmp_path / "c" / "hb_model.c").read_text()
