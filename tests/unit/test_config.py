from __future__ import annotations

from pathlib import Path

import pytest

from tradewire.config import Config, load_config, parse_config
from tradewire.exceptions import ConfigError


def test_defaults_match_the_contract() -> None:
    config = Config()
    assert (config.hub.port, config.hub.max_frame_bytes, config.hub.auth_timeout_s) == (
        7400,
        65536,
        10,
    )
    assert (config.hub.max_connections, config.hub.max_connections_per_address) == (20000, 200)
    assert (
        config.ban.max_failures,
        config.ban.window_s,
        config.ban.duration_s,
        config.ban.max_duration_s,
        config.ban.exempt,
    ) == (5, 600, 600, 86400, [])
    assert config.hub.idle_timeout == 45


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"hub": {"port": "x"}}, "hub.port"),
        ({"hub": {"port": 70000}}, "hub.port"),
        ({"hub": {"heartbeat_s": 0}}, "hub.heartbeat_s"),
        ({"hub": {"max_frame_bytes": 10}}, "hub.max_frame_bytes"),
        ({"hub": {"fanout_threads": -2}}, "hub.fanout_threads"),
        ({"hub": {"fanout_threads": 65}}, "hub.fanout_threads"),
        ({"hub": {"fanout_threads": "all"}}, "hub.fanout_threads"),
        ({"hub": {"prot": 1}}, "hub.prot"),
        ({"hubb": {}}, "hubb"),
        ({"ban": {"exempt": ["not-an-ip"]}}, "ban.exempt[0]"),
        ({"ban": {"max_duration_s": 10}}, "ban.max_duration_s"),
        ({"tls": {"cert": "only-cert.pem"}}, "tls"),
        ({"tls": {"cert": "/nonexistent.pem", "key": "/nonexistent.key"}}, "tls.cert"),
        ({"auth": {"argon2_time_cost": 0}}, "auth.argon2_time_cost"),
        ({"listeners": {"udp_ticks": {"allow": ["x"]}}}, "listeners.udp_ticks.allow[0]"),
        ({"listeners": {"tcp_ticks": {"port": -1}}}, "listeners.tcp_ticks.port"),
        ({"listeners": {"signal": {"channel": "bad channel"}}}, "listeners.signal.channel"),
        ({"listeners": {"template": {"allow": ["nope"]}}}, "listeners.template.allow[0]"),
        ({"listeners": {"template": {"colour": 1}}}, "listeners.template.colour"),
        ({"mql5": {"allow": ["ok.example", "bad host"]}}, "mql5.allow[1]"),
        ({"mql5": {"allow": ["example.com:99999"]}}, "mql5.allow[0]"),
        ({"mql5": {"allow": ["ftp://example.com/"]}}, "mql5.allow[0]"),
        ({"mql5": {"mail": {"security": "ssl"}}}, "mql5.mail.security"),
        ({"mql5": {"ftp": {"port": 70000}}}, "mql5.ftp.port"),
        ({"mql5": {"notifications": {"urls": ["no-scheme"]}}}, "mql5.notifications.urls[0]"),
        ({"mql5": {"ca_file": "/no/such.pem"}}, "mql5.ca_file"),
        ({"files": {"max_bytes": 10_000_000}}, "files.max_bytes"),
        ({"files": {"keep_versions": 0}}, "files.keep_versions"),
        ({"relay": {"max_body_bytes": 0}}, "relay.max_body_bytes"),
        ({"relay": {"rate_per_s": -1}}, "relay.rate_per_s"),
        ({"sentiment": {"min_contributors": 0}}, "sentiment.min_contributors"),
        ({"sentiment": {"from_states": "yes"}}, "sentiment.from_states"),
        ({"listeners": {"sentiment": {"allow": ["x"]}}}, "listeners.sentiment.allow[0]"),
        ({"topics": {"max_value_bytes": 0}}, "topics.max_value_bytes"),
        ({"history": {"public": ["alpha", "bad channel"]}}, "history.public[1]"),
        ({"history": {"sample_s": 0}}, "history.sample_s"),
        ({"history": {"max_points_per_channel": 10}}, "history.max_points_per_channel"),
        ({"history": {"max_bytes_per_channel": 1000}}, "history.max_bytes_per_channel"),
        ({"history": {"max_deals_per_channel": 5}}, "history.max_deals_per_channel"),
        ({"history": {"deals_rate_per_s": 0}}, "history.deals_rate_per_s"),
        ({"history": {"simulate_max_moments": 0}}, "history.simulate_max_moments"),
        ({"history": {"simulate_timeout_s": 0}}, "history.simulate_timeout_s"),
        ({"history": {"simulate_memory_mb": 16}}, "history.simulate_memory_mb"),
        (
            {"topics": {"indicators": [{"symbol": "EURUSD", "kind": "macd"}]}},
            "topics.indicators[0].kind",
        ),
        ({"topics": {"indicators": [{"symbol": "EUR USD"}]}}, "topics.indicators[0].symbol"),
        (
            {"topics": {"indicators": [{"symbol": "EURUSD", "timeframe": "M2"}]}},
            "topics.indicators[0].timeframe",
        ),
        (
            {"topics": {"indicators": [{"symbol": "EURUSD", "period": 0}]}},
            "topics.indicators[0].period",
        ),
        ({"jobs": {"max_tasks": 0}}, "jobs.max_tasks"),
        ({"jobs": {"keep_days": 0}}, "jobs.keep_days"),
        ({"web": {"port": 70000}}, "web.port"),
        ({"web": {"dashbord": True}}, "web.dashbord"),
        ({"nats": {"servers": ["127.0.0.1:4222"]}}, "nats.servers[0]"),
        ({"nats": {"servers": "nats://a:4222"}}, "nats.servers"),
        ({"nats": {"replicas": 7}}, "nats.replicas"),
        ({"nats": {"lost_after_s": 0}}, "nats.lost_after_s"),
        ({"nats": {"url": "nats://a:4222"}}, "nats.url"),
        ({"nats": {"ca_file": "/nonexistent/ca.pem"}}, "nats.ca_file"),
        ({"ticks": {"postgres": "mysql://u@h/db"}}, "ticks.postgres"),
        ({"ticks": {"postgres": 5}}, "ticks.postgres"),
    ],
)
def test_bad_values_name_the_key(data: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(data, "t.toml")
    assert f"t.toml: {named}:" in str(caught.value)


def test_file_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[hub\nport = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    good = tmp_path / "good.toml"
    good.write_text('[hub]\nport = 7500\n[ban]\nexempt = ["127.0.0.1"]\n')
    config = load_config(good)
    assert config.hub.port == 7500 and config.ban.exempt == ["127.0.0.1"]


def test_ban_prefixes_are_validated() -> None:
    from tradewire.config import parse_config

    with pytest.raises(ConfigError, match=r"ban\.ipv6_prefix"):
        parse_config({"ban": {"ipv6_prefix": 200}})


def test_new_security_keys_are_validated_with_the_key_named() -> None:
    from tradewire.config import parse_config

    for data, key in [
        ({"audit": {"max_rows": 10}}, r"audit\.max_rows"),
        ({"audit": {"max_age_days": 0}}, r"audit\.max_age_days"),
        ({"hub": {"allow_plaintext": "yes"}}, r"hub\.allow_plaintext"),
        ({"ban": {"ipv4_prefix": 4}}, r"ban\.ipv4_prefix"),
    ]:
        with pytest.raises(ConfigError, match=key):
            parse_config(data)
    assert parse_config({}).hub.host == "127.0.0.1"  # loopback unless told otherwise


def test_the_dashboard_off_loopback_needs_tls_like_the_native_port() -> None:
    from tradewire.config import plaintext_problem

    web = {"enabled": True, "host": "0.0.0.0"}
    problem = plaintext_problem(parse_config({"web": web}))
    assert problem is not None and problem.startswith("web.host '0.0.0.0'")
    assert plaintext_problem(parse_config({"web": {**web, "dashboard": False}})) is None
    assert plaintext_problem(parse_config({"web": {"enabled": True}})) is None  # loopback


def test_a_postgres_password_never_shows_in_the_error() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"ticks": {"postgres": "mysql://u:s3cret@h/db"}})
    assert "s3cret" not in str(caught.value)


def test_nats_off_this_machine_needs_tls_like_the_native_port() -> None:
    from tradewire.config import plaintext_problem

    remote = parse_config({"nats": {"servers": ["nats://u:pw@10.0.0.5:4222"]}})
    problem = plaintext_problem(remote)
    assert problem is not None and problem.startswith("nats.servers[0]: '10.0.0.5'")
    assert "pw" not in problem
    for fine in ("nats://127.0.0.1:4222", "nats://tok@localhost:4222", "tls://10.0.0.5:4222"):
        assert plaintext_problem(parse_config({"nats": {"servers": [fine]}})) is None, fine
