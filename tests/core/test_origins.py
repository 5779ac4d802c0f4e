import pytest

from chatiq.core.origins import normalize_origin, origin_allowed, origin_from_domain, origins_from_domain


@pytest.mark.parametrize("raw,expected", [
    ("https://Shop.Example", "https://shop.example"),
    ("https://shop.example:443/", "https://shop.example"),
    ("http://localhost:8080", "http://localhost:8080"),
    ("https://shop.example/path", None),
    ("javascript:alert(1)", None),
    ("ftp://shop.example", None),
    ("https://user@shop.example", None),
    ("https://shop.example:99999", None),
    ("", None),
])
def test_normalize(raw, expected):
    assert normalize_origin(raw) == expected


def test_domain_seeds_https_origin():
    assert origin_from_domain("Shop.Example") == "https://shop.example"
    assert origin_from_domain("bad domain") is None


def test_rules():
    allowed = ["https://shop.example"]
    assert origin_allowed(None, allowed, "chat.example")  # not a browser
    assert origin_allowed("https://shop.example", allowed, "chat.example")
    assert not origin_allowed("https://evil.example", allowed, "chat.example")
    assert origin_allowed("http://chat.example", allowed, "chat.example")  # our own pages
    assert origin_allowed("https://anything.example", [], "chat.example")  # no list yet
    assert not origin_allowed("null", allowed, "chat.example")


def test_domain_seeds_https_origin_and_its_www_twin():
    """Regression: a domain seeded only https://host; the shop also answers on www."""
    assert origins_from_domain("Shop.Example") == ["https://shop.example",
                                                   "https://www.shop.example"]
    assert origins_from_domain("www.shop.example") == ["https://www.shop.example",
                                                       "https://shop.example"]
    assert origins_from_domain("localhost") == ["https://localhost"]
    assert origins_from_domain("10.0.0.7") == ["https://10.0.0.7"]
    assert origins_from_domain("bad domain") == []
