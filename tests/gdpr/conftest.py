from tests.billing.conftest import in_tenant_a, shop  # noqa: F401  (fixtures)
