from pathlib import Path

import pytest

from farmctl.errors import FarmctlError
from farmctl.farm.config import DEMO_FARM, load_config

GOOD = """
[[printers]]
name = "mk3-left"
port = "/dev/serial/by-id/usb-Prusa_Research_Original_Prusa_i3_MK3_CZPX1234-if00"
baud = 115200
profile = "prusa-mk3"
api_port = 5001
bed = { width = 250, depth = 210, height = 210, heated = true }
extruders = 1

[[printers]]
name = "ender"
port = "sim"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "farm.toml"
    path.write_text(text)
    return path


def test_the_issue_example_loads(tmp_path):
    config = load_config(write(tmp_path, GOOD))
    left, ender = config.printers
    assert (left.name, left.baud, left.profile, left.api_port, left.bed.width) == ("mk3-left", 115200, "prusa-mk3", 5001, 250.0)
    assert ender.simulated and ender.profile is None


def test_no_file_means_a_demo_farm_of_three_simulated_printers():
    assert load_config(None) is DEMO_FARM
    assert len(DEMO_FARM.printers) == 3 and all(p.simulated for p in DEMO_FARM.printers)


@pytest.mark.parametrize("mistake, key, line", [
    ('buad = 115200', "buad", 13),
    ('baud = "fast"', "baud", 13),
    ('api_port = 80', "api_port", 13),
    ('profile = "marlin9"', "marlin9", 13),
    ('bed = { width = 250, colour = "red" }', "colour", 13),
    ('name = "mk3-left"', "used twice", 12),
])
def test_a_mistake_names_the_key_and_the_line(tmp_path, mistake, key, line):
    text = GOOD.replace('name = "ender"', 'name = "ender"\n' + mistake) if "name =" not in mistake else GOOD.replace('name = "ender"', mistake)
    with pytest.raises(FarmctlError) as caught:
        load_config(write(tmp_path, text))
    message = caught.value.message
    assert key in message
    assert f"farm.toml:{line}:" in message


def test_unreadable_and_malformed_files_give_one_line(tmp_path):
    with pytest.raises(FarmctlError, match="cannot read"):
        load_config(tmp_path / "missing.toml")
    with pytest.raises(FarmctlError, match="farm.toml"):
        load_config(write(tmp_path, "[[printers]\nname="))


def test_max_upload_mb_sets_the_upload_limit_in_bytes(tmp_path):
    assert load_config(write(tmp_path, GOOD)).max_upload == 1 << 30  # the default: a gigabyte
    assert load_config(write(tmp_path, "max_upload_mb = 200\n" + GOOD)).max_upload == 200 << 20
    assert load_config(write(tmp_path, "max_upload_mb = 0.5\n" + GOOD)).max_upload == 1 << 19


@pytest.mark.parametrize("value", ['"200M"', "0", "-5", "true", "2_000_000"])
def test_a_bad_max_upload_mb_names_the_key_and_the_line(tmp_path, value):
    with pytest.raises(FarmctlError) as caught:
        load_config(write(tmp_path, f"# uploads\nmax_upload_mb = {value}\n" + GOOD))
    assert "max_upload_mb" in caught.value.message and "farm.toml:2:" in caught.value.message


def test_max_upload_mb_inside_a_printer_table_is_an_unknown_printer_key(tmp_path):
    with pytest.raises(FarmctlError, match="unknown key 'max_upload_mb' in \\[\\[printers\\]\\]"):
        load_config(write(tmp_path, GOOD + "max_upload_mb = 5\n"))


MQTT_FARM = """node = "pi-3"
mqtt = { host = "broker.lan", port = 8883, username = "farm", password = "secret", base_topic = "farm/octoPrint" }

[[printers]]
name = "ender"
port = "sim"
"""


def test_the_mqtt_table_and_the_node_name_load(tmp_path):
    config = load_config(write(tmp_path, MQTT_FARM))
    assert config.node == "pi-3"
    mqtt = config.mqtt
    assert (mqtt.host, mqtt.port, mqtt.username, mqtt.base_topic) == ("broker.lan", 8883, "farm", "farm/octoPrint")
    assert mqtt.discovery and mqtt.discovery_prefix == "homeassistant" and mqtt.keepalive == 60
    assert "secret" not in repr(config), "a password never reaches a log line"


def test_without_mqtt_there_is_none_and_the_node_is_this_host(tmp_path):
    config = load_config(write(tmp_path, GOOD))
    assert config.mqtt is None
    assert config.node and config.node == load_config(None).node


@pytest.mark.parametrize("mistake, words", [
    ('mqtt = { hots = "broker.lan" }', "unknown key 'hots'"),
    ('mqtt = { port = 1883 }', "needs a 'host'"),
    ('mqtt = { host = "b", port = 0 }', "mqtt.port 0"),
    ('mqtt = { host = "b", port = "1883" }', "mqtt.port must be int"),
    ('mqtt = { host = "b", base_topic = "octoPrint/#" }', "without wildcards"),
    ('mqtt = { host = "b", base_topic = "octoPrint/" }', "without wildcards"),
    ('mqtt = { host = "b", password = "x" }', "needs an mqtt.username"),
    ('mqtt = { host = "b", discovery = "yes" }', "mqtt.discovery must be bool"),
    ('mqtt = "broker.lan"', "mqtt must be a table"),
    ('node = "pi 3"', "node 'pi 3' must be 1-40 letters"),
])
def test_a_mistake_in_the_mqtt_table_or_node_names_the_key_and_the_line(tmp_path, mistake, words):
    with pytest.raises(FarmctlError) as caught:
        load_config(write(tmp_path, "max_upload_mb = 10\n" + mistake + "\n" + GOOD))
    assert words in caught.value.message
    assert "farm.toml:2:" in caught.value.message


def test_no_printer_may_be_named_mqtt_when_the_nodes_wills_live_there(tmp_path):
    text = 'mqtt = { host = "b" }\n[[printers]]\nname = "mqtt"\nport = "sim"\n'
    with pytest.raises(FarmctlError, match="octoPrint/mqtt/ holds the nodes' last wills"):
        load_config(write(tmp_path, text))
    assert load_config(write(tmp_path, text.replace('mqtt = { host = "b" }\n', ""))).printers[0].name == "mqtt"


def test_a_shared_database_is_a_postgresql_url_and_never_shown(tmp_path):
    config = load_config(write(tmp_path, 'database = "postgresql://farm:pw@db-host/farm"\n' + GOOD))
    assert config.database == "postgresql://farm:pw@db-host/farm"
    assert config.database_in(tmp_path) == "postgresql://farm:pw@db-host/farm"
    assert "pw" not in repr(config)
    assert load_config(write(tmp_path, GOOD)).database_in(tmp_path) == tmp_path / "farmctl.db"


@pytest.mark.parametrize("value", ['"mysql://farm@db/farm"', '"/var/lib/farm.db"', "5"])
def test_a_database_that_is_no_postgresql_url_names_the_line(tmp_path, value):
    with pytest.raises(FarmctlError) as caught:
        load_config(write(tmp_path, f"database = {value}\n" + GOOD))
    assert "farm.toml:1:" in caught.value.message and "database must be" in caught.value.message


def test_node_timeout_is_seconds_within_reason(tmp_path):
    assert load_config(write(tmp_path, "node_timeout = 5\n" + GOOD)).node_timeout == 5.0
    assert load_config(write(tmp_path, GOOD)).node_timeout == 30.0
    with pytest.raises(FarmctlError, match="farm.toml:1: node_timeout must be 1 to 3600 seconds"):
        load_config(write(tmp_path, "node_timeout = 0.5\n" + GOOD))


def test_serial_workers_is_a_count_of_processes_or_chosen_from_the_cores(tmp_path):
    assert load_config(write(tmp_path, "serial_workers = 3\n" + GOOD)).serial_workers == 3
    assert load_config(write(tmp_path, "serial_workers = 0\n" + GOOD)).serial_workers == 0
    assert load_config(write(tmp_path, GOOD)).serial_workers is None
    for bad, says in (("-1", "serial_workers must be 0 to 64, not -1"), ("2.5", "serial_workers must be int"),
                      ("true", "serial_workers must be int, not a boolean")):
        with pytest.raises(FarmctlError, match=f"farm.toml:1: {says}"):
            load_config(write(tmp_path, f"serial_workers = {bad}\n" + GOOD))


def test_serial_gather_is_milliseconds_between_reactor_wakeups(tmp_path):
    assert load_config(write(tmp_path, "serial_gather_ms = 2.5\n" + GOOD)).serial_gather == 0.0025
    assert load_config(write(tmp_path, "serial_gather_ms = 0\n" + GOOD)).serial_gather == 0
    assert load_config(write(tmp_path, GOOD)).serial_gather == 0
    for bad, says in (("11", "serial_gather_ms must be 0 to 10, not 11"), ('"1"', "serial_gather_ms must be a number"),
                      ("-0.5", "serial_gather_ms must be 0 to 10, not -0.5")):
        with pytest.raises(FarmctlError, match=f"farm.toml:1: {says}"):
            load_config(write(tmp_path, f"serial_gather_ms = {bad}\n" + GOOD))


def test_node_url_and_shared_uploads_load_and_default_to_none(tmp_path):
    config = load_config(write(tmp_path, 'node_url = "http://pi-2.local:5000/"\nshared_uploads = "/mnt/farm"\n' + GOOD))
    assert config.node_url == "http://pi-2.local:5000" and config.shared_uploads == Path("/mnt/farm")
    plain = load_config(write(tmp_path, GOOD))
    assert plain.node_url is None and plain.shared_uploads is None


@pytest.mark.parametrize(("line", "words"), [
    ('node_url = "pi-2.local:5000"', "node_url must be an http(s):// URL"),
    ('node_url = "ftp://pi-2/"', "node_url must be an http(s):// URL"),
    ('node_url = "http://farm:secret@pi-2:5000"', "node_url must not hold a user or password"),
    ('node_url = "http://pi-2:5000/?x=1"', "node_url must not have a query"),
    ('node_url = "http://pi-2:99999"', "is not a valid URL"),
    ("node_url = 5000", "node_url must be str"),
    ('shared_uploads = "farm/uploads"', "shared_uploads must be an absolute folder path"),
])
def test_a_bad_node_url_or_shared_folder_names_the_key_and_line(tmp_path, line, words):
    with pytest.raises(FarmctlError) as caught:
        load_config(write(tmp_path, "node_timeout = 5\n" + line + "\n" + GOOD))
    assert caught.value.message.startswith(f"{tmp_path / 'farm.toml'}:2: ") and words in caught.value.message


def test_without_node_url_a_node_advertises_where_it_listens():
    from farmctl.farm.node_config import default_node_url

    assert default_node_url("127.0.0.1", 5000) == "http://127.0.0.1:5000"
    assert default_node_url("::1", 5000) == "http://[::1]:5000"
    wildcard = default_node_url("0.0.0.0", 5001)
    assert wildcard.startswith("http://") and wildcard.endswith(":5001") and "0.0.0.0" not in wildcard


def test_a_loopback_node_url_comes_with_a_warning_another_does_not():
    from farmctl.farm.node_config import advertised_note

    assert "only nodes on this machine reach it" in advertised_note("http://127.0.0.1:5000")
    assert "only nodes on this machine reach it" in advertised_note("http://localhost:5000")
    assert advertised_note("http://pi-2.local:5000") == ""
