"""Every module's EXAMPLES, run as written by the real ansible-playbook against the fakes, the throwaway PostgreSQL
and the controller; and every module's documentation, as ansible-doc renders it.

Each module's examples are one play, their tasks in the order they are written, on a host of its own (the
controller, reached locally), so that one failing example does not stop the others. The site's settings are
play variables (folders in tmp_path, the health endpoint, the database host), the services' settings are in the
environment, as an inventory and an AWX credential give them. Three ansible-playbook processes run side by side,
each in an order where a module's examples find what an earlier module's left: the builds before the listings, the
backups before the report of them, the drill and the restores.
"""
import ast
import datetime
import ipaddress
import json
import os
import ssl
import subprocess
import sys
import tarfile
import urllib.request

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ansible_collections.runbook.ops.plugins.module_utils._backup import backup_name, dump
from tests.fakes import HealthServer
from tests.integration.conftest import (
    ANSIBLE_PLAYBOOK,
    PAGERDUTY_ROUTING_KEY,
    PAGERDUTY_TOKEN,
    STATUSPAGE_KEY,
    play_environment,
)
from tests.integration.sandbox import (
    DEPLOY_HOOK,
    INCIDENT_HOOK,
    LIVE,
    MAINTENANCE_HOOK,
    PREVIOUS,
    REPO,
    SANDBOX,
    STATUSPAGE_PAGE,
    TOKEN,
    component_statuses,
    pagerduty_alerts,
    serving,
    slack_texts,
    statuspage_incidents,
)
from tests.postgres_cluster import PASSWORD

ANSIBLE_DOC = os.path.join(os.path.dirname(sys.executable), "ansible-doc")
CALLBACKS = REPO / "tests/integration/callback_plugins"
MODULES = sorted(path.stem for path in (REPO / "plugins/modules").glob("*.py") if path.name != "__init__.py")
UTC = datetime.timezone.utc
NOW = datetime.datetime.now(UTC)

# Each list runs in one ansible-playbook, the three side by side, each in its order: a play may use what an
# earlier one of its list left. The builds of vercel_deployment are what the listings of the last hours find, and
# the health endpoint follows the production domain the Vercel examples move; the status page is open only
# until the incident example resolves it; the restores come after what reads the data they replace, and before
# the archive moves rows into tables the old scripts' dump does not know. A module named in none runs last in the
# second.
PLAYBOOKS = {
    "vercel": ["vercel_deployment", "vercel_deployment_info", "vercel_alias", "vercel_env_info", "diagnostics_bundle",
               "http_probe", "http_watch"],
    "services": ["slack_message", "pagerduty_event", "pagerduty_incident_info", "statuspage_incident",
                 "statuspage_incident_info", "audit_record", "run_lock", "file_cleanup", "host_resources_info",
                 "security_log_info"],
    "database": ["postgres_backup", "postgres_backup_info", "postgres_restore_drill", "postgres_schema_info",
                 "postgres_stats_info", "postgres_maintenance", "postgres_restore", "postgres_archive"],
}

# The example tasks that act only when something is wrong, which may be skipped by their own condition here.
# Every other example task must run.
WHEN_SOMETHING_IS_WRONG = {
    ("http_probe", "Give up when it is not"): "the health endpoint is healthy",
    ("http_watch", "Roll back when the watch saw trouble"): "the watch sees no breach",
    ("host_resources_info", "Warn about full disks"): "this machine's disks decide",
    ("postgres_maintenance", "Say which indexes an interrupted rebuild left behind"): "no rebuild was interrupted",
    ("postgres_stats_info", "Say what is wrong"): "no statement runs for 5 minutes",
}

INCIDENT_ID = "INC-20261205-141500"
OPERATOR = "alice"
# The database users the examples connect as, besides the DSN's superuser. They log in with the DSN's password,
# which libpq takes from it when an example names only host, user and database.
ROLES = {"backup": "GRANT pg_read_all_data TO backup", "shop_admin": None, "monitor": "GRANT pg_monitor TO monitor"}

# The shop as the examples name it, every object owned by shop_admin, as on a managed service where that role
# owns the database. The old scripts' plain dump is taken of its first 1000 products; 200 more come after it.
SHOP = """
SET ROLE shop_admin;
CREATE TABLE products (id serial PRIMARY KEY, name text NOT NULL, price numeric(10, 2) NOT NULL);
INSERT INTO products (name, price) SELECT 'Product ' || n, n * 1.25 FROM generate_series(1, 1000) AS n;
CREATE TABLE orders (id serial PRIMARY KEY, product_id int NOT NULL REFERENCES products, quantity int NOT NULL,
                     note text);
CREATE INDEX orders_note_idx ON orders (note);
INSERT INTO orders (product_id, quantity) SELECT 1 + n % 1000, 1 + n % 3 FROM generate_series(1, 1000) AS n;
CREATE TABLE order_lines (id serial PRIMARY KEY, order_id int NOT NULL REFERENCES orders, sku text NOT NULL);
CREATE INDEX order_lines_order_id_idx ON order_lines (order_id);
INSERT INTO order_lines (order_id, sku) SELECT 1 + n % 1000, 'SKU-' || n % 50 FROM generate_series(1, 3000) AS n;
CREATE SCHEMA billing;
CREATE TABLE billing.invoices (id serial PRIMARY KEY, order_id int NOT NULL, created timestamptz NOT NULL,
                               paid boolean NOT NULL);
INSERT INTO billing.invoices (order_id, created, paid)
  SELECT n, now() - make_interval(hours => n), n % 10 <> 0 FROM generate_series(1, 1000) AS n;
CREATE TABLE sessions (id serial PRIMARY KEY, user_id int NOT NULL, seen timestamptz NOT NULL);
INSERT INTO sessions (user_id, seen) SELECT n % 40, now() - make_interval(mins => n) FROM generate_series(1, 200) AS n;
CREATE TABLE schema_migrations (version text PRIMARY KEY);
INSERT INTO schema_migrations VALUES ('20261101090000'), ('20261201093000');
CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);
INSERT INTO alembic_version VALUES ('4f2a9c1e7b3d');
CREATE TABLE operation_logs (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now(), message text);
-- Three hours off the six-hour steps: no row sits on the 90-day cutoff while the test runs.
INSERT INTO operation_logs (created_at, message)
  SELECT now() - make_interval(hours => 6 * n + 3), 'operation ' || n FROM generate_series(1, 800) AS n;
CREATE SCHEMA audit;
CREATE TABLE audit.audit_log (id bigserial PRIMARY KEY, "timestamp" timestamp NOT NULL DEFAULT localtimestamp,
                              actor text, action text);
INSERT INTO audit.audit_log ("timestamp", actor, action)
  SELECT timestamp '2026-01-01' + make_interval(hours => 12 * n), 'user' || n % 5, 'login'
  FROM generate_series(-400, 300) AS n;
CREATE SCHEMA archive;
"""
MORE_PRODUCTS = ("SET ROLE shop_admin; INSERT INTO products (name, price) SELECT 'Product ' || n, n * 1.25 "
                 "FROM generate_series(1001, 1200) AS n")
BILLING = ("SET ROLE shop_admin; CREATE TABLE invoices (id serial PRIMARY KEY, total numeric NOT NULL);"
           "INSERT INTO invoices (total) SELECT n FROM generate_series(1, 100) AS n")


def iso(moment):
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def doc_blocks(module):
    """A module's DOCUMENTATION, EXAMPLES and RETURN, as written in its file."""
    tree = ast.parse((REPO / "plugins/modules" / f"{module}.py").read_text(encoding="utf-8"))
    return {node.targets[0].id: node.value.value for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id in ("DOCUMENTATION", "EXAMPLES", "RETURN")}


def examples(module):
    return yaml.safe_load(doc_blocks(module).get("EXAMPLES") or "") or []


def runbook_module(task):
    """The runbook.ops module a task calls, or None."""
    return next((key.split(".")[-1] for key in task if key.startswith("runbook.ops.")), None)


# ----- the documentation ---------------------------------------------------------------------------------------

def undocumented(options, where):
    """The options (and suboptions) without a description or a type."""
    found = []
    for name, option in (options or {}).items():
        if not option.get("description") or not option.get("type"):
            found.append(f"{where}{name}")
        found += undocumented(option.get("suboptions"), f"{where}{name}.")
    return found


def test_every_module_documents_itself_and_ansible_doc_renders_it_without_a_warning():
    done = subprocess.run([ANSIBLE_DOC, "--json", *(f"runbook.ops.{module}" for module in MODULES)], cwd=REPO,
                          env={**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"},
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0 and "WARNING" not in done.stderr, done.stderr
    rendered = json.loads(done.stdout)

    problems = []
    for module in MODULES:
        blocks = doc_blocks(module)
        page = rendered.get(f"runbook.ops.{module}")
        if page is None:
            problems.append(f"{module}: ansible-doc does not render it")
            continue
        doc = page["doc"]
        for field in ("short_description", "description"):
            if not doc.get(field):
                problems.append(f"{module}: no {field}")
        problems += [f"{module}: option {name} lacks a description or a type"
                     for name in undocumented(doc.get("options"), "")]
        tasks = yaml.safe_load(blocks.get("EXAMPLES") or "")
        named = isinstance(tasks, list) and all(isinstance(task, dict) and task.get("name") for task in tasks)
        if not tasks or not named or len({task["name"] for task in tasks}) < len(tasks):
            # The test below tells the example tasks apart by their names.
            problems.append(f"{module}: EXAMPLES is not a list of tasks with names of their own")
        elif module not in (runbook_module(task) for task in tasks):
            problems.append(f"{module}: no example calls it")
        returned = yaml.safe_load(blocks.get("RETURN") or "")
        if not isinstance(returned, dict) or not all(field.get("description") and field.get("returned")
                                                     for field in returned.values()):
            problems.append(f"{module}: RETURN is not a mapping of documented return values")
    assert not problems, "\n".join(problems)


# ----- the site the examples run in ----------------------------------------------------------------------------

def certificates(folder):
    """A CA of this test's own and, signed by it, a certificate of 127.0.0.1 with 10 days left: the examples'
    certificate warning (tls_warn_days 21) has something to say, and it verifies against the CA."""
    def name(common_name):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("Runbook Examples CA")).issuer_name(name("Runbook Examples CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(NOW - datetime.timedelta(days=1)).not_valid_after(NOW + datetime.timedelta(days=365))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder().subject_name(name("127.0.0.1")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(NOW - datetime.timedelta(days=80)).not_valid_after(NOW + datetime.timedelta(days=10))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    folder.mkdir()
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / "server.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (folder / "server.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                          serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "server.pem", folder / "server.key")
    return folder / "ca.pem", context


@pytest.fixture
def https_health(fake, tmp_path):
    """The health endpoint over HTTPS, as production serves it: the health fake, following the Vercel fake's
    production domain, behind the certificate above. Returns its URL and the CA file to trust."""
    ca_file, context = certificates(tmp_path / "tls")
    server = HealthServer(fake.vercel, SANDBOX["health"]["domain"])
    # As the fakes' own ssl_context does: the listening socket answers in TLS, each handshake in its own thread.
    server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    server.scheme = "https"
    server.start()
    yield f"{server.url}/api/health", ca_file
    server.stop()


def role_sql(role, grant):
    return (f"DO $$ BEGIN CREATE ROLE {role} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;"
            f"ALTER ROLE {role} LOGIN NOCREATEDB PASSWORD '{PASSWORD}';" + (f"{grant};" if grant else ""))


def drop_shop(postgres):
    leftovers = postgres.psql("SELECT string_agg(datname, ' ') FROM pg_database "
                              "WHERE datname IN ('shop', 'billing', 'reports') OR datname LIKE 'shop\\_%'")
    for database in leftovers.split():
        postgres.psql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.fixture
def shop(postgres, tmp_path):
    """The databases the PostgreSQL examples name (shop and billing), their users, and the backup folder with the
    old scripts' plain dump in legacy/ and a backup of a database (reports) three days old, which no backup
    freshened since. Returns the DSN the environment gives the examples, and the expectations it set up."""
    drop_shop(postgres)
    for role, grant in ROLES.items():
        postgres.psql(role_sql(role, grant))
    for database in ("shop", "billing", "reports"):
        postgres.psql(f"CREATE DATABASE {database} OWNER shop_admin")
    postgres.psql(SHOP, database="shop")
    postgres.psql(BILLING, database="billing")
    postgres.psql("CREATE TABLE daily (day date PRIMARY KEY); INSERT INTO daily VALUES (current_date)",
                  database="reports")

    backups = tmp_path / "backup"
    (backups / "legacy").mkdir(parents=True)
    client = {**os.environ, "PGHOST": postgres.host, "PGPORT": str(postgres.port), "PGUSER": "runbook",
              "PGPASSWORD": PASSWORD}
    subprocess.run(["pg_dump", "--format=plain", "--clean", "--if-exists", "--file",
                    str(backups / "legacy/shop_20260101.sql"), "shop"], env=client, check=True, capture_output=True)
    postgres.psql(MORE_PRODUCTS, database="shop")
    postgres.psql("CREATE EXTENSION pg_stat_statements", database="shop")
    dump("pg_dump", "pg_restore", str(backups), "reports", "custom", 1, {**client, "PGDATABASE": "reports"},
         name=backup_name("reports", NOW - datetime.timedelta(days=3)))
    postgres.psql("DROP DATABASE reports WITH (FORCE)")

    expected = {
        "old_operation_logs": int(postgres.psql("SELECT count(*) FROM operation_logs "
                                                "WHERE created_at < now() - interval '90 days'", database="shop")),
        "active_users": int(postgres.psql("SELECT count(DISTINCT user_id) FROM sessions "
                                          "WHERE seen > now() - interval '1 hour'", database="shop")),
    }
    yield f"postgresql://runbook:{PASSWORD}@{postgres.host}:{postgres.port}/shop", expected
    drop_shop(postgres)
    postgres.psql("DROP ROLE IF EXISTS " + ", ".join(ROLES))


def journal_stand_in(folder):
    """A journalctl first on PATH. Asked for JSON (security_log_info), it serves four entries of sshd and sudo on
    2026-12-04 in Tokyo, the day of the journal example; asked for text (the diagnostics example), it has none."""
    day = datetime.datetime(2026, 12, 4, 10, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=9)))

    def entry(minutes, program, pid, message):
        moment = day + datetime.timedelta(minutes=minutes)
        return json.dumps({"__REALTIME_TIMESTAMP": str(int(moment.timestamp() * 1e6)), "SYSLOG_IDENTIFIER": program,
                           "_COMM": program, "SYSLOG_PID": str(pid), "MESSAGE": message})

    folder.mkdir()
    (folder / "entries.json").write_text("\n".join([
        entry(0, "sshd", 4101, "Failed password for root from 198.51.100.23 port 50122 ssh2"),
        entry(1, "sshd", 4102, "Invalid user admin from 198.51.100.23 port 50130"),
        entry(90, "sshd", 4150, "Accepted publickey for deploy from 192.0.2.10 port 41000 ssh2: ED25519 SHA256:x"),
        entry(95, "sudo", 4160, "  deploy : TTY=pts/0 ; PWD=/srv/app ; USER=root ; "
                                "COMMAND=/usr/bin/systemctl restart app"),
    ]) + "\n")
    script = folder / "journalctl"
    script.write_text(f"#!{sys.executable}\nimport sys\n"
                      f"if '--output=json' in sys.argv:\n"
                      f"    sys.stdout.write(open({str(folder / 'entries.json')!r}).read())\n"
                      f"else:\n"
                      f"    print('-- No entries --')\n")
    script.chmod(0o755)
    return folder


def auth_log(path):
    """A Debian 12 auth.log with 120 failed logins from one address in the last day, one accepted login."""
    tokyo = datetime.timezone(datetime.timedelta(hours=9))
    lines = [f"{(NOW - datetime.timedelta(minutes=5 * n)).astimezone(tokyo).isoformat(timespec='microseconds')} web1 "
             f"sshd[{5000 + n}]: Failed password for root from 203.0.113.7 port {40000 + n} ssh2\n"
             for n in range(120, 0, -1)]
    lines.append(f"{NOW.astimezone(tokyo).isoformat(timespec='microseconds')} web1 sshd[6000]: Accepted publickey for "
                 "deploy from 192.0.2.10 port 41000 ssh2: ED25519 SHA256:x\n")
    path.parent.mkdir(parents=True)
    path.write_text("".join(lines), encoding="utf-8")


def old_files(folder, names, days):
    folder.mkdir(parents=True, exist_ok=True)
    moment = (NOW - datetime.timedelta(days=days)).timestamp()
    for name in names:
        (folder / name).write_text(f"{name}\n", encoding="utf-8")
        os.utime(folder / name, (moment, moment))


def post(url, body, headers=None):
    request = urllib.request.Request(url, json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=10) as answer:
        answer.read()


def seed_services(fake):
    """What the services hold besides the sandbox seed: new builds are ready at once and report an error rate on the
    health endpoint; an alert from another check is still open on PagerDuty; a maintenance is announced for next
    week."""
    fake.vercel.add_build_rules([{"queued_s": 0, "build_s": 0, "error_rate": 0.004}])
    post(f"{fake.pagerduty_url}/v2/enqueue", {
        "routing_key": PAGERDUTY_ROUTING_KEY, "event_action": "trigger", "dedup_key": "webapp/production/latency",
        "payload": {"summary": "webapp checkout p95 above 2 s", "source": "monitoring", "severity": "critical"}})
    starts = NOW + datetime.timedelta(days=7)
    post(f"{fake.statuspage_url}/pages/{STATUSPAGE_PAGE}/incidents", {"incident": {
        "name": "[MNT-NEXT-WEEK] Payment provider migration", "status": "scheduled", "body": "Card payments pause.",
        "scheduled_for": iso(starts), "scheduled_until": iso(starts + datetime.timedelta(hours=1))}},
        {"Authorization": f"OAuth {STATUSPAGE_KEY}"})


def site(tmp_path, postgres, health_url):
    """The play variables of every example play, with the folders and files they name made in tmp_path."""
    auth_log(tmp_path / "log/auth.log")
    old_files(tmp_path / "app-logs", ["app.log.1", "app.log.2.gz", "worker.log", "audit-2026-10.log"], days=40)
    old_files(tmp_path / "app-logs", ["app.log"], days=1)
    old_files(tmp_path / "uploads", ["upload-7f3a.part", "upload-91bc.part"], days=9)
    (tmp_path / "env-backups").mkdir()
    return {
        # The site's settings, under the names the collection's plays give them.
        "health_check_url": health_url,
        "deploy_watch_minutes": 0.05,
        "deploy_watch_interval": 0.5,
        "db_host": postgres.host,
        "db_backup_dir": str(tmp_path / "backup"),
        "rollback_audit_dir": str(tmp_path / "audit"),
        "rollback_lock_dir": str(tmp_path / "locks"),
        "diagnostics_dir": str(tmp_path / "diagnostics"),
        "deploy_env_backup_dir": str(tmp_path / "env-backups"),
        "daily_check_security_logs": [str(tmp_path / "log/auth.log"), str(tmp_path / "log/secure")],
        "app_log_dir": str(tmp_path / "app-logs"),
        "upload_dir": str(tmp_path / "uploads"),
        # What the play around the examples knows of its run.
        "operator": OPERATOR,
        "rollback_reason": "checkout answers 500 since 14:02",
        "rollback_run_id": "20261205T051500Z-4242",
        "incident_id": INCIDENT_ID,
        "previous_check_at": iso(NOW - datetime.timedelta(days=1)),
        "deploy_schema_version": "20261201093000",
        "current_deployment": LIVE,
        "previous_deployment": PREVIOUS,
    }


# ----- running them --------------------------------------------------------------------------------------------

def playbook(path, modules, variables):
    """One play per module, on a host named after it, holding its examples as they are written.

    They are one block, whose rescue lets the playbook go on to the next module after a failure: ansible-playbook
    stops at a play whose every host failed. The failed task is recorded all the same, and the rest of the
    module's examples as not run."""
    go_on = [{"name": "(test) go on with the next module", "ansible.builtin.meta": "noop"}]
    plays = [{"name": module, "hosts": module, "gather_facts": False, "vars": variables,
              "tasks": [{"block": examples(module), "rescue": go_on}]} for module in modules]
    path.write_text(yaml.safe_dump(plays, sort_keys=False), encoding="utf-8")
    return path


def inventory(path):
    """The controller under one name per module, and as web1, the ops host the diagnostics example reads."""
    local = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}
    path.write_text(json.dumps({"all": {"hosts": {name: local for name in [*MODULES, "web1"]}}}), encoding="utf-8")
    return path


def run_playbooks(playbooks, hosts, environment, folder):
    """Run the playbooks side by side; return each one's output and the task results of all of them."""
    running = []
    for path in playbooks:
        results = folder / f"{path.stem}.jsonl"
        command = [str(ANSIBLE_PLAYBOOK), "-i", str(hosts), str(path)]
        running.append((results, subprocess.Popen(command, cwd=REPO, env={**environment, "TASK_RESULTS": str(results)},
                                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)))
    outputs, records = [], []
    for results, process in running:
        outputs.append(process.communicate(timeout=300)[0])
        if results.exists():
            records += [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines()]
    return "\n".join(outputs), records


def not_run(outcomes):
    """The example tasks that failed, did not run, or were skipped without acting only on trouble."""
    problems = []
    for module in MODULES:
        if not examples(module):
            problems.append(f"{module} has no example")
        for task in examples(module):
            record = outcomes.get((module, task["name"]))
            if record is None:
                problems.append(f"{module}: {task['name']!r} did not run")
            elif record["status"] in ("failed", "unreachable"):
                problems.append(f"{module}: {task['name']!r} {record['status']}: {record['result'].get('msg')}")
            elif record["status"] == "skipped" and (module, task["name"]) not in WHEN_SOMETHING_IS_WRONG:
                problems.append(f"{module}: {task['name']!r} was skipped: {record['result']}")
    return problems


def unkept_returns(outcomes):
    """The values RETURN promises always or on success that a registered result of a runbook.ops module lacks.
    (A no_log task's result is censored; the tasks that use it show what it held.)"""
    problems = []
    for module in MODULES:
        for task in examples(module):
            called = runbook_module(task)
            if called and task.get("register") and not task.get("no_log"):
                promised = yaml.safe_load(doc_blocks(called)["RETURN"])
                result = outcomes[(module, task["name"])]["result"]
                problems += [f"{module}: {task['name']!r} returned no {key}" for key, field in promised.items()
                             if field["returned"] in ("always", "success") and key not in result]
    return problems


def broken_promises(outcomes, fake, postgres, tmp_path, expected):
    """What each module's examples promise, in their results and in the world they acted on; what does not hold."""
    problems = []

    def registered(module, name):
        return outcomes[(module, name)]["result"]

    def expect(condition, what):
        if not condition:
            problems.append(what)

    audit = (tmp_path / "audit/audit.jsonl").read_text(encoding="utf-8").splitlines()
    expect(len(audit) == 1 and json.loads(audit[0])["action"] == "rollback", f"audit_record wrote {audit}")
    expect(outcomes[("run_lock", "One rollback of this project at a time")]["status"] == "changed"
           and not (tmp_path / "locks/rollback-webapp.lock").exists(), "run_lock did not take and release the lock")

    bundle = registered("diagnostics_bundle", "Write the bundle")
    with tarfile.open(bundle["path"]) as archive:
        members = archive.getnames()
    expect(members == ["INC-20261204-213000-diagnostics/deployments.json",
                       "INC-20261204-213000-diagnostics/ops/web1/journal-errors.txt"], f"the bundle holds {members}")

    left = sorted(path.name for path in (tmp_path / "app-logs").iterdir())
    expect(registered("file_cleanup", "Remove the application's logs older than 30 days, but keep the audit logs")
           ["files_removed"] == 3 and left == ["app.log", "audit-2026-10.log"], f"file_cleanup left {left}")
    expect(len(list((tmp_path / "uploads").iterdir())) == 2, "the check-mode clean-up removed uploads")

    resources = registered("host_resources_info", "The ten busiest processes over two seconds")
    expect(resources["cpu_count"] == os.cpu_count() and 0 < len(resources["processes"]["by_memory"]) <= 10,
           f"host_resources_info read {resources['cpu_count']} CPUs, {resources['processes']}")

    health = registered("http_probe", "Time ten probes and read the certificate")
    expect(health["healthy"] and health["latency"]["count"] == 10 and health["tls"]["verified"]
           and health["tls"]["expiring"] and 9 < health["tls"]["days_left"] <= 10, f"http_probe said {health}")
    watch = registered("http_watch", "Watch production for the deploy's window after the deploy")
    expect(watch["healthy"] and watch["polls"] > 0 and watch["reported_error_rate"] == 0.004,
           f"http_watch said {watch}")

    expect(pagerduty_alerts(fake) == {"webapp/production/latency": "triggered", "webapp/production/health": "resolved"},
           f"PagerDuty's alerts are {pagerduty_alerts(fake)}")
    expect([event["summary"] for event in fake.pagerduty.state()["change_events"]]
           == [f"Rolled back webapp production to {PREVIOUS}"], "the change event was not recorded")
    still_open = registered("pagerduty_incident_info", "Read the high-urgency incidents of the webapp service opened "
                                                       "in the past week and still open")
    expect([incident["incident_key"] for incident in still_open["incidents"]] == ["webapp/production/latency"],
           f"pagerduty_incident_info found {still_open['incidents']}")

    expect(any(OPERATOR in text for text in slack_texts(fake, "#incidents"))
           and "Deploy finished" in slack_texts(fake, "#deployments"), f"Slack got {slack_texts(fake)}")

    pages = {incident["name"]: incident["status"] for incident in statuspage_incidents(fake)}
    expect(pages.get(f"[{INCIDENT_ID}] Checkout errors") == "resolved"
           and pages.get("[MNT-20261210-2200] Database upgrade") == "completed"
           and set(component_statuses(fake).values()) == {"operational"}, f"the status page holds {pages}")
    status = registered("statuspage_incident_info", "Read what is open on the status page")
    expect(not status["freeze"] and [item["name"] for item in status["maintenances"]]
           == ["[MNT-NEXT-WEEK] Payment provider migration"], f"statuspage_incident_info said {status}")

    deployed = registered("vercel_deployment", "Deploy a commit of main to production")
    expect(deployed["deployment"]["commit_sha"] == "bef543f8593f06c95570a96b17eaa23f8582508f"
           and deployed["previous"]["id"] == LIVE, f"vercel_deployment said {deployed}")
    recent = registered("vercel_deployment_info", "What was deployed in the last six hours, for an incident's timeline")
    expect(len(recent["deployments"]) == 2, f"the last six hours hold {recent['deployments']}")
    switch = registered("vercel_alias", "Point production at the previous deployment")
    expect(serving(fake) == {"shop.example.com": switch["domains"][0]["before"],
                             "www.shop.example.com": switch["deployment"]["id"]},
           f"after vercel_alias production serves {serving(fake)}")
    env_backup = list((tmp_path / "env-backups").iterdir())
    expect(len(env_backup) == 1 and env_backup[0].stat().st_mode & 0o777 == 0o600
           and any(env["key"] == "STRIPE_SECRET_KEY" and env["value"]
                   for env in json.loads(env_backup[0].read_text(encoding="utf-8"))),
           f"vercel_env_info's backup is {env_backup}")
    listing = registered("vercel_env_info", "Which variables production has, without their values")
    expect(listing["envs"] and all(env.get("value") is None for env in listing["envs"]), f"the listing is {listing}")

    security = registered("security_log_info", "Summarise the security logs since the previous check")
    expect(security["failed_logins"]["count"] == 120
           and security["failed_logins"]["by_address"][0]["address"] == "203.0.113.7", f"the auth.log read {security}")
    journal = registered("security_log_info", "A host that logs only to the journal, over a fixed day")
    expect(journal["failed_logins"]["count"] == 2 and journal["accepted_logins"]["count"] == 1,
           f"the journal read {journal}")

    backup = registered("postgres_backup", "Back up the shop's database, keeping a week of backups")
    expect(os.path.exists(backup["manifest"]), f"postgres_backup wrote {backup}")
    backups = registered("postgres_backup_info", "Read the newest verified backup of each database")
    expect([(entry["database"], entry["stale"]) for entry in backups["backups"]]
           == [("billing", False), ("reports", True), ("shop", False)], f"postgres_backup_info said {backups}")
    drill = registered("postgres_restore_drill", "Restore the newest verified backup into a scratch database, compare "
                                                 "it and drop it")
    expect(drill["passed"], f"the drill said {drill}")
    expect(registered("postgres_schema_info", "Read the schema version")["version"] == "20261201093000",
           "postgres_schema_info read another version")
    report = registered("postgres_stats_info", "The slowest statements, the largest tables and the indexes no query "
                                               "uses")
    expect("public.orders_note_idx" in [index["index"] for index in report["unused_indexes"]["indexes"]],
           f"postgres_stats_info found {report['unused_indexes']}")
    expect(registered("postgres_stats_info", "Active users of the last hour, a number for the hourly check")
           ["queries"]["active_users"] == expected["active_users"], "postgres_stats_info counted other users")
    maintained = registered("postgres_maintenance", "Vacuum and reindex the busiest tables, waiting at most 30 seconds "
                                                    "for each lock")
    expect([(step["operation"], step["table"], step["skipped"]) for step in maintained["steps"]][:3]
           == [("vacuum_analyze", "public.orders", None), ("vacuum_analyze", "public.order_lines", None),
               ("vacuum_analyze", "billing.invoices", None)], f"postgres_maintenance ran {maintained['steps']}")
    archived = registered("postgres_archive", "Move the operation logs older than 90 days into operation_logs_archive")
    expect(archived["rows_moved"] == expected["old_operation_logs"], f"postgres_archive moved {archived}")
    legacy = outcomes[("postgres_restore", "Restore a plain SQL dump made by the old scripts, on a managed database")]
    expect(legacy["status"] == "changed" and (legacy["result"]["mode"], legacy["result"]["format"])
           == ("in_place", "plain"), f"the old scripts' dump was not restored: {legacy}")
    restored = registered("postgres_restore", "Restore the newest verified backup of the shop's database")
    expect(restored["mode"] == "swap" and restored["format"] == "custom", f"postgres_restore said {restored}")
    return problems


def test_every_module_example_runs_against_the_fakes_the_database_and_the_controller(
        fake, postgres, shop, https_health, tmp_path):
    dsn, expected = shop
    health_url, ca_file = https_health
    seed_services(fake)
    variables = site(tmp_path, postgres, health_url)
    environment = play_environment(fake, {
        "DATABASE_URL": dsn,
        "DATABASE_POOLER_URL": dsn,
        # The health endpoint's certificate verifies against the test's CA, as a real one does against the system's.
        "SSL_CERT_FILE": str(ca_file),
        "PATH": f"{journal_stand_in(tmp_path / 'bin')}{os.pathsep}{os.environ['PATH']}",
        "ANSIBLE_CALLBACK_PLUGINS": str(CALLBACKS),
        "ANSIBLE_CALLBACKS_ENABLED": "task_results",
    })
    listed = [module for modules in PLAYBOOKS.values() for module in modules]
    plays = {**PLAYBOOKS, "services": [*PLAYBOOKS["services"], *(module for module in MODULES if module not in listed)]}
    output, records = run_playbooks([playbook(tmp_path / f"{name}.yml", modules, variables)
                                     for name, modules in plays.items()],
                                    inventory(tmp_path / "hosts.json"), environment, tmp_path)

    outcomes = {(record["play"], record["task"]): record for record in records}
    problems = not_run(outcomes)
    assert not problems, "\n".join(problems) + "\n\n" + output
    problems = unkept_returns(outcomes) + broken_promises(outcomes, fake, postgres, tmp_path, expected)

    # No secret reached the output or a result.
    shown = output + json.dumps(records)
    secrets = [TOKEN, STATUSPAGE_KEY, PAGERDUTY_ROUTING_KEY, PAGERDUTY_TOKEN, PASSWORD, INCIDENT_HOOK, DEPLOY_HOOK,
               MAINTENANCE_HOOK, *(env["value"] for env in SANDBOX["vercel"]["envs"]
                                   if env["type"] not in ("plain", "system"))]
    problems += [f"a secret is in the output: {secret[:6]}..." for secret in secrets if secret in shown]
    assert not problems, "\n".join(problems) + "\n\n" + output
