"""The wire contract's pure core: frame parsing, validation, error codes, encoding.

No I/O and no aiohttp: the WebSocket handlers and the REST API both lean on it,
and tests drive it directly.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

# Every error code a client can receive (PROTOCOL.md §1, plus `unavailable` for a
# database that is down: the client should retry with the same clientId).
ERROR_CODES = frozenset({
    "bad_json", "bad_frame", "unknown_type", "not_joined", "unauthorized", "forbidden",
    "not_found", "too_large", "rate_limited", "invalid", "conflict", "unavailable", "internal",
})

CLOSE_GOING_AWAY = 1001
CLOSE_TRY_AGAIN_LATER = 1013  # the peer stopped reading and its queue filled up
CLOSE_MESSAGE_TOO_BIG = 1009
CLOSE_UNAUTHORIZED = 4001
CLOSE_FORBIDDEN = 4003
CLOSE_RATE_LIMITED = 4008
# The site enforces verified visitor identity and the join had none, or a bad hash.
CLOSE_IDENTITY_REFUSED = 4010
CLOSE_VISITOR_ERASED = 4410  # an OWNER erased the visitor's data; rejoin as someone new


class ProtocolError(Exception):
    """A frame the server refuses; becomes one `error` frame."""

    def __init__(self, code: str, message: str, *, field: str | None = None,
                 retry_after: int | None = None):
        assert code in ERROR_CODES, code
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.retry_after = retry_after  # seconds, on some `rate_limited` errors

    def data(self) -> dict:
        out = {"code": self.code, "message": self.message}
        if self.field is not None:
            out["field"] = self.field
        if self.retry_after is not None:
            out["retryAfter"] = self.retry_after
        return out


@dataclass(frozen=True)
class Frame:
    type: str
    data: dict
    ref: str | None


# --- field specs -----------------------------------------------------------------

class Field:
    """One field of a frame's data: a wrong JSON type is `bad_frame`, a value out of
    bounds is `invalid`; both name the field."""

    json_type = "value"

    def __init__(self, *, required: bool = False, nullable: bool = True):
        self.required = required
        self.nullable = nullable

    def check_type(self, value: Any) -> bool:
        return True

    def schema(self) -> dict:
        """This field as JSON Schema, for openapi.json."""
        return {}

    def check_value(self, name: str, value: Any) -> Any:
        return value

    def clean(self, name: str, value: Any) -> Any:
        if not self.check_type(value):
            raise ProtocolError("bad_frame", f"'{name}' must be {self.json_type}", field=name)
        return self.check_value(name, value)


class Str(Field):
    json_type = "a string"

    def __init__(self, *, max_len: int = 1000, min_len: int = 0, choices=None, strip=False, **kw):
        super().__init__(**kw)
        self.max_len, self.min_len, self.choices, self.strip = max_len, min_len, choices, strip

    def check_type(self, value):
        return isinstance(value, str)

    def schema(self):
        out = {"type": "string", "maxLength": self.max_len}
        if self.min_len:
            out["minLength"] = self.min_len
        if self.choices is not None:
            out["enum"] = sorted(self.choices)
        return out

    def check_value(self, name, value):
        if self.strip:
            value = value.strip()
        if "\x00" in value:
            raise ProtocolError("invalid", f"'{name}' must not contain NUL characters", field=name)
        if len(value) > self.max_len:
            raise ProtocolError("too_large", f"'{name}' is longer than {self.max_len} characters",
                                field=name)
        if len(value) < self.min_len:
            raise ProtocolError("invalid", f"'{name}' must not be empty", field=name)
        if self.choices is not None and value not in self.choices:
            allowed = ", ".join(sorted(self.choices))
            raise ProtocolError("invalid", f"'{name}' must be one of: {allowed}", field=name)
        return value


class Int(Field):
    json_type = "an integer"

    def __init__(self, *, minimum: int = 0, maximum: int = 2**31 - 1, **kw):
        super().__init__(**kw)
        self.minimum, self.maximum = minimum, maximum

    def check_type(self, value):
        return isinstance(value, int) and not isinstance(value, bool)

    def schema(self):
        return {"type": "integer", "minimum": self.minimum, "maximum": self.maximum}

    def check_value(self, name, value):
        if not self.minimum <= value <= self.maximum:
            raise ProtocolError(
                "invalid", f"'{name}' must be between {self.minimum} and {self.maximum}",
                field=name)
        return value


class Bool(Field):
    json_type = "true or false"

    def check_type(self, value):
        return isinstance(value, bool)

    def schema(self):
        return {"type": "boolean"}


class List(Field):
    json_type = "a list"

    def __init__(self, item: Field, *, max_items: int = 50, **kw):
        super().__init__(**kw)
        self.item, self.max_items = item, max_items

    def check_type(self, value):
        return isinstance(value, list)

    def schema(self):
        return {"type": "array", "items": self.item.schema(), "maxItems": self.max_items}

    def check_value(self, name, value):
        if len(value) > self.max_items:
            raise ProtocolError("invalid", f"'{name}' holds more than {self.max_items} items",
                                field=name)
        return [self.item.clean(f"{name}[{i}]", v) for i, v in enumerate(value)]


class Obj(Field):
    """A nested object checked against its own spec; errors name the field as 'user.id'."""

    json_type = "an object"

    def __init__(self, spec: dict[str, Field], **kw):
        super().__init__(**kw)
        self.spec = spec

    def check_type(self, value):
        return isinstance(value, dict)

    def schema(self):
        return object_schema(self.spec)

    def check_value(self, name, value):
        return clean_fields(self.spec, value, prefix=name + ".")


def clean_fields(spec: dict[str, Field], data: Any, prefix: str = "") -> dict:
    """Validate `data` against `spec`; unknown keys are ignored (the contract may grow)."""
    if not isinstance(data, dict):
        raise ProtocolError("bad_frame", "'data' must be an object")
    out = {}
    for key, field in spec.items():
        value = data.get(key)
        name = prefix + key
        if value is None:
            if field.required:
                raise ProtocolError("invalid", f"'{name}' is required", field=name)
            if key in data and not field.nullable:
                raise ProtocolError("bad_frame", f"'{name}' must not be null", field=name)
            continue
        out[key] = field.clean(name, value)
    return out


def object_schema(spec: dict[str, Field]) -> dict:
    return {"type": "object",
            "properties": {name: f.schema() for name, f in spec.items()},
            "required": [name for name, f in spec.items() if f.required]}


ID = Str(max_len=64)
CLIENT_ID = Str(max_len=100, min_len=1)
SEQ = Int(minimum=0)
URL = Str(max_len=2048)
# A site's logged-in customer as its page passes it: hash = hex HMAC-SHA256(secret, id).
VISITOR_USER = Obj({"id": Str(required=True, min_len=1, max_len=255),
                    "name": Str(max_len=200, strip=True), "email": Str(max_len=254, strip=True),
                    "hash": Str(required=True, min_len=1, max_len=128)})


def frame_specs(max_text: int) -> dict[str, dict[str, dict[str, Field]]]:
    """Client frames per socket: type → field spec."""
    text = Str(max_len=max_text)
    react = {"messageId": Str(required=True, max_len=64), "emoji": Str(required=True, max_len=16, min_len=1)}
    return {
        "visitor": {
            "visitor:join": {
                "siteKey": Str(required=True, max_len=200), "visitorToken": Str(max_len=200),
                "lastSeq": SEQ, "pageUrl": URL, "pageTitle": Str(max_len=500), "referrer": URL,
                "language": Str(max_len=35), "timezone": Str(max_len=64),
                "user": VISITOR_USER,  # (ext) verified identity, docs/identity.md
            },
            "visitor:message": {"clientId": CLIENT_ID, "text": text, "attachmentId": ID},
            "visitor:typing": {"typing": Bool(required=True), "preview": text},
            "visitor:read": {"seq": Int(required=True)},
            "visitor:page": {"pageUrl": URL, "pageTitle": Str(max_len=500)},
            # (ext) the visitor's address, and their transcript by email (docs/email.md)
            "visitor:email": {"email": Str(required=True, max_len=254, strip=True),
                              "transcript": Bool()},
            "message:react": react,
            "ping": {},
        },
        "operator": {
            "auth": {"token": Str(required=True, max_len=4096)},
            "chat:subscribe": {"chatId": Str(required=True, max_len=64), "lastSeq": SEQ},
            "chat:unsubscribe": {"chatId": Str(required=True, max_len=64)},
            "operator:message": {"chatId": Str(required=True, max_len=64), "clientId": CLIENT_ID,
                                 "text": text, "attachmentId": ID},
            "operator:typing": {"chatId": Str(required=True, max_len=64), "typing": Bool(required=True)},
            "operator:read": {"chatId": Str(required=True, max_len=64), "seq": Int(required=True)},
            "chat:close": {"chatId": Str(required=True, max_len=64)},
            "chat:reopen": {"chatId": Str(required=True, max_len=64)},
            "chat:assign": {"chatId": Str(required=True, max_len=64), "operatorId": ID},
            "operator:status": {"status": Str(required=True, choices={"online", "away", "offline"})},
            "message:react": react,
            "ping": {},
        },
    }


# --- frames ----------------------------------------------------------------------

# A \uD800-\uDFFF escape: json.loads turns an unpaired one into a lone surrogate, which
# can be neither stored (PostgreSQL wants UTF-8) nor echoed back in a text frame.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE_ESCAPE_BYTES = re.compile(rb"\\u[dD][89a-fA-F]")


def loads(text: str | bytes):
    """json.loads that refuses lone surrogates (ValueError), as the contract says."""
    value = json.loads(text)
    pattern = _SURROGATE_ESCAPE_BYTES if isinstance(text, bytes) else _SURROGATE_ESCAPE
    if pattern.search(text) is None:
        return value
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("lone surrogate") from None
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return value


def decode(text: str | bytes) -> Frame:
    """Parse one text frame into a Frame, or raise bad_json / bad_frame."""
    try:
        raw = loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ProtocolError("bad_json", "frame is not valid JSON") from None
    if not isinstance(raw, dict):
        raise ProtocolError("bad_frame", "frame must be a JSON object")
    ref = raw.get("ref")
    if ref is not None and not isinstance(ref, str):
        raise ProtocolError("bad_frame", "'ref' must be a string", field="ref")
    if ref is not None and len(ref) > 200:
        raise ProtocolError("bad_frame", "'ref' is longer than 200 characters", field="ref")
    ftype = raw.get("type")
    if not isinstance(ftype, str) or not ftype:
        raise FrameRefError(ref, ProtocolError("bad_frame", "'type' must be a non-empty string",
                                               field="type"))
    data = raw.get("data", {})
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise FrameRefError(ref, ProtocolError("bad_frame", "'data' must be an object",
                                               field="data"))
    return Frame(ftype, data, ref)


class FrameRefError(Exception):
    """A frame whose ref was readable but whose body was not: the error echoes the ref."""

    def __init__(self, ref: str | None, error: ProtocolError):
        super().__init__(error.message)
        self.ref = ref
        self.error = error


def validate(frame: Frame, specs: dict[str, dict[str, Field]]) -> dict:
    spec = specs.get(frame.type)
    if spec is None:
        raise ProtocolError("unknown_type", f"unknown frame type '{frame.type[:64]}'")
    return clean_fields(spec, frame.data)


def _json_default(value):
    if isinstance(value, datetime):
        return iso(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def encode(ftype: str, data: dict | None = None, ref: str | None = None) -> str:
    frame: dict = {"type": ftype}
    if data is not None:
        frame["data"] = data
    if ref is not None:
        frame["ref"] = ref
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"), default=_json_default)


def ack(ref: str | None, data: dict | None = None) -> str:
    return encode("ack", data if data is not None else {}, ref)


def error(err: ProtocolError, ref: str | None = None) -> str:
    return encode("error", err.data(), ref)


# --- values ----------------------------------------------------------------------

def iso(dt: datetime | None) -> str | None:
    """ISO 8601 UTC with milliseconds, as the contract spells times."""
    if dt is None:
        return None
    # isoformat, not strftime: glibc's strftime looks at /etc/localtime on every call, and
    # this runs for every message sent (5.7% of a loaded server's samples).
    return dt.astimezone(timezone.utc).isoformat(timespec="milliseconds")[:-6] + "Z"


def make_id(prefix: str, number: int | None) -> str | None:
    return None if number is None else f"{prefix}_{number}"


def parse_id(prefix: str, value: Any) -> int | None:
    """The number behind 'c_12'; None for anything malformed (answered as not_found)."""
    if not isinstance(value, str) or not value.startswith(prefix + "_"):
        return None
    digits = value[len(prefix) + 1:]
    if not digits.isascii() or not digits.isdigit() or len(digits) > 18:
        return None
    return int(digits)

