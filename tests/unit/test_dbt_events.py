"""dbt's event messages built by the message classes' constructors (orchestration/dbt_events.py)
are protobuf's ParseDict's, message for message, and so are its errors."""

from __future__ import annotations

from enum import Enum

import pytest
from google.protobuf.json_format import ParseDict

from orchestration.dbt_events import event_message as _event_message
from orchestration.dbt_events import fast_event_messages

NODE_INFO = {
    "node_path": "models/marts/fct_shnor_list.sql",
    "node_name": "fct_shnor_list",
    "unique_id": "model.eduq.fct_shnor_list",
    "resource_type": "model",
    "materialized": "table",
    "node_status": "started",
    "node_started_at": "2026-12-06T12:00:00.123456",
    "node_finished_at": "",
    # a google.protobuf.Struct: nested values of every JSON kind
    "meta": {"owner": "РЦОКО", "n": 3, "share": 0.3, "nested": {"a": [1, "b", None, True]}},
    "node_relation": {
        "database": "candidate",
        "schema": "marts",
        "alias": "fct_shnor_list",
        "relation_name": '"candidate"."marts"."fct_shnor_list"',
    },
}
RUN_RESULT = {
    "status": "success",
    "message": "OK",
    "thread": "Thread-1 (worker)",
    "execution_time": 0.5,
    "num_failures": 0,
    # timestamps in their JSON spelling, as dbt gives them: the constructor does not take them
    "timing_info": [
        {
            "name": "compile",
            "started_at": "2026-12-06T12:00:00.123456Z",
            "completed_at": "2026-12-06T12:00:01Z",
        }
    ],
    "adapter_response": {"_message": "OK", "rows_affected": 3},
}


def _messages():
    from dbt.adapters.events import adapter_types_pb2 as adapter
    from dbt.events import core_types_pb2 as core
    from dbt_common.events import types_pb2 as common

    return {
        "SQLQuery": (
            adapter.SQLQuery,
            {"conn_name": "model.eduq.x", "sql": "select 1", "node_info": NODE_INFO},
        ),
        "NodeFinished": (core.NodeFinished, {"node_info": NODE_INFO, "run_result": RUN_RESULT}),
        "Note": (common.Note, {"msg": "Школа «Ромашка»"}),
        "JinjaLogInfo": (
            core.JinjaLogInfo,
            {"msg": "computing years 2024, 2025", "node_info": NODE_INFO},
        ),
        "an int64 as a string": (
            core.NodeFinished,
            {"run_result": {**RUN_RESULT, "num_failures": "7"}},
        ),
        "an empty dict": (common.Note, {}),
        # the message dbt fires: the event's info, its time in the JSON spelling, a map
        "a fired event's info": (
            adapter.SQLQueryMsg,
            {
                "info": {
                    "name": "SQLQuery",
                    "code": "E016",
                    "msg": "On model.eduq.x: select 1",
                    "level": "debug",
                    "invocation_id": "5a1e",
                    "pid": 42,
                    "thread": "Thread-2 (worker)",
                    "ts": "2026-12-06T12:00:00.123456Z",
                    "extra": {"run": "nightly"},
                }
            },
        ),
    }


@pytest.mark.parametrize("case", list(_messages()))
def test_a_message_is_the_one_parse_dict_makes(case: str) -> None:
    message_class, values = _messages()[case]
    made = _event_message(values, message_class())
    assert type(made) is message_class
    assert made == ParseDict(values, message_class())
    assert made.SerializeToString(deterministic=True) == ParseDict(
        values, message_class()
    ).SerializeToString(deterministic=True)


@pytest.mark.parametrize(
    "values",
    [
        {"msg": "x", "no_such_field": 1},  # a field the message has not
        {"msg": 5},  # a value of another type
        {"info": {"name": "Note", "ts": "yesterday"}},  # a time that is not one
    ],
)
def test_what_parse_dict_refuses_is_refused_as_it_refuses_it(values: dict) -> None:
    from dbt_common.events import types_pb2 as common

    message_class = common.NoteMsg if "info" in values else common.Note
    with pytest.raises(Exception) as parse_dict:
        ParseDict(values, message_class())
    with pytest.raises(type(parse_dict.value)) as ours:
        _event_message(values, message_class())
    assert str(ours.value) == str(parse_dict.value)


def test_dbts_events_take_it_once_and_make_the_same_messages() -> None:
    from dbt.adapters.events.types import SQLQuery
    from dbt_common.events import base_types

    fast_event_messages()
    fast_event_messages()  # idempotent
    assert base_types.ParseDict is _event_message
    event = SQLQuery(conn_name="model.eduq.x", sql="select 1", node_info=NODE_INFO)
    assert event.pb_msg == ParseDict(
        {"conn_name": "model.eduq.x", "sql": "select 1", "node_info": NODE_INFO},
        type(event.pb_msg)(),
    )
    # and the message of the event as fired (its info and data) too
    fired = base_types.msg_from_base_event(event)
    assert fired.data == event.pb_msg and fired.info.name == "SQLQuery"


class _State(str, Enum):  # as dbt's connection states and run statuses
    INIT = "init"


def _outcome(make):
    """The message made, or the refusal (its type and words)."""
    try:
        return make()
    except Exception as exc:  # noqa: BLE001 — compared
        return (type(exc), str(exc))


def _odd_values():
    """Values ParseDict and a message class's constructor might take differently (a reviewer's list):
    whatever ParseDict does with them, the same is done."""
    import datetime as dt

    from dbt.adapters.events import adapter_types_pb2 as adapter
    from dbt.events import core_types_pb2 as core
    from google.protobuf.struct_pb2 import Struct

    timing = RUN_RESULT["timing_info"][0]
    return {
        "a flag given 1": (core.CommandCompleted, {"success": 1}),
        "a count given True": (
            core.NodeFinished,
            {"run_result": {**RUN_RESULT, "num_failures": True}},
        ),
        "a float given NaN": (
            core.NodeFinished,
            {"run_result": {**RUN_RESULT, "execution_time": float("nan")}},
        ),
        "a float given inf": (
            core.NodeFinished,
            {"run_result": {**RUN_RESULT, "execution_time": float("inf")}},
        ),
        "a float beyond 32 bits": (
            core.NodeFinished,
            {"run_result": {**RUN_RESULT, "execution_time": 1e39}},
        ),
        "a time given a datetime": (
            core.NodeFinished,
            {
                "run_result": {
                    **RUN_RESULT,
                    "timing_info": [{**timing, "started_at": dt.datetime(2026, 1, 1)}],
                }
            },
        ),
        "a time given seconds": (
            core.NodeFinished,
            {
                "run_result": {
                    **RUN_RESULT,
                    "timing_info": [{**timing, "started_at": {"seconds": 5}}],
                }
            },
        ),
        "a message given a message": (
            adapter.SQLQuery,
            {"node_info": adapter.AdapterNodeInfo(node_name="x")},
        ),
        "a Struct given a Struct": (
            core.NodeFinished,
            {"node_info": {**NODE_INFO, "meta": Struct()}},
        ),
        "a list of arguments given a text": (
            adapter.AdapterEventDebug,
            {"name": "x", "base_msg": "y", "args": "abc"},
        ),
        "a list of arguments": (
            adapter.AdapterEventDebug,
            {"name": "x", "base_msg": "y", "args": ["a", 1, None]},
        ),
        "a map given pairs": (core.NodeFinishedMsg, {"info": {"name": "x", "extra": [("a", "b")]}}),
        "a map": (core.NodeFinishedMsg, {"info": {"name": "x", "extra": {"a": "b"}}}),
        "a text given bytes": (adapter.SQLQuery, {"sql": b"select 1"}),
        "a text given an int": (adapter.SQLQuery, {"sql": 1}),
        "a status given a str enum": (
            adapter.NewConnectionOpening,
            {"connection_state": _State.INIT},
        ),
        "a count as text": (core.NodeFinished, {"run_result": {**RUN_RESULT, "num_failures": "7"}}),
    }


@pytest.mark.parametrize("case", list(_odd_values()))
def test_values_of_another_type_or_spelling_are_parse_dicts_to_judge(case: str) -> None:
    message_class, values = _odd_values()[case]
    ours = _outcome(lambda: _event_message(values, message_class()))
    theirs = _outcome(lambda: ParseDict(values, message_class()))
    assert ours == theirs


def test_the_field_kinds_named_are_protobufs() -> None:
    from google.protobuf.descriptor import FieldDescriptor

    from orchestration import dbt_events

    for name in (
        "CPPTYPE_INT32", "CPPTYPE_INT64", "CPPTYPE_UINT32", "CPPTYPE_UINT64", "CPPTYPE_DOUBLE",
        "CPPTYPE_FLOAT", "CPPTYPE_BOOL", "CPPTYPE_STRING", "CPPTYPE_MESSAGE", "TYPE_STRING",
    ):  # fmt: skip
        assert getattr(dbt_events, name) == getattr(FieldDescriptor, name), name


@pytest.mark.parametrize(
    "text",
    [
        "2026-12-06T12:00:00.123456Z",  # as dbt spells every event's time
        "2026-12-06T12:00:00Z",
        "2024-02-29T23:59:59.999999999Z",
        "2023-02-29T00:00:00Z",  # a day the month has not
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59.5Z",
        "1970-01-01T00:00:00.000001Z",
        "2026-01-31T00:00:60Z",
        "2026-12-06T12:00:00+03:00",  # an offset: FromJsonString's to read
        "2026-12-06T12:00:00.1234567891Z",  # more than nanoseconds
        "0000-01-01T00:00:00Z",
        "2026-13-01T00:00:00Z",
        "вчера",
    ],
)
def test_a_time_is_the_timestamp_from_json_string_makes(text: str) -> None:
    from google.protobuf.timestamp_pb2 import Timestamp

    from orchestration.dbt_events import _NotPlain, _timestamp

    expected = Timestamp()
    try:
        expected.FromJsonString(text)
    except ValueError:
        with pytest.raises(_NotPlain):
            _timestamp(text)
    else:
        assert _timestamp(text) == expected
