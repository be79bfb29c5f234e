"""The one view's bookkeeping (no I/O): the store's roster and the peers' messages in, cards out."""

from __future__ import annotations

import pytest

from farmctl.errors import FarmctlError
from farmctl.farm.one_view import NodeState, OneView, PeerNode
from farmctl.store import NodePrinter

PRINTERS = [NodePrinter("a-1", "a", "a-1"), NodePrinter("b-1", "b", "Left MK3"), NodePrinter("b-2", "b", "b-2")]


def _card(name: str, state: str = "OPERATIONAL", **extra: object) -> dict:
    return {"name": name, "displayName": name, "state": {"id": state, "text": state.title(), "error": None},
            "attention": None, "progress": {"completion": None}, "trend": [[20.0, 21.0]], **extra}


def test_a_peer_s_printers_come_from_the_store_first_then_its_channel() -> None:
    view = OneView("a")
    view.roster([PeerNode("a", "http://a", 100.0, True), PeerNode("b", "http://b", 100.0, True)], PRINTERS, 100.0)
    cards = view.cards()
    assert list(cards) == ["b-1", "b-2"], "this node's own printers are not remote"
    assert cards["b-1"]["displayName"] == "Left MK3" and cards["b-1"]["state"]["id"] == "NODE_CONNECTING"
    assert view.to_watch() == {"b": "http://b"} and not view.settled()

    view.snapshot("b", [_card("b-1", "PRINTING"), _card("b-2"), _card("stranger")], 101.0)
    assert view.settled()
    cards = view.cards()
    assert list(cards) == ["b-1", "b-2"], "a card the store does not list for b is not taken from b"
    assert cards["b-1"]["state"]["id"] == "PRINTING"
    assert cards["b-1"]["node"] == {"name": "b", "state": "up", "since": 101.0, "error": None, "local": False}
    assert "trend" not in cards["b-1"] and view.trend("b-1") == [[20.0, 21.0]]

    view.diff("b", {"b-1": {"progress": {"completion": 42.0}}, "stranger": {"progress": {}}})
    assert view.cards()["b-1"]["progress"] == {"completion": 42.0}
    assert view.cards()["b-1"]["state"]["id"] == "PRINTING", "a diff changes only the fields it names"

    view.unfollowed("b", 170.0)  # no page looked for a while: its channel closed
    assert view.cards()["b-1"]["state"] == {"id": "NODE_CONNECTING", "text": "Connecting to node",
                                            "error": "waiting for node b's first report", "lastSeen": "Printing"}
    assert not view.settled(), "the next look waits for a fresh snapshot"


def test_a_node_that_stops_beating_is_gone_and_its_actions_are_refused_at_once() -> None:
    view = OneView("a")
    view.roster([PeerNode("b", "http://b", 100.0, True)], PRINTERS, 100.0)
    view.snapshot("b", [_card("b-1", "PRINTING", attention={"kind": "x"}), _card("b-2")], 100.5)
    assert view.reachable("b-1") == ("b", "http://b")

    view.lost("b", "it closed the channel", 103.0)
    card = view.cards()["b-1"]
    assert view.nodes["b"].state is NodeState.UNREACHABLE
    assert card["state"]["id"] == "NODE_UNREACHABLE" and card["state"]["lastSeen"] == "Printing"
    assert "it closed the channel" in card["state"]["error"] and card["attention"] is None
    assert view.reachable("b-1") == ("b", "http://b"), "a node that still beats is still tried"

    view.roster([PeerNode("b", "http://b", 100.0, False)], PRINTERS, 131.0)
    card = view.cards()["b-1"]
    assert card["state"]["id"] == "NODE_GONE" and card["state"]["text"] == "Node went away"
    assert card["node"]["state"] == "gone" and card["node"]["since"] == 100.0, "since its last beat"
    assert view.to_watch() == {}, "no channel to a node that went away"
    with pytest.raises(FarmctlError) as refused:
        view.reachable("b-2")
    assert refused.value.status == 409 and "node b, which went away" in refused.value.message
    view.lost("b", "refused", 132.0)
    assert view.nodes["b"].state is NodeState.GONE, "a failing channel does not undo gone"

    view.roster([PeerNode("b", "http://b", 140.0, True)], PRINTERS, 140.0)
    assert view.nodes["b"].state is NodeState.CONNECTING and view.to_watch() == {"b": "http://b"}


def test_unknown_printers_and_nodes_without_an_address() -> None:
    view = OneView("a")
    view.roster([PeerNode("b", None, 100.0, True)], PRINTERS, 100.0)
    with pytest.raises(FarmctlError) as unknown:
        view.reachable("nobody")
    assert unknown.value.status == 404
    with pytest.raises(FarmctlError) as silent:
        view.reachable("b-1")
    assert silent.value.status == 409 and "node_url" in silent.value.message
    assert view.settled(), "a node without an address is not waited for"

    view.roster([], [NodePrinter("b-1", "c", "b-1")], 101.0)  # b-1 moved to c; b is no longer known
    assert list(view.nodes) == ["c"] and view.node_of("b-1").name == "c"
    assert view.nodes["c"].state is NodeState.GONE, "a node the store lists printers for but that never beat"
