"""A tiny blocking HTTP client for process-level tests (no extra dependency)."""

import http.client
import json


def _call(method, port, path, body=None, token=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn.request(method, path, json.dumps(body) if body is not None else None, headers)
    resp = conn.getresponse()
    raw = resp.read()
    conn.close()
    try:
        return resp.status, json.loads(raw)
    except ValueError:
        return resp.status, raw.decode(errors="replace")


def get(port, path, token=None):
    return _call("GET", port, path, token=token)


def post(port, path, body, token=None):
    return _call("POST", port, path, body, token)
