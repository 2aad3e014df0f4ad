"""Network profiles (data in network_profiles.yaml) and the modeled cost of sending a payload.

A profile gives, for one kind of radio link, the round trip to a cloud server, the uplink rate,
the device's radio energy per byte on air, and the packet size and per-packet protocol overhead,
each with its source. From them, ``uplink_cost`` computes the bytes on air, the network time and
the device's radio energy for one payload. Those figures are modeled, never measured: they carry
the label ``model``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from hilbench.errors import ConfigError

DEFAULT_PROFILES_PATH = Path(__file__).resolve().parent / "network_profiles.yaml"
MODEL_LABEL = "model"
SCHEMA_VERSION = 1

NUMERIC_FIELDS = (
    "rtt_ms",
    "uplink_bps",
    "energy_uj_per_byte",
    "max_payload_bytes_per_packet",
    "overhead_bytes_per_packet",
)
# Packet sizes are byte counts: fractions would make "bytes on air" meaningless.
INTEGER_FIELDS = ("max_payload_bytes_per_packet", "overhead_bytes_per_packet")


@dataclass(frozen=True)
class SourcedValue:
    """A number and where it comes from (paper, datasheet, standard), plus how it was derived."""

    value: float
    source: str
    derivation: str = ""


@dataclass(frozen=True)
class NetworkProfile:
    """One radio link to the cloud; every number has its source."""

    name: str
    description: str
    rtt_ms: SourcedValue
    uplink_bps: SourcedValue
    energy_uj_per_byte: SourcedValue
    max_payload_bytes_per_packet: SourcedValue
    overhead_bytes_per_packet: SourcedValue


@dataclass(frozen=True)
class UplinkCost:
    """Modeled cost of sending one payload to the cloud over one profile (label: ``model``)."""

    profile: str
    payload_bytes: int
    packets: int
    bytes_on_air: int
    transmit_ms: float
    network_ms: float
    radio_energy_uj: float
    source: str = MODEL_LABEL


def load_profiles(path: str | os.PathLike | None = None) -> dict[str, NetworkProfile]:
    """Read and validate a network profile file (default: the one shipped with hilbench).

    Raises ConfigError naming the file, the profile and the field that is wrong.
    """
    path = Path(path) if path is not None else DEFAULT_PROFILES_PATH
    try:
        document = yaml.safe_load(path.read_text())
    except FileNotFoundError as error:
        raise ConfigError(f"network profile file {path} does not exist") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"network profile file {path} is not valid YAML: {error}") from error
    return parse_profiles(document, where=str(path))


def parse_profiles(document: object, where: str = "network profiles") -> dict[str, NetworkProfile]:
    """Validate a parsed profile document (see network_profiles.yaml for the format)."""
    if not isinstance(document, dict):
        raise ConfigError(f"{where}: expected a mapping with 'schema_version' and 'profiles'")
    if document.get("schema_version") != SCHEMA_VERSION:
        raise ConfigError(f"{where}: schema_version must be {SCHEMA_VERSION}, got {document.get('schema_version')!r}")
    profiles = document.get("profiles")
    if not isinstance(profiles, dict) or not profiles:
        raise ConfigError(f"{where}: 'profiles' must be a non-empty mapping of profile name to fields")
    return {str(name): _parse_profile(str(name), fields, where) for name, fields in profiles.items()}


def _parse_profile(name: str, fields: object, where: str) -> NetworkProfile:
    if not isinstance(fields, dict):
        raise ConfigError(f"{where}: profile '{name}' must be a mapping of fields")
    allowed = {"description", *NUMERIC_FIELDS}
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise ConfigError(f"{where}: profile '{name}' has unknown field(s) {unknown} (allowed: {sorted(allowed)})")
    missing = sorted(set(NUMERIC_FIELDS) - set(fields))
    if missing:
        raise ConfigError(f"{where}: profile '{name}' lacks field(s) {missing}; each needs a value and a source")
    values = {field: _parse_sourced_value(name, field, fields[field], where) for field in NUMERIC_FIELDS}
    return NetworkProfile(name=name, description=str(fields.get("description", "")), **values)


def _parse_sourced_value(profile: str, field: str, entry: object, where: str) -> SourcedValue:
    here = f"{where}: profile '{profile}' field '{field}'"
    if not isinstance(entry, dict):
        raise ConfigError(f"{here} must be a mapping with 'value' and 'source', got {entry!r}")
    unknown = sorted(set(entry) - {"value", "source", "derivation"})
    if unknown:
        raise ConfigError(f"{here} has unknown key(s) {unknown} (allowed: value, source, derivation)")
    value = entry.get("value")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{here}: value must be a positive number, got {value!r}")
    if field in INTEGER_FIELDS and value != int(value):
        raise ConfigError(f"{here}: value must be a whole number of bytes, got {value!r}")
    source = entry.get("source")
    if not isinstance(source, str) or not source.strip():
        raise ConfigError(f"{here}: 'source' is missing or empty; cite the paper, datasheet or standard the number comes from")
    return SourcedValue(value=float(value), source=source.strip(), derivation=str(entry.get("derivation", "")).strip())


def get_profile(name: str, profiles: dict[str, NetworkProfile] | None = None) -> NetworkProfile:
    """The profile called ``name``; ConfigError listing the known ones if there is none."""
    profiles = profiles if profiles is not None else load_profiles()
    if name not in profiles:
        raise ConfigError(f"network profile '{name}' is unknown (known: {', '.join(sorted(profiles))})")
    return profiles[name]


def bytes_on_air(payload_bytes: int, profile: NetworkProfile) -> tuple[int, int]:
    """(packets, bytes on air) for one payload: payload plus per-packet overhead."""
    if payload_bytes < 0:
        raise ValueError(f"payload size must not be negative, got {payload_bytes}")
    # An empty message still takes one packet of headers.
    packets = max(1, math.ceil(payload_bytes / profile.max_payload_bytes_per_packet.value))
    return packets, int(payload_bytes + packets * profile.overhead_bytes_per_packet.value)


def uplink_cost(payload_bytes: int, profile: NetworkProfile) -> UplinkCost:
    """Modeled time and device radio energy to send ``payload_bytes`` to the cloud and hear back.

    network time = round trip + bytes on air x 8 / uplink rate
    radio energy = bytes on air x energy per byte
    """
    packets, on_air = bytes_on_air(payload_bytes, profile)
    transmit_ms = on_air * 8 / profile.uplink_bps.value * 1000.0
    return UplinkCost(
        profile=profile.name,
        payload_bytes=payload_bytes,
        packets=packets,
        bytes_on_air=on_air,
        transmit_ms=transmit_ms,
        network_ms=profile.rtt_ms.value + transmit_ms,
        radio_energy_uj=on_air * profile.energy_uj_per_byte.value,
    )
