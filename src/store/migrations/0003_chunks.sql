-- Schema version 3: rows in compact chunks, so that tens of millions of sessions fit a
-- laptop (issue #5). The layout of each chunk is in src/store/chunks.rs and raw.rs.
-- Rows of the version 2 tables raw_sessions, raw_events and raw_user_rows are moved into
-- chunks when a file is migrated; those tables stay, empty.

-- Users and attribute values by number: chunks refer to them.
CREATE TABLE user_keys (
    id  INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE
);

CREATE TABLE attr_values (
    id    INTEGER PRIMARY KEY,
    value TEXT NOT NULL UNIQUE
);

-- Imported rows, many to a chunk, in import order.
CREATE TABLE raw_chunks (
    import_id INTEGER NOT NULL REFERENCES imports(id),
    kind      TEXT NOT NULL,       -- 'sessions', 'events' or 'user_rows'
    rows      INTEGER NOT NULL,
    data      BLOB NOT NULL
);

-- The built users and sessions, in key order, many to a chunk.
CREATE TABLE built_chunks (
    kind TEXT NOT NULL,            -- 'users' or 'sessions'
    rows INTEGER NOT NULL,
    data BLOB NOT NULL
);

DROP INDEX sessions_by_user;
DROP TABLE sessions;
DROP TABLE users;
