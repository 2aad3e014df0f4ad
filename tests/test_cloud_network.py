"""Network profiles: validation errors, and modeled costs against hand-computed values."""

from __future__ import annotations

import copy

import pytest
import yaml

from hilbench.cloud.network import DEFAULT_PROFILES_PATH, get_profile, load_profiles, parse_profiles, uplink_cost
from hilbench.errors import ConfigError

EXPECTED_PROFILES = {"wifi", "lte", "nb-iot", "lora", "ble"}


@pytest.fixture(scope="module")
def shipped_document():
    return yaml.safe_load(DEFAULT_PROFILES_PATH.read_text())


def test_shipped_profiles_load_and_every_number_is_sourced():
    profiles = load_profiles()
    assert set(profiles) == EXPECTED_PROFILES
    for profile in profiles.values():
        for field in ("rtt_ms", "uplink_bps", "energy_uj_per_byte", "max_payload_bytes_per_packet", "overhead_bytes_per_packet"):
            sourced = getattr(profile, field)
            assert sourced.value > 0
            assert len(sourced.source) > 20, f"{profile.name}.{field} needs a real citation"


# Supply power (W) and uplink rate (bit/s) as read from each cited datasheet and paper; the
# shipped energy per byte must be power x 8 / rate.
DATASHEET_POWER_AND_RATE = {
    "wifi": (0.180 * 3.3, 20e6),  # ESP32 TX MCS7 180 mA at 3.3 V; ~20 Mbit/s in the air
    "lte": (0.100 * 3.7, 180e3),  # nRF9160 Cat-M1 100 mA at 3.7 V; 180 kbit/s RMC
    "nb-iot": (0.550 / 2.7, 264.0),  # nRF9160 Cat-NB1 TAU 550 mJ / 2.7 s; 264 bit/s measured
    "lora": (0.029 * 3.3, 5470.0),  # SX1276 29 mA at +13 dBm, 3.3 V; DR5 5470 bit/s
    "ble": (0.0048 * 3.0, 1e6),  # nRF52840 4.8 mA at 3 V; LE 1M PHY
}


@pytest.mark.parametrize("name", sorted(EXPECTED_PROFILES))
def test_energy_per_byte_follows_from_cited_power_and_rate(name):
    profile = get_profile(name)
    power_w, rate_bps = DATASHEET_POWER_AND_RATE[name]
    assert profile.uplink_bps.value == rate_bps
    assert profile.energy_uj_per_byte.value == pytest.approx(power_w * 8 / rate_bps * 1e6, rel=1e-3)


def test_lora_cost_of_an_ad01_input_by_hand():
    # 640 int8 values: ceil(640 / 222) = 3 frames of 13 B overhead -> 679 B on air.
    cost = uplink_cost(640, get_profile("lora"))
    assert cost.packets == 3
    assert cost.bytes_on_air == 679
    assert cost.transmit_ms == pytest.approx(679 * 8 / 5470 * 1000)  # 993.05 ms
    assert cost.network_ms == pytest.approx(1000 + 993.0530164533820)
    assert cost.radio_energy_uj == pytest.approx(679 * 139.96)  # 95032.84 uJ
    assert cost.source == "model"


def test_wifi_cost_of_a_cifar_image_by_hand():
    # 32 x 32 x 3 = 3072 int8 values: 3 CoAP blocks of 1024 B, 32 B headers each -> 3168 B.
    cost = uplink_cost(3072, get_profile("wifi"))
    assert cost.packets == 3
    assert cost.bytes_on_air == 3168
    assert cost.transmit_ms == pytest.approx(3168 * 8 / 20e6 * 1000)  # 1.2672 ms
    assert cost.network_ms == pytest.approx(21 + 1.2672)
    assert cost.radio_energy_uj == pytest.approx(3168 * 0.2376)  # 752.72 uJ


def test_ble_cost_of_a_kws_input_by_hand():
    # 49 x 10 = 490 int8 values: ceil(490 / 244) = 3 LL packets of 21 B overhead -> 553 B.
    cost = uplink_cost(490, get_profile("ble"))
    assert (cost.packets, cost.bytes_on_air) == (3, 553)
    assert cost.network_ms == pytest.approx(36 + 553 * 8 / 1e6 * 1000)  # 40.424 ms
    assert cost.radio_energy_uj == pytest.approx(553 * 0.1152)  # 63.7056 uJ


def test_empty_payload_still_costs_one_packet_of_headers():
    cost = uplink_cost(0, get_profile("lte"))
    assert (cost.packets, cost.bytes_on_air) == (1, 32)


def test_unknown_profile_lists_known_ones():
    with pytest.raises(ConfigError, match=r"'5g' is unknown \(known: ble, lora, lte, nb-iot, wifi\)"):
        get_profile("5g")


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d["profiles"]["wifi"]["rtt_ms"].pop("source"), r"profile 'wifi' field 'rtt_ms': 'source' is missing"),
        (lambda d: d["profiles"]["lora"]["rtt_ms"].update(source="  "), r"profile 'lora' field 'rtt_ms': 'source' is missing or empty"),
        (lambda d: d["profiles"]["lte"]["uplink_bps"].update(value=-1), r"profile 'lte' field 'uplink_bps': value must be a positive number"),
        (lambda d: d["profiles"]["lte"]["uplink_bps"].update(value="fast"), r"value must be a positive number, got 'fast'"),
        (lambda d: d["profiles"]["ble"].pop("energy_uj_per_byte"), r"profile 'ble' lacks field\(s\) \['energy_uj_per_byte'\]"),
        (lambda d: d["profiles"]["ble"].update(jitter_ms={"value": 1, "source": "x"}), r"profile 'ble' has unknown field\(s\) \['jitter_ms'\]"),
        (lambda d: d["profiles"]["wifi"]["overhead_bytes_per_packet"].update(value=32.5), r"whole number of bytes"),
        (lambda d: d["profiles"]["wifi"].update(rtt_ms=21), r"field 'rtt_ms' must be a mapping with 'value' and 'source'"),
        (lambda d: d.update(schema_version=2), r"schema_version must be 1"),
        (lambda d: d.update(profiles={}), r"'profiles' must be a non-empty mapping"),
    ],
)
def test_profile_validation_errors(shipped_document, mutate, message):
    document = copy.deepcopy(shipped_document)
    mutate(document)
    with pytest.raises(ConfigError, match=message):
        parse_profiles(document, where="test.yaml")


def test_profile_file_errors_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_profiles(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("profiles: [unclosed")
    with pytest.raises(ConfigError, match=f"{broken} is not valid YAML"):
        load_profiles(broken)


def test_custom_profile_file_is_used(tmp_path, shipped_document):
    document = copy.deepcopy(shipped_document)
    document["profiles"] = {"lab-link": document["profiles"]["wifi"]}
    document["profiles"]["lab-link"]["rtt_ms"] = {"value": 2, "source": "measured in our lab with ping, 2026"}
    path = tmp_path / "profiles.yaml"
    path.write_text(yaml.safe_dump(document))
    profiles = load_profiles(path)
    assert uplink_cost(100, profiles["lab-link"]).network_ms == pytest.approx(2 + 132 * 8 / 20e6 * 1000)
