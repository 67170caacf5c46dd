"""dbt's event messages built by the message classes' constructors instead of protobuf's ParseDict.

dbt builds a protobuf message for every event it fires, whether or not anything reads it: a
statement sent, a connection used, a node started — ~5,000 events and twice as many messages a
whole-project build. It builds each from a dict with protobuf's ``json_format.ParseDict``, a walk
of the message in Python (38–64 µs a message); the message class's constructor, in protobuf's C
code, builds the same message from the same dict in ~2 µs, 10–11 µs with the checks below. A
whole-project build of the 24-school region: 5.03 → 4.42 s of CPU (medians of 8, alternated).

:func:`fast_event_messages` gives dbt-common's events module a ParseDict that takes the
constructor for the dicts whose every value is one ParseDict takes as the constructor does — plain
Python values of the field's type, nested dicts, lists, timestamps in their JSON spelling (made
Timestamps by ``FromJsonString``, as ParseDict makes them) — and ParseDict itself for anything else
(a value in another spelling or of another type, a field the message has not, a message instance):
every message is ParseDict's, and so is every refusal (then dbt warns, as ever, that it could not
make the event). Nothing is done if that module no longer calls protobuf's ParseDict (another
dbt-common). Tested in tests/unit/test_dbt_events.py.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import re
from typing import Any

_FLOAT32_MAX = 3.4028234663852886e38
# protobuf's FieldDescriptor.CPPTYPE_* and TYPE_STRING (named here: protobuf is not imported until
# dbt is; tests/unit/test_dbt_events.py holds them equal)
CPPTYPE_INT32, CPPTYPE_INT64, CPPTYPE_UINT32, CPPTYPE_UINT64 = 1, 2, 3, 4
CPPTYPE_DOUBLE, CPPTYPE_FLOAT, CPPTYPE_BOOL, CPPTYPE_STRING, CPPTYPE_MESSAGE = 5, 6, 7, 9, 10
TYPE_STRING = 9
_INTEGERS = (CPPTYPE_INT32, CPPTYPE_INT64, CPPTYPE_UINT32, CPPTYPE_UINT64)


class _NotPlain(Exception):
    """A value the constructor might take otherwise than ParseDict: ParseDict judges the dict."""


def fast_event_messages() -> None:
    """Have dbt build its events' messages by the constructors (idempotent; before dbt is invoked
    in this process)."""
    from dbt_common.events import base_types
    from google.protobuf.json_format import ParseDict

    if getattr(base_types, "ParseDict", None) is ParseDict:
        base_types.ParseDict = event_message


def event_message(js_dict: Any, message: Any, *args: Any, **kwargs: Any) -> Any:
    """protobuf's ``ParseDict(js_dict, message)`` for a new, empty ``message`` (as dbt calls it), by
    the message class's constructor when ``js_dict`` holds only plain values."""
    from google.protobuf.json_format import ParseDict

    if not args and not kwargs and isinstance(js_dict, dict) and not message.ListFields():
        try:
            values = _plain_message(message.DESCRIPTOR, js_dict)
        except _NotPlain:
            pass
        else:
            try:
                return type(message)(**values)
            except (TypeError, ValueError, AttributeError):
                pass  # ParseDict says why
    return ParseDict(js_dict, message, *args, **kwargs)


def _plain_message(descriptor: Any, values: dict[str, Any]) -> dict[str, Any]:
    """The constructor's arguments for ``values`` (timestamps made Timestamps); raises _NotPlain."""
    fields = _fields(descriptor)
    made = {}
    for name, value in values.items():
        spec = fields.get(name)
        if spec is None:
            raise _NotPlain(name)
        shape, element = spec
        if value is None:
            made[name] = None
        elif shape == "one":
            made[name] = _plain(element, value)
        elif shape == "list":
            if type(value) is not list:
                raise _NotPlain(name)
            made[name] = [_plain(element, v) for v in value]
        else:  # a map
            if type(value) is not dict:
                raise _NotPlain(name)
            key, item = element
            made[name] = {_plain(key, k): _plain(item, v) for k, v in value.items()}
    return made


_FIELDS: dict[Any, dict[str, tuple[str, Any]]] = {}


def _fields(descriptor: Any) -> dict[str, tuple[str, Any]]:
    """Per field of a message: its shape (one, list, map) and what one value of it must be, looked
    up once per message type (protobuf's descriptors are slow to ask, ~10,000 messages a build)."""
    fields = _FIELDS.get(descriptor)
    if fields is None:
        fields = {}
        for field in descriptor.fields:
            entry = field.message_type
            if entry is not None and entry.GetOptions().map_entry:
                key, item = entry.fields_by_name["key"], entry.fields_by_name["value"]
                fields[field.name] = ("map", (_element(key), _element(item)))
            else:
                fields[field.name] = ("list" if field.is_repeated else "one", _element(field))
        _FIELDS[descriptor] = fields
    return fields


def _element(field: Any) -> tuple[str, Any]:
    kind = field.cpp_type
    if kind == CPPTYPE_MESSAGE:
        name = field.message_type.full_name
        if name == "google.protobuf.Timestamp":
            return ("time", None)
        if name == "google.protobuf.Struct":
            return ("struct", None)
        if name.startswith("google.protobuf."):
            return ("other", None)  # another well-known type: ParseDict's own spellings
        return ("message", field.message_type)
    if kind == CPPTYPE_STRING:
        return ("text", None) if field.type == TYPE_STRING else ("other", None)  # bytes: base64
    if kind == CPPTYPE_BOOL:
        return ("flag", None)
    if kind in _INTEGERS:
        return ("integer", None)
    if kind == CPPTYPE_DOUBLE:
        return ("number", math.inf)
    if kind == CPPTYPE_FLOAT:
        return ("number", _FLOAT32_MAX)
    return ("other", None)  # an enum


def _plain(element: tuple[str, Any], value: Any) -> Any:
    """One value as the constructor takes it as ParseDict would; raises _NotPlain."""
    kind, detail = element
    if kind == "text":
        if isinstance(value, str):  # (a status: a str enum)
            return value
    elif kind == "message":
        if type(value) is dict:
            return _plain_message(detail, value)
    elif kind == "integer":
        if type(value) is int:
            return value
    elif kind == "flag":
        if type(value) is bool:
            return value
    elif kind == "number":
        if type(value) in (int, float) and math.isfinite(value) and abs(value) <= detail:
            return value
    elif kind == "time":
        if isinstance(value, str):
            return _timestamp(value)
    elif kind == "struct" and type(value) is dict and _json(value):
        return value
    raise _NotPlain(kind)  # an enum, bytes, another well-known type, a value of another type


# the time of every event dbt fires, as it spells it (dbt_common.events.helpers
# get_json_string_utcnow): read here; any other spelling by Timestamp.FromJsonString
_UTC_TIME = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?Z")


def _timestamp(text: str) -> Any:
    """``text`` (RFC 3339) as a google.protobuf.Timestamp, as ParseDict makes it (FromJsonString,
    a strptime: ~10 µs; dbt's own spelling of a UTC time is read here in ~2 µs, to the same
    seconds and nanoseconds); raises _NotPlain for a text that is not a time."""
    from google.protobuf.timestamp_pb2 import Timestamp

    match = _UTC_TIME.fullmatch(text)
    if match is not None:
        *parts, fraction = match.groups()
        try:
            moment = dt.datetime(*(int(p) for p in parts))  # refuses a day the month has not
        except ValueError:
            pass
        else:
            seconds = calendar.timegm(moment.timetuple())
            return Timestamp(seconds=seconds, nanos=int((fraction or "0").ljust(9, "0")))
    stamp = Timestamp()
    try:
        stamp.FromJsonString(text)
    except ValueError as exc:
        raise _NotPlain(text) from exc
    return stamp


def _json(value: Any) -> bool:
    """Whether ``value`` is made of JSON's own values only (a Struct's content)."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_json(v) for v in value)
    return value is None or type(value) in (str, int, float, bool)
