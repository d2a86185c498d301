"""The one reader of scheme references that indicators and scoring share."""

from __future__ import annotations

import pytest

from hotline.domain.scheme_ref import SchemeRef, SchemeRefError, parse_scheme_ref

SID = "5f0c0000-0000-4000-8000-000000000001"


def test_both_forms_and_the_version_argument():
    assert parse_scheme_ref(SID) == SchemeRef(SID, None)
    assert parse_scheme_ref(SID, 3) == SchemeRef(SID, 3)
    assert parse_scheme_ref(f"{SID}:2") == SchemeRef(SID, 2)
    assert parse_scheme_ref(f"{SID}:2", 2) == SchemeRef(SID, 2)
    assert parse_scheme_ref(f"{SID}:999999999") == SchemeRef(SID, 999999999)


def test_a_conflict_names_both_versions_and_the_argument():
    with pytest.raises(SchemeRefError) as caught:
        parse_scheme_ref(f"{SID}:2", 3, version_name="schemeVersion")
    assert caught.value.code == "version_conflict"
    assert (
        caught.value.message
        == "the id names version 2 but schemeVersion is 3: give the version once, or the same twice"
    )


@pytest.mark.parametrize(
    "value",
    ["", " ", f"{SID}:", f"{SID}:0", f"{SID}:-1", f"{SID}:01", f"{SID}:1.0", f"{SID}:1:2", f"{SID} :1",
     f"{SID}:1234567890", ":1", "a b"],
)  # fmt: skip
def test_malformed_references_are_refused_with_the_accepted_forms(value):
    with pytest.raises(SchemeRefError) as caught:
        parse_scheme_ref(value)
    assert caught.value.code == "invalid_id"
    assert "`<scheme id>` or `<scheme id>:<version>`" in caught.value.message


def test_a_long_reference_is_shortened_in_the_message():
    with pytest.raises(SchemeRefError) as caught:
        parse_scheme_ref("x" * 500 + ":y")
    assert len(caught.value.message) < 200
