"""openaml's AMLRequest, AMLResponse and rawhttp: the parts of azureml-inference-server-http's
API a scoring script uses, without Flask. Standard library only."""

import json
from urllib.parse import parse_qs, urlsplit

_rawHttpRequested = False


def rawhttp(func):
    """Ask for the raw request: ``run(request)`` receives an :class:`AMLRequest`."""
    global _rawHttpRequested
    _rawHttpRequested = True
    import sys
    for name in ("azureml.contrib.services.aml_request", "azureml_inference_server_http.api.aml_request"):
        module = sys.modules.get(name)
        if module is not None:
            module._rawHttpRequested = True
    return func


class _Headers(dict):
    def get(self, key, default=None):
        for k, v in self.items():
            if k.lower() == str(key).lower():
                return v
        return default

    def __getitem__(self, key):
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key):
        return self.get(key) is not None


class AMLRequest:
    """The request as Flask's Request shows it, for the parts scoring scripts use: ``method``,
    ``path``, ``full_path``, ``args``, ``headers``, ``data``, ``get_data()``, ``get_json()``,
    ``json``, ``is_json``, ``content_type``."""

    def __init__(self, method="GET", full_path="/", headers=None, body=b""):
        parts = urlsplit(full_path)
        self.method, self.path, self.full_path = method, parts.path, full_path
        self.args = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        self.headers = _Headers(headers or {})
        self.data = body

    def get_data(self, as_text=False, **_):
        return self.data.decode("utf-8") if as_text else self.data

    @property
    def content_type(self):
        return self.headers.get("Content-Type", "")

    @property
    def is_json(self):
        return "json" in self.content_type.lower()

    def get_json(self, force=False, silent=False, **_):
        if not (force or self.is_json):
            return None
        try:
            return json.loads(self.data)
        except ValueError:
            if silent:
                return None
            raise

    @property
    def json(self):
        return self.get_json()


def _from_parts(method, full_path, headers, body):
    return AMLRequest(method, full_path, headers, body)


class AMLResponse:
    """``AMLResponse(message, status_code, response_headers={}, json_str=False)`` as azmlinfsrv's."""

    def __init__(self, message, status_code, response_headers=None, json_str=False, run_function_failed=False):
        self.status_code = int(status_code)
        self.headers = {}
        if message is None:
            self._data, self.headers["Content-Type"] = b"{}", "application/json"
        elif json_str:
            self._data, self.headers["Content-Type"] = json.dumps(message).encode(), "application/json"
        else:
            self._data = message.encode() if isinstance(message, str) else bytes(message)
            self.headers["Content-Type"] = "text/html; charset=utf-8"
        for header, value in (response_headers or {}).items():
            self.headers[header] = value

    def get_data(self, as_text=False):
        return self._data.decode("utf-8") if as_text else self._data
