#!/usr/bin/env python3
"""DuckDB reference figures for the benchmark's "ours vs DuckDB" ratios.

Our benchmark (`cargo run --release --example bench`) times Cohort Explorer's import of a
session CSV and every view's query. This script answers the same questions with DuckDB,
from the RAW session rows, so the two can be compared:

1. it times DuckDB's CSV reader loading the file into a table of its own database file
   (the "DuckDB CSV reader into its own file" reference), and
2. for each view it runs one self-contained SQL query (CTEs only: no precomputed
   aggregates and no helper tables kept between runs) `--runs` times on that raw table,
   fetching the full result every time, and records the median and worst wall time.

Usage:

    python3 examples/duckdb_reference.py CSV [--runs 5] [--db PATH]
                                         [--min-installs 50] [--show]

CSV has the header `user_id,install_time,session_start,duration,channel,campaign,country,
platform,app_version`, timestamps `YYYY-MM-DD HH:MM:SS` in UTC and durations in whole
seconds. `--db` keeps the database at PATH; by default it goes to a temporary file that is
removed at the end. `--min-installs` lowers the Quality view's campaign threshold (50) and
`--show` prints each view's result on stderr: both are for checking the SQL on a tiny file.

Stdout gets exactly one JSON object:

    {"duckdb_version": "...", "rows": N, "load_s": 1.23,
     "views": {"overview": {"median_ms": 12.3, "worst_ms": 15.0}, ...}}

Progress and diagnostics go to stderr. Needs only the standard library and `duckdb`
(`pip install duckdb`).

Definitions, as the app's views use them (SPEC / CLI.md, window day convention, UTC):

- a user's install is min(install_time) over their rows; their cohort date is its date;
- data_end is max(session_start + duration) over the whole table;
- day N of a session is floor((session_start - install) / 24 h); sessions before the
  install (N < 0) are left out of every figure, as the app leaves them out;
- cohort date d is mature for N when data_end >= (d + 1 day, midnight) + (N + 1) x 24 h,
  and every day-N figure counts only users whose cohort is mature for N;
- sessions per user DN = sessions on days 0..N / mature users; retention DN = users with a
  session on day N / mature users;
- time between sessions = start minus the previous session's end (start + duration) of
  the same user, floored at 0; a user's first session has none.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

EXPECTED_HEADER = (
    "user_id,install_time,session_start,duration,channel,campaign,country,platform,app_version"
)

# Column types given explicitly, so that DuckDB neither sniffs types (which would be
# part of the timed load and could guess differently on another file) nor leaves the
# timestamps as text.
CSV_COLUMNS = {
    "user_id": "VARCHAR",
    "install_time": "TIMESTAMP",
    "session_start": "TIMESTAMP",
    "duration": "BIGINT",
    "channel": "VARCHAR",
    "campaign": "VARCHAR",
    "country": "VARCHAR",
    "platform": "VARCHAR",
    "app_version": "VARCHAR",
}

DAY_MS = 86_400_000
HOUR_MS = 3_600_000

# Upper bounds of the histogram bins, as in src/metrics/distributions.rs.
# Session length, seconds, upper bound inclusive: 0-10, 11-30, ..., 1801-3600, over 3600.
LENGTH_UPPER_S = [10, 30, 60, 180, 600, 1800, 3600]
LENGTH_LABELS = ["0-10 s", "11-30 s", "31-60 s", "61-180 s", "181-600 s", "601-1800 s",
                 "1801-3600 s", "over 3600 s"]
# Time between sessions, upper bound exclusive: under 1 h, 1-24 h, 24-48 h, 2-7 days,
# 7-14 days, 14-30 days, over 30 days.
GAP_UPPER_MS = [h * HOUR_MS for h in (1, 24, 48, 168, 336, 720)]
GAP_LABELS = ["under 1 h", "1-24 h", "24-48 h", "2-7 days", "7-14 days", "14-30 days",
              "over 30 days"]
# Sessions per user (sessions at or after the install), upper bound inclusive. The app's
# bins: "0" holds users whose every session came before their install.
PER_USER_UPPER = [0, 1, 2, 3, 5, 10, 20, 50]
PER_USER_LABELS = ["0", "1", "2", "3", "4-5", "6-10", "11-20", "21-50", "over 50"]

ALL_DAYS = list(range(31))  # day N in 0..30 for the group and cohort views
OVERVIEW_DAYS = [0, 1, 7, 30]
QUALITY_DAYS = [1, 7]
QUALITY_MIN_INSTALLS = 50
SHORT_SESSION_S = 10  # "sessions under 10 s" (the app's SHORT_SESSION_MS)


def log(message):
    print(message, file=sys.stderr, flush=True)


def fail(message, code=1):
    """One line on stderr, then a non-zero exit (what a calling benchmark can rely on)."""
    print(f"duckdb_reference: {message}", file=sys.stderr)
    sys.exit(code)


# --------------------------------------------------------------------------------------
# SQL building blocks. Each view's query is assembled from these CTEs into one statement,
# so that every run recomputes everything from the raw `sessions` table.
# --------------------------------------------------------------------------------------

def base_ctes(with_gap):
    """CTEs every view starts from: `params` (data_end), `u` (one row per user) and `s`
    (one row per session at or after its user's install, with its day N).

    Times are compared as epoch milliseconds (BIGINT), as the app keeps them, so that day
    boundaries and maturity are exact integer arithmetic. The window function that finds
    each session's predecessor is costly, so it is only added for views that need gaps.
    """
    gap, floor_gap = "", ""
    if with_gap:
        # WHERE runs before the window, so a user's first session at or after the
        # install has no predecessor (NULL), as in the app.
        gap = """,
           epoch_ms(t.session_start)
           - lag(epoch_ms(t.session_start) + coalesce(t.duration, 0) * 1000)
             OVER (PARTITION BY t.user_id ORDER BY t.session_start, t.duration) AS gap_raw"""
        # Floored at 0 one level up: greatest(x, 0) would turn the first session's NULL
        # into 0, since DuckDB's greatest skips NULLs.
        floor_gap = """ EXCLUDE (gap_raw),
           CASE WHEN gap_raw < 0 THEN 0 ELSE gap_raw END AS gap_ms"""
    return f"""
params AS (
    -- The end of the data: the latest session end in the whole table (a session of
    -- unknown length ends at its start).
    SELECT max(epoch_ms(session_start) + coalesce(duration, 0) * 1000) AS data_end_ms
    FROM sessions
),
users AS (
    -- Every row of a user carries the same attributes, so any row's will do; names are
    -- compared trimmed and case-insensitive, an empty channel is organic (as the app).
    SELECT user_id,
           min(install_time) AS install,
           coalesce(nullif(lower(trim(any_value(channel))), ''), 'organic') AS channel,
           coalesce(lower(trim(any_value(campaign))), '') AS campaign
    FROM sessions
    GROUP BY user_id
),
u AS (
    SELECT users.*,
           1 AS everyone,  -- the single group key of the overview
           CAST(install AS DATE) AS cohort_day,
           CAST(date_trunc('week', CAST(install AS DATE)) AS DATE) AS cohort_week,  -- ISO: Monday
           -- The largest mature day N of the cohort date d: data_end >= midnight after d
           -- + (N+1) x 24 h. floor(), not //, because // truncates toward zero; -1 means
           -- not even day 0 is mature (also when the table is empty).
           greatest(CAST(floor((p.data_end_ms
                                - epoch_ms(CAST(CAST(install AS DATE) + 1 AS TIMESTAMP)))
                               / {DAY_MS}.0) AS BIGINT) - 1, -1) AS max_mature
    FROM users, params p
),
s AS (
    SELECT *{floor_gap} FROM (
        SELECT u.*, t.duration,
               -- session_start >= install, so truncating division is floor here.
               (epoch_ms(t.session_start) - epoch_ms(u.install)) // {DAY_MS} AS day{gap}
        FROM sessions t JOIN u USING (user_id)
        WHERE t.session_start >= u.install
    )
)"""


def day_ctes(keys, days):
    """CTEs giving `day_figures`: per group (the `keys` columns of `u`) and day N of
    `days`, the mature users, sessions on days 0..N and on day N, and active users on day
    N, all of mature users only; every group x N cell is present (zeros where no user is
    mature), as the cohort matrix shows immature cells too.

    Sessions are first counted per user and day, then per (group, maturity, day): the
    maturity condition then becomes a join of that small table with the day list,
    instead of a join of every session with every N.
    """
    k = ", ".join(keys)
    on = " AND ".join(f"grid.{c} IS NOT DISTINCT FROM {{t}}.{c}" for c in keys)
    max_day = max(days)
    day_list = ", ".join(str(d) for d in days)
    return f"""
days AS (SELECT unnest([{day_list}]) AS n),
user_days AS (
    SELECT user_id, day, count(*) AS sessions
    FROM s WHERE day <= {max_day}
    GROUP BY user_id, day
),
cells AS (
    -- A user has one row per active day, so count(*) counts active users.
    SELECT {", ".join("u." + c for c in keys)}, u.max_mature, user_days.day,
           sum(user_days.sessions) AS sessions, count(*) AS active
    FROM user_days JOIN u USING (user_id)
    WHERE u.max_mature >= 0
    GROUP BY ALL
),
mature AS (
    SELECT {k}, days.n, count(*) AS mature_users
    FROM u JOIN days ON u.max_mature >= days.n
    GROUP BY ALL
),
counted AS (
    SELECT {", ".join("cells." + c for c in keys)}, days.n,
           sum(cells.sessions) AS sessions_through,
           coalesce(sum(cells.sessions) FILTER (WHERE cells.day = days.n), 0) AS sessions_on_day,
           coalesce(sum(cells.active) FILTER (WHERE cells.day = days.n), 0) AS active_users
    FROM cells JOIN days ON cells.max_mature >= days.n AND cells.day <= days.n
    GROUP BY ALL
),
grid AS (SELECT DISTINCT {k} FROM u),
cell_counts AS (
    -- A cell missing from `counted` (mature users without a session there) has zero
    -- sessions and active users, so its ratios are 0, not NULL; only a cell without
    -- mature users has none.
    SELECT {", ".join("grid." + c for c in keys)}, days.n,
           coalesce(mature.mature_users, 0) AS mature_users,
           coalesce(counted.sessions_through, 0) AS sessions_through,
           coalesce(counted.sessions_on_day, 0) AS sessions_on_day,
           coalesce(counted.active_users, 0) AS active_users
    FROM grid CROSS JOIN days
    LEFT JOIN mature ON {on.format(t="mature")} AND mature.n = days.n
    LEFT JOIN counted ON {on.format(t="counted")} AND counted.n = days.n
),
day_figures AS (
    SELECT *,
           sessions_through / nullif(mature_users, 0) AS sessions_per_user,
           active_users / nullif(mature_users, 0) AS retention
    FROM cell_counts
)"""


def group_stats_ctes(keys):
    """CTEs giving `group_stats`: per group, installs, sessions and the length and gap
    figures. quantile_cont interpolates between ranks like the app's `quantile` (the
    median of an even count is the mean of the two middle values)."""
    k = ", ".join(keys)
    on = " AND ".join(f"g_users.{c} IS NOT DISTINCT FROM g_sessions.{c}" for c in keys)
    return f"""
g_users AS (SELECT {k}, count(*) AS installs FROM u GROUP BY ALL),
g_sessions AS (
    SELECT {k}, count(*) AS sessions,
           avg(duration) AS mean_length_s,
           quantile_cont(duration, 0.5) AS median_length_s,
           quantile_cont(duration, 0.9) AS p90_length_s,
           quantile_cont(gap_ms, 0.5) / 1000.0 AS median_gap_s
    FROM s GROUP BY ALL
),
group_stats AS (
    SELECT {", ".join("g_users." + c for c in keys)}, g_users.installs,
           coalesce(g_sessions.sessions, 0) AS sessions,
           mean_length_s, median_length_s, p90_length_s, median_gap_s
    FROM g_users LEFT JOIN g_sessions ON {on}
)"""


def bin_counts(value, uppers, inclusive):
    """`count(*) FILTER` per bin of `value`, as a list in bin order (empty bins give 0,
    which a GROUP BY on a bin number would leave out). NULL values fall in no bin."""
    op = "<=" if inclusive else "<"
    parts, lower = [], None
    for upper in uppers:
        cond = f"{value} {op} {upper}" if lower is None else \
            f"{value} {'>' if inclusive else '>='} {lower} AND {value} {op} {upper}"
        parts.append(f"count(*) FILTER (WHERE {cond})")
        lower = upper
    parts.append(f"count(*) FILTER (WHERE {value} {'>' if inclusive else '>='} {lower})")
    return "[" + ", ".join(parts) + "]"


def labels_sql(labels):
    return "[" + ", ".join("'" + label + "'" for label in labels) + "]"


def with_clause(*parts):
    return "WITH " + ",".join(parts)


def grouped_view_sql(keys):
    """`channels` / `campaigns`: per group and N in 0..30, the day-N figures, beside the
    group's installs, sessions, mean/median/p90 length and median time between sessions."""
    k = ", ".join(f"d.{c}" for c in keys)
    on = " AND ".join(f"d.{c} IS NOT DISTINCT FROM g.{c}" for c in keys)
    return with_clause(base_ctes(True), day_ctes(keys, ALL_DAYS), group_stats_ctes(keys)) + f"""
SELECT {k}, g.installs, g.sessions, g.mean_length_s, g.median_length_s, g.p90_length_s,
       g.median_gap_s, d.n AS day, d.mature_users, d.sessions_through, d.active_users,
       d.sessions_per_user, d.retention
FROM day_figures d JOIN group_stats g ON {on}
ORDER BY {k}, d.n"""


def overview_sql():
    """One row per N in (0, 1, 7, 30) with the overall figures and the session-length
    histogram repeated beside it (one query, one small result)."""
    return with_clause(
        base_ctes(True),
        day_ctes(["everyone"], OVERVIEW_DAYS),
        group_stats_ctes(["everyone"]),
        f"""
length_hist AS (
    SELECT {labels_sql(LENGTH_LABELS)} AS length_bins,
           {bin_counts("duration", LENGTH_UPPER_S, True)} AS length_counts
    FROM s
)""") + """
SELECT g.installs, g.sessions, g.mean_length_s, g.median_length_s, g.p90_length_s,
       g.median_gap_s, d.n AS day, d.mature_users, d.sessions_through, d.active_users,
       d.sessions_per_user, d.retention, h.length_bins, h.length_counts
FROM day_figures d JOIN group_stats g USING (everyone) CROSS JOIN length_hist h
ORDER BY d.n"""


def cohorts_sql(cohort_key):
    """The cohort matrix: per cohort (`cohort_week` or `cohort_day`) and N in 0..30, the
    cohort's installs, mature users, sessions and active users on day N, retention and
    whether every user of the cohort is mature (the app's non-grey cells)."""
    return with_clause(
        base_ctes(False),
        day_ctes([cohort_key], ALL_DAYS),
        f"g_users AS (SELECT {cohort_key}, count(*) AS installs FROM u GROUP BY ALL)",
    ) + f"""
SELECT d.{cohort_key} AS cohort, g.installs, d.n AS day, d.mature_users,
       d.sessions_on_day, d.active_users, d.retention,
       d.sessions_on_day / nullif(d.mature_users, 0) AS sessions_per_user_on_day,
       d.mature_users = g.installs AS all_mature
FROM day_figures d JOIN g_users g USING ({cohort_key})
ORDER BY cohort, day"""


def sessions_sql():
    """The Sessions view's three histograms, one row each: labels and counts in order."""
    per_user_bins = bin_counts("per_user.sessions", PER_USER_UPPER, True)
    return with_clause(base_ctes(True), """
per_user AS (
    -- Users whose every session is before the install have 0 sessions (left join).
    SELECT u.user_id, coalesce(c.sessions, 0) AS sessions
    FROM u LEFT JOIN (SELECT user_id, count(*) AS sessions FROM s GROUP BY user_id) c
         USING (user_id)
)""") + f"""
SELECT 'session_length' AS histogram, {labels_sql(LENGTH_LABELS)} AS bins,
       {bin_counts("duration", LENGTH_UPPER_S, True)} AS counts
FROM s
UNION ALL
SELECT 'time_between_sessions', {labels_sql(GAP_LABELS)},
       {bin_counts("gap_ms", GAP_UPPER_MS, False)}
FROM s
UNION ALL
SELECT 'sessions_per_user', {labels_sql(PER_USER_LABELS)}, {per_user_bins}
FROM per_user"""


def quality_sql(min_installs=QUALITY_MIN_INSTALLS):
    """Per campaign with at least 50 installs: share of users with at most one session,
    share of sessions under 10 s (of those of known length), sessions per user D7 and
    retention D1/D7 (mature users), and D7 sessions per user against the median
    campaign's (what the app flags on)."""
    keys = ["channel", "campaign"]
    return with_clause(
        base_ctes(False),
        day_ctes(keys, QUALITY_DAYS),
        f"""
per_user AS (
    SELECT u.channel, u.campaign, coalesce(c.sessions, 0) AS sessions,
           coalesce(c.short, 0) AS short, coalesce(c.known, 0) AS known
    FROM u LEFT JOIN (
        SELECT user_id, count(*) AS sessions,
               count(*) FILTER (WHERE duration < {SHORT_SESSION_S}) AS short,
               count(duration) AS known
        FROM s GROUP BY user_id) c USING (user_id)
),
campaign_counts AS (
    SELECT channel, campaign, count(*) AS installs,
           count(*) FILTER (WHERE sessions <= 1) AS one_session_users,
           sum(short) AS short_sessions, sum(known) AS known_lengths
    FROM per_user GROUP BY ALL
    HAVING count(*) >= {min_installs}
),
rows AS (
    SELECT c.channel, c.campaign, c.installs,
           c.one_session_users / c.installs AS one_session_share,
           c.short_sessions / nullif(c.known_lengths, 0) AS short_session_share,
           max(d.sessions_per_user) FILTER (WHERE d.n = 7) AS sessions_per_user_d7,
           max(d.retention) FILTER (WHERE d.n = 1) AS retention_d1,
           max(d.retention) FILTER (WHERE d.n = 7) AS retention_d7
    FROM campaign_counts c JOIN day_figures d USING (channel, campaign)
    GROUP BY ALL
)""") + """
SELECT *,
       sessions_per_user_d7 / nullif(median(sessions_per_user_d7) OVER (), 0) AS d7_vs_median,
       median(one_session_share) OVER () AS median_one_session_share,
       median(short_session_share) OVER () AS median_short_session_share
FROM rows
ORDER BY d7_vs_median NULLS LAST, channel, campaign"""


def view_queries(min_installs=QUALITY_MIN_INSTALLS):
    """Every view's SQL, in the order the benchmark prints them."""
    return {
        "overview": overview_sql(),
        "channels": grouped_view_sql(["channel"]),
        "campaigns": grouped_view_sql(["channel", "campaign"]),
        "cohorts_week": cohorts_sql("cohort_week"),
        "cohorts_day": cohorts_sql("cohort_day"),
        "sessions": sessions_sql(),
        "quality": quality_sql(min_installs),
    }


# --------------------------------------------------------------------------------------
# Running and timing.
# --------------------------------------------------------------------------------------

def first_line(error):
    """DuckDB's messages run over several lines; the error contract is one line."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def check_csv(path):
    """Fails early, with one line, on a file that is missing or has another header:
    DuckDB's own error would be long and might only come halfway through the load."""
    try:
        with open(path, encoding="utf-8", newline="") as f:
            header = f.readline().strip().lstrip("\ufeff")
    except OSError as e:
        fail(f"cannot read {path}: {e.strerror or e}")
    except UnicodeDecodeError:
        fail(f"cannot read {path}: not UTF-8 text")
    if header != EXPECTED_HEADER:
        fail(f"cannot read {path}: header is not {EXPECTED_HEADER!r}")


def load(con, csv_path):
    """Loads the CSV into table `sessions` and checkpoints it into the database file;
    returns the wall time in seconds. The checkpoint is timed too, so the figure is the
    time to get the rows into DuckDB's own file, as ours is the time to our project file."""
    columns = "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in CSV_COLUMNS.items()) + "}"
    sql = f"""
CREATE OR REPLACE TABLE sessions AS
SELECT * FROM read_csv(?, header = true, delim = ',', quote = '"',
                       columns = {columns},
                       timestampformat = '%Y-%m-%d %H:%M:%S')"""
    started = time.perf_counter()
    con.execute(sql, [csv_path])
    con.execute("CHECKPOINT")
    return time.perf_counter() - started


def time_query(con, sql, runs):
    """Runs `sql` `runs` times, fetching every row; returns (median_ms, worst_ms, rows).
    The median is the sorted times' element at runs // 2, as examples/bench.rs takes it,
    so both sides pick the same run for any count."""
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = con.execute(sql).fetchall()
        times.append((time.perf_counter() - started) * 1e3)
    times.sort()
    return times[len(times) // 2], times[-1], result


def main():
    parser = argparse.ArgumentParser(
        description="Time DuckDB loading a session CSV and answering the app's views.")
    parser.add_argument("csv", help="session CSV (user_id,install_time,session_start,...)")
    parser.add_argument("--runs", type=int, default=5, help="runs per view (default 5)")
    parser.add_argument("--db", help="database file to keep (default: a temporary file)")
    parser.add_argument("--min-installs", type=int, default=QUALITY_MIN_INSTALLS,
                        help="quality: smallest campaign shown (default 50, as the bench; "
                             "lower it to check the SQL on a tiny file)")
    parser.add_argument("--show", action="store_true",
                        help="print each view's last result on stderr (for checking)")
    args = parser.parse_args()
    if args.runs < 1:
        fail("--runs must be at least 1")

    try:
        import duckdb  # imported here so that --help works without it
    except ImportError as e:
        fail(f"duckdb is not importable ({e}); install it with: pip install duckdb", 2)

    check_csv(args.csv)

    temp_dir = None
    if args.db:
        db_path = args.db
    else:
        # A fresh directory rather than a named temp file: DuckDB refuses to open an
        # existing empty file as a database, and also writes a .wal beside it.
        temp_dir = tempfile.mkdtemp(prefix="duckdb_reference_")
        db_path = os.path.join(temp_dir, "reference.duckdb")

    try:
        try:
            con = duckdb.connect(db_path)
        except duckdb.Error as e:
            fail(f"cannot open database {db_path}: {first_line(e)}")
        log(f"loading {args.csv} into {db_path} ...")
        try:
            load_s = load(con, args.csv)
        except duckdb.Error as e:
            fail(f"cannot read {args.csv}: {first_line(e)}")
        rows = con.execute("SELECT count(*) FROM sessions").fetchone()[0]
        log(f"loaded {rows} rows in {load_s:.2f} s")

        views = {}
        for name, sql in view_queries(args.min_installs).items():
            median_ms, worst_ms, result = time_query(con, sql, args.runs)
            views[name] = {"median_ms": round(median_ms, 1), "worst_ms": round(worst_ms, 1)}
            log(f"{name}: median {median_ms:.1f} ms, worst {worst_ms:.1f} ms, "
                f"{len(result)} result rows")
            if args.show:
                for row in result:
                    log(f"  {row}")
        con.close()
    finally:
        if temp_dir:
            shutil.rmtree(temp_dir, ignore_errors=True)

    print(json.dumps({
        "duckdb_version": duckdb.__version__,
        "rows": rows,
        "load_s": round(load_s, 3),
        "views": views,
    }))


if __name__ == "__main__":
    main()
