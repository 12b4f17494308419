"""Host stand-in for the AWS Lambda Python runtime (one worker process, started by init.py).

It imports the handler named by _HANDLER from LAMBDA_TASK_ROOT (the init phase), then runs one
invocation per request line read from stdin. Everything the function writes to stdout/stderr is
its log; protocol messages to init.py are written to stdout too (after flushing, so they stay in
order with the logs), each prefixed by a random marker the function cannot guess.

What it emulates, enough for AWS Lambda Powertools and typical handlers: the context object, the
root logger's Lambda format with the request id, `_X_AMZN_TRACE_ID`, error payloads with
errorType/errorMessage/stackTrace, and the init error types (Runtime.ImportModuleError, ...).
"""

import decimal
import importlib
import io
import json
import logging
import os
import sys
import threading
import time
import traceback
from typing import Any

MARKER = os.environ.pop("_HOST_LAMBDA_MARKER").encode()
CURRENT_REQUEST_ID = ""


class LambdaContext:
    """Mirrors the attributes of the context object of Lambda's Python runtime."""

    def __init__(self, request_id: str, invoked_function_arn: str, deadline_ms: int):
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_function_arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))

    def log(self, message: str) -> None:
        sys.stdout.write(message)
        sys.stdout.flush()

    def __repr__(self):
        return (
            f"LambdaContext([aws_request_id={self.aws_request_id},"
            f"function_name={self.function_name},"
            f"invoked_function_arn={self.invoked_function_arn}])"
        )


class InitError(Exception):
    def __init__(self, error_type: str, message: str, stack: list[str] | None = None):
        super().__init__(message)
        self.error_type = error_type
        self.stack = stack or []


def send(message: dict[str, Any]) -> None:
    # Flush the function's buffered output first so it is attributed to this invocation.
    sys.stdout.flush()
    sys.stderr.flush()
    data = MARKER + json.dumps(message).encode() + b"\n"
    while data:
        data = data[os.write(1, data) :]


def log_error(error_type: str, message: str, stack: list[str]) -> None:
    # Same shape as Lambda's "[ERROR] Type: message\nTraceback ..." log record.
    text = f"[ERROR] {error_type}: {message}\nTraceback (most recent call last):\n" + "".join(stack)
    sys.stdout.write(text.rstrip("\n") + "\n")


def setup_logging() -> None:
    """Root logger as configured by Lambda's runtime: tab-separated level, time, request id."""

    class RequestIdFilter(logging.Filter):
        def filter(self, record):
            record.aws_request_id = CURRENT_REQUEST_ID
            return True

    formatter = logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
        "%Y-%m-%dT%H:%M:%S",
    )
    formatter.converter = time.gmtime
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL")
    if level:
        root.setLevel(level.upper())


def load_handler(spec: str):
    module_name, _, function_name = spec.rpartition(".")
    if not module_name or not function_name:
        raise InitError(
            "Runtime.MalformedHandlerName", f"Bad handler '{spec}': not enough values to unpack"
        )
    module_name = module_name.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise InitError(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {e}"
        ) from e
    except SyntaxError as e:
        raise InitError(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {e}"
        ) from e
    except Exception as e:
        stack = traceback.format_list(traceback.extract_tb(e.__traceback__))
        raise InitError(type(e).__name__, str(e), stack) from e
    handler = getattr(module, function_name, None)
    if handler is None:
        raise InitError(
            "Runtime.HandlerNotFound",
            f"Handler '{function_name}' missing on module '{module_name}'",
        )
    return handler


def to_json(value) -> str:
    def default(obj):
        # boto3's DynamoDB resource returns numbers as Decimal; Lambda's runtime serialises them.
        if isinstance(obj, decimal.Decimal):
            return int(obj) if obj == obj.to_integral_value() else float(obj)
        raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")

    return json.dumps(value, default=default)


def invoke(handler: Any, request: dict[str, Any]) -> None:
    global CURRENT_REQUEST_ID
    request_id = request["request_id"]
    CURRENT_REQUEST_ID = request_id
    if request.get("trace_id"):
        os.environ["_X_AMZN_TRACE_ID"] = request["trace_id"]
    else:
        os.environ.pop("_X_AMZN_TRACE_ID", None)
    context = LambdaContext(request_id, request["invoked_function_arn"], request["deadline_ms"])
    try:
        payload = request.get("payload") or "{}"
        result = handler(json.loads(payload), context)
    except Exception as e:
        stack = traceback.format_list(traceback.extract_tb(e.__traceback__))
        log_error(type(e).__name__, str(e), stack)
        send({"type": "error", "error": error_payload(type(e).__name__, str(e), request_id, stack)})
        return
    try:
        body = to_json(result)
    except (TypeError, ValueError) as e:
        message = f"Unable to marshal response: {e}"
        log_error("Runtime.MarshalError", message, [])
        send(
            {
                "type": "error",
                "error": error_payload("Runtime.MarshalError", message, request_id, []),
            }
        )
        return
    send({"type": "response", "body": body})


def error_payload(
    error_type: str, message: str, request_id: str, stack: list[str]
) -> dict[str, Any]:
    return {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": request_id,
        "stackTrace": stack,
    }


def exit_with_parent() -> None:
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(1)


def main() -> None:
    # The request channel is stdin; hand the function /dev/null instead, as Lambda does.
    requests = os.fdopen(os.dup(0), "rb")
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    # Line-buffered so output written before a timeout still reaches the logs.
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(line_buffering=True)
    threading.Thread(target=exit_with_parent, daemon=True).start()

    # Code in LAMBDA_TASK_ROOT comes first on sys.path (before the runtime's boto3), like Lambda;
    # drop this script's own folder.
    task_root = os.environ["LAMBDA_TASK_ROOT"]
    sys.path[0] = task_root
    setup_logging()

    handler, init_error = None, None
    try:
        handler = load_handler(os.environ.get("_HANDLER", ""))
    except InitError as e:
        init_error = e
        log_error(e.error_type, str(e), e.stack)
    send({"type": "init"})

    for line in requests:
        request = json.loads(line)
        if init_error is not None:
            err = init_error
            log_error(err.error_type, str(err), err.stack)
            send(
                {
                    "type": "error",
                    "error": error_payload(
                        err.error_type, str(err), request["request_id"], err.stack
                    ),
                }
            )
            continue
        invoke(handler, request)


if __name__ == "__main__":
    main()
