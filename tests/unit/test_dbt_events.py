"""dbt's event messages built by the message classes' constructors (orchestration.dbt_project
fast_event_messages) are protobuf's ParseDict's, message for message, and so are its errors."""

from __future__ import annotations

import pytest
from google.protobuf.json_format import ParseDict

from orchestration.dbt_project import _event_message, fast_event_messages

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
