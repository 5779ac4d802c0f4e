from chatiq.core.ratelimit import RateLimit
from chatiq.core.ratelimit import KeyedLimiter, TokenBucket


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_burst_then_sustained_rate():
    clock = Clock()
    bucket = TokenBucket(RateLimit(20, 5), clock)
    assert all(bucket.allow() for _ in range(20))
    assert not bucket.allow()
    clock.now += 1.0
    assert sum(bucket.allow() for _ in range(10)) == 5
    assert bucket.retry_after() > 0


def test_contract_floor_for_visitors_is_never_refused():
    """PROTOCOL §1: a burst of 20 then 5 frames/s must pass with the default limits."""
    from chatiq.config import Config

    clock = Clock()
    bucket = TokenBucket(Config().visitor_rate, clock)
    assert all(bucket.allow() for _ in range(20))
    for _ in range(60):
        clock.now += 0.2
        assert bucket.allow()


def test_contract_floor_for_operators():
    from chatiq.config import Config

    clock = Clock()
    bucket = TokenBucket(Config().operator_rate, clock)
    for _ in range(500):
        clock.now += 0.01
        assert bucket.allow()


def test_keyed_limiter_is_per_key_and_bounded():
    clock = Clock()
    limiter = KeyedLimiter(RateLimit(2, 0.1), clock, max_keys=10)
    assert limiter.allow("a") and limiter.allow("a") and not limiter.allow("a")
    assert limiter.allow("b")
    for i in range(50):
        limiter.allow(f"k{i}")
    assert len(limiter.buckets) <= 10


def test_wait_spends_nothing_and_refund_gives_one_back():
    clock = Clock()
    limiter = KeyedLimiter(RateLimit(2, 0.5), clock)
    assert limiter.wait("a") == 0.0  # never seen: free
    assert limiter.allow("a") and limiter.allow("a")
    assert limiter.wait("a") == 2.0 and limiter.wait("a") == 2.0  # asking costs nothing
    limiter.refund("a")
    assert limiter.wait("a") == 0.0 and limiter.allow("a") and not limiter.allow("a")
    clock.now += 2.0
    assert limiter.wait("a") == 0.0
    for _ in range(5):
        limiter.refund("a")  # never above the burst
    assert limiter.allow("a") and limiter.allow("a") and not limiter.allow("a")


def test_whole_seconds_rounds_up_to_at_least_one():
    from chatiq.core.ratelimit import whole_seconds

    assert [whole_seconds(x) for x in (0.0, 0.01, 1.0, 1.2, 89.5)] == [1, 1, 1, 2, 90]
