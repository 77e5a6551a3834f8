-- Schema version 2: what vendor presets need.
-- An install row can stand for the user's first session (exports that leave it out).
ALTER TABLE raw_user_rows ADD COLUMN adds_session INTEGER NOT NULL DEFAULT 0;

-- Rows a preset reads on purpose but does not count (ad clicks, non-activity events).
ALTER TABLE imports ADD COLUMN rows_ignored INTEGER NOT NULL DEFAULT 0;
ALTER TABLE imports ADD COLUMN ignored_by_reason TEXT NOT NULL DEFAULT '{}';  -- JSON

-- Lookup tables that name ids used by other files (Tenjin campaigns and ad networks).
CREATE TABLE lookups (
    import_id INTEGER NOT NULL REFERENCES imports(id),
    line      INTEGER NOT NULL,
    kind      TEXT NOT NULL,       -- 'campaigns' or 'ad_networks'
    id        TEXT NOT NULL,
    name      TEXT NOT NULL,
    parent_id TEXT                 -- a campaign's ad network
);
