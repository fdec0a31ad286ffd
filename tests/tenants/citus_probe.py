"""A stand-in for what Citus does to a schema created with
``citus.enable_schema_based_sharding`` on (it distributes it): an event trigger at the end
of each ``CREATE SCHEMA`` that refuses one made with the setting on, so a test sees which
schemas Citus would distribute without a Citus cluster."""

from __future__ import annotations


def sharding_probe_install(cursor) -> None:
    cursor.execute(
        "CREATE FUNCTION public.probe_schema_sharding() RETURNS event_trigger "
        "LANGUAGE plpgsql AS $$ BEGIN "
        "IF current_setting('citus.enable_schema_based_sharding', true) = 'on' THEN "
        "RAISE EXCEPTION 'distributed schema'; END IF; END $$"
    )
    cursor.execute(
        "CREATE EVENT TRIGGER probe_schema_sharding ON ddl_command_end "
        "WHEN TAG IN ('CREATE SCHEMA') EXECUTE FUNCTION public.probe_schema_sharding()"
    )


def sharding_probe_remove(cursor) -> None:
    cursor.execute("DROP EVENT TRIGGER probe_schema_sharding")
    cursor.execute("DROP FUNCTION public.probe_schema_sharding()")
