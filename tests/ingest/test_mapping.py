"""Column mappings without a database: durations, conditional fields, skipped rows, and the checks of a mapping."""

from __future__ import annotations

import csv
from importlib import resources

import pytest

from services.ingest.mapping import ColumnMapping, check_mapping, duration_seconds
from services.ingest.validation import FieldError

BANK = resources.files("services.ingest").joinpath("demo/data/bank_calls_1999-02_every8th.tsv")
CALL_FIELDS = {
    "record_id": {"column": "id"},
    "unit_id": {"value": "GZ-T1"},
    "started_at": {"column": "at"},
    "direction": {"value": "inbound"},
    "outcome": {"value": "answered"},
}


def _bank_rows() -> list[dict[str, str]]:
    with BANK.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def _clock_seconds(text: str) -> int:
    """The test's own reading of the log's H:MM:SS: hours, minutes, seconds."""
    hours, minutes, seconds = text.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + int(seconds)


def test_durations_read_the_bank_logs_clock_columns_as_the_log_itself_counts_them():
    """The bank log writes its times H:MM:SS and also gives each stage's length in seconds. Read as durations
    (seconds since midnight) by a mapping, every row's times equal the hand-computed seconds, and their differences
    equal the log's own second counts — on every row of the file, not a sample."""
    mapping = ColumnMapping(
        {
            "kind": "call",
            "delimiter": "\t",
            "fields": {
                **CALL_FIELDS,
                "ivr_seconds": {"column": "vru_entry", "duration": "hh:mm:ss"},
                "queue_seconds": {"column": "vru_exit", "duration": "hh:mm:ss"},
                "ring_seconds": {"column": "ser_start", "duration": True},
                "talk_seconds": {"column": "ser_exit", "duration": "hh:mm:ss"},
            },
        }
    )
    rows = _bank_rows()
    served = 0
    for row in rows:
        mapped = mapping.apply({**row, "id": row["call_id"], "at": "1999-02-01 00:00:00"})
        assert mapped["ivr_seconds"] == _clock_seconds(row["vru_entry"])
        assert mapped["talk_seconds"] == _clock_seconds(row["ser_exit"])
        assert mapped["queue_seconds"] - mapped["ivr_seconds"] == int(row["vru_time"])
        if row["outcome"] == "AGENT":  # served: the service's end less its start is the log's talk seconds
            assert mapped["talk_seconds"] - mapped["ring_seconds"] == int(row["ser_time"])
            served += 1
    assert len(rows) == 4168 and served == 3371


@pytest.mark.parametrize(
    ("text", "form", "seconds"),
    [
        ("0:03:25", "hh:mm:ss", 205), ("12:00:00", "hh:mm:ss", 43200), ("100:00:01", "hh:mm:ss", 360001),
        ("03:25", "mm:ss", 205), ("95:07", "mm:ss", 5707), ("0:00", "mm:ss", 0), ("0:03:25.5", "hh:mm:ss", 205.5),
        ("1:02:03", True, 3723), ("02:03", True, 123),
    ],
)  # fmt: skip
def test_a_duration_is_read_into_seconds(text, form, seconds):
    assert duration_seconds("talk_seconds", text, form) == seconds


@pytest.mark.parametrize(
    ("text", "form"),
    [
        ("3:25", "hh:mm:ss"), ("0:3:25", "hh:mm:ss"), ("0:60:00", "hh:mm:ss"), ("1:00:60", "hh:mm:ss"),
        ("1:02:03", "mm:ss"), ("1:75", "mm:ss"), ("95", "mm:ss"), ("-1:00", "mm:ss"), ("１:00", "mm:ss"),
        ("1:2:3:4", True), ("abc", True), ("1:00:", True),
    ],
)  # fmt: skip
def test_a_value_not_in_the_duration_form_is_refused_with_the_form_expected(text, form):
    with pytest.raises(FieldError) as caught:
        duration_seconds("talk_seconds", text, form)
    assert caught.value.field == "talk_seconds" and caught.value.value == text
    expected = {"hh:mm:ss": "hh:mm:ss", "mm:ss": "mm:ss", True: "hh:mm:ss"}[form]
    assert str(caught.value).startswith("not a duration written " + expected)


def test_a_field_takes_its_value_only_when_its_condition_holds():
    mapping = ColumnMapping(
        {
            "kind": "work_order",
            "null_values": ["", "-"],
            "fields": {
                "record_id": {"column": "id"},
                "unit_id": {"value": "GD-GZ"},
                "received_at": {"column": "opened"},
                "channel": {"value": "phone"},
                "closed_at": {"column": "closed", "when": {"column": "Status", "equals": "Closed"}},
                "on_time": {"column": "verdict", "map": {"ONTIME": "true"}, "when": {"column": "due", "empty": False}},
                "category": {
                    "column": "kind",
                    "when": [{"column": "Status", "in": ["Closed", "Open"]}, {"column": "kind", "not_in": ["spam"]}],
                },
                "status": {"value": "closed", "when": {"column": "Status", "not_equals": "Open"}, "default": "open"},
            },
        }
    )
    row = {"id": "1", "opened": "2025-01-01 09:00", "closed": "2025-01-02 09:00", "Status": " Closed ",
           "verdict": "ONTIME", "due": "2025-01-03", "kind": "road"}  # fmt: skip
    assert mapping.apply(row) == {
        "record_id": "1", "unit_id": "GD-GZ", "received_at": "2025-01-01 09:00", "channel": "phone",
        "closed_at": "2025-01-02 09:00", "on_time": "true", "category": "road", "status": "closed",
    }  # fmt: skip
    # Open: no closing time, and the constant's condition fails, so its default applies
    opened = mapping.apply({**row, "Status": "Open"})
    assert opened["closed_at"] is None and opened["status"] == "open" and opened["category"] == "road"
    # a due date given as one of the mapping's null values is empty: no verdict taken
    assert mapping.apply({**row, "due": " - "})["on_time"] is None
    # every condition of a list must hold
    assert mapping.apply({**row, "kind": "spam"})["category"] is None
    assert mapping.apply({**row, "Status": "Withdrawn"})["category"] is None
    assert mapping.source_columns() >= {"Status", "due", "kind"}  # the header must hold the tested columns


def test_skip_when_and_keep_when_leave_rows_out():
    mapping = ColumnMapping(
        {
            "kind": "call",
            "skip_when": {"column": "outcome", "equals": "PHANTOM"},
            "keep_when": {"column": "line", "in": ["AA01", "AA02"]},
            "fields": CALL_FIELDS,
        }
    )
    assert not mapping.skips({"outcome": "AGENT", "line": "AA01"})
    assert mapping.skips({"outcome": "PHANTOM", "line": "AA01"})
    assert mapping.skips({"outcome": "AGENT", "line": "AA03"})
    assert mapping.skips({"outcome": "AGENT"})  # no line: not in the kept list
    assert mapping.missing_columns(["id", "at", "outcome"]) == ["line"]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"talk_seconds": {"column": "t", "duration": "hh:mm"}},
         "talk_seconds: duration must be one of 'hh:mm:ss', 'mm:ss' or true (either)"),
        ({"answered_at": {"column": "t", "duration": True}},
         "answered_at: duration reads seconds into a number field; answered_at is timestamp"),
        ({"talk_seconds": {"column": "t", "duration": True, "format": "%H:%M:%S"}},
         "talk_seconds: give format (dates) or duration (seconds), not both"),
        ({"ended_at": {"column": "t", "when": {"column": "s", "equal": "x"}}},
         "ended_at: when: a condition has exactly one test of: equals, not_equals, in, not_in, empty"),
        ({"ended_at": {"column": "t", "when": {"equals": "x"}}},
         "ended_at: when: a condition names the source column it tests (column)"),
        ({"ended_at": {"column": "t", "when": {"column": "s", "in": []}}},
         "ended_at: when: in takes a non-empty list of values as text"),
        ({"ended_at": {"column": "t", "when": {"column": "s", "equals": 2}}},
         'ended_at: when: equals takes the column\'s value as text, e.g. "Closed"'),
        ({"ended_at": {"column": "t", "when": []}}, "ended_at: when: give at least one condition"),
        ({"ended_at": {"column": "t", "when": {"column": "s", "empty": "yes"}}},
         "ended_at: when: empty takes true or false"),
    ],
)  # fmt: skip
def test_a_mapping_with_a_bad_duration_or_condition_is_refused_with_every_problem(change, problem):
    assert check_mapping({"kind": "call", "fields": {**CALL_FIELDS, **change}}) == [problem]


def test_a_bad_skip_condition_is_refused():
    problems = check_mapping({"kind": "call", "skip_when": "PHANTOM", "keep_when": [{"column": "x", "not_in": "y"}],
                              "fields": CALL_FIELDS})  # fmt: skip
    assert problems == [
        'skip_when: a condition is an object such as {"column": "Status", "equals": "Closed"}',
        "keep_when: not_in takes a non-empty list of values as text",
    ]
