"""Domain availability over RDAP (RFC 9082 queries, RFC 9083 answers, RFC 9224 bootstrap).

The registry of a TLD is found in the shipped bootstrap file (data/rdap/dns.json). A
``domain/<name>`` query answered 200 with a domain object means the name is taken; 404
means the registry has no such domain, so it is available. Anything else (a server error,
a rate limit, a timeout, a reply that is not an RDAP domain object) is "unknown": a name
is never offered as available unless its registry said so.
"""

from __future__ import annotations

import json
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import httpx
from django.conf import settings

logger = logging.getLogger(__name__)

DEFAULT_BOOTSTRAP = Path(settings.BASE_DIR) / "data" / "rdap" / "dns.json"
TIMEOUT_S = 5.0
MAX_PARALLEL = 6
RDAP_MEDIA_TYPE = "application/rdap+json"
_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")

AVAILABLE, TAKEN, UNKNOWN, UNSUPPORTED, INVALID = (
    "available",
    "taken",
    "unknown",
    "unsupported",
    "invalid",
)


@dataclass(frozen=True)
class Availability:
    domain: str  # as the visitor would read it (Unicode)
    ascii_domain: str  # A-labels, as registries know it
    status: str
    detail: str = ""

    @property
    def is_available(self) -> bool:
        return self.status == AVAILABLE

    @property
    def tld(self) -> str:
        return self.ascii_domain.rsplit(".", 1)[-1]


class DomainNameInvalid(ValueError):
    pass


def domain_normalize(value: str) -> tuple[str, str]:
    """(Unicode form, ASCII form) of a registrable name; DomainNameInvalid otherwise."""
    text = (value or "").strip().lower().rstrip(".")
    text = re.sub(r"^[a-z]+://", "", text).split("/", 1)[0]
    if text.startswith("www."):
        text = text[4:]
    if not text or " " in text:
        raise DomainNameInvalid(value)
    try:
        ascii_name = text.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise DomainNameInvalid(value) from exc
    labels = ascii_name.split(".")
    if len(ascii_name) > 253 or not all(_LABEL_RE.match(label) for label in labels):
        raise DomainNameInvalid(value)
    try:
        unicode_name = ascii_name.encode("ascii").decode("idna")
    except UnicodeError:
        unicode_name = ascii_name
    return unicode_name, ascii_name


def bootstrap_path() -> Path:
    return Path(getattr(settings, "RDAP_BOOTSTRAP_FILE", "") or DEFAULT_BOOTSTRAP)


@cache
def _bootstrap_read(path: str, mtime: float) -> dict[str, list[str]]:
    document = json.loads(Path(path).read_text(encoding="utf-8"))
    services: dict[str, list[str]] = {}
    for entry in document.get("services", []):
        if not (isinstance(entry, list) and len(entry) >= 2):
            continue
        tlds, urls = entry[0], entry[1]
        # RFC 9224: prefer HTTPS when a service lists both.
        ordered = sorted(
            (u if u.endswith("/") else u + "/" for u in urls if isinstance(u, str)),
            key=lambda u: not u.startswith("https://"),
        )
        for tld in tlds:
            services[str(tld).lower().strip(".")] = ordered
    return services


def bootstrap_services() -> dict[str, list[str]]:
    """TLD → RDAP base URLs, from the bootstrap file (re-read when it changes)."""
    path = bootstrap_path()
    return _bootstrap_read(str(path), path.stat().st_mtime)


def _client(transport: httpx.BaseTransport | None = None) -> httpx.Client:
    return httpx.Client(
        timeout=TIMEOUT_S,
        follow_redirects=True,  # RFC 7480 §5.2: a server may redirect to another one
        headers={"Accept": f"{RDAP_MEDIA_TYPE}, application/json"},
        transport=transport,
    )


def _interpret(response: httpx.Response, ascii_name: str) -> tuple[str, str]:
    if response.status_code == 404:
        return AVAILABLE, ""
    if response.status_code == 429:
        return UNKNOWN, "rate limited"
    if response.status_code != 200:
        return UNKNOWN, f"HTTP {response.status_code}"
    try:
        body = response.json()
    except ValueError:
        return UNKNOWN, "not JSON"
    if not isinstance(body, dict) or body.get("objectClassName") != "domain":
        return UNKNOWN, "not a domain object"
    ldh = str(body.get("ldhName") or "").lower().rstrip(".")
    if ldh and ldh != ascii_name:
        return UNKNOWN, "answer for another name"
    return TAKEN, ""


def domain_availability(
    name: str, *, client: httpx.Client | None = None, services: dict[str, list[str]] | None = None
) -> Availability:
    try:
        unicode_name, ascii_name = domain_normalize(name)
    except DomainNameInvalid:
        return Availability(name, name, INVALID)
    if "." not in ascii_name:
        return Availability(unicode_name, ascii_name, INVALID)
    services = services if services is not None else bootstrap_services()
    bases = services.get(ascii_name.rsplit(".", 1)[-1], [])
    if not bases:
        return Availability(unicode_name, ascii_name, UNSUPPORTED)
    own_client = client is None
    client = client or _client()
    detail = ""
    try:
        for base in bases:
            try:
                response = client.get(f"{base}domain/{ascii_name}")
            except httpx.HTTPError as exc:
                detail = type(exc).__name__
                logger.info("RDAP %s for %s failed: %s", base, ascii_name, exc)
                continue
            status, detail = _interpret(response, ascii_name)
            return Availability(unicode_name, ascii_name, status, detail)
    finally:
        if own_client:
            client.close()
    return Availability(unicode_name, ascii_name, UNKNOWN, detail or "unreachable")


def domains_availability(
    names: list[str], *, transport: httpx.BaseTransport | None = None
) -> list[Availability]:
    """Several names at once, in parallel, in the order given."""
    services = bootstrap_services()
    with _client(transport) as client, ThreadPoolExecutor(max_workers=MAX_PARALLEL) as pool:
        return list(
            pool.map(lambda n: domain_availability(n, client=client, services=services), names)
        )


def search_candidates(query: str, tlds: list[str]) -> list[str]:
    """The names to check for what a visitor typed: the name itself when it has a TLD we
    sell, then the same label under the other TLDs we sell."""
    _unicode, ascii_name = domain_normalize(query)
    labels = ascii_name.split(".")
    # "shop.example.com": the registrable part (label + TLD) is what a registry answers for.
    label, tld = (labels[-2], labels[-1]) if len(labels) > 1 else (labels[0], "")
    names = [f"{label}.{tld}"] if tld else []
    names.extend(f"{label}.{other}" for other in tlds if other != tld)
    return names
