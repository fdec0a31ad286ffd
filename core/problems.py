"""Problem details (RFC 9457) shared by the tenant API and the resale API."""

# A relative reference (RFC 9457 allows one): resolved against the site's own host, so
# an error never names the platform a reseller's site runs on.
PROBLEM_BASE = "/api/problems/"
