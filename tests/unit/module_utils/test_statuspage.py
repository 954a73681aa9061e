"""StatuspageClient against the Statuspage fake, with a fake clock so no rate limit is really waited for."""
import pytest

from ansible_collections.runbook.ops.plugins.module_utils._http import APIError
from ansible_collections.runbook.ops.plugins.module_utils._statuspage import (
    StatuspageClient,
    carries,
    incident_kind,
    incidents_carrying,
    read_statuspage_error,
    summarize,
)

API_KEY = "sandboxStatuspageKey01"
PAGE = "sbxpage00001"
KEY = "INC-20261204-120000"


def client(fake, clock=None, api_key=API_KEY, page=PAGE):
    timing = {"sleep": clock.sleep, "clock": clock} if clock else {"sleep": lambda seconds: None}
    return StatuspageClient(api_key, page, base_url=fake.statuspage_url, **timing)


def sent(fake):
    return [(r["method"], r["path"]) for r in fake.statuspage.requests()]


def the_page(state):
    return next(page for page in state["pages"] if page["id"] == PAGE)


def with_components(fake, count):
    """The sandbox page with ``count`` components instead of its four."""
    state = fake.statuspage.state()
    template = the_page(state)["components"][0]
    the_page(state)["components"] = [
        {**template, "id": f"cmp{number:09d}", "name": f"Component {number}", "position": number}
        for number in range(1, count + 1)]
    fake.statuspage.load(state)


def test_the_sandbox_components(fake):
    components = client(fake).components()
    assert [(c["id"], c["name"], c["status"]) for c in components] == [
        ("cmpwebsite01", "Website", "operational"), ("cmpapi000001", "API", "operational"),
        ("cmpdatabase1", "Database", "operational"), ("cmpcheckout1", "Checkout", "operational")]
    request = fake.statuspage.requests()[0]
    assert request["path"] == f"/v1/pages/{PAGE}/components"
    assert request["query"] == {"page": "1", "per_page": "100"}
    assert request["authorized"] is True


def test_components_are_read_page_by_page_until_a_short_page(fake):
    with_components(fake, 230)
    components = client(fake).components()
    assert [c["id"] for c in components] == [f"cmp{number:09d}" for number in range(1, 231)]
    assert [r["query"]["page"] for r in fake.statuspage.requests()] == ["1", "2", "3"]


def test_a_full_last_page_costs_one_more_empty_page(fake):
    with_components(fake, 200)
    assert len(client(fake).components()) == 200
    assert [r["query"]["page"] for r in fake.statuspage.requests()] == ["1", "2", "3"]


def test_a_server_that_ignores_the_page_stops_with_an_error(fake):
    same_page = [{"id": f"cmp{number:09d}", "name": str(number)} for number in range(100)]
    fake.statuspage.add_faults([{"path": "/components$", "action": "status", "status": 200, "body": same_page,
                                 "times": 5}])
    with pytest.raises(APIError, match="page 2 repeated earlier items"):
        client(fake).components()
    assert len(fake.statuspage.requests()) == 2


def test_create_then_read_and_update(fake):
    statuspage = client(fake)
    created = statuspage.create_incident({"name": f"[{KEY}] Checkout errors", "status": "investigating",
                                          "body": "Looking.", "components": {"cmpcheckout1": "major_outage"},
                                          "component_ids": ["cmpcheckout1"]})
    assert created["id"] and created["status"] == "investigating"
    assert statuspage.incident(created["id"])["name"] == f"[{KEY}] Checkout errors"
    updated = statuspage.update_incident(created["id"], {"status": "monitoring", "body": "Fixed, watching."})
    assert updated["status"] == "monitoring"
    incidents = f"/v1/pages/{PAGE}/incidents"
    assert sent(fake) == [("POST", incidents), ("GET", f"{incidents}/{created['id']}"),
                          ("PATCH", f"{incidents}/{created['id']}")]
    assert fake.statuspage.requests()[0]["body"]["incident"]["name"] == f"[{KEY}] Checkout errors"
    assert summarize(updated, KEY)["updates"][0] == {
        "status": "monitoring", "body": "Fixed, watching.", "created_at": updated["incident_updates"][0]["created_at"]}


def test_search_finds_only_incidents_carrying_the_exact_key(fake):
    statuspage = client(fake)
    statuspage.create_incident({"name": f"[{KEY}] Checkout errors"})
    statuspage.create_incident({"name": f"[{KEY}1] Another incident whose key starts the same"})
    statuspage.create_incident({"name": f"Mentions {KEY} without brackets"})
    statuspage.create_incident({"name": "[INC-20261204-130000] Unrelated"})
    fake.statuspage.clear_requests()

    found = incidents_carrying(statuspage, KEY)
    assert [incident["name"] for incident in found] == [f"[{KEY}] Checkout errors"]
    search = fake.statuspage.requests()[0]
    assert search["path"] == f"/v1/pages/{PAGE}/incidents"
    assert search["query"] == {"q": KEY, "limit": "100", "page": "1"}
    # The search found it, so the open incidents were not read as well.
    assert len(fake.statuspage.requests()) == 1


def test_several_incidents_carrying_the_key_come_newest_first(fake):
    statuspage = client(fake)
    older = statuspage.create_incident({"name": f"[{KEY}] First"})
    newer = statuspage.create_incident({"name": f"[{KEY}] Second"})
    assert [incident["id"] for incident in incidents_carrying(statuspage, KEY)] == [newer["id"], older["id"]]


def test_newest_first_whatever_order_the_search_answers_in(fake):
    # Times in two zones: as text, the older one would sort last.
    oldest_first = [{"id": "old", "name": f"[{KEY}] A", "created_at": "2026-12-04T12:00:00.000+09:00"},
                    {"id": "new", "name": f"[{KEY}] B", "created_at": "2026-12-04T03:05:00Z"},
                    {"id": "unknown", "name": f"[{KEY}] C", "created_at": None}]
    fake.statuspage.add_faults([{"path": "/incidents$", "action": "status", "status": 200, "body": oldest_first}])
    assert [incident["id"] for incident in incidents_carrying(client(fake), KEY)] == ["new", "old", "unknown"]


def test_a_search_miss_is_checked_against_the_open_incidents(fake):
    statuspage = client(fake)
    created = statuspage.create_incident({"name": f"[{KEY}] Checkout errors"})
    # As if the search index had not caught up with the new incident yet.
    fake.statuspage.add_faults([{"path": "/incidents$", "method": "GET", "action": "status", "status": 200,
                                 "body": []}])
    fake.statuspage.clear_requests()
    assert [incident["id"] for incident in incidents_carrying(statuspage, KEY)] == [created["id"]]
    assert sent(fake) == [("GET", f"/v1/pages/{PAGE}/incidents"), ("GET", f"/v1/pages/{PAGE}/incidents/unresolved")]


def test_a_search_miss_for_a_maintenance_reads_the_scheduled_and_active_ones(fake):
    statuspage = client(fake)
    assert incidents_carrying(statuspage, "MNT-1", kind="maintenance") == []
    assert sent(fake) == [("GET", f"/v1/pages/{PAGE}/incidents"), ("GET", f"/v1/pages/{PAGE}/incidents/scheduled"),
                          ("GET", f"/v1/pages/{PAGE}/incidents/active_maintenance")]


@pytest.mark.parametrize("status", [420, 429])
def test_rate_limit_is_waited_out_as_retry_after_says(fake, clock, status):
    fake.statuspage.add_faults([{"path": "/components$", "action": "status", "status": status,
                                 "headers": {"Retry-After": "7"}, "times": 2}])
    assert len(client(fake, clock).components()) == 4
    assert clock.sleeps == [7.0, 7.0]
    assert len(fake.statuspage.requests()) == 3


@pytest.mark.parametrize("status", [420, 429])
def test_a_rate_limited_create_is_sent_again(fake, clock, status):
    # A rate limit refuses the request before anything is done, so even a create may be repeated.
    fake.statuspage.add_faults([{"path": "/incidents$", "method": "POST", "action": "status", "status": status,
                                 "headers": {"Retry-After": "2"}}])
    client(fake, clock).create_incident({"name": f"[{KEY}] Checkout errors"})
    assert clock.sleeps == [2.0]
    assert len(the_page(fake.statuspage.state())["incidents"]) == 1


def test_a_create_is_not_repeated_after_a_gateway_error(fake, clock):
    fake.statuspage.add_faults([{"path": "/incidents$", "method": "POST", "action": "status", "status": 502}])
    with pytest.raises(APIError) as caught:
        client(fake, clock).create_incident({"name": f"[{KEY}] Checkout errors"})
    assert caught.value.status == 502 and clock.sleeps == []
    assert sent(fake) == [("POST", f"/v1/pages/{PAGE}/incidents")]


def test_a_patch_that_posts_an_update_is_not_repeated_after_a_gateway_error(fake, clock):
    statuspage = client(fake, clock)
    created = statuspage.create_incident({"name": f"[{KEY}] Checkout errors"})
    fake.statuspage.add_faults([{"method": "PATCH", "action": "status", "status": 503, "times": 2}])
    with pytest.raises(APIError):
        statuspage.update_incident(created["id"], {"status": "monitoring", "body": "Watching."})
    # Metadata alone posts nothing, so it is sent again.
    statuspage.update_incident(created["id"], {"metadata": {"runbook": {"step": "2"}}})
    assert [request[0] for request in sent(fake)] == ["POST", "PATCH", "PATCH", "PATCH"]
    assert len(clock.sleeps) == 1


@pytest.mark.parametrize("body, text", [
    ({"message": "Name can't be blank"}, "Name can't be blank"),
    ({"error": "Name can't be blank"}, "Name can't be blank"),
    ({"error": ["Name can't be blank", "Status is invalid"]}, "Name can't be blank; Status is invalid"),
])
def test_the_error_text_is_read_from_message_or_error(fake, body, text):
    fake.statuspage.add_faults([{"path": "/incidents$", "action": "status", "status": 422, "body": body}])
    with pytest.raises(APIError) as caught:
        client(fake).create_incident({"name": "x"})
    assert caught.value.status == 422 and caught.value.message == text
    assert f"POST {fake.statuspage_url}/pages/{PAGE}/incidents answered 422 ({text})" in str(caught.value)


def test_the_fake_answers_a_bad_value_in_the_spec_shape(fake):
    with pytest.raises(APIError) as caught:
        client(fake).create_incident({"name": "x", "status": "on_fire"})
    assert caught.value.status in (400, 422) and caught.value.message


def test_a_wrong_key_fails_with_401_and_the_message_never_holds_a_key(fake):
    wrong = "wrongStatuspageKey999"
    with pytest.raises(APIError) as caught:
        client(fake, api_key=wrong + "\n").components()
    message = str(caught.value)
    assert caught.value.status == 401 and "STATUS_PAGE_API_KEY" in message
    assert wrong not in message and API_KEY not in message
    assert wrong not in repr(caught.value.to_result())


def test_a_key_with_a_line_break_is_stripped(fake):
    assert len(client(fake, api_key=f"  {API_KEY}\n").components()) == 4


def test_an_unknown_page_is_a_404_naming_the_page_id_variable(fake):
    with pytest.raises(APIError) as caught:
        client(fake, page="nosuchpage01").components()
    assert caught.value.status == 404 and "STATUS_PAGE_ID" in str(caught.value)


def test_an_answer_that_is_not_a_list_is_an_api_error(fake):
    fake.statuspage.add_faults([{"path": "/components$", "action": "status", "status": 200, "body": {"oops": 1}}])
    with pytest.raises(APIError, match="not a JSON array"):
        client(fake).components()


def test_read_statuspage_error_tolerates_other_shapes():
    assert read_statuspage_error({"error": {"message": "nested"}}) == (None, "nested")
    assert read_statuspage_error({"message": "one", "error": "one"}) == (None, "one")
    assert read_statuspage_error("plain text") == (None, "plain text")
    assert read_statuspage_error(None) == (None, None)
    assert read_statuspage_error({}) == (None, None)


def test_carries_needs_the_brackets_at_the_start():
    assert carries({"name": f"[{KEY}] Title"}, KEY)
    assert not carries({"name": f"Slow search, maybe related to [{KEY}]"}, KEY)
    assert not carries({"name": f"{KEY} Title"}, KEY)
    assert not carries({"name": f"[{KEY}0] Title"}, KEY)
    assert not carries({"name": None}, KEY)


def test_incident_kind():
    assert incident_kind({"status": "monitoring"}) == "incident"
    assert incident_kind({"status": "resolved", "scheduled_for": None}) == "incident"
    assert incident_kind({"status": "completed"}) == "maintenance"
    assert incident_kind({"status": "scheduled", "scheduled_for": "2026-12-10T13:00:00Z"}) == "maintenance"


def test_summarize_orders_updates_newest_first():
    incident = {"id": "i1", "name": f"[{KEY}] T", "status": "monitoring", "components": [
        {"id": "cmpapi000001", "name": "API", "status": "degraded_performance", "position": 2}],
        "incident_updates": [
            {"status": "investigating", "body": "first", "created_at": "2026-12-04T12:00:00Z"},
            {"status": "monitoring", "body": "second", "created_at": "2026-12-04T12:30:00Z"}]}
    summary = summarize(incident, KEY)
    assert [update["body"] for update in summary["updates"]] == ["second", "first"]
    assert summary["components"] == [{"id": "cmpapi000001", "name": "API", "status": "degraded_performance"}]
    assert summary["key"] == KEY and summary["kind"] == "incident" and summary["metadata"] == {}
