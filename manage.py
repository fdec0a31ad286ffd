#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    if os.environ["DJANGO_SETTINGS_MODULE"] != "config.settings.production":
        # Development tooling (the embedded PostgreSQL and Redis, the stand-ins of a
        # running `make run`): never loaded under the production settings.
        from config.devstack import environ_fill

        environ_fill(os.environ)
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
