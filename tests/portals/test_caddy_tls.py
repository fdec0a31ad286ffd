"""Custom domains behind a real Caddy (the OS package) with on-demand TLS: Caddy asks the
app's /tls/ask before issuing a certificate, so a reseller's domain gets one only once its
DNS TXT record has been verified, and the site is then served on it. Certificates come
from Caddy's internal CA (no internet). Skipped where Caddy is not installed."""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import ssl
import subprocess
import time

import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import pytest
from cryptography import x509

from tenants.domains import (
    custom_domain_add,
    custom_domain_verify,
    resolver_override,
    txt_record_name,
)
from tests.portals.live import live_shop_make, wsgi_server

CADDY = shutil.which("caddy")
pytestmark = pytest.mark.skipif(CADDY is None, reason="Caddy is not installed")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _Resolver:
    def __init__(self, name: str, token: str) -> None:
        self.records = {name: f'"{token}"'}

    def resolve(self, qname: str, rdtype: str, **kwargs):
        if qname not in self.records:
            raise dns.resolver.NXDOMAIN()
        return [dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, self.records[qname])]


class _Connection(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1 with the SNI and Host of ``host``, as a browser would send."""

    def __init__(self, host: str, port: int, context: ssl.SSLContext) -> None:
        super().__init__(host, port, context=context, timeout=20)
        self._ssl_context = context

    def connect(self) -> None:
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=20)
        self.sock = self._ssl_context.wrap_socket(raw, server_hostname=self.host)


def _get(host: str, port: int, context: ssl.SSLContext) -> tuple[int, str, x509.Certificate]:
    connection = _Connection(host, port, context)
    try:
        connection.request("GET", "/", headers={"Host": host})
        response = connection.getresponse()
        body = response.read().decode()
        der = connection.sock.getpeercert(binary_form=True)
        return response.status, body, x509.load_der_x509_certificate(der)
    finally:
        connection.close()


def _unverified_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _wait_for(port: int, process: subprocess.Popen, log) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"Caddy exited: {log.read()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("Caddy did not start listening")


def test_caddy_issues_certificates_only_for_verified_domains(tenant_factory, tmp_path):
    live = live_shop_make(tenant_factory, "Delta Hosting")
    domain = custom_domain_add(tenant=live.tenant, hostname="shop.delta-example.org")
    with wsgi_server() as app_port:
        https_port, http_port = _free_port(), _free_port()
        caddyfile = tmp_path / "Caddyfile"
        # The deployment's Caddyfile (deploy/Caddyfile) with test ports and the internal CA.
        caddyfile.write_text(
            f"""{{
	admin off
	http_port {http_port}
	https_port {https_port}
	storage file_system {{
		root {tmp_path}/data
	}}
	local_certs
	skip_install_trust
	on_demand_tls {{
		ask http://127.0.0.1:{app_port}/tls/ask
	}}
}}

https:// {{
	tls {{
		on_demand
	}}
	reverse_proxy 127.0.0.1:{app_port}
}}
"""
        )
        env = dict(os.environ, HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path / "xdg"))
        log = (tmp_path / "caddy.log").open("w+")
        process = subprocess.Popen(
            [CADDY, "run", "--config", str(caddyfile), "--adapter", "caddyfile"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_for(https_port, process, log)
            # Not verified yet: Caddy asks, the app says no, no certificate, no handshake.
            with pytest.raises((ssl.SSLError, ConnectionError)):
                _get(domain.domain, https_port, _unverified_context())
            with pytest.raises((ssl.SSLError, ConnectionError)):
                _get("nobody.example.net", https_port, _unverified_context())

            with resolver_override(_Resolver(txt_record_name(domain), domain.verification_token)):
                assert custom_domain_verify(domain=domain).verified

            status, body, certificate = _get(domain.domain, https_port, _unverified_context())
            assert status == 200 and "Delta Hosting" in body
            names = certificate.extensions.get_extension_for_class(
                x509.SubjectAlternativeName
            ).value.get_values_for_type(x509.DNSName)
            assert names == ["shop.delta-example.org"]

            # The certificate chains to Caddy's own CA and names the host: a browser that
            # trusts that CA opens the site with no warning.
            roots = list((tmp_path / "data").rglob("root.crt"))
            assert roots, "Caddy's local CA was not created"
            trusting = ssl.create_default_context(cafile=str(roots[0]))
            status, body, _certificate = _get(domain.domain, https_port, trusting)
            assert status == 200 and "Delta Hosting" in body
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
            log.close()
