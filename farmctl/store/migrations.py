"""Numbered schema migrations. Append only: a released migration never changes.

Each migration is a tuple of statements run in one transaction together with the version bump,
so a crash mid-upgrade leaves the previous version intact. (``executescript`` would commit
between statements, so statements are listed one by one.)
"""

from __future__ import annotations

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: the queue, its jobs and sets, run history, automation and external data.
    (
        """CREATE TABLE queues (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            rank REAL NOT NULL,
            addr TEXT,
            strategy TEXT NOT NULL DEFAULT 'LINEAR'
        )""",
        """CREATE TABLE jobs (
            id INTEGER PRIMARY KEY,
            queue_id INTEGER NOT NULL REFERENCES queues(id) ON DELETE RESTRICT,
            name TEXT NOT NULL,
            rank REAL NOT NULL,
            count INTEGER NOT NULL DEFAULT 1 CHECK (count >= 1),
            remaining INTEGER NOT NULL DEFAULT 1 CHECK (remaining >= 0),
            created INTEGER NOT NULL,
            draft INTEGER NOT NULL DEFAULT 1,
            acquired_by TEXT,
            archived INTEGER NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX jobs_queue_rank ON jobs (queue_id, rank)",
        """CREATE TABLE sets (
            id INTEGER PRIMARY KEY,
            job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
            path TEXT NOT NULL,
            sd INTEGER NOT NULL DEFAULT 0,
            rank REAL NOT NULL,
            count INTEGER NOT NULL DEFAULT 1 CHECK (count >= 1),
            remaining INTEGER NOT NULL DEFAULT 1 CHECK (remaining >= 0),
            completed INTEGER NOT NULL DEFAULT 0 CHECK (completed >= 0),
            metadata TEXT,
            materials TEXT NOT NULL DEFAULT '[]',
            profiles TEXT NOT NULL DEFAULT '[]'
        )""",
        "CREATE INDEX sets_job_rank ON sets (job_id, rank)",
        # No foreign keys: history outlives jobs; job_id/set_id only find the copy a run reserved.
        """CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            queue_name TEXT NOT NULL,
            job_name TEXT NOT NULL,
            set_path TEXT NOT NULL,
            printer TEXT NOT NULL,
            start REAL NOT NULL,
            "end" REAL,
            result TEXT CHECK (result IN ('success', 'failure', 'aborted', 'cancelled')),
            job_id INTEGER,
            set_id INTEGER,
            movie_path TEXT,
            thumb_path TEXT
        )""",
        "CREATE INDEX runs_open ON runs (set_id) WHERE result IS NULL",
        "CREATE UNIQUE INDEX runs_one_open_per_printer ON runs (printer) WHERE result IS NULL",
        "CREATE TABLE scripts (name TEXT PRIMARY KEY, body TEXT NOT NULL)",
        "CREATE TABLE preprocessors (name TEXT PRIMARY KEY, body TEXT NOT NULL)",
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            event TEXT NOT NULL,
            rank INTEGER NOT NULL,
            script TEXT NOT NULL,
            preprocessor TEXT
        )""",
        "CREATE TABLE external (id INTEGER PRIMARY KEY CHECK (id = 1), data TEXT NOT NULL)",
    ),
    # 2: what a fresh install holds.
    (
        "INSERT INTO queues (name, rank, addr, strategy) VALUES ('local', 0, NULL, 'LINEAR')",
        "INSERT INTO queues (name, rank, addr, strategy) VALUES ('LAN', 1, NULL, 'LINEAR')",
        "INSERT INTO queues (name, rank, addr, strategy) VALUES ('archive', 2, NULL, 'LINEAR')",
        "INSERT INTO scripts (name, body) VALUES ('Bed Clearing', '@pause')",
        "INSERT INTO scripts (name, body) VALUES ('Finished', '@pause')",
        """INSERT INTO events (event, rank, script, preprocessor)
           VALUES ('continuousprint_success', 0, 'Bed Clearing', NULL)""",
        """INSERT INTO events (event, rank, script, preprocessor)
           VALUES ('continuousprint_finish', 0, 'Finished', NULL)""",
        "INSERT INTO external (id, data) VALUES (1, '{}')",
    ),
    # 3: users, API keys (only their SHA-256 is kept) and whether each printer's queue is managed.
    (
        # password_hash NULL: a user that exists only to hold API keys and cannot log in.
        """CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE CHECK (name <> '' AND lower(name) <> '_api'),
            password_hash TEXT,
            role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
            created REAL NOT NULL
        )""",
        """CREATE TABLE api_keys (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            key_hash TEXT NOT NULL UNIQUE,
            user_name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
            role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
            created REAL NOT NULL,
            last_used REAL
        )""",
        "CREATE INDEX api_keys_user ON api_keys (user_name)",
        """CREATE TABLE printer_status (
            printer TEXT PRIMARY KEY,
            active INTEGER NOT NULL CHECK (active IN (0, 1)),
            reason TEXT NOT NULL DEFAULT '',
            updated REAL NOT NULL
        )""",
    ),
    # 4: app-key requests, so ``farmctl keys approve`` in another process can decide them. Only the
    # poll token's SHA-256; role and owner once approved; never the key (minted when collected).
    (
        """CREATE TABLE app_key_requests (
            id INTEGER PRIMARY KEY,
            token_hash TEXT NOT NULL UNIQUE,
            app TEXT NOT NULL CHECK (app <> ''),
            user_name TEXT,
            state TEXT NOT NULL CHECK (state IN ('pending', 'granted', 'collected', 'denied', 'expired')),
            role TEXT CHECK (role IN ('admin', 'operator', 'viewer')),
            owner TEXT,
            created REAL NOT NULL,
            last_poll REAL NOT NULL,
            CHECK (state NOT IN ('granted', 'collected') OR (role IS NOT NULL AND owner IS NOT NULL))
        )""",
    ),
    # 5: the display name OctoPrint clients set per printer (POST /api/settings appearance.name).
    (
        """CREATE TABLE printer_names (
            printer TEXT PRIMARY KEY,
            display_name TEXT NOT NULL CHECK (display_name <> ''),
            updated REAL NOT NULL
        )""",
    ),
    # 6: temperature offsets OctoPrint clients set per printer and heater (tool/bed "offset" commands).
    (
        """CREATE TABLE temperature_offsets (
            printer TEXT NOT NULL,
            heater TEXT NOT NULL CHECK (heater = 'bed' OR heater GLOB 'tool[0-9]*'),
            degrees REAL NOT NULL CHECK (degrees <> 0),
            updated REAL NOT NULL,
            PRIMARY KEY (printer, heater)
        )""",
    ),
    # 7: what each printer has loaded per tool (Continuous Print's material keys), the printer profile
    # name sets are matched against when set through the API, and the queue's own settings (JSON values).
    (
        """CREATE TABLE printer_materials (
            printer TEXT NOT NULL,
            tool INTEGER NOT NULL CHECK (tool >= 0),
            material TEXT NOT NULL CHECK (material <> ''),
            updated REAL NOT NULL,
            PRIMARY KEY (printer, tool)
        )""",
        """CREATE TABLE printer_profiles (
            printer TEXT PRIMARY KEY,
            profile TEXT NOT NULL CHECK (profile <> ''),
            updated REAL NOT NULL
        )""",
        "CREATE TABLE queue_settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ),
    # 8: the farmctl nodes sharing the database and when each last said it was alive; each run
    # names the node that printed it, so the open runs of a node that stopped beating can be settled.
    (
        """CREATE TABLE nodes (
            name TEXT PRIMARY KEY CHECK (name <> ''),
            started REAL NOT NULL,
            beat REAL NOT NULL
        )""",
        "ALTER TABLE runs ADD COLUMN node TEXT",
    ),
    # 9: what the dashboard keeps: groups set in the page, maintenance notes, temperature presets.
    (
        """CREATE TABLE printer_tags (
            printer TEXT PRIMARY KEY,
            tags TEXT NOT NULL,
            updated REAL NOT NULL
        )""",
        """CREATE TABLE printer_maintenance (
            printer TEXT PRIMARY KEY,
            note TEXT NOT NULL,
            since REAL NOT NULL
        )""",
        """CREATE TABLE temperature_presets (
            name TEXT PRIMARY KEY CHECK (name <> ''),
            tool REAL NOT NULL CHECK (tool >= 0 AND tool <= 400),
            bed REAL NOT NULL CHECK (bed >= 0 AND bed <= 400),
            rank INTEGER NOT NULL
        )""",
        "INSERT INTO temperature_presets (name, tool, bed, rank) VALUES ('PLA', 210, 60, 0)",
        "INSERT INTO temperature_presets (name, tool, bed, rank) VALUES ('PETG', 240, 80, 1)",
        "INSERT INTO temperature_presets (name, tool, bed, rank) VALUES ('ABS', 250, 100, 2)",
        "INSERT INTO temperature_presets (name, tool, bed, rank) VALUES ('TPU', 225, 50, 3)",
    ),
    # 10: what a finished print leaves for statistics: why it failed, filament used, seconds printed.
    (
        """CREATE TABLE run_details (
            run_id INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
            reason TEXT NOT NULL DEFAULT '',
            filament_mm REAL CHECK (filament_mm IS NULL OR filament_mm >= 0),
            print_seconds REAL CHECK (print_seconds IS NULL OR print_seconds >= 0)
        )""",
        "CREATE INDEX runs_start ON runs (start)",
    ),
    # 11: where the other nodes reach each node, the secret nodes sign their calls to each other
    # with (it never leaves the database), and each upload's SHA-256 and the nodes that hold it,
    # so a node that claims a set whose file it lacks can fetch it and check it before printing.
    (
        "ALTER TABLE nodes ADD COLUMN url TEXT",
        """CREATE TABLE farm_secrets (
            name TEXT PRIMARY KEY,
            secret TEXT NOT NULL CHECK (length(secret) >= 32),
            created REAL NOT NULL
        )""",
        """CREATE TABLE upload_hashes (
            path TEXT NOT NULL CHECK (path <> ''),
            node TEXT NOT NULL CHECK (node <> ''),
            sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
            size INTEGER NOT NULL CHECK (size >= 0),
            updated REAL NOT NULL,
            PRIMARY KEY (path, node)
        )""",
    ),
    # 12: which node drives which printer, so every node's page lists every printer of the farm,
    # even those of a node that went away before this one started.
    (
        """CREATE TABLE node_printers (
            printer TEXT PRIMARY KEY CHECK (printer <> ''),
            node TEXT NOT NULL CHECK (node <> ''),
            display_name TEXT NOT NULL,
            updated REAL NOT NULL
        )""",
    ),
    # 13: a row per free copy, so a claim locks the one copy it takes (FOR UPDATE SKIP LOCKED on
    # PostgreSQL) rather than the whole queue; each set holds max(0, remaining - open runs) of them.
    # Who holds a job is read from its open runs (an index finds them), no longer written on claims.
    (
        """CREATE TABLE copies (
            id INTEGER PRIMARY KEY,
            set_id INTEGER NOT NULL REFERENCES sets(id) ON DELETE CASCADE
        )""",
        "CREATE INDEX copies_set ON copies (set_id)",
        """WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n
                                  WHERE i < (SELECT COALESCE(MAX(remaining), 0) FROM sets))
           INSERT INTO copies (set_id) SELECT s.id FROM sets s JOIN n
           ON n.i <= s.remaining - (SELECT COUNT(*) FROM runs r WHERE r.set_id = s.id AND r.result IS NULL)""",
        "CREATE INDEX runs_open_job ON runs (job_id) WHERE result IS NULL",
        "ALTER TABLE jobs DROP COLUMN acquired_by",
    ),
)

LATEST_VERSION = len(MIGRATIONS)
