"""Cloud inference: an Open Inference Protocol client, a local MLServer, network profiles, and
the edge-versus-cloud comparison."""

from hilbench.cloud.client import CloudError, InferResult, ModelMetadata, OpenInferenceClient, TensorSpec
from hilbench.cloud.edge_vs_cloud import cloud_result_columns, edge_vs_cloud_rows, format_table
from hilbench.cloud.measure import CloudMeasurement, measure_cloud, top1_accuracy
from hilbench.cloud.network import NetworkProfile, UplinkCost, get_profile, load_profiles, uplink_cost
from hilbench.cloud.server import ServerHandle, serve_models, start_server

__all__ = [
    "CloudError",
    "CloudMeasurement",
    "InferResult",
    "ModelMetadata",
    "NetworkProfile",
    "OpenInferenceClient",
    "ServerHandle",
    "TensorSpec",
    "UplinkCost",
    "cloud_result_columns",
    "edge_vs_cloud_rows",
    "format_table",
    "get_profile",
    "load_profiles",
    "measure_cloud",
    "serve_models",
    "start_server",
    "top1_accuracy",
    "uplink_cost",
]
