"""The pure protocol core, driven without a network."""

import json

import pytest

from chatiq.core import protocol
from chatiq.core.protocol import FrameRefError, ProtocolError

SPECS = protocol.frame_specs(10_000)


def decode_error(text):
    with pytest.raises((ProtocolError, FrameRefError)) as info:
        protocol.decode(text)
    err = info.value
    return err.error if isinstance(err, FrameRefError) else err


@pytest.mark.parametrize("text", ["{", "nope", "", '{"type": "x",}', "\ud800"])
def test_malformed_json_is_bad_json(text):
    assert decode_error(text).code == "bad_json"


@pytest.mark.parametrize("text", ["[]", "1", '"str"', "null", "true"])
def test_non_object_frame_is_bad_frame(text):
    assert decode_error(text).code == "bad_frame"


@pytest.mark.parametrize("frame,field", [
    ({"data": {}}, "type"),
    ({"type": 5}, "type"),
    ({"type": ""}, "type"),
    ({"type": "ping", "data": []}, "data"),
    ({"type": "ping", "data": "x"}, "data"),
])
def test_missing_or_wrong_envelope_fields_keep_the_ref(frame, field):
    with pytest.raises(FrameRefError) as info:
        protocol.decode(json.dumps({**frame, "ref": "r1"}))
    assert info.value.ref == "r1"
    assert info.value.error.code == "bad_frame"
    assert info.value.error.field == field


def test_non_string_ref_is_bad_frame():
    err = decode_error(json.dumps({"type": "ping", "ref": 5}))
    assert (err.code, err.field) == ("bad_frame", "ref")


def test_null_data_means_empty():
    frame = protocol.decode('{"type":"ping","data":null}')
    assert frame.data == {} and frame.ref is None


def test_unknown_type():
    frame = protocol.decode('{"type":"visitor:dance","ref":"a"}')
    with pytest.raises(ProtocolError) as info:
        protocol.validate(frame, SPECS["visitor"])
    assert info.value.code == "unknown_type"


def test_operator_frames_are_unknown_on_the_visitor_socket():
    frame = protocol.decode('{"type":"chat:close","data":{"chatId":"c_1"}}')
    with pytest.raises(ProtocolError) as info:
        protocol.validate(frame, SPECS["visitor"])
    assert info.value.code == "unknown_type"


@pytest.mark.parametrize("data,code,field", [
    ({"clientId": 5, "text": "x"}, "bad_frame", "clientId"),
    ({"clientId": "a", "text": ["x"]}, "bad_frame", "text"),
    ({"clientId": "a", "text": "x" * 10_001}, "too_large", "text"),
    ({"clientId": "", "text": "x"}, "invalid", "clientId"),
    ({"clientId": "a", "text": "nul\x00byte"}, "invalid", "text"),
])
def test_field_errors_name_the_field(data, code, field):
    frame = protocol.Frame("visitor:message", data, None)
    with pytest.raises(ProtocolError) as info:
        protocol.validate(frame, SPECS["visitor"])
    assert (info.value.code, info.value.field) == (code, field)


@pytest.mark.parametrize("value", [True, 1.5, "3", None])
def test_integers_reject_bools_floats_and_strings(value):
    frame = protocol.Frame("visitor:read", {"seq": value}, None)
    with pytest.raises(ProtocolError) as info:
        protocol.validate(frame, SPECS["visitor"])
    assert info.value.field == "seq"


def test_negative_seq_is_invalid():
    frame = protocol.Frame("visitor:read", {"seq": -1}, None)
    with pytest.raises(ProtocolError) as info:
        protocol.validate(frame, SPECS["visitor"])
    assert info.value.code == "invalid"


def test_enum_values():
    good = protocol.Frame("operator:status", {"status": "away"}, None)
    assert protocol.validate(good, SPECS["operator"]) == {"status": "away"}
    bad = protocol.Frame("operator:status", {"status": "asleep"}, None)
    with pytest.raises(ProtocolError) as info:
        protocol.validate(bad, SPECS["operator"])
    assert (info.value.code, info.value.field) == ("invalid", "status")


def test_unknown_fields_are_ignored_so_the_contract_can_grow():
    frame = protocol.Frame("visitor:typing", {"typing": True, "mood": "happy"}, None)
    assert protocol.validate(frame, SPECS["visitor"]) == {"typing": True}


def test_encode_is_compact_json_with_ref():
    text = protocol.encode("ack", {"a": "ї"}, "r")
    assert json.loads(text) == {"type": "ack", "data": {"a": "ї"}, "ref": "r"}
    assert " " not in text


def test_error_frame_shape():
    err = ProtocolError("invalid", "bad", field="text")
    assert json.loads(protocol.error(err, "r9")) == {
        "type": "error", "ref": "r9", "data": {"code": "invalid", "message": "bad", "field": "text"}}


def test_iso_times_have_milliseconds_and_z():
    from datetime import datetime, timedelta, timezone

    kyiv = timezone(timedelta(hours=2))
    assert protocol.iso(datetime(2026, 11, 24, 23, 35, 31, 123456, kyiv)) == "2026-11-24T21:35:31.123Z"


@pytest.mark.parametrize("value,expected", [
    ("c_12", 12), ("c_0", 0), ("c_", None), ("m_12", None), ("c_-1", None), ("c_1e3", None),
    (12, None), ("c_١٢", None), ("c_" + "9" * 19, None),
])
def test_parse_id(value, expected):
    assert protocol.parse_id("c", value) == expected


def test_every_frame_type_has_a_json_schema():
    for side in SPECS.values():
        for spec in side.values():
            assert protocol.object_schema(spec)["type"] == "object"
