"""Checks jifen's finance files without jifen's code: the daily liability report ties out (the
money identity with each day's figures, and each day's flows carry the running totals from the
day before), the double-entry export balances per command and overall and its running balances
per account code end at the report's closing balances, and each XLSX file (read with openpyxl)
carries the same figures as its CSV.

Input on stdin (JSON): {"report_csv", "report_xlsx", "journal_csv", "journal_xlsx", "batch_csv",
"batch_xlsx"}: paths. Prints a JSON summary; exits 1 with the problems when anything is off.
"""

import csv
import io
import json
import sys
from collections import defaultdict

import openpyxl

problems = []


def read_csv(path):
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def check_report(rows):
    prev = None
    for r in rows:
        n = {k: int(v) for k, v in r.items() if k.endswith("_fen") or k.endswith("_atoms") or k in ("exits", "entries", "first_seq", "last_seq", "tree_size")}
        day = r["day"]
        money = n["reserve_fen"] + n["dividend_pool_fen"] + n["escrow_fen"] + n["stable_outstanding_fen"] + n["paid_out_total_fen"]
        if money != n["contributions_total_fen"]:
            problems.append(f"{day}: reserve + pool + escrow + stable + paid out = {money}, contributions {n['contributions_total_fen']}")
        if n["paid_out_total_fen"] != n["payouts_owed_fen"] + n["settled_total_fen"]:
            problems.append(f"{day}: paid out != owed + settled")
        if n["contributions_fen"] != n["to_reserve_fen"] + n["to_dividend_pool_fen"]:
            problems.append(f"{day}: contributions are not their split")
        if n["circulating_atoms"] > 0 and n["circulating_value_fen"] != n["reserve_fen"]:
            problems.append(f"{day}: value at the closing price is not the reserve")
        if prev is not None:
            for total, flow in (("contributions_total_fen", "contributions_fen"), ("settled_total_fen", "payouts_settled_fen")):
                if prev[total] + n[flow] != n[total]:
                    problems.append(f"{day}: {total} does not carry from the day before with {flow}")
            if prev["payouts_owed_fen"] + n["payouts_owed_added_fen"] - n["payouts_settled_fen"] != n["payouts_owed_fen"]:
                problems.append(f"{day}: payouts owed do not carry")
        prev = n
    return prev


def check_journal(lines, last):
    by_seq = defaultdict(lambda: [0, 0])
    balance = defaultdict(int)
    for l in lines:
        d, c = int(l["debit_fen"]), int(l["credit_fen"])
        by_seq[l["seq"]][0] += d
        by_seq[l["seq"]][1] += c
        balance[l["account_code"]] += d - c
    unbalanced = [s for s, (d, c) in by_seq.items() if d != c]
    if unbalanced:
        problems.append(f"commands whose debits differ from credits: {unbalanced[:5]}")
    total_d = sum(v[0] for v in by_seq.values())
    total_c = sum(v[1] for v in by_seq.values())
    if total_d != total_c:
        problems.append(f"debits {total_d} != credits {total_c}")
    want = {
        "1001": last["contributions_total_fen"],
        "1002": -last["settled_total_fen"],
        "2101": -last["reserve_fen"],
        "2102": -last["dividend_pool_fen"],
        "2103": -last["escrow_fen"],
        "2201": -last["stable_outstanding_fen"],
        "2202": -last["payouts_owed_fen"],
        "6001": 0,
    }
    for code, amount in want.items():
        if balance.get(code, 0) != amount:
            problems.append(f"account {code}: the lines add up to {balance.get(code, 0)}, the report closes at {amount}")
    return len(by_seq), total_d


def same_as_xlsx(csv_path, xlsx_path):
    rows = read_csv(csv_path)
    sheet = openpyxl.load_workbook(xlsx_path, read_only=True).active
    cells = list(sheet.iter_rows(values_only=True))
    if len(cells) - 1 != len(rows):
        problems.append(f"{xlsx_path}: {len(cells) - 1} rows, the CSV {len(rows)}")
        return
    keys = list(rows[0].keys()) if rows else []
    for i, (row, xrow) in enumerate(zip(rows, cells[1:])):
        for key, x in zip(keys, xrow):
            text = row[key]
            if isinstance(x, float) and not x.is_integer() or key.endswith("_yuan") and isinstance(x, (int, float)):
                got = f"{x:.2f}"
            elif isinstance(x, (int, float)):
                got = str(int(x))
            else:
                got = "" if x is None else str(x)
            if text.startswith("'"):
                text = text[1:]
            if got != text:
                problems.append(f"{xlsx_path} row {i + 2} {key}: {got!r}, the CSV {text!r}")
                return


def main():
    paths = json.load(sys.stdin)
    report = read_csv(paths["report_csv"])
    last = check_report(report)
    journal = read_csv(paths["journal_csv"])
    commands, debits = check_journal(journal, last)
    for name in ("report", "journal", "batch"):
        same_as_xlsx(paths[f"{name}_csv"], paths[f"{name}_xlsx"])
    print(json.dumps({"days": len(report), "commands": commands, "lines": len(journal),
                      "debits_fen": debits, "problems": problems}))
    sys.exit(1 if problems else 0)


main()
