"""The RDAP client against the local RDAP server, and the shipped bootstrap file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.conf import settings

from provisioning.registrars import rdap


def test_shipped_bootstrap_has_the_iana_shape_and_common_tlds():
    path = Path(settings.BASE_DIR) / "data" / "rdap" / "dns.json"
    document = json.loads(path.read_text())
    assert document["version"] == "1.0" and document["publication"].endswith("Z")
    assert document["description"].startswith("RDAP bootstrap file")
    for entry in document["services"]:
        tlds, urls = entry
        assert tlds and all(t == t.lower() and "." not in t for t in tlds)
        assert urls and all(u.startswith("https://") and u.endswith("/") for u in urls)
    services = rdap._bootstrap_read(str(path), path.stat().st_mtime)
    for tld in ("com", "net", "org", "it", "de", "ru", "io", "info", "uk", "fr"):
        assert tld in services, tld
    assert services["com"] == ["https://rdap.verisign.com/com/v1/"]
    assert services["de"] == ["https://rdap.denic.de/"]


def test_bootstrap_prefers_https(tmp_path, settings):
    path = tmp_path / "dns.json"
    path.write_text(
        json.dumps(
            {
                "version": "1.0",
                "services": [[["example"], ["http://rdap.example/", "https://rdap.example"]]],
            }
        )
    )
    settings.RDAP_BOOTSTRAP_FILE = str(path)
    assert rdap.bootstrap_services()["example"] == [
        "https://rdap.example/",
        "http://rdap.example/",
    ]


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("taken.com", rdap.TAKEN),
        ("Example.COM", rdap.TAKEN),
        ("free-name.com", rdap.AVAILABLE),
        ("free-name.net", rdap.AVAILABLE),
        ("broken.com", rdap.UNKNOWN),
        ("busy.com", rdap.UNKNOWN),
        ("garbage.com", rdap.UNKNOWN),
        ("odd.com", rdap.UNKNOWN),
        ("moved.com", rdap.AVAILABLE),
        ("name.nosuchtld", rdap.UNSUPPORTED),
        ("-bad-.com", rdap.INVALID),
        ("no-tld", rdap.INVALID),
    ],
)
def test_availability_follows_the_registry_answer(rdap_bootstrap, name, status):
    assert rdap.domain_availability(name).status == status


def test_unreachable_registry_is_unknown_never_available(tmp_path, settings):
    path = tmp_path / "dns.json"
    # Port 9 on localhost: nothing listens there.
    path.write_text(json.dumps({"services": [[["com"], ["http://127.0.0.1:9/"]]]}))
    settings.RDAP_BOOTSTRAP_FILE = str(path)
    result = rdap.domain_availability("anything.com")
    assert result.status == rdap.UNKNOWN and not result.is_available


def test_slow_registry_times_out_as_unknown(rdap_bootstrap, rdap_server, monkeypatch):
    monkeypatch.setattr(rdap, "TIMEOUT_S", 0.3)
    rdap_server.faults["slow.com"] = "slow"
    rdap_server.slow_s = 1.0
    assert rdap.domain_availability("slow.com").status == rdap.UNKNOWN


def test_internationalised_names_are_queried_as_a_labels(rdap_bootstrap, rdap_server):
    result = rdap.domain_availability("bücher.com")
    assert result.status == rdap.AVAILABLE
    assert result.ascii_domain == "xn--bcher-kva.com" and result.domain == "bücher.com"
    assert rdap_server.requests[-1].path == "/domain/xn--bcher-kva.com"


def test_queries_ask_for_rdap_json(rdap_bootstrap, rdap_server):
    rdap.domain_availability("taken.com")
    assert rdap_server.requests[-1].accept.startswith("application/rdap+json")


def test_search_candidates():
    assert rdap.search_candidates("Shop", ["com", "net"]) == ["shop.com", "shop.net"]
    assert rdap.search_candidates("shop.net", ["com", "net"]) == ["shop.net", "shop.com"]
    assert rdap.search_candidates("https://www.shop.it/path", ["com"]) == ["shop.it", "shop.com"]
    assert rdap.search_candidates("blog.shop.com", ["com"]) == ["shop.com"]
    with pytest.raises(rdap.DomainNameInvalid):
        rdap.search_candidates("not a name", ["com"])


def test_several_names_are_checked_in_order(rdap_bootstrap):
    results = rdap.domains_availability(["taken.com", "free.com", "example.net"])
    assert [r.status for r in results] == [rdap.TAKEN, rdap.AVAILABLE, rdap.TAKEN]
