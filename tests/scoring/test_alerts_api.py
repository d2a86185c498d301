"""Alerts through the API: checked over ingest's daily measures, addressed to the parent, listed, filtered, acknowledged."""

from __future__ import annotations

from tests.support import auth, data_of, gql, problem

CHECK = """
mutation { checkAlerts(under: "GD-GZ", startDate: "2025-04-01", endDate: "2025-04-07", kind: "undertaking_unit") {
  problems { path code message } alerts { id unitId notifyUnitId firstDay lastDay detail } } }
"""
LIST = "query($ack: Boolean) { alerts(acknowledged: $ack) { id unitId acknowledgedBy acknowledgementNote } }"
ACK = 'mutation($id: ID!) { acknowledgeAlert(id: $id, note: "班长已约谈") { problems { path code message } alerts { acknowledgedAt } } }'


def satisfaction(measures, unit, day, satisfied, rated=100):
    measures.put(unit, day, {"surveys.satisfied": satisfied, "surveys.rated": rated})


async def test_three_bad_days_alert_the_parent(scoring, measures):
    for d in range(1, 8):
        day = f"2025-04-0{d}"
        for unit in ("UA", "UC", "UD"):
            satisfaction(measures, unit, day, 90)
        satisfaction(measures, "UB", day, 60 if 2 <= d <= 4 else 88)  # 60 % vs peers' 90 %: a third below
    organizer = auth("GD-GZ", "organizer")
    checked = data_of(await gql(scoring, CHECK, headers=organizer))["checkAlerts"]
    assert checked["problems"] == []
    [alert] = checked["alerts"]
    assert (alert["unitId"], alert["notifyUnitId"], alert["firstDay"], alert["lastDay"]) == (
        "UB",
        "GD-GZ",
        "2025-04-02",
        "2025-04-04",
    )
    assert [d["gap"] for d in alert["detail"]["days"]] == [0.333333] * 3
    # Checking again does not duplicate it.
    assert len(data_of(await gql(scoring, CHECK, headers=organizer))["checkAlerts"]["alerts"]) == 1
    assert [a["unitId"] for a in data_of(await gql(scoring, LIST, {"ack": False}, headers=organizer))["alerts"]] == [
        "UB"
    ]
    # Addressed to the parent: the other city and the unit itself do not see it.
    assert data_of(await gql(scoring, LIST, {}, headers=auth("GD-SZ", "organizer")))["alerts"] == []
    assert data_of(await gql(scoring, LIST, {}, headers=auth("UB", "unit")))["alerts"] == []
    assert data_of(await gql(scoring, ACK, {"id": alert["id"]}, headers=auth("GD-SZ", "organizer")))[
        "acknowledgeAlert"
    ]["problems"] == [problem("id", "not_found", "alert not found")]
    acked = data_of(await gql(scoring, ACK, {"id": alert["id"]}, headers=organizer))["acknowledgeAlert"]
    assert acked["problems"] == [] and acked["alerts"][0]["acknowledgedAt"]
    assert data_of(await gql(scoring, LIST, {"ack": False}, headers=organizer))["alerts"] == []
    [done] = data_of(await gql(scoring, LIST, {"ack": True}, headers=auth("GD", "viewer")))["alerts"]
    assert done["acknowledgementNote"] == "班长已约谈"


async def test_checking_alerts_needs_the_organizer_role_and_a_unit_in_scope(scoring, measures):
    refused = data_of(await gql(scoring, CHECK, headers=auth("GD-GZ", "viewer")))["checkAlerts"]
    assert refused["problems"] == [problem("", "forbidden", "checking alerts needs the role organizer or admin")]
    outside = data_of(await gql(scoring, CHECK, headers=auth("GD-SZ", "organizer")))["checkAlerts"]
    assert outside["problems"] == [problem("under", "unknown_unit", "GD-GZ is unknown or outside your scope")]
    # Every problem at once, each naming its argument.
    bad = """mutation { checkAlerts(under: "GD-SZ", startDate: "2025-04-07", endDate: "2025-04-01", rule: "x") {
      problems { path code message } alerts { id } } }"""
    everything = data_of(await gql(scoring, bad, headers=auth("GD-GZ", "organizer")))["checkAlerts"]
    assert [(p["path"], p["code"]) for p in everything["problems"]] == [
        ("rule", "unknown_rule"),
        ("endDate", "invalid_range"),
        ("under", "unknown_unit"),
    ]


async def test_the_scheduled_sweep_checks_the_whole_tree_without_being_asked(scoring_app, scoring, measures):
    from datetime import date

    from services.scoring import alert_service

    for d in range(1, 8):
        day = f"2025-04-0{d}"
        for unit in ("UA", "UC", "UD"):
            satisfaction(measures, unit, day, 90)
        satisfaction(measures, "UB", day, 60 if 2 <= d <= 4 else 88)
    state = scoring_app.state
    stored = await alert_service.sweep(state.database, state.services, state.directory, today=date(2025, 4, 8))
    assert stored["GD"] >= 1
    listed = data_of(await gql(scoring, LIST, {"ack": False}, headers=auth("GD-GZ", "organizer")))["alerts"]
    assert [a["unitId"] for a in listed] == ["UB"]
    # A second sweep over the same days adds nothing.
    await alert_service.sweep(state.database, state.services, state.directory, today=date(2025, 4, 8))
    again = data_of(await gql(scoring, LIST, {"ack": False}, headers=auth("GD-GZ", "organizer")))["alerts"]
    assert len(again) == 1
