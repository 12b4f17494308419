# mypy: ignore-errors
# (Runs inside LocalStack's own venv; the project's type-check environment has no localstack.)
"""Records the AWS calls made with a role's assumed credentials (a Lambda function's calls),
for the e2e suite's least-privilege audit (docs/least-privilege.md).

A request handler in LocalStack's chain, after the request is parsed and before a service
serves it, keeps: service, operation, region, account, the access key and the role and session
(the function's name) it was assumed for, and the request's parameters. Calls made with other
credentials (the tests', LocalStack's own) are not kept. `GET /_localstack-host/calls` answers
the list as JSON. A test LocalStack's only: the parameters hold the test data as sent.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import deque

LOG = logging.getLogger(__name__)

PATH = "/_localstack-host/calls"
# Bounded, so a long `make local` session cannot grow LocalStack without limit.
MAX_CALLS = 100_000

_calls: deque = deque(maxlen=MAX_CALLS)
_lock = threading.Lock()


def _assumed_role(context, access_key_id):
    from moto.sts.models import sts_backends

    try:
        backend = sts_backends[context.account_id][context.partition or "aws"]
    except KeyError:
        return None
    return backend.get_assumed_role_from_access_key(access_key_id)


def record(chain, context, response):
    """Handler of LocalStack's chain: keeps the call if an assumed role's credentials made it."""
    from localstack.utils.aws.request_context import extract_access_key_id_from_auth_header

    if context.service is None or context.operation is None or context.is_internal_call:
        return
    access_key_id = extract_access_key_id_from_auth_header(context.request.headers)
    if not access_key_id:
        return
    role = _assumed_role(context, access_key_id)
    if role is None:
        return
    call = {
        "service": context.service.service_name,
        "signingName": context.service.signing_name or context.service.service_name,
        "operation": context.operation.name,
        "region": context.region,
        "account": context.account_id,
        "accessKeyId": access_key_id,
        "roleArn": role.role_arn,
        "sessionName": role.session_name,
        # JSON now: the request's values (bytes, dates) must not outlive the request.
        "params": json.loads(json.dumps(context.service_request or {}, default=str)),
    }
    with _lock:
        _calls.append(call)


def _serve(request, **_kwargs):
    from localstack.http import Response

    with _lock:
        calls = list(_calls)
    response = Response(mimetype="application/json")
    response.set_json({"calls": calls})
    return response


def register():
    """on_infra_start: put the recorder in the chain and serve what it kept."""
    from localstack.aws import handlers
    from localstack.services.edge import ROUTER

    handlers.serve_custom_service_request_handlers.append(record)
    ROUTER.add(PATH, _serve, methods=["GET"])
    LOG.info("call recorder serving %s", PATH)
