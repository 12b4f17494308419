"""Users API: the code behind ``handler.lambda_handler``.

Module layout (each piece is testable on its own):

- ``settings``      environment variables, read once per process
- ``observability`` Powertools Logger, Metrics, Tracer and the business metric names
- ``timeutil``      the UTC clock and the timestamp format
- ``errors``        the domain exceptions and the ONE error -> HTTP response mapping
- ``validation``    declarative field rules for request bodies, query strings and headers
- ``config``        runtime configuration from SSM Parameter Store (cached, last-known-good)
- ``pagination``    the opaque ``nextToken`` codec
- ``repository``    every DynamoDB call
- ``service``       the domain rules (versions, ETags, idempotency, timestamps)
- ``responses``     the response envelope and JSON encoding
- ``api``           the Powertools REST resolver, routes, CORS and the request pipeline
"""
