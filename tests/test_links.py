from datetime import UTC, datetime, timedelta

import pytest

from rectify.links import BadLink, login_url, sign, verify

NOW = datetime(2024, 1, 31, 1, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def test_it_signs_and_reads_back_a_person() -> None:
    token = sign("s3cret", 42, now=NOW, max_age=14 * DAY)
    assert verify("s3cret", token, now=NOW + 13 * DAY) == 42


def test_it_refuses_an_expired_link() -> None:
    token = sign("s3cret", 42, now=NOW, max_age=14 * DAY)
    with pytest.raises(BadLink, match="expired"):
        verify("s3cret", token, now=NOW + 15 * DAY)


@pytest.mark.parametrize("mangle", [lambda t: t[:-2] + "xx", lambda t: "x" + t, lambda t: t.replace(".", "")])
def test_it_refuses_a_forged_link(mangle) -> None:
    token = sign("s3cret", 42, now=NOW, max_age=DAY)
    with pytest.raises(BadLink, match="not valid"):
        verify("s3cret", mangle(token), now=NOW)


def test_it_refuses_another_key_or_purpose() -> None:
    token = sign("s3cret", 42, now=NOW, max_age=DAY)
    with pytest.raises(BadLink):
        verify("other", token, now=NOW)
    with pytest.raises(BadLink):
        verify("s3cret", token, now=NOW, purpose="leader-signoff")


def test_it_builds_a_form_link() -> None:
    url = login_url("http://form.example/", "s3cret", 7, now=NOW, max_age=DAY, next_path="/findings/12")
    assert url.startswith("http://form.example/auth/") and url.endswith("?next=/findings/12")


def test_it_builds_many_links_of_one_person_that_each_verify() -> None:
    from urllib.parse import parse_qs, urlsplit

    from rectify.links import login_links

    link = login_links("http://form.example", "s3cret", 7, now=NOW, max_age=DAY)
    for path in ("/findings/1", "/findings/22"):
        parts = urlsplit(link(path))
        assert parse_qs(parts.query)["next"] == [path]
        assert verify("s3cret", parts.path.rsplit("/", 1)[1], now=NOW) == 7
    assert link("/findings/1") == login_url("http://form.example", "s3cret", 7, now=NOW, max_age=DAY,
                                            next_path="/findings/1")


def test_it_signs_the_same_tokens_as_stock_itsdangerous_and_reads_compressed_ones() -> None:
    """Links in mail already sent keep working: skipping the compression attempt changes no token."""
    from itsdangerous import URLSafeSerializer

    stock = URLSafeSerializer("s3cret", salt="rectify-link:login")
    token = sign("s3cret", 42, now=NOW, max_age=14 * DAY)
    assert token == stock.dumps(stock.loads(token))
    padded = stock.dumps({**stock.loads(token), "x": "整改" * 200})  # long enough that stock compresses it
    assert padded.startswith(".") and verify("s3cret", padded, now=NOW) == 42
