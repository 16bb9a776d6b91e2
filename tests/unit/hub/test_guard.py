from __future__ import annotations

from tradewire.clock import ManualClock
from tradewire.config import BanSettings
from tradewire.hub.guard import BanBook, NameThrottle
from tradewire.model import BanRecord

SETTINGS = BanSettings(max_failures=5, window_s=600, duration_s=600, max_duration_s=86_400)


def fail_n(book: BanBook, address: str, n: int) -> list[BanRecord]:
    return [ban for _ in range(n) if (ban := book.record_failure(address)) is not None]


def test_fifth_failure_in_the_window_bans_for_duration() -> None:
    clock = ManualClock()
    book = BanBook(SETTINGS, clock)
    assert fail_n(book, "10.0.0.1", 4) == []
    assert book.retry_after("10.0.0.1") is None
    (ban,) = fail_n(book, "10.0.0.1", 1)
    assert ban.offenses == 1
    assert book.retry_after("10.0.0.1") == 600
    clock.advance(599)
    assert book.retry_after("10.0.0.1") == 1
    clock.advance(1)
    assert book.retry_after("10.0.0.1") is None


def test_failures_outside_the_sliding_window_do_not_count() -> None:
    clock = ManualClock()
    book = BanBook(SETTINGS, clock)
    for _ in range(4):
        assert book.record_failure("10.0.0.1") is None
        clock.advance(200)  # the window holds at most 3 of these
    assert book.record_failure("10.0.0.1") is None
    assert book.retry_after("10.0.0.1") is None


def test_repeat_offenders_double_up_to_the_maximum() -> None:
    clock = ManualClock()
    book = BanBook(SETTINGS, clock)
    durations = []
    for _ in range(10):
        (ban,) = fail_n(book, "10.0.0.9", 5)
        durations.append(ban.until_ms / 1000 - clock.time())
        clock.advance(durations[-1])
    assert durations[:5] == [600, 1200, 2400, 4800, 9600]
    assert durations[-1] == 86_400
    assert max(durations) == 86_400


def test_other_addresses_are_unaffected_and_failures_age_out_of_the_window() -> None:
    clock = ManualClock()
    book = BanBook(SETTINGS, clock)
    fail_n(book, "10.0.0.1", 4)
    assert book.retry_after("10.0.0.2") is None and book.checks_left("10.0.0.1") == 1
    clock.advance(SETTINGS.window_s + 1)  # a success never resets it; only time does
    assert fail_n(book, "10.0.0.1", 4) == []


def test_exempt_networks_are_never_banned_and_loopback_is_not_exempt_by_default() -> None:
    exempt = BanBook(BanSettings(exempt=["127.0.0.0/8", "::1"]), ManualClock())
    assert fail_n(exempt, "127.0.0.1", 50) == []
    assert fail_n(exempt, "::1", 50) == []
    assert len(fail_n(BanBook(SETTINGS, ManualClock()), "127.0.0.1", 5)) == 1


def test_loaded_bans_merge_so_lift_reaches_a_running_hub() -> None:
    clock = ManualClock()
    book = BanBook(SETTINGS, clock)
    (ban,) = fail_n(book, "10.0.0.1", 5)
    book.load([BanRecord("10.0.0.1", 0, ban.offenses)])  # lifted in the database
    assert book.retry_after("10.0.0.1") is None
    (second,) = fail_n(book, "10.0.0.1", 5)
    book.load([BanRecord("10.0.0.1", 0, 1)])  # a stale row: the newer ban stays
    assert second.offenses == 2 and book.retry_after("10.0.0.1") == 1200


def test_name_throttle_delays_but_never_refuses_and_decays() -> None:
    clock = ManualClock()
    settings = BanSettings(name_throttle_after=3, name_delay_s=0.5, name_max_delay_s=4)
    throttle = NameThrottle(settings, clock)
    delays = []
    for _ in range(8):
        delays.append(throttle.delay_for("alice"))
        throttle.record_failure("alice")
    assert delays == [0, 0, 0, 0.5, 1.0, 2.0, 4.0, 4.0]
    assert throttle.delay_for("mallory") == 0
    clock.advance(settings.window_s)
    assert throttle.delay_for("alice") == 0  # the failures left the window
    for _ in range(5):
        throttle.record_failure("alice")
    throttle.record_success("alice")
    assert throttle.delay_for("alice") == 0


def test_ipv6_sources_are_counted_and_banned_per_64() -> None:
    book = BanBook(SETTINGS, ManualClock())
    for n in range(1, 6):  # five addresses of one /64
        ban = book.record_failure(f"2001:db8:1:2::{n}")
    assert ban is not None and ban.address == "2001:db8:1:2::/64"
    assert book.retry_after("2001:db8:1:2:ffff::1") is not None  # the whole /64
    assert book.retry_after("2001:db8:1:3::1") is None  # the next /64 is not
    assert book.key("::ffff:10.0.0.1") == "10.0.0.1"  # IPv4-mapped counts as IPv4


def test_prefix_lengths_are_settings() -> None:
    wide = BanSettings(ipv4_prefix=24, ipv6_prefix=48)
    book = BanBook(wide, ManualClock())
    assert book.key("10.1.2.3") == "10.1.2.0/24"
    assert book.key("2001:db8:1:2::1") == "2001:db8:1::/48"


def test_checks_left_counts_failures_and_bans() -> None:
    book = BanBook(SETTINGS, ManualClock())
    assert book.checks_left("10.0.0.1") == 5
    fail_n(book, "10.0.0.1", 3)
    assert book.checks_left("10.0.0.1") == 2
    fail_n(book, "10.0.0.1", 2)
    assert book.checks_left("10.0.0.1") == 0  # banned


def test_the_name_throttle_is_capped_after_thousands_of_failures() -> None:
    throttle = NameThrottle(SETTINGS, ManualClock())
    for _ in range(5000):  # 2 ** 5000 overflows a float; the exponent is capped
        throttle.record_failure("bob")
    assert throttle.delay_for("bob") == SETTINGS.name_max_delay_s
