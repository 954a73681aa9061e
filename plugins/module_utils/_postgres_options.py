# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Connection options of the PostgreSQL modules, read from libpq's own environment variables too.

Private to this collection: the interface may change in any release.
"""

from __future__ import annotations

import os

from ansible.module_utils.basic import env_fallback, missing_required_lib

from ansible_collections.runbook.ops.plugins.module_utils._postgres import connection_settings, describe, psycopg2

# Seconds to wait for the server when neither the DSN nor PGCONNECT_TIMEOUT says how long.
CONNECT_TIMEOUT = "10"


def postgres_argument_spec(**options):
    spec = {
        "dsn": {"type": "str", "no_log": True, "fallback": (env_fallback, ["DATABASE_URL"])},
        # libpq's PG* variables are read by connection_settings, below the DSN, as libpq itself does.
        "host": {"type": "str"},
        "port": {"type": "int"},
        "user": {"type": "str"},
        "password": {"type": "str", "no_log": True},
        "database": {"type": "str"},
        "sslmode": {"type": "str"},
    }
    spec.update(options)
    return spec


def postgres_settings(module):
    """libpq settings from the module's options, or a clear failure when psycopg2 is missing."""
    if psycopg2 is None:
        module.fail_json(msg=missing_required_lib("psycopg2"))
    return connection_settings(module.params["dsn"], **{name: module.params[name] for name in
                                                        ("host", "port", "user", "password", "database", "sslmode")})


def unattended_settings(module, name):
    """postgres_settings for a module that runs unattended, and where they lead, without the password.

    A job must not hang on a server that does not answer, which libpq alone would wait for forever; and the
    DBA sees runbook.ops.<name> in pg_stat_activity, unless the connection names an application itself.
    """
    settings = postgres_settings(module)
    if not os.environ.get("PGCONNECT_TIMEOUT"):
        settings.setdefault("connect_timeout", CONNECT_TIMEOUT)
    settings["fallback_application_name"] = f"runbook.ops.{name}"
    return settings, describe(settings)
