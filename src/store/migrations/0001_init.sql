-- Cohort Explorer project file, schema version 1.
-- Times are UTC milliseconds since the Unix epoch (*_ms); dates are 'YYYY-MM-DD' text.
-- raw_* tables keep what was imported and are never rewritten; users and sessions are
-- derived from them and rebuilt when a setting that shapes them changes.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE imports (
    id             INTEGER PRIMARY KEY,
    file_name      TEXT NOT NULL,
    file_path      TEXT NOT NULL,
    size_bytes     INTEGER NOT NULL,
    sha256         TEXT NOT NULL UNIQUE,
    kind           TEXT NOT NULL,
    preset         TEXT,
    mapping        TEXT NOT NULL,      -- JSON: field -> column
    time_zone      TEXT NOT NULL,
    duration_unit  TEXT,
    on_bad_rows    TEXT NOT NULL,
    rows_read      INTEGER NOT NULL,
    rows_accepted  INTEGER NOT NULL,
    rows_rejected  INTEGER NOT NULL,
    rejected_by_reason TEXT NOT NULL,  -- JSON: reason -> count
    rejected_examples  TEXT NOT NULL,  -- JSON: [{line, reason, detail}]
    notes          TEXT NOT NULL,      -- JSON: [text]
    imported_at    TEXT NOT NULL
);

CREATE TABLE raw_sessions (
    import_id INTEGER NOT NULL REFERENCES imports(id),
    line      INTEGER NOT NULL,
    user_key  TEXT NOT NULL,
    start_ms  INTEGER NOT NULL,
    end_ms    INTEGER              -- NULL: length unknown
);

CREATE TABLE raw_events (
    import_id  INTEGER NOT NULL REFERENCES imports(id),
    line       INTEGER NOT NULL,
    user_key   TEXT NOT NULL,
    time_ms    INTEGER NOT NULL,
    event_name TEXT,
    event_id   TEXT
);

-- Install rows, and session or event rows that carry user attributes.
CREATE TABLE raw_user_rows (
    import_id   INTEGER NOT NULL REFERENCES imports(id),
    line        INTEGER NOT NULL,
    user_key    TEXT NOT NULL,
    time_ms     INTEGER NOT NULL,
    is_install  INTEGER NOT NULL,
    channel     TEXT NOT NULL,
    campaign    TEXT NOT NULL,
    country     TEXT NOT NULL,
    platform    TEXT NOT NULL,
    app_version TEXT NOT NULL
);

CREATE TABLE spend (
    import_id   INTEGER NOT NULL REFERENCES imports(id),
    line        INTEGER NOT NULL,
    date        TEXT NOT NULL,
    channel     TEXT NOT NULL,
    campaign    TEXT NOT NULL,
    amount      REAL NOT NULL,
    currency    TEXT,              -- NULL: the project's currency
    impressions INTEGER,
    clicks      INTEGER
);

CREATE TABLE rates (
    import_id INTEGER NOT NULL REFERENCES imports(id),
    line      INTEGER NOT NULL,
    date      TEXT NOT NULL,
    currency  TEXT NOT NULL,
    rate      REAL NOT NULL
);

CREATE TABLE users (
    id               INTEGER PRIMARY KEY,
    user_key         TEXT NOT NULL UNIQUE,
    install_ms       INTEGER NOT NULL,
    install_inferred INTEGER NOT NULL,
    reinstalls       INTEGER NOT NULL,
    channel          TEXT NOT NULL,
    campaign         TEXT NOT NULL,
    country          TEXT NOT NULL,
    platform         TEXT NOT NULL,
    app_version      TEXT NOT NULL
);

CREATE TABLE sessions (
    user_id  INTEGER NOT NULL REFERENCES users(id),
    start_ms INTEGER NOT NULL,
    end_ms   INTEGER,
    source   INTEGER NOT NULL     -- 0 session row, 1 built from events, 2 install
);

CREATE INDEX sessions_by_user ON sessions(user_id, start_ms);

-- Counts from the last rebuild, for the data-quality report.
CREATE TABLE build_stats (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE saved_views (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    definition TEXT NOT NULL,      -- JSON
    created_at TEXT NOT NULL
);
