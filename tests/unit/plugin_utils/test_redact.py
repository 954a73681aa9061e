"""_redact: which values count as secrets, and how values and credential shapes are masked in text."""
import json

import pytest

from ansible_collections.runbook.ops.plugins.plugin_utils._redact import (
    MASK,
    SECRET_VARIABLES,
    mask_shapes,
    mask_values,
    secret_values,
)


@pytest.fixture(autouse=True)
def no_secrets_in_env(monkeypatch):
    """Start each test from an environment that holds none of the runbook's secrets."""
    for name in SECRET_VARIABLES:
        monkeypatch.delenv(name, raising=False)


# ----- secret_values ---------------------------------------------------------------------------

def test_values_come_from_the_named_variables_and_extra(monkeypatch):
    monkeypatch.setenv("VERCEL_TOKEN", "vercel-token-0001")
    monkeypatch.setenv("NOT_LISTED", "plain-value-0001")
    assert secret_values(["VERCEL_TOKEN"], extra=["db-pass-0001"]) == ["vercel-token-0001", "db-pass-0001"]


def test_a_dsn_gives_its_password_as_written_and_decoded(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:p%40ss%2Fw0rd@db.internal:5432/shop")
    values = secret_values()
    assert "postgresql://app:p%40ss%2Fw0rd@db.internal:5432/shop" in values
    assert "p%40ss%2Fw0rd" in values and "p@ss/w0rd" in values


def test_values_are_stripped_longest_first_and_short_ones_dropped(monkeypatch):
    monkeypatch.setenv("PGPASSWORD", "  hunter22\n")
    monkeypatch.setenv("VERCEL_TOKEN", "abc")  # would mask ordinary words
    monkeypatch.setenv("PAGERDUTY_API_TOKEN", "")
    values = secret_values(extra=["hunter22-and-more", "xy"])
    assert values == ["hunter22-and-more", "hunter22"]


def test_no_secrets_set_gives_no_values():
    assert secret_values() == []


# ----- mask_values -----------------------------------------------------------------------------

def test_a_secret_is_masked_wherever_it_stands():
    text = "token s3cr3t-v4lue in the URL https://x.example/?k=s3cr3t-v4lue and again s3cr3t-v4lue"
    masked = mask_values(text, ["s3cr3t-v4lue"])
    assert "s3cr3t-v4lue" not in masked and masked.count(MASK) == 3


def test_a_secret_is_masked_inside_json_too():
    secret = 'quote"back\\slash-ü'
    text = json.dumps({"cmd": f"login {secret}"}, ensure_ascii=False)
    masked = mask_values(text, [secret])
    assert json.loads(masked) == {"cmd": f"login {MASK}"}


def test_a_secret_containing_another_is_masked_whole():
    dsn = "postgresql://app:hunter22@db/shop"
    masked = mask_values(f"dsn={dsn} pw=hunter22", secret_values(extra=[dsn, "hunter22"]))
    assert masked == f"dsn={MASK} pw={MASK}"


# ----- mask_shapes -----------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("postgresql://u:pw@h/db", f"postgresql://u:{MASK}@h/db"),
    ("connect postgres://app:p%40ss@db.internal:5432/shop failed",
     f"connect postgres://app:{MASK}@db.internal:5432/shop failed"),
    ("Authorization: Bearer abcdefghijkl", f"Authorization: Bearer {MASK}"),
    ("Authorization: Basic dXNlcjpwYXNzd29yZA==", f"Authorization: Basic {MASK}"),
    ("Authorization: OAuth 0123456789abcdef", f"Authorization: OAuth {MASK}"),
    ("Authorization: Token token=y_NbAkKc66ryYTWUXYEu", f"Authorization: Token token={MASK}"),
    ("password=hunter22", f"password={MASK}"),
    ("login failed: password=hunter22&user=bob", f"login failed: password={MASK}&user=bob"),
    ('{"password": "hunter22", "user": "bob"}', f'{{"password": "{MASK}", "user": "bob"}}'),
    ("api_key: k-0001 routing-key=r-0002", f"api_key: {MASK} routing-key={MASK}"),
    ("https://hooks.slack.com/services/T0/B0/xyz", f"https://hooks.slack.com/services/{MASK}"),
    ("posting to https://hooks.slack.com/services/T0AB/B0CD/s3cr3t failed",
     f"posting to https://hooks.slack.com/services/{MASK} failed"),
    # The runbook's own variables, as a shell or a process listing shows them.
    ("PGPASSWORD=hunter22 pg_dump shop", f"PGPASSWORD={MASK} pg_dump shop"),
    ("export DB_PASSWORD=hunter22", f"export DB_PASSWORD={MASK}"),
    ("STATUS_PAGE_API_KEY=sp-key-0001", f"STATUS_PAGE_API_KEY={MASK}"),
    ('{"client_secret": "cs-0001"}', f'{{"client_secret": "{MASK}"}}'),
])
def test_credential_shapes_are_masked(text, expected):
    assert mask_shapes(text) == expected


@pytest.mark.parametrize("text", [
    "GET https://shop.example.com/api/health answered 200",
    "mail to alice@example.com about the password reset",
    "Bearer short",
    "https://hooks.example.com/services/T0/B0/xyz",
    "2026-12-04T21:30:00+09:00 web1 nginx[42]: upstream timed out",
])
def test_text_without_credentials_stays_as_it_is(text):
    assert mask_shapes(text) == text


def test_a_url_with_a_password_and_no_user_is_masked():
    assert mask_shapes("redis://:s3cretpw@cache:6379/0") == "redis://:********@cache:6379/0"


def test_the_password_of_a_dsn_given_as_a_value_is_masked_on_its_own():
    values = secret_values(names=[], extra=["postgresql://app:pa%40ss-word@db/shop"])
    assert mask_values("connecting with pa@ss-word", values) == "connecting with ********"
