"""The filter subset: what parses, what matches, and what is refused as invalidFilter."""

from __future__ import annotations

import pytest

from app.scim.errors import ScimError
from app.scim.filters import Condition, matches, parse_filter

USER = {"id": "u-1", "userName": "Bjensen@Example.com", "externalId": "Ext-1", "active": True,
        "emails": [{"value": "b@work.example", "type": "work"}, {"value": "b@home.example", "type": "home"}]}


@pytest.mark.parametrize(("text", "expected"), [
    ('userName eq "bjensen@example.com"', [Condition("username", "bjensen@example.com")]),
    ('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"', [Condition("username", "x")]),
    ('id eq "g" and members[value eq "u"]', [Condition("id", "g"), Condition("members.value", "u")]),
    ('emails[type eq "work" and value eq "a@b.c"]', [Condition("emails.type", "work"),
                                                     Condition("emails.value", "a@b.c")]),
    ('displayName eq "rock and roll"', [Condition("displayname", "rock and roll")]),
    ("active eq true", [Condition("active", True)]),
    ("", []),
])
def test_parse(text, expected):
    assert parse_filter(text) == expected


@pytest.mark.parametrize("text", [
    'userName sw "b"', "title pr", 'userName eq "a" or userName eq "b"', 'not (userName eq "a")',
    'userName eq "unclosed', "userName eq bare",
    'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "x"',
])
def test_refused(text):
    with pytest.raises(ScimError) as caught:
        parse_filter(text)
    assert caught.value.status == 400 and caught.value.scim_type == "invalidFilter"


def test_matching_is_case_insensitive_except_for_ids():
    assert matches(USER, parse_filter('userName eq "BJENSEN@example.COM"'))
    assert matches(USER, parse_filter('emails.value eq "B@HOME.example"'))
    assert matches(USER, parse_filter('externalId eq "Ext-1" and active eq true'))
    assert not matches(USER, parse_filter('externalId eq "ext-1"'))
    assert not matches(USER, parse_filter('id eq "U-1"'))
    assert not matches(USER, parse_filter('userName eq "bjensen@example.com" and active eq false'))
