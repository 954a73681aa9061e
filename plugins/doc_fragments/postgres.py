# -*- coding: utf-8 -*-
# Copyright: (c) 2026, runbook.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Connection options shared by every PostgreSQL module.
    DOCUMENTATION = r"""
options:
  dsn:
    description:
      - A connection URL or libpq connection string, for example for a managed database.
      - Read from E(DATABASE_URL) when not given. The options below, when set, take precedence over its parts.
      - What neither sets is read from libpq's variables E(PGHOST), E(PGPORT), E(PGUSER), E(PGPASSWORD),
        E(PGDATABASE) and E(PGSSLMODE); like libpq, the DSN's parts take precedence over them.
    type: str
  host:
    description: Server host, or the folder of its Unix socket.
    type: str
  port:
    description: Server port.
    type: int
  user:
    description: Role to connect as.
    type: str
  password:
    description:
      - Password of O(user).
      - Client programs receive it in their environment, never in their arguments.
    type: str
  database:
    description: Database to work on.
    type: str
  sslmode:
    description: libpq's C(sslmode).
    type: str
requirements:
  - psycopg2 on the host the task runs on
  - the PostgreSQL client programs, of the server's major version or newer
"""
