"""One instance of an online deployment: Azure's scoring contract on a socket the router made.

Run as a script (``python worker.py``) by the deployment's environment's interpreter, so it
imports nothing but the standard library (the environment is the user's). It matches
``azureml-inference-server-http`` (azmlinfsrv) rather than running it, because that package
needs Flask, gunicorn and OpenTelemetry in the user's environment, and it serves one request per
process where this serves the router's pooled keep-alive connections:

- ``init()`` once, before the first request; an exception ends the process (exit 1), which the
  router reports as a failed deployment with this log;
- ``GET /`` answers ``Healthy`` (the probes); ``GET /swagger.json`` the OpenAPI document when
  ``run`` is decorated with inference-schema's ``@input_schema``/``@output_schema``;
- ``POST /score`` (and ``GET /score`` with query parameters, as azmlinfsrv) calls ``run``: with
  the body as text when undecorated, with the JSON body's keys as arguments when decorated, with
  an ``AMLRequest`` when ``@rawhttp``; ``request_headers`` is passed when ``run`` takes it. An
  ``AMLResponse`` (ours or Flask's) is sent as it is, anything else as JSON. Errors are
  azmlinfsrv's: 400/415 for bad input, 500 ``{"message": ...}`` when ``run`` raises.
- With ``OPENAML_WORKER_MODE=mlflow`` there is no script: the model under ``AZUREML_MODEL_DIR``
  is loaded with ``mlflow.pyfunc`` and requests are Azure's ``{"input_data": ...}`` or MLflow's
  ``dataframe_split``/``dataframe_records``/``instances``/``inputs``.

Variables: ``OPENAML_WORKER_FD`` (the listening socket), ``AML_APP_ROOT``,
``AZUREML_ENTRY_SCRIPT``, ``AZUREML_MODEL_DIR``, ``OPENAML_WORKER_MODE``.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import socket
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

MAX_BODY = 1 << 30
HEADER_LIMIT = 100


def log(message: str) -> None:
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}", flush=True)


def _parse_value(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return text


def _query_input(query: str) -> dict:
    parsed = {}
    for key, values in parse_qs(query, keep_blank_values=True).items():
        parsed[key] = _parse_value(values[0]) if len(values) == 1 else [_parse_value(v) for v in values]
    return parsed


class BadInput(Exception):
    status = 400


class UnsupportedInput(BadInput):
    status = 415


class Scorer:
    """The user's script (or an MLflow model) and how ``run`` wants its input."""

    def __init__(self) -> None:
        self.mode = os.environ.get("OPENAML_WORKER_MODE", "script")
        self.raw = False
        self.decorated = False
        self.takes_headers = False
        self.params: list = []
        self.run = None
        self.model = None

    def load(self) -> None:
        if self.mode == "mlflow":
            self._load_mlflow()
            return
        app_root = os.environ.get("AML_APP_ROOT", os.getcwd())
        script = os.environ.get("AZUREML_ENTRY_SCRIPT", "score.py")
        path = os.path.join(app_root, script.replace("/", os.sep))
        sys.path.insert(0, os.path.dirname(path))
        if app_root not in sys.path:
            sys.path.insert(0, app_root)
        spec = importlib.util.spec_from_file_location("entry_module", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules["entry_module"] = module
        spec.loader.exec_module(module)
        for needed in ("init", "run"):
            if not hasattr(module, needed):
                raise RuntimeError(f"the scoring script {script} does not define {needed}()")
        run = module.run
        driver = getattr(module, "driver_module", None)
        if driver is not None and hasattr(driver, "run"):
            run = driver.run
        self.run = run
        self._analyze(run)
        log("Invoking user's init function")
        module.init()
        log("User's init has completed successfully")

    def _analyze(self, run) -> None:
        params = list(inspect.signature(run).parameters.values())
        if any(p.kind not in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params):
            raise RuntimeError("run() cannot accept positional-only arguments, *args, or **kwargs.")
        self.takes_headers = any(p.name == "request_headers" for p in params)
        self.params = [p for p in params if p.name != "request_headers"]
        if not self.params:
            raise RuntimeError("run() needs to accept an argument for input data.")
        self.raw = any(getattr(sys.modules.get(m), "_rawHttpRequested", False) for m in (
            "openaml_aml_http", "azureml.contrib.services.aml_request",
            "azureml_inference_server_http.api.aml_request"))
        self.decorated = _schema_decorated(run)
        if self.raw and self.decorated:
            raise RuntimeError("run() cannot be decorated with both @rawhttp and @input_schema")

    def _load_mlflow(self) -> None:
        import mlflow.pyfunc  # in the deployment's environment

        model_dir = os.environ["AZUREML_MODEL_DIR"]
        found = None
        for folder, _dirs, files in os.walk(model_dir):
            if "MLmodel" in files:
                found = folder
                break
        if found is None:
            raise RuntimeError(f"no MLmodel file under {model_dir}")
        log(f"Loading the MLflow model at {found}")
        self.model = mlflow.pyfunc.load_model(found)
        log("The MLflow model is loaded")

    # ---- requests -------------------------------------------------------------------------------
    def call(self, request: "Request"):
        if self.mode == "mlflow":
            return score_mlflow(self.model, request)
        if self.raw:
            args = {self.params[0].name: request.as_aml_request()}
        elif self.decorated:
            args = self._object_input(request)
        elif request.method == "GET":
            args = {self.params[0].name: json.dumps(_query_input(request.query))}
        else:
            try:
                args = {self.params[0].name: request.body.decode("utf-8")}
            except UnicodeDecodeError as exc:
                raise BadInput(f"Input cannot be decoded as UTF-8: {exc}") from None
        if self.takes_headers:
            args["request_headers"] = dict(request.headers)
        return self.run(**args)

    def _object_input(self, request: "Request") -> dict:
        if request.method == "GET":
            body = _query_input(request.query)
        else:
            if "json" not in request.headers.get("content-type", "").lower():
                raise UnsupportedInput("Expects Content-Type to be application/json")
            try:
                body = json.loads(request.body)
            except ValueError as exc:
                raise BadInput(f"POST body could not be decoded as JSON: {exc}" if request.body
                               else "POST body is empty. Expecting a JSON dictionary.") from None
            if not isinstance(body, dict):
                raise BadInput("POST body should be a JSON dictionary.")
        args = {}
        for param in self.params:
            value = body.get(param.name, param.default)
            if value is inspect.Parameter.empty:
                raise BadInput(f"A value is not provided for the {param.name!r} parameter.")
            args[param.name] = value
        return args

    def swagger(self, version: str):
        if self.run is None or not self.decorated:
            return None
        from inference_schema.schema_util import get_input_schema, get_output_schema

        version = "3" if version.startswith("3") else "2"
        inputs, outputs = get_input_schema(self.run), get_output_schema(self.run)
        request = {"description": "Input data", "required": True, "content" if version == "3" else "schema":
                   {"application/json": {"schema": inputs}} if version == "3" else inputs}
        doc = {"info": {"title": "ML service", "description": "API specification for the scoring model",
                        "version": "1.0"},
               "paths": {"/score": {"post": {"description": "Run web service's model and get the prediction",
                                             "responses": {"200": {"description": "OK", "schema": outputs}}}},
                         "/": {"get": {"description": "Simple health check endpoint",
                                       "responses": {"200": {"description": "Healthy"}}}}}}
        if version == "3":
            doc["openapi"] = "3.0.1"
            doc["paths"]["/score"]["post"]["requestBody"] = request
        else:
            doc["swagger"] = "2.0"
            doc["paths"]["/score"]["post"]["parameters"] = [dict(request, name="Inputs", **{"in": "body"})]
        return doc


def _schema_decorated(run) -> bool:
    try:
        from inference_schema.schema_util import is_schema_decorated
    except ImportError:
        return False
    return bool(is_schema_decorated(run))


def score_mlflow(model, request: "Request"):
    import pandas as pd

    try:
        body = json.loads(request.body)
    except ValueError as exc:
        raise BadInput(f"the request body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadInput("the request body must be a JSON object with input_data (or dataframe_split, "
                       "dataframe_records, instances, inputs)")
    params = body.get("params")
    if "input_data" in body:
        frame, wrap = _frame(pd, body["input_data"]), False
    elif "dataframe_split" in body:
        frame, wrap = _frame(pd, body["dataframe_split"]), True
    elif "dataframe_records" in body:
        frame, wrap = pd.DataFrame.from_records(body["dataframe_records"]), True
    elif "instances" in body or "inputs" in body:
        frame, wrap = _frame(pd, body.get("instances", body.get("inputs"))), True
    else:
        raise BadInput("the request needs input_data (Azure's format) or one of MLflow's dataframe_split, "
                       "dataframe_records, instances, inputs")
    predictions = model.predict(frame, params=params) if params else model.predict(frame)
    plain = _plain(predictions)
    return {"predictions": plain} if wrap else plain


def _frame(pd, data):
    if isinstance(data, dict) and "data" in data:
        return pd.DataFrame(data["data"], columns=data.get("columns"), index=data.get("index"))
    if isinstance(data, dict):
        return pd.DataFrame(data)
    return pd.DataFrame(data)


def _plain(value):
    if hasattr(value, "to_dict") and hasattr(value, "columns"):
        return value.to_dict(orient="records")
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


class Request:
    """What a request is, for ``run``: method, path, query, headers, body."""

    def __init__(self, method: str, target: str, headers, body: bytes) -> None:
        parts = urlsplit(target)
        self.method, self.path, self.query = method, parts.path, parts.query
        self.full_path = target
        self.headers = headers
        self.body = body

    def as_aml_request(self):
        module = sys.modules.get("azureml_inference_server_http.api.aml_request") or sys.modules.get(
            "azureml.contrib.services.aml_request")
        factory = getattr(module, "_from_parts", None)
        if factory is None:
            raise RuntimeError("@rawhttp needs openaml's AMLRequest (azureml.contrib.services.aml_request)")
        return factory(self.method, self.full_path, dict(self.headers.items()), self.body)


def response_of(result):
    """``(status, headers, body)`` of what ``run`` returned."""
    if hasattr(result, "status_code") and hasattr(result, "get_data") and hasattr(result, "headers"):
        headers = [(k, str(v)) for k, v in result.headers.items() if k.lower() not in ("content-length",)]
        return int(result.status_code), headers, result.get_data()
    return 200, [("Content-Type", "application/json")], json.dumps(result).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "openaml-scoring"
    scorer: Scorer

    def setup(self) -> None:
        super().setup()
        # one answer is one write, sent at once (no Nagle wait for the peer's delayed ACK)
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args) -> None:
        pass

    def _send(self, status: int, body: bytes, headers=(("Content-Type", "application/json"),)) -> None:
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        request_id = self.headers.get("x-request-id")
        if request_id and len(request_id) <= HEADER_LIMIT:
            self.send_header("x-request-id", request_id)
        self.send_header("Content-Length", str(len(body)))
        # headers and body in one write: two small writes wait on the peer's delayed ACK (~40 ms)
        self._headers_buffer.append(b"\r\n" + body)
        self.flush_headers()

    def _error(self, status: int, message: str) -> None:
        self._send(status, json.dumps({"message": message}).encode())

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > MAX_BODY:
            raise BadInput("bad Content-Length")
        return self.rfile.read(length) if length else b""

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/":
            self._send(200, b"Healthy", (("Content-Type", "text/plain; charset=utf-8"),))
        elif path == "/swagger.json":
            version = (parse_qs(urlsplit(self.path).query).get("version") or ["2"])[0]
            doc = self.scorer.swagger(version)
            if doc is None:
                self._error(404, "Swagger not found: run() is not decorated with @input_schema/@output_schema")
            else:
                self._send(200, json.dumps(doc).encode())
        elif path == "/score":
            self._score(b"")
        else:
            self._error(404, "Not Found")

    def do_POST(self) -> None:
        try:
            body = self._body()
        except BadInput as exc:
            self._error(400, str(exc))
            self.close_connection = True
            return
        if urlsplit(self.path).path == "/score":
            self._score(body)
        else:
            self._error(404, "Not Found")

    def do_OPTIONS(self) -> None:
        self._send(200, b"")

    def _score(self, body: bytes) -> None:
        started = time.perf_counter()
        try:
            result = self.scorer.call(Request(self.command, self.path, self.headers, body))
            status, headers, payload = response_of(result)
        except BadInput as exc:
            self._error(exc.status, str(exc))
            return
        except Exception:  # noqa: BLE001 - the scoring script's exception is the caller's 500
            log("Encountered Exception: " + traceback.format_exc())
            self._error(500, "An unexpected error occurred in scoring script. Check the logs for more info.")
            return
        elapsed = (time.perf_counter() - started) * 1000
        self._send(status, payload, [*headers, ("x-ms-run-fn-exec-ms", f"{elapsed:.3f}")])


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request, client_address) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # the router gave up on the exchange (a probe's or a request's timeout)
        super().handle_error(request, client_address)


def exit_with_router() -> None:
    """End this worker when the router that started it is gone (killed, say): a worker is never
    left serving on its own. Checked once a second from a daemon thread."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                log("the router is gone; exiting")
                os._exit(0)

    threading.Thread(target=watch, name="openaml-router-watch", daemon=True).start()


def main() -> int:
    exit_with_router()
    scorer = Scorer()
    try:
        scorer.load()
    except BaseException:  # noqa: BLE001 - any failure of init() is the deployment's failure
        log("init() failed:\n" + traceback.format_exc())
        return 1
    fd = int(os.environ["OPENAML_WORKER_FD"])
    sock = socket.socket(fileno=fd)
    Handler.scorer = scorer
    server = Server(sock.getsockname(), Handler, bind_and_activate=False)
    server.socket.close()
    server.socket = sock
    log(f"Scoring requests on {sock.getsockname()[0]}:{sock.getsockname()[1]}")
    threading.current_thread().name = "openaml-worker"
    server.serve_forever(poll_interval=3600)
    return 0


if __name__ == "__main__":
    sys.exit(main())
