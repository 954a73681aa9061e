"""wait_until_healthy against the health fake: verdicts as data, and a deadline that holds; latency
samples against a scripted endpoint and a fake clock; tls_report against HTTPS servers with throwaway
certificates; the DER reader against certificates it did not make."""
import datetime
import http.server
import ipaddress
import os
import ssl
import threading
import time
import warnings

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.runbook.ops.plugins.module_utils import _probe
from ansible_collections.runbook.ops.plugins.module_utils._probe import (
    CertificateError,
    latency_summary,
    read_certificate,
    tls_report,
    wait_until_healthy,
)


def health(fake):
    return fake.health_url + "/api/health"


def test_healthy_at_the_first_probe(fake):
    verdict = wait_until_healthy(health(fake), [200], wait=10)

    assert verdict["healthy"] is True and verdict["status"] == 200 and verdict["attempts"] == 1
    assert verdict["reason"] == ""


def test_unhealthy_until_the_deadline(fake, clock):
    fake.health.set_mode("fail")

    verdict = wait_until_healthy(health(fake), [200], wait=10, interval=2, clock=clock, sleep=clock.sleep)

    assert verdict["healthy"] is False and verdict["status"] == 503
    assert verdict["reason"] == "answered 503, expected one of 200"
    assert verdict["attempts"] == 5  # at 0, 2, 4, 6 and 8 s; the next would start at the deadline
    assert clock.sleeps == [2, 2, 2, 2]


def test_becomes_healthy_while_waiting(fake, clock):
    fake.health.add_faults([{"action": "status", "status": 502, "times": 2}])

    verdict = wait_until_healthy(health(fake), [200], wait=30, interval=1, clock=clock, sleep=clock.sleep)

    assert verdict["healthy"] is True and verdict["attempts"] == 3


def test_body_must_contain_the_text(fake):
    assert wait_until_healthy(health(fake), [200], body_contains='"ok"')["healthy"] is True

    verdict = wait_until_healthy(health(fake), [200], body_contains="all systems go")

    assert verdict["healthy"] is False and "without the text 'all systems go'" in verdict["reason"]


def test_no_answer_is_a_verdict_not_an_error():
    verdict = wait_until_healthy("http://127.0.0.1:9/api/health", [200])

    assert verdict["healthy"] is False and verdict["status"] is None
    assert "Connection refused" in verdict["reason"]


def test_a_hanging_endpoint_cannot_stretch_the_deadline(fake):
    fake.health.add_faults([{"action": "delay", "delay": 5, "times": 10}])

    started = time.monotonic()
    verdict = wait_until_healthy(health(fake), [200], wait=0.5, interval=0.2, timeout=30)

    assert verdict["healthy"] is False and "timed out" in verdict["reason"]
    assert time.monotonic() - started < 4  # far below the endpoint's 5 s hang and the 30 s timeout


def test_redirects_are_followed_to_the_final_answer(fake):
    # An old health path that now redirects: the answer at the end of the redirect is the verdict.
    fake.health.add_faults([{"action": "status", "status": 308,
                             "headers": {"Location": fake.health_url + "/api/health"}, "body": ""}])

    verdict = wait_until_healthy(fake.health_url + "/old-health", [200])

    assert verdict["healthy"] is True and verdict["status"] == 200
    assert [r["path"] for r in fake.health.requests()] == ["/old-health", "/api/health"]


# ----- latency samples ---------------------------------------------------------------------------

class ScriptedEndpoint:
    """An endpoint on 127.0.0.1 that answers from a script of ``(status, seconds)``.

    Each answer moves the fake clock on by its seconds instead of taking them, so every latency is
    exact and nothing waits. An answer beyond the script is a 500, and ``requests`` counts them all.
    """

    def __init__(self, clock, script):
        endpoint = self
        self.script, self.requests = list(script), 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                endpoint.requests += 1
                status, seconds = endpoint.script.pop(0) if endpoint.script else (500, 0)
                clock.now += seconds
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/health"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc_info):
        self.server.shutdown()
        self.server.server_close()


def test_samples_time_each_probe_after_a_healthy_verdict(clock):
    with ScriptedEndpoint(clock, [(200, 0.120), (200, 0.080), (200, 0.300), (200, 0.100)]) as endpoint:
        verdict = wait_until_healthy(endpoint.url, [200], samples=4, clock=clock, sleep=clock.sleep)

    assert verdict["healthy"] is True and verdict["attempts"] == 1 and verdict["latency_ms"] == 120.0
    assert verdict["latency"] == {"samples_ms": [120.0, 80.0, 300.0, 100.0], "median_ms": 110.0, "p95_ms": 300.0,
                                  "worst_ms": 300.0, "count": 4, "unhealthy": 0}
    assert endpoint.requests == 4 and clock.sleeps == []  # one sample after the other


def test_an_unhealthy_sample_is_timed_and_counted_but_the_verdict_stands(clock):
    with ScriptedEndpoint(clock, [(200, 0.050), (503, 0.200), (200, 0.070)]) as endpoint:
        verdict = wait_until_healthy(endpoint.url, [200], samples=3, clock=clock, sleep=clock.sleep)

    assert verdict["healthy"] is True and verdict["status"] == 200 and verdict["reason"] == ""
    assert verdict["latency"] == {"samples_ms": [50.0, 200.0, 70.0], "median_ms": 70.0, "p95_ms": 200.0,
                                  "worst_ms": 200.0, "count": 3, "unhealthy": 1}
    assert endpoint.requests == 3


def test_the_95th_percentile_is_the_nearest_rank_and_leaves_out_the_worst_of_twenty_one():
    samples = [float(ms) for ms in range(100, 121)]  # 21 samples: rank ceil(0.95 * 21) = 20

    assert latency_summary(samples, 0)["p95_ms"] == 119.0
    assert latency_summary(samples, 0)["worst_ms"] == 120.0
    assert latency_summary([5.0, 1.0], 0)["p95_ms"] == 5.0


def test_samples_start_with_the_probe_that_gave_the_verdict(clock):
    with ScriptedEndpoint(clock, [(503, 0.010), (200, 0.040), (200, 0.060), (200, 0.020)]) as endpoint:
        verdict = wait_until_healthy(endpoint.url, [200], wait=10, interval=2, samples=3, clock=clock,
                                     sleep=clock.sleep)

    assert verdict["attempts"] == 2 and verdict["latency_ms"] == 40.0
    # The unhealthy probe of the wait is not a sample; only the wait slept.
    assert verdict["latency"]["samples_ms"] == [40.0, 60.0, 20.0] and verdict["latency"]["unhealthy"] == 0
    assert endpoint.requests == 4 and clock.sleeps == [pytest.approx(1.99)]


def test_an_unhealthy_verdict_is_not_sampled(clock):
    with ScriptedEndpoint(clock, [(503, 0.030)]) as endpoint:
        verdict = wait_until_healthy(endpoint.url, [200], samples=5, clock=clock, sleep=clock.sleep)

    assert verdict["healthy"] is False
    assert verdict["latency"] == {"samples_ms": [30.0], "median_ms": 30.0, "p95_ms": 30.0, "worst_ms": 30.0,
                                  "count": 1, "unhealthy": 1}
    assert endpoint.requests == 1


def test_each_sample_has_the_whole_timeout_whatever_the_wait_left(clock, monkeypatch):
    script = iter([(503, 7.5), (200, 1.0), (200, 0.5), (200, 0.5)])
    timeouts = []

    def probe_once(url, healthy_statuses, body_contains, timeout, tls_context):
        timeouts.append(timeout)
        status, seconds = next(script)
        clock.now += seconds
        return status, "" if status in healthy_statuses else f"answered {status}"

    monkeypatch.setattr(_probe, "probe_once", probe_once)
    verdict = wait_until_healthy("http://127.0.0.1:9/", [200], wait=10, interval=8, timeout=5, samples=3,
                                 clock=clock, sleep=clock.sleep)

    # The second probe starts 8 s in, with 2 s of the wait left; the samples come after the wait.
    assert timeouts == [5, 2, 5, 5] and verdict["latency"]["count"] == 3


def test_a_slow_answer_within_the_timeout_is_healthy(fake):
    # Each probe waits for its whole timeout, however short a deadline the HTTP layer's retries would allow.
    fake.health.add_faults([{"action": "delay", "delay": 0.3, "times": 2}])

    verdict = wait_until_healthy(health(fake), [200], timeout=5, samples=2)

    assert verdict["healthy"] is True and verdict["latency"]["unhealthy"] == 0


# ----- TLS certificate ---------------------------------------------------------------------------

# Whole seconds, as certificates hold them, so days left come out exact against this "now".
NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def make_certificate(common_name, not_after, issuer=None, names=("127.0.0.1",), not_before=None, ca=False):
    """A certificate and its key, signed by ``issuer`` (a pair from this function) or by itself."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    signer_certificate, signer_key = issuer or (None, key)
    alternative_names = [x509.IPAddress(ipaddress.ip_address(name)) if name[0].isdigit() else x509.DNSName(name)
                         for name in names]
    builder = (x509.CertificateBuilder()
               .subject_name(subject)
               .issuer_name(signer_certificate.subject if signer_certificate else subject)
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(not_before or NOW - datetime.timedelta(days=1))
               .not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False),
            critical=True)
    else:
        builder = builder.add_extension(x509.SubjectAlternativeName(alternative_names), critical=False)
    if signer_certificate:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()), critical=False)
    return builder.sign(signer_key, hashes.SHA256()), key


def days(n):
    return NOW + datetime.timedelta(days=n)


# name: (common name, days valid, signed by the CA, names it is valid for)
SITES = {
    "valid": ("valid.test", 90, True, ("127.0.0.1", "localhost")),
    "expiring": ("expiring.test", 3, True, ("127.0.0.1",)),
    "expired": ("expired.test", -2, True, ("127.0.0.1",)),
    "self_signed": ("self-signed.test", 90, False, ("127.0.0.1",)),
    "other_host": ("other.test", 90, True, ("other.example",)),
}


def write_pem(path, certificate, key=None):
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        key_path = path.with_suffix(".key")
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        return key_path
    return None


class HTTPSServer:
    """http.server with one certificate, on 127.0.0.1, in a thread."""

    def __init__(self, certificate_path, key_path):
        class Healthy(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificate_path, key_path)
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Healthy)
        # The handshake happens at accept: a client that refuses the certificate costs the server nothing.
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}/api/health"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    """A throwaway CA, and one HTTPS server for each of SITES; yields the CA's path and each server's URL."""
    folder = tmp_path_factory.mktemp("tls")
    authority = make_certificate("Runbook Test CA", days(3650), ca=True)
    ca_path = folder / "ca.pem"
    write_pem(ca_path, authority[0])
    servers = {}
    for name, (common_name, valid_days, by_ca, names) in SITES.items():
        certificate, key = make_certificate(common_name, days(valid_days), authority if by_ca else None, names,
                                            not_before=days(-100))
        key_path = write_pem(folder / f"{name}.pem", certificate, key)
        servers[name] = HTTPSServer(folder / f"{name}.pem", key_path)
    yield str(ca_path), {name: server.url for name, server in servers.items()}
    for server in servers.values():
        server.stop()


@pytest.mark.parametrize("site, days_left, expiring, verified, error", [
    ("valid", 90.0, False, True, None),
    ("expiring", 3.0, True, True, None),
    ("expired", -2.0, True, False, "certificate has expired"),
    ("self_signed", 90.0, False, False, "self-signed certificate"),
    ("other_host", 90.0, False, False, "IP address mismatch, certificate is not valid for '127.0.0.1'."),
])
def test_tls_days_left_and_verification(sites, site, days_left, expiring, verified, error):
    ca_path, urls = sites

    report = tls_report(urls[site], timeout=5, ca_path=ca_path, warn_days=14, now=NOW.timestamp)

    common_name, valid_days = SITES[site][:2]
    assert report == {"days_left": days_left, "expiring": expiring, "verified": verified, "error": error,
                      "not_after": days(valid_days).strftime("%Y-%m-%dT%H:%M:%SZ"), "subject": common_name,
                      "issuer": common_name if site == "self_signed" else "Runbook Test CA"}


def test_tls_days_left_count_from_now(sites):
    ca_path, urls = sites
    half_a_day_later = NOW.timestamp() + 43200

    report = tls_report(urls["expiring"], ca_path=ca_path, now=lambda: half_a_day_later)

    assert report["days_left"] == 2.5


def test_tls_without_the_ca_is_read_but_not_verified(sites):
    report = tls_report(sites[1]["valid"], now=NOW.timestamp)

    assert report["days_left"] == 90.0 and report["verified"] is False
    assert report["error"] == "unable to get local issuer certificate"


def test_tls_warn_days_decides_what_is_expiring(sites):
    ca_path, urls = sites

    assert tls_report(urls["valid"], ca_path=ca_path, warn_days=91, now=NOW.timestamp)["expiring"] is True
    assert tls_report(urls["expiring"], ca_path=ca_path, warn_days=3, now=NOW.timestamp)["expiring"] is False


def test_tls_is_null_for_http():
    assert tls_report("http://127.0.0.1:9/api/health") is None


def test_tls_without_a_server_says_why():
    report = tls_report("https://127.0.0.1:9/api/health", timeout=2)

    assert report["days_left"] is None and report["expiring"] is None and report["verified"] is False
    assert "Connection refused" in report["error"]


def test_tls_of_a_server_that_does_not_speak_tls(fake):
    report = tls_report(fake.health_url.replace("http://", "https://") + "/api/health", timeout=2)

    assert report["days_left"] is None and report["verified"] is False and report["error"].startswith("SSLError")


def test_the_probe_itself_honours_ca_path(sites):
    ca_path, urls = sites

    assert wait_until_healthy(urls["valid"], [200], ca_path=ca_path)["healthy"] is True
    refused = wait_until_healthy(urls["self_signed"], [200], ca_path=ca_path)
    assert refused["healthy"] is False and "self-signed certificate" in refused["reason"]
    assert wait_until_healthy(urls["self_signed"], [200], validate_certs=False)["healthy"] is True


# ----- the DER reader against certificates it did not make ---------------------------------------

def expected_name(name):
    """What read_certificate says of a name, the way cryptography reads it."""
    for oid in (NameOID.COMMON_NAME, NameOID.ORGANIZATION_NAME):
        found = name.get_attributes_for_oid(oid)
        if found:
            return found[0].value
    return None


def system_certificates():
    bundle = "/etc/ssl/certs/ca-certificates.crt"
    if not os.path.exists(bundle):
        return []
    with open(bundle, "rb") as pem, warnings.catch_warnings():
        # Some old roots have a serial number RFC 5280 disallows; cryptography warns, and reads them.
        warnings.simplefilter("ignore")
        return x509.load_pem_x509_certificates(pem.read())


@pytest.mark.skipif(not system_certificates(), reason="no system CA bundle to read")
def test_the_reader_agrees_with_cryptography_on_every_system_certificate():
    certificates = system_certificates()

    for certificate in certificates:
        read = read_certificate(certificate.public_bytes(serialization.Encoding.DER))
        assert read == {"not_before": certificate.not_valid_before_utc, "not_after": certificate.not_valid_after_utc,
                        "subject": expected_name(certificate.subject), "issuer": expected_name(certificate.issuer)}
    assert len(certificates) > 50


def test_the_reader_takes_generalized_time_and_utf8_names():
    # From 2050 on, certificates carry GeneralizedTime instead of UTCTime (RFC 5280, 4.1.2.5).
    in_2050 = datetime.datetime(2050, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    authority = make_certificate("Prüf-CA 日本", in_2050 + datetime.timedelta(days=400), ca=True)
    certificate = make_certificate("ünïcode.test", in_2050, authority)[0]

    read = read_certificate(certificate.public_bytes(serialization.Encoding.DER))

    assert read["not_after"] == in_2050
    assert read["subject"] == "ünïcode.test" and read["issuer"] == "Prüf-CA 日本"


@pytest.mark.parametrize("garbage", [b"", b"\x30\x05\x02\x01", b"\x30\x03\x02\x01\x01", b"not a certificate"])
def test_the_reader_refuses_what_is_not_a_certificate(garbage):
    with pytest.raises(CertificateError, match="the certificate cannot be read"):
        read_certificate(garbage)
