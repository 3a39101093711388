"""The authorize URL policy, rule by rule (issue 2, rules 1-5 and 9)."""

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from domain.authorize_url import (
    AuthorizationRequest,
    build_authorize_url,
    parse_authorization_request,
)
from domain.errors import InvalidInput, ParameterConflict
from domain.scopes import ScopeSeparator

REDIRECT = "https://connect.example.org/oauth2/callback"
STATE = "c3RhdGUtdmFsdWU"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def parse(**overrides: Any) -> AuthorizationRequest:
    args: dict[str, Any] = {
        "authorize_url": "https://provider.example.com/oauth/authorize",
        "client_id": "client-123",
        "scopes": ["openid", "email"],
        "prompt": None,
        "additional_params": None,
        "disable_offline_access": False,
        "scope_separator": ScopeSeparator.SPACE,
    }
    args.update(overrides)
    return parse_authorization_request(**args)


def build(request: AuthorizationRequest, challenge: str | None = CHALLENGE) -> str:
    return build_authorize_url(
        request, redirect_uri=REDIRECT, state=STATE, code_challenge=challenge
    )


def params(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query, keep_blank_values=True, strict_parsing=True)


def test_url_carries_every_service_parameter_exactly_once() -> None:
    url = build(parse())
    assert params(url) == [
        ("response_type", "code"),
        ("client_id", "client-123"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid email offline_access"),
        ("state", STATE),
        ("prompt", "login"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]


def test_without_pkce_there_is_no_challenge() -> None:
    names = [name for name, _ in params(build(parse(), challenge=None))]
    assert "code_challenge" not in names
    assert "code_challenge_method" not in names


def test_authorize_url_scheme_host_port_path_and_query_are_kept_exactly() -> None:
    original = "https://Provider.Example.com:8443/a/b%2Fc/authorize?tenant=x%20y&flag&a=1"
    url = build(parse(authorize_url=original))
    assert url.startswith(original + "&response_type=code&")


def test_authorize_url_ending_with_question_mark_or_ampersand_gets_no_extra_separator() -> None:
    assert build(parse(authorize_url="https://p.example.com/auth?")).startswith(
        "https://p.example.com/auth?response_type=code"
    )
    assert build(parse(authorize_url="https://p.example.com/auth?a=1&")).startswith(
        "https://p.example.com/auth?a=1&response_type=code"
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://provider.example.com/auth", "https"),
        ("ftp://provider.example.com/auth", "absolute https"),
        ("/oauth/authorize", "absolute https"),
        ("provider.example.com/auth", "absolute https"),
        ("https:///auth", "host"),
        ("https://user:pw@provider.example.com/auth", "user-info"),
        ("https://provider.example.com/auth#frag", "fragment"),
        ("https://provider.example.com/auth#", "fragment"),
        ("https://provider.example.com:99999/auth", "port"),
        ("https://provider.example.com:x/auth", "port"),
        ("https://provider example.com/auth", "printable ASCII"),
        ("https://provider.example.com/é", "printable ASCII"),
        ("https://bad_host!.com/auth", "host"),
        ("https://[::zz]/auth", "host"),
        ("https://provider.example.com/" + "a" * 2100, "at most 2048"),
    ],
)
def test_invalid_authorize_urls_are_refused_with_a_reason(url: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse(authorize_url=url)
    assert [f.field for f in caught.value.fields] == ["authorizeUrl"]
    assert message in caught.value.fields[0].message


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:8080/auth",
        "http://127.0.0.1/auth",
        "http://127.1.2.3:9000/auth",
        "http://[::1]:9000/auth",
        "http://app.localhost/auth",
        "HTTPS://provider.example.com/auth",
        "https://[2001:db8::1]/auth",
    ],
)
def test_http_is_accepted_for_loopback_hosts_only(url: str) -> None:
    assert build(parse(authorize_url=url)).startswith(url + "?")


@pytest.mark.parametrize(
    "name",
    [
        "response_type",
        "client_id",
        "redirect_uri",
        "state",
        "scope",
        "prompt",
        "code_challenge",
        "code_challenge_method",
    ],
)
def test_service_parameter_in_authorize_url_query_is_a_conflict(name: str) -> None:
    with pytest.raises(ParameterConflict) as caught:
        parse(authorize_url=f"https://p.example.com/auth?x=1&{name}=evil")
    assert caught.value.fields[0].field == "authorizeUrl"
    assert name in caught.value.message


def test_percent_encoded_service_parameter_name_in_query_is_still_a_conflict() -> None:
    with pytest.raises(ParameterConflict):
        parse(authorize_url="https://p.example.com/auth?%73tate=x")


def test_scopes_are_deduplicated_keeping_first_and_offline_access_appended() -> None:
    request = parse(scopes=["b", "a", "b", "c", "a"])
    assert request.scopes == ("b", "a", "c", "offline_access")


def test_offline_access_already_present_keeps_its_place() -> None:
    assert parse(scopes=["offline_access", "a"]).scopes == ("offline_access", "a")


def test_offline_access_disabled_is_not_added() -> None:
    assert parse(scopes=["a"], disable_offline_access=True).scopes == ("a",)


def test_no_scopes_left_means_no_scope_parameter() -> None:
    url = build(parse(scopes=[], disable_offline_access=True))
    assert "scope" not in dict(params(url))


def test_comma_separator_joins_scopes_with_commas() -> None:
    request = parse(scopes=["read", "write"], scope_separator=ScopeSeparator.COMMA)
    assert dict(params(build(request)))["scope"] == "read,write,offline_access"


def test_scope_containing_comma_is_refused_with_comma_separator() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse(scopes=["ok", "a,b"], scope_separator=ScopeSeparator.COMMA)
    assert [f.field for f in caught.value.fields] == ["scopes[1]"]


@pytest.mark.parametrize("scope", ["", "has space", 'quo"te', "back\\slash", "tab\t", "é"])
def test_invalid_scope_tokens_are_refused_naming_the_entry(scope: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse(scopes=["fine", scope])
    assert [f.field for f in caught.value.fields] == ["scopes[1]"]


def test_url_scopes_are_accepted_verbatim() -> None:
    scope = "https://www.googleapis.com/auth/gmail.readonly"
    assert dict(params(build(parse(scopes=[scope]))))["scope"] == f"{scope} offline_access"


def test_too_many_scopes_are_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse(scopes=[f"s{i}" for i in range(101)])
    assert "at most 100" in caught.value.fields[0].message


@pytest.mark.parametrize(
    ("prompt", "sent"),
    [
        ("consent", "consent"),
        ("consent+select_account", "consent select_account"),
        ("consent select_account", "consent select_account"),
        ("none", "none"),
        ("custom_future_value", "custom_future_value"),
    ],
)
def test_prompt_is_kept_with_plus_meaning_space(prompt: str, sent: str) -> None:
    assert dict(params(build(parse(prompt=prompt))))["prompt"] == sent


@pytest.mark.parametrize("prompt", ["consent++login", "+consent", "consent+", "none+login", "a\tb"])
def test_malformed_prompts_are_refused(prompt: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse(prompt=prompt)
    assert caught.value.fields[0].field == "prompt"


def test_prompt_defaults_to_login() -> None:
    assert dict(params(build(parse(prompt=None))))["prompt"] == "login"


def test_empty_strings_count_as_absent() -> None:
    assert build(parse(prompt="", additional_params="")) == build(parse())


def test_approval_prompt_in_additional_params_removes_the_default_prompt() -> None:
    url = build(parse(additional_params="access_type=offline&approval_prompt=force"))
    query = params(url)
    assert "prompt" not in dict(query)
    assert query[-2:] == [("access_type", "offline"), ("approval_prompt", "force")]


def test_approval_prompt_in_authorize_url_also_removes_the_default_prompt() -> None:
    url = build(parse(authorize_url="https://p.example.com/auth?approval_prompt=force"))
    assert "prompt" not in dict(params(url))


def test_explicit_prompt_with_approval_prompt_is_a_conflict() -> None:
    with pytest.raises(ParameterConflict) as caught:
        parse(prompt="consent", additional_params="approval_prompt=force")
    assert caught.value.fields[0].field == "prompt"


def test_prompt_in_additional_params_replaces_the_default() -> None:
    query = params(build(parse(additional_params="prompt=consent&x=1")))
    assert [v for n, v in query if n == "prompt"] == ["consent"]


def test_prompt_in_additional_params_with_explicit_prompt_is_a_conflict() -> None:
    with pytest.raises(ParameterConflict) as caught:
        parse(prompt="login", additional_params="prompt=consent")
    assert caught.value.fields[0].field == "additionalParams"
    assert "prompt" in caught.value.message


def test_prompt_twice_in_additional_params_is_a_conflict() -> None:
    with pytest.raises(ParameterConflict):
        parse(additional_params="prompt=consent&prompt=login")


def test_prompt_with_approval_prompt_in_additional_params_is_a_conflict() -> None:
    with pytest.raises(ParameterConflict):
        parse(additional_params="prompt=consent&approval_prompt=force")


@pytest.mark.parametrize(
    "name", ["response_type", "client_id", "redirect_uri", "state", "scope", "code_challenge"]
)
def test_service_parameter_in_additional_params_is_a_conflict_naming_it(name: str) -> None:
    with pytest.raises(ParameterConflict) as caught:
        parse(additional_params=f"a=1&{name}=x")
    assert caught.value.fields[0].field == "additionalParams"
    assert f"'{name}'" in caught.value.fields[0].message
    assert name in caught.value.message


@pytest.mark.parametrize(
    ("name", "stands_for"),
    [
        ("State", "state"),
        ("SCOPE", "scope"),
        ("redirect.uri", "redirect_uri"),
        ("redirect uri", "redirect_uri"),
        ("redirect[uri", "redirect_uri"),
        ("client_id[]", "client_id"),
        ("Code.Challenge", "code_challenge"),
    ],
)
def test_names_a_provider_could_read_as_a_service_parameter_are_conflicts(
    name: str, stands_for: str
) -> None:
    encoded = name.replace(" ", "%20").replace("[", "%5B").replace("]", "%5D")
    for kwargs in (
        {"additional_params": f"{encoded}=x"},
        {"authorize_url": f"https://provider.example.com/authorize?{encoded}=x"},
    ):
        with pytest.raises(ParameterConflict) as caught:
            parse(**kwargs)
        (conflict,) = caught.value.fields
        assert f"'{stands_for}'" in conflict.message


@pytest.mark.parametrize("name", ["request", "request_uri", "response_mode", "Response.Mode"])
def test_request_objects_and_other_response_modes_are_refused(name: str) -> None:
    with pytest.raises(ParameterConflict, match="conflict"):
        parse(additional_params=f"{name}=x")
    with pytest.raises(ParameterConflict):
        parse(authorize_url=f"https://provider.example.com/authorize?{name}=x")


def test_a_semicolon_separated_authorize_query_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse(authorize_url="https://provider.example.com/authorize?tenant=a;state=b")
    assert "'&', not ';'" in caught.value.fields[0].message


def test_other_names_keep_their_spelling() -> None:
    query = params(build(parse(additional_params="Tenant.Id=1&resource.x=2")))
    assert query[-2:] == [("Tenant.Id", "1"), ("resource.x", "2")]


def test_repeated_additional_params_are_kept_in_order() -> None:
    extra = "resource=https%3A%2F%2Fa.example&x=1&resource=https%3A%2F%2Fb.example"
    query = params(build(parse(additional_params=extra)))
    assert query[-3:] == [
        ("resource", "https://a.example"),
        ("x", "1"),
        ("resource", "https://b.example"),
    ]


def test_additional_values_decode_to_exactly_what_was_sent() -> None:
    extra = "a=%2B%20+%26%3D%25&b=&c&d=%E2%9C%93&e=x%2Fy"
    query = params(build(parse(additional_params=extra)))
    assert query[-5:] == [("a", "+  &=%"), ("b", ""), ("c", ""), ("d", "✓"), ("e", "x/y")]


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ("a=%zz", "percent-encoding"),
        ("a=%4", "percent-encoding"),
        ("a=1&=2", "empty parameter name"),
        ("a=%FF%FE", "UTF-8"),
    ],
)
def test_malformed_additional_params_are_refused(extra: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse(additional_params=extra)
    assert caught.value.fields[0].field == "additionalParams"
    assert reason in caught.value.fields[0].message


@pytest.mark.parametrize("client_id", ["", "tab\there", "é-client", "x" * 513])
def test_invalid_client_ids_are_refused(client_id: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse(client_id=client_id)
    assert caught.value.fields[0].field == "clientId"


def test_every_offending_field_is_reported_at_once() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse(authorize_url="http://x.example.com", client_id="", scopes=["ok", " "], prompt="+")
    fields = {f.field for f in caught.value.fields}
    assert fields == {"authorizeUrl", "clientId", "scopes[1]", "prompt"}


def test_invalid_input_is_reported_before_conflicts() -> None:
    with pytest.raises(InvalidInput):
        parse(client_id="", additional_params="state=x")
