"""The tenant's REST API (``/api/v1/`` on each tenant's hosts) for integrators.

Views are thin: an input serializer validates, a billing service acts, an output serializer
renders. Authentication is a scoped API key of this tenant (``keys``), every POST honours
``Idempotency-Key`` (``idempotency``), errors are RFC 9457 problems (``errors``), each key
has its own rate limit (``throttling``), and billing events reach the tenant's own systems
as signed webhooks (``webhooks``).
"""
