#!/usr/bin/env python3
"""Independent cross-check of `cohort-explorer report --by channel` (and `--by none`)
for the intendo "Super Jetroid" export (all_sessions_small.csv + user_summary_small.csv).

Written from /work/shared/CLI.md ("Definitions the report follows", "Exact choices"),
without looking at the Rust code, so that agreement means something. Standard library only.

    python3 intendo_check.py SESSIONS.csv USERS.csv [--day window|calendar]

Prints {"groups": [...]}: group "all" first, then one group per channel. Reporting zone
is UTC. Spend is absent from this export, so spend/cpi/cpm_sessions are not computed.
Diagnostics (sessions before install, inferred installs, data end) go to stderr.
"""
import argparse
import calendar
import csv
import json
import sys
from datetime import datetime, timezone
from decimal import Decimal

DAYS = (0, 1, 7, 30)
DAY_MS = 86_400_000


def epoch_ms(text):
    # Integer milliseconds keep day-N and maturity comparisons exact (no float drift at
    # the 24 h boundaries); the timestamps carry no offset and the file's zone is UTC.
    return calendar.timegm(datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S").timetuple()) * 1000


def minutes_to_ms(text):
    # Decimal, not float: 12.8 * 60 in binary floating point is not exactly 768 s.
    return int((Decimal(text.strip()) * 60000).to_integral_value())


def median(values):
    if not values:
        return None
    v = sorted(values)
    m = len(v) // 2
    return float(v[m]) if len(v) % 2 else (v[m - 1] + v[m]) / 2


def ratio(num, den):
    # Zero denominator is "undefined" (null), never 0.
    return num / den if den else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sessions")
    ap.add_argument("users")
    ap.add_argument("--day", choices=("window", "calendar"), default="window")
    args = ap.parse_args()

    # --- install rows: earliest install wins; attributes come from that row -------------
    users = {}  # player_id -> {"install": ms, "channel": raw name, "order": row index}
    with open(args.users, newline="", encoding="utf-8-sig") as f:
        for i, row in enumerate(csv.DictReader(f)):
            pid = row["player_id"].strip()
            t = epoch_ms(row["first_login"])
            if pid not in users or t < users[pid]["install"]:
                users[pid] = {"install": t, "channel": row["acquisition"].strip(), "order": i}

    # --- session rows (kept in file order: that order breaks ties in time between sessions)
    sessions = {}  # player_id -> [(start_ms, end_ms or None, import_index)]
    with open(args.sessions, newline="", encoding="utf-8-sig") as f:
        for i, row in enumerate(csv.DictReader(f)):
            start = epoch_ms(row["session_start"])
            dur = row["session_duration"].strip()
            end = start + minutes_to_ms(dur) if dur else None
            sessions.setdefault(row["player_id"].strip(), []).append((start, end, i))

    # Users seen only in sessions: install = first session start, no channel -> organic.
    inferred = 0
    for pid, ss in sessions.items():
        if pid not in users:
            users[pid] = {"install": min(s[0] for s in ss), "channel": "", "order": float("inf")}
            inferred += 1

    # Data end = latest of session ends (start where unknown) and install times.
    data_end = max([u["install"] for u in users.values()]
                   + [e if e is not None else s for ss in sessions.values() for s, e, _ in ss])

    def day_start(ms):  # UTC midnight at or before ms
        return ms - ms % DAY_MS

    def day_n(start, install):
        if args.day == "window":
            return (start - install) // DAY_MS
        return (day_start(start) - day_start(install)) // DAY_MS

    def mature(install, n):
        # Cohort date d = UTC date of install; "end of d" = midnight starting d+1.
        end_of_d = day_start(install) + DAY_MS
        if args.day == "window":
            return data_end >= end_of_d + (n + 1) * DAY_MS
        return data_end >= end_of_d + n * DAY_MS  # start of calendar day d+N+1

    # --- group membership: channel trimmed + case-insensitive, empty -> organic --------
    # Display name = spelling of the earliest install (ties: file order).
    groups = {"all": []}
    shown = {}
    for pid in sorted(users, key=lambda p: (users[p]["install"], users[p]["order"])):
        raw = users[pid]["channel"] or "organic"
        key = raw.lower()
        shown.setdefault(key, raw)
        groups.setdefault(key, []).append(pid)
        groups["all"].append(pid)

    before_install = 0
    per_user = {}  # player_id -> sessions at/after install, ordered start, end, import order
    for pid, u in users.items():
        kept = [s for s in sessions.get(pid, []) if s[0] >= u["install"]]
        before_install += len(sessions.get(pid, [])) - len(kept)
        # Unknown end sorts as its start (none occur in this export).
        per_user[pid] = sorted(kept, key=lambda s: (s[0], s[1] if s[1] is not None else s[0], s[2]))

    out = []
    for key, pids in groups.items():
        lengths, gaps, n_sessions = [], [], 0
        spu, ret = {}, {}
        for pid in pids:
            ss = per_user[pid]
            n_sessions += len(ss)
            lengths += [e - s for s, e, _ in ss if e is not None]
            for prev, cur in zip(ss, ss[1:]):
                prev_end = prev[1] if prev[1] is not None else prev[0]
                gaps.append(max(0, cur[0] - prev_end))
        for n in DAYS:
            # Only users whose cohort date is mature for N, in numerator and denominator.
            mature_users = [p for p in pids if mature(users[p]["install"], n)]
            through = on_day = 0
            for p in mature_users:
                days = [day_n(s, users[p]["install"]) for s, _, _ in per_user[p]]
                through += sum(1 for d in days if d <= n)
                on_day += n in days
            spu[str(n)] = ratio(through, len(mature_users))
            ret[str(n)] = ratio(on_day, len(mature_users))
        out.append({
            "group": "all" if key == "all" else shown[key],
            "installs": len(pids),
            "sessions": n_sessions,
            "sessions_per_user": spu,
            "retention": ret,
            "avg_session_length_s": None if not lengths else sum(lengths) / len(lengths) / 1000,
            "median_session_length_s": None if not lengths else median(lengths) / 1000,
            "median_time_between_sessions_s": None if not gaps else median(gaps) / 1000,
            "spend": None, "cpi": None,
            "cpm_sessions": {str(n): None for n in DAYS},
        })
    # "all" first, then channels by installs (desc), then name: a stable order to diff.
    out[1:] = sorted(out[1:], key=lambda g: (-g["installs"], g["group"]))

    end_text = datetime.fromtimestamp(data_end / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    print(f"day={args.day} data_end={end_text} "
          f"users={len(users)} inferred_installs={inferred} "
          f"sessions_read={sum(map(len, sessions.values()))} sessions_before_install={before_install}",
          file=sys.stderr)
    json.dump({"settings": {"day": args.day, "tz": "UTC",
                            "data_end": end_text},
               "groups": out}, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
