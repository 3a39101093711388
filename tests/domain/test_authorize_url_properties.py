"""Property-based: any valid input gives a URL that parses back to exactly the intended
parameters, and any input at all gives either that or a clear validation error."""

from urllib.parse import parse_qsl, quote, urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.authorize_url import (
    SERVICE_PARAMETERS,
    build_authorize_url,
    parse_authorization_request,
)
from domain.errors import DomainError
from domain.scopes import ScopeSeparator

SCOPE_ALPHABET = st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters='"\\')
scope_tokens = st.text(SCOPE_ALPHABET, min_size=1, max_size=20)
free_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20)
param_names = free_text.filter(
    lambda n: n and n not in SERVICE_PARAMETERS and n != "approval_prompt"
)
prompt_values = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="+"),
    min_size=1,
    max_size=10,
).filter(lambda v: v != "none")
hosts = st.sampled_from(
    ["provider.example.com", "127.0.0.1:9000", "[2001:db8::1]", "a-b.c.io:8443"]
)
paths = st.lists(st.text("abcXYZ019-._~%2F", max_size=8), max_size=3).map(
    lambda segments: "/" + "/".join(segments)
)


def form_encode(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{quote(n, safe='')}={quote(v, safe='')}" for n, v in pairs)


@settings(max_examples=300, deadline=None)
@given(
    host=hosts,
    path=paths,
    own_query=st.lists(st.tuples(param_names, free_text), max_size=3),
    client_id=st.text(
        st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=30
    ),
    scopes=st.lists(scope_tokens, max_size=6),
    separator=st.sampled_from(list(ScopeSeparator)),
    prompt=st.one_of(st.none(), st.lists(prompt_values, min_size=1, max_size=3)),
    plus=st.booleans(),
    extras=st.lists(st.tuples(param_names, free_text), max_size=5),
    disable_offline=st.booleans(),
    pkce=st.booleans(),
)
def test_every_built_url_parses_back_to_exactly_the_expected_parameters(
    host: str,
    path: str,
    own_query: list[tuple[str, str]],
    client_id: str,
    scopes: list[str],
    separator: ScopeSeparator,
    prompt: list[str] | None,
    plus: bool,
    extras: list[tuple[str, str]],
    disable_offline: bool,
    pkce: bool,
) -> None:
    if separator is ScopeSeparator.COMMA:
        scopes = [s.replace(",", "") or "x" for s in scopes]
    scheme = "http" if host.startswith("127.") else "https"
    authorize_url = f"{scheme}://{host}{path}" + (f"?{form_encode(own_query)}" if own_query else "")
    request = parse_authorization_request(
        authorize_url=authorize_url,
        client_id=client_id,
        scopes=scopes,
        prompt=("+" if plus else " ").join(prompt) if prompt else None,
        additional_params=form_encode(extras),
        disable_offline_access=disable_offline,
        scope_separator=separator,
    )
    url = build_authorize_url(
        request,
        redirect_uri="http://127.0.0.1:8000/oauth2/callback",
        state="s" * 22,
        code_challenge="c" * 43 if pkce else None,
    )

    assert url.startswith(authorize_url)
    expected_scopes = list(dict.fromkeys(scopes))
    if not disable_offline and "offline_access" not in expected_scopes:
        expected_scopes.append("offline_access")
    expected = [
        *own_query,
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", "http://127.0.0.1:8000/oauth2/callback"),
    ]
    if expected_scopes:
        expected.append(("scope", separator.value.join(expected_scopes)))
    expected.append(("state", "s" * 22))
    expected.append(("prompt", " ".join(prompt) if prompt else "login"))
    if pkce:
        expected += [("code_challenge", "c" * 43), ("code_challenge_method", "S256")]
    expected += extras
    assert parse_qsl(urlsplit(url).query, keep_blank_values=True) == expected
    names = [n for n, _ in expected]
    assert all(names.count(n) == 1 for n in SERVICE_PARAMETERS if n in names)


@settings(max_examples=500, deadline=None)
@given(
    authorize_url=st.one_of(
        free_text,
        st.text("htps:/[]:@#?&=%.1a", max_size=30),
        free_text.map(lambda t: "https://p.example.com/a?" + t),
    ),
    client_id=free_text,
    scopes=st.lists(free_text, max_size=4),
    prompt=st.one_of(st.none(), free_text),
    additional=st.one_of(st.none(), free_text, st.text("ab=&%+2F0zé", max_size=20)),
    separator=st.sampled_from(list(ScopeSeparator)),
    disable_offline=st.booleans(),
)
def test_arbitrary_input_gives_a_url_or_a_clear_error_never_a_crash(
    authorize_url: str,
    client_id: str,
    scopes: list[str],
    prompt: str | None,
    additional: str | None,
    separator: ScopeSeparator,
    disable_offline: bool,
) -> None:
    try:
        request = parse_authorization_request(
            authorize_url=authorize_url,
            client_id=client_id,
            scopes=scopes,
            prompt=prompt,
            additional_params=additional,
            disable_offline_access=disable_offline,
            scope_separator=separator,
        )
    except DomainError as exc:
        assert exc.fields, "every validation error names the offending fields"
        assert all(f.message for f in exc.fields)
        return
    url = build_authorize_url(
        request, redirect_uri="https://x.example/cb", state="st", code_challenge=None
    )
    query = parse_qsl(urlsplit(url).query, keep_blank_values=True)
    assert [v for n, v in query if n == "state"] == ["st"]
    assert [v for n, v in query if n == "client_id"] == [client_id]
