-- Schema version 4: the overview as the window last worked it out, so that opening the
-- project again shows it at once while the sessions load (issue #5). Every write to the
-- project empties this table in the write's own transaction, so what is here always
-- describes the data beside it.
CREATE TABLE view_cache (
    key  TEXT PRIMARY KEY,
    data TEXT NOT NULL
);
