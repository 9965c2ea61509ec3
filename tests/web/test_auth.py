"""Service tokens (memberflow.web.auth): the file of hashed tokens the workers read, the tenant a token
answers for, and a token added or revoked while a worker runs."""

from __future__ import annotations

from types import SimpleNamespace

from memberflow.web.auth import (
    ServiceTokens,
    add_token,
    caller_tenant,
    new_token,
    read_tokens,
    revoke_token,
    secret_hash,
)


def request(token: str | None) -> SimpleNamespace:
    return SimpleNamespace(headers={"Authorization": f"Bearer {token}"} if token else {})


def test_the_file_holds_the_secret_s_hash_never_the_secret(tmp_path):
    path = tmp_path / "tokens.jsonl"
    token, stored = new_token("shop", "acme")
    add_token(path, stored)
    secret = token.split("_", 2)[2]
    assert secret not in path.read_text() and stored.secret_hash == secret_hash(secret)
    assert read_tokens(path) == [stored]


def test_a_tenant_token_answers_for_its_tenant_only(tmp_path):
    path = tmp_path / "tokens.jsonl"
    token, stored = new_token("shop", "acme")
    add_token(path, stored)
    tokens = ServiceTokens(path)
    assert caller_tenant(tokens, request(token), None) == ("acme", 200)
    assert caller_tenant(tokens, request(token), "acme") == ("acme", 200)
    assert caller_tenant(tokens, request(token), "default") == (None, 404)


def test_a_platform_token_names_the_tenant(tmp_path):
    path = tmp_path / "tokens.jsonl"
    token, stored = new_token("benefits", None)
    add_token(path, stored)
    tokens = ServiceTokens(path)
    assert caller_tenant(tokens, request(token), None) == ("default", 200)
    assert caller_tenant(tokens, request(token), "acme") == ("acme", 200)


def test_no_token_a_wrong_secret_or_no_file_is_401(tmp_path):
    path = tmp_path / "tokens.jsonl"
    token, stored = new_token("shop", "acme")
    assert caller_tenant(ServiceTokens(path), request(token), None) == (None, 401)  # no file yet
    add_token(path, stored)
    tokens = ServiceTokens(path)
    assert caller_tenant(tokens, request(None), None) == (None, 401)
    assert caller_tenant(tokens, request(token[:-1] + ("A" if token[-1] != "A" else "B")), None) == (None, 401)
    assert caller_tenant(tokens, request("mf_nothing"), None) == (None, 401)
    assert caller_tenant(tokens, SimpleNamespace(headers={"Authorization": f"Basic {token}"}), None) == (None, 401)


def test_tokens_added_and_revoked_take_effect_without_a_restart(tmp_path):
    path = tmp_path / "tokens.jsonl"
    first, stored = new_token("shop", "acme")
    add_token(path, stored)
    tokens = ServiceTokens(path)
    assert tokens.authenticate(first) is not None
    second, other = new_token("benefits", None)
    add_token(path, other)
    assert tokens.authenticate(second) == other
    assert revoke_token(path, stored.token_id) and not revoke_token(path, stored.token_id)
    assert tokens.authenticate(first) is None and tokens.authenticate(second) == other


def test_a_line_that_is_no_token_authenticates_nobody(tmp_path):
    path = tmp_path / "tokens.jsonl"
    token, stored = new_token("shop", "acme")
    add_token(path, stored)
    with path.open("a") as out:
        out.write('{"token_id": "x"}\nnot json\n')
    assert [t.token_id for t in read_tokens(path)] == [stored.token_id]
    assert ServiceTokens(path).authenticate(token) == stored
