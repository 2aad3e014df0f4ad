"""The MLPerf Tiny benchmark's names for its four reference models.

The benchmark's runner and its DUT firmware know a model by its id (``m-model-[kws01]``);
hilbench knows the int8 reference model by its file name. This table is the one place that
maps the two: firmware that hilbench builds for a reference model answers with the id, and a
plain MLPerf Tiny DUT that answers with an id is running that reference model.
"""

from __future__ import annotations

# int8 reference model (file stem) -> MLPerf Tiny model id, in the benchmark's table order.
MODEL_IDS: dict[str, str] = {
    "kws_ref_model": "kws01",
    "vww_96_int8": "vww01",
    "pretrainedResnet_quant": "ic01",
    "ad01_int8": "ad01",
}
MODEL_OF_ID: dict[str, str] = {model_id: stem for stem, model_id in MODEL_IDS.items()}


def device_model_name(stem: str) -> str:
    """The name firmware reports for a model file with this stem: the MLPerf Tiny id of a
    reference model, else the stem itself."""
    return MODEL_IDS.get(stem, stem)
