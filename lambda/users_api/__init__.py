"""Users API: the code behind ``handler.lambda_handler``.

Module layout, top to bottom (no module imports one listed after it that imports it back):

- ``definitions``   values the stack shares with the function (routes, CORS, names, metrics)
- ``settings``      environment variables, read once per process
- ``observability`` Powertools Logger, Metrics, Tracer
- ``timeutil``      the UTC clock and the timestamp format
- ``errors``        what went wrong, in the domain's words
- ``http``          the request and response of API Gateway's proxy integration
- ``responses``     the response envelope and JSON encoding
- ``faults``        what a failed AWS call says about a write (refused or unconfirmed)
- ``http_errors``   the ONE table that maps errors to status and code, and the error answer
- ``deadline``, ``retries``  the request's time budget; attempts that fit inside it
- ``validation``    declarative field rules for request bodies, query strings and headers
- ``pagination``    the opaque ``nextToken`` codec
- ``models``        the records the service and the repository exchange
- ``config``        runtime configuration from SSM Parameter Store (cached, last-known-good)
- ``repository``    every DynamoDB call, each write safe to retry
- ``service``       the domain rules (versions, ETags, idempotent creation, timestamps)
- ``container``     the AWS clients and the per-request objects built on them
- ``routing``, ``routes``, ``pipeline``, ``api``  the router, the routes, the HTTP pipeline,
  and the wiring that ``handler`` calls
"""
