#!/usr/bin/env python3
"""Keeps the metrics catalogue, the Grafana dashboards and the alert rules in step (run by deploy/check).

- The catalogue is the table of the README's "## Metrics" section: one row per metric, the name in backticks in the
  first column, its type (counter, gauge, histogram) in the second, its label names in backticks in the third.
- Every dashboard in deploy/grafana/dashboards parses as JSON, has a uid (unique across dashboards), unique panel
  ids, queries only the provisioned Prometheus data source (deploy/grafana/provisioning/datasources), and uses
  Grafana's range variables ($__rate_interval, $__range) rather than fixed windows.
- Every metric a dashboard or an alert expression uses is in the catalogue (a histogram's _bucket, _sum and _count
  series included), with only the labels the catalogue gives it (plus le and the scrape's job, instance and
  service); every catalogued metric is on some dashboard.
- Every alert has a severity of page or ticket, a summary, a description and a runbook hint, and alerts.test.yml
  has a case where it fires and one where it does not.
"""

import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DASHBOARDS = ROOT / "deploy/grafana/dashboards"
DATASOURCES = ROOT / "deploy/grafana/provisioning/datasources"
ALERTS = ROOT / "deploy/prometheus/alerts.yml"
ALERT_TESTS = ROOT / "deploy/prometheus/alerts.test.yml"

# Labels Prometheus attaches to every scraped series (prometheus.yml), and its own series.
TARGET_LABELS = {"job", "instance", "service"}
BUILTIN_METRICS = {"up": set()}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
PROMQL_WORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "offset",
                "bool", "inf", "nan"}
GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
SELECTOR = re.compile(r"(?<![\w.:])([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}")
MATCHER = re.compile(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)")
IDENT = re.compile(r"(?<![\w.:$])([a-zA-Z_:][\w:]*)(\s*\()?")

errors = []


def error(where, message):
    errors.append(f"{where}: {message}")


def catalogue():
    text = README.read_text(encoding="utf-8")
    match = re.search(r"^## Metrics\n(.*?)(?=^## )", text, re.S | re.M)
    if not match:
        error("README.md", 'no "## Metrics" section')
        return {}
    metrics = {}
    for line in match.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("| `") or len(cells) < 3:
            continue
        name = cells[0].strip("`")
        kind = cells[1]
        labels = set(re.findall(r"`([a-zA-Z_]\w*)`", cells[2]))
        where = f"README.md, metric {name}"
        if name in metrics:
            error(where, "listed twice")
        if kind not in ("counter", "gauge", "histogram"):
            error(where, f"type {kind!r} is not counter, gauge or histogram")
        if kind == "counter" and not name.endswith("_total"):
            error(where, "a counter's name ends in _total")
        if kind != "counter" and name.endswith("_total"):
            error(where, "only counters end in _total")
        metrics[name] = {"type": kind, "labels": labels}
    if not metrics:
        error("README.md", 'the "## Metrics" section has no metric table')
    return metrics


def resolve(name, metrics, recorded):
    """The catalogue entry a series name belongs to, with the extra labels it may carry."""
    if name in metrics:
        return metrics[name], set()
    if name in recorded:
        return {"type": "recorded", "labels": recorded[name]}, set()
    if name in BUILTIN_METRICS:
        return {"type": "builtin", "labels": BUILTIN_METRICS[name]}, set()
    for suffix in HISTOGRAM_SUFFIXES:
        base = name[: -len(suffix)]
        if name.endswith(suffix) and metrics.get(base, {}).get("type") == "histogram":
            return metrics[base], {"le"} if suffix == "_bucket" else set()
    return None, set()


def check_expr(where, expr, metrics, recorded, used):
    """Checks the metric names and labels of one PromQL expression; returns the metric names it uses."""
    bare = STRING.sub('""', expr)
    names = {}
    for name, matchers in SELECTOR.findall(bare):
        names.setdefault(name, set()).update(MATCHER.findall(matchers))
    grouped = set()
    for _, labels in GROUPING.findall(bare):
        grouped.update(l.strip() for l in labels.split(",") if l.strip())
    rest = GROUPING.sub(" ", bare)
    rest = re.sub(r"\{[^}]*\}", " ", rest)
    rest = re.sub(r"\[[^\]]*\]", " ", rest)
    rest = re.sub(r"\boffset\s+\S+", " ", rest)
    for name, call in IDENT.findall(rest):
        if call or name in PROMQL_WORDS:
            continue
        names.setdefault(name, set())
    known_labels = set(TARGET_LABELS)
    for name, labels in names.items():
        entry, extra = resolve(name, metrics, recorded)
        if entry is None:
            error(where, f"metric {name} is not in the README's Metrics table")
            continue
        used.add(name.removesuffix("_bucket").removesuffix("_sum").removesuffix("_count")
                 if name not in metrics else name)
        allowed = entry["labels"] | extra | TARGET_LABELS
        known_labels |= allowed
        for label in sorted(labels - allowed):
            error(where, f"label {label} is not a label of {name} in the README's Metrics table")
    for label in sorted(grouped - known_labels):
        error(where, f"grouping label {label} is not a label of the metrics of this expression")
    return names


def panels_of(board):
    for panel in board.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def check_dashboards(metrics, used):
    uids = set()
    for path in DATASOURCES.glob("*.y*ml"):
        for source in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("datasources", []):
            if source.get("type") == "prometheus" and source.get("uid"):
                uids.add(source["uid"])
    if not uids:
        error(str(DATASOURCES.relative_to(ROOT)), "no Prometheus data source with a uid is provisioned")
    files = sorted(DASHBOARDS.glob("*.json"))
    if not files:
        error(str(DASHBOARDS.relative_to(ROOT)), "no dashboard")
    seen_uids, seen_titles, count = {}, {}, {"panels": 0, "queries": 0}
    for path in files:
        where = str(path.relative_to(ROOT))
        try:
            board = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            error(where, f"not valid JSON: {e}")
            continue
        uid, title = board.get("uid"), board.get("title")
        if not uid:
            error(where, "no uid")
        elif uid in seen_uids:
            error(where, f"uid {uid} also used by {seen_uids[uid]}")
        seen_uids[uid] = where
        if not title:
            error(where, "no title")
        elif title in seen_titles:
            error(where, f"title {title!r} also used by {seen_titles[title]}")
        seen_titles[title] = where
        if not isinstance(board.get("schemaVersion"), int):
            error(where, "no schemaVersion")
        ids = set()
        for panel in panels_of(board):
            pid = panel.get("id")
            pwhere = f"{where}, panel {pid} {panel.get('title')!r}"
            if not isinstance(pid, int):
                error(pwhere, "no numeric id")
            elif pid in ids:
                error(pwhere, "id used twice")
            ids.add(pid)
            if "gridPos" not in panel:
                error(pwhere, "no gridPos")
            if panel.get("type") == "row":
                continue
            count["panels"] += 1
            if not panel.get("title"):
                error(pwhere, "no title")
            sources = [panel.get("datasource")] + [t.get("datasource") for t in panel.get("targets", [])
                                                   if "datasource" in t]
            for source in sources:
                if not isinstance(source, dict) or source.get("type") != "prometheus" or source.get("uid") not in uids:
                    error(pwhere, f"data source {source!r} is not the provisioned Prometheus ({sorted(uids)})")
            if not panel.get("targets"):
                error(pwhere, "no query")
            for target in panel.get("targets", []):
                expr = target.get("expr", "")
                if not expr.strip():
                    error(pwhere, f"query {target.get('refId')} has no expression")
                    continue
                count["queries"] += 1
                for window in re.findall(r"\[([^\]]*)\]", expr):
                    if not window.startswith("$__"):
                        error(pwhere, f"fixed range [{window}]: use [$__rate_interval] (or [$__range])")
                check_expr(pwhere, expr, metrics, {}, used)
        for variable in board.get("templating", {}).get("list", []):
            source = variable.get("datasource")
            if variable.get("type") == "query" and (not isinstance(source, dict) or source.get("uid") not in uids):
                error(f"{where}, variable {variable.get('name')}", "not on the provisioned Prometheus")
    return len(files), count


def check_alerts(metrics, used):
    rules = yaml.safe_load(ALERTS.read_text(encoding="utf-8")) or {}
    recorded, alerts = {}, []
    for group in rules.get("groups", []):
        for rule in group.get("rules", []):
            if "record" in rule:
                recorded[rule["record"]] = set()
    for group in rules.get("groups", []):
        for rule in group.get("rules", []):
            name = rule.get("alert") or rule.get("record")
            where = f"{ALERTS.relative_to(ROOT)}, {name}"
            names = check_expr(where, str(rule.get("expr", "")), metrics, recorded, used)
            if "record" in rule:
                recorded[rule["record"]] = set().union(*(metrics.get(n, {}).get("labels", set()) for n in names))
                continue
            alerts.append(name)
            if rule.get("labels", {}).get("severity") not in ("page", "ticket"):
                error(where, "severity label is not page or ticket")
            for annotation in ("summary", "description", "runbook"):
                if not str(rule.get("annotations", {}).get(annotation, "")).strip():
                    error(where, f"no {annotation} annotation")
    if len(set(alerts)) != len(alerts):
        error(str(ALERTS.relative_to(ROOT)), "two alerts share a name")
    tests = yaml.safe_load(ALERT_TESTS.read_text(encoding="utf-8")) or {}
    fires, silent = set(), set()
    for test in tests.get("tests", []):
        for case in test.get("alert_rule_test", []):
            (fires if case.get("exp_alerts") else silent).add(case.get("alertname"))
    twhere = str(ALERT_TESTS.relative_to(ROOT))
    for name in alerts:
        if name not in fires:
            error(twhere, f"no case where {name} fires")
        if name not in silent:
            error(twhere, f"no case where {name} stays silent")
    for name in sorted((fires | silent) - set(alerts)):
        error(twhere, f"tests an alert that alerts.yml does not have: {name}")
    return len(alerts)


def main():
    metrics = catalogue()
    dashboard_uses, alert_uses = set(), set()
    boards, count = check_dashboards(metrics, dashboard_uses)
    alerts = check_alerts(metrics, alert_uses)
    for name in sorted(set(metrics) - dashboard_uses):
        error("deploy/grafana/dashboards", f"no dashboard shows {name} (README's Metrics table)")
    if errors:
        print("\n".join(errors), file=sys.stderr)
        print(f"{len(errors)} problems", file=sys.stderr)
        return 1
    print(f"catalogue: {len(metrics)} metrics, all on a dashboard; dashboards: {boards} "
          f"({count['panels']} panels, {count['queries']} queries); alerts: {alerts}, each tested firing and silent; "
          f"{len(alert_uses)} metrics alerted on")
    return 0


if __name__ == "__main__":
    sys.exit(main())
