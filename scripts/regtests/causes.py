#!/usr/bin/env python3
"""Why each failed reg-test failed: the causes behind docs/conformance.md.

    scripts/regtests/causes.py RUN_DIR        (the run directory run.sh names and keeps)
    scripts/regtests/causes.py --first LOG... (run.sh: each log's first [ALERT] and failure)

Reads every failed test's VTest log (RUN_DIR/vtc.*/LOG, INFO) and prints, in Markdown:
  1. the FIRST blocking cause of every failed test (the first [ALERT] swiftlb printed, in the
     configuration's line order; VTest's first failure line when swiftlb accepted the
     configuration), grouped and counted: every failed test in exactly one group;
  2. every cause with the number of tests it appears in (a test passes only when all of its
     causes are gone);
  3. a fixing order: the causes, greedily, with the number of tests whose configuration
     swiftlb would accept after each step (an upper bound: behaviour comes next).
Causes are read from swiftlb's own messages (file:line: 'keyword': message), never guessed
from the .vtc; a message no rule below knows stays verbatim, under its keyword.
"""
import collections
import glob
import os
import re
import sys

OUTPUT = re.compile(r"^\*+ +(h\w*) +debug\|(.*)$")   # what haproxy (here: swiftlb) printed
# A record of swiftlb's output starts with "[ALERT]", "[WARNING]", "[NOTICE]" or a swift-log
# timestamp; VTest logs each read() of the pipe as its own "debug|" line, so a record cut by
# a read boundary continues on the next line of the same instance.
RECORD = re.compile(r"^(\[|\d{4}-\d\d-\d\dT)")
ALERT = re.compile(r"^\[ALERT\] (?:(\S+?):(\d+): )?(.*)$")
FAILURE = re.compile(r"^---- +(\S+) +(.*)$")
STARTED = re.compile(r"^\*+ +(h\w*) +haproxy_start$")

# (pattern on "'keyword': message", cause). First match wins; the order matters where a
# message shows two things (an env variable inside a unix socket path is an env variable).
RULES = [
    (r"^'bind': invalid address '\"?fd@", 'bind "fd@${NAME}": a listening socket inherited from VTest, its fd number in an environment variable'),
    (r"\$\{[A-Za-z_][A-Za-z0-9_]*(-[^}]*)?\}", 'environment variables in arguments: "${NAME}", "${NAME-default}" (e.g. timeout "${HAPROXY_TEST_TIMEOUT-5s}")'),
    (r"^'server': invalid address '/", "server on a unix socket path"),
    (r"^'bind': invalid address '/", "bind on a unix socket path"),
    (r"^'server': invalid address '[^']*[a-z]", "server with a host name resolved at start (init-addr)"),
    (r"^'server': invalid address '[^']*:0'", "server address with port 0"),
    (r"^'log': only", "log to a syslog address in a proxy (log 127.0.0.1:514 / ${Slg_addr}...)"),
    (r"^'(ring|dgram-bind|log-forward|format|maxlen|size|description)': unknown keyword in 'backend'|^'bind': not allowed in a 'backend'", "ring / log-forward sections (their lines read as the previous backend's)"),
    (r"^'mode': mode tcp|^'option': option 'tcplog'", "mode tcp"),
    (r"^'(tcp-request|tcp-response)'", "tcp-request / tcp-response rules"),
    (r"set-var\(|unset-var\(|%\[var\(|set-var': unknown keyword", "variables: set-var / unset-var actions, var() fetch, global set-var"),
    (r"^'(stick|stick-table|peers)'", "stick tables: stick on / stick-table / peers"),
    (r"^'(frontend|backend|listen|defaults)': (unexpected words after the name: from|named defaults)|^'http-(request|response)': not allowed in a 'defaults'", "named defaults sections (defaults NAME, ... from NAME, rules in defaults)"),
    (r"^'http-(request|response)': 'del-header' expects one header name", "del-header NAME -m str/beg/end/sub/reg"),
    (r"^'\.(if|else|endif)'", "conditional blocks .if / .else / .endif"),
    (r"^'(capture)'|action 'capture'", "captures: capture request/response header, http-request capture"),
    (r"^'option': unknown option '(\w+-check|smtpchk|ssl-hello-chk)'", "protocol checks: option mysql-check / pgsql-check / redis-check / ldap-check / smtpchk / spop-check / ssl-hello-chk"),
    (r"^'tune\.ssl\.default-dh-param'|^'ssl-dh-param-file'", "tune.ssl.default-dh-param / ssl-dh-param-file"),
    (r"^'(crt-base|ca-base)'", "crt-base / ca-base"),
    (r"^'bind': (unknown )?bind parameter '(proto)'|^'server': unknown server parameter '(proto|check-proto)'", "proto h2 / check-proto on bind and server lines (HTTP/2)"),
    (r"accept-proxy|send-proxy", "PROXY protocol: accept-proxy, send-proxy(-v2)"),
    (r"^'(bind)': (unknown )?bind parameter '(ca-file|ca-verify-file)'|^'(default-server|server)': server parameter 'crt'|ssl_c_|ssl_f_|ssl_s_|cert_(ok|expired|revoked)", "client certificates and TLS fetches (bind ca-file verify, server crt, ssl_c_* / ssl_f_* / ssl_s_*)"),
    (r"^'http-check': ", "http-check send/expect/connect variants"),
    (r"^'http-after-response'", "http-after-response rules"),
    (r"unsupported sample fetch|unknown fetch method", "sample fetches and converters in %[...] and ACLs"),
    (r"^'use_backend': expects 'use_backend NAME if\|unless", "use_backend without a condition (use_backend %[...] / dynamic)"),
    (r"^'log-format'|^'error-log-format'|^'unique-id-(format|header)'|option 'httpslog'|unknown option 'httpslog'", "log-format / error-log-format / unique-id-format / option httpslog"),
]
RULES = [(re.compile(p), c) for p, c in RULES]

GENERIC = [  # keyword-level fallbacks that keep the specific name
    (re.compile(r"^'([\w.-]+)': unsupported ([\w-]+) action '([\w.-]+)"), lambda m: f"{m[1]} {m[3]}"),
    (re.compile(r"^'option': (?:unknown option|option) '?([\w-]+)"), lambda m: f"option {m[1]}"),
    (re.compile(r"^'(bind|server|default-server)': (?:unknown )?(?:bind|server) parameter '([\w.-]+)'"), lambda m: f"{m[1]} ... {m[2]}"),
    (re.compile(r"^'([\w.-]+)': unknown keyword in '(\w+)' section"), lambda m: f"{m[1]} (unknown keyword)"),
    (re.compile(r"^'([\w.-]+)': not supported"), lambda m: f"{m[1]} (not supported)"),
]


def cause_of(message):
    for pattern, cause in RULES:
        if pattern.search(message):
            return cause
    for pattern, name in GENERIC:
        m = pattern.search(message)
        if m:
            return name(m)
    return message


def read_log(path):
    """([(instance, line, message, "h1/cfg:9: message")], first VTest failure) of one log."""
    records, failure, started = [], "", []
    last = {}  # instance -> index of its last record
    for raw in open(path, errors="replace"):
        raw = raw.rstrip("\n")
        m = STARTED.match(raw)
        if m:
            started.append(m[1])
            continue
        m = OUTPUT.match(raw)
        if m:
            instance, text = m.groups()
            if instance in last and not RECORD.match(text):
                i = last[instance]
                records[i] = (instance, records[i][1] + text)
            else:
                last[instance] = len(records)
                records.append((instance, text))
            continue
        m = FAILURE.match(raw)
        if m and not failure:
            failure = f"{m[1]}: {m[2]}"
    alerts = []
    for instance, text in records:
        m = ALERT.match(text)
        if m:
            path, line, message = m.groups()
            where = f"{instance}/{os.path.basename(path)}:{line}: " if path else ""
            alerts.append((instance, int(line or 0), message, where + message))
    # In the order VTest started the instances (their output may come in any order).
    order = {name: i for i, name in enumerate(started)}
    alerts.sort(key=lambda a: order.get(a[0], len(order)))
    return alerts, failure


def first_alert(alerts):
    """The first blocking one: of the first instance started that refused, the lowest line."""
    mine = [a for a in alerts if a[0] == alerts[0][0]]
    return min(mine, key=lambda a: a[1])


def read_test(directory):
    """(test, [(instance, line, cause, message)], first VTest failure) of one failed test."""
    info = open(os.path.join(directory, "INFO"), errors="replace").read()
    test = re.sub(r"^Test case: .*?reg-tests/", "", info.strip())
    alerts, failure = read_log(os.path.join(directory, "LOG"))
    return test, [(i, n, cause_of(m), m) for i, n, m, _ in alerts], failure


def print_first(logs):
    """For run.sh's result list: LOG, its first blocking [ALERT], its first VTest failure (\\x1f apart)."""
    for path in logs:
        alerts, failure = read_log(path)
        alert = first_alert(alerts)[3] if alerts else ""
        print("\x1f".join(x.replace("\x1f", " ").replace("\t", " ") for x in (path, alert, failure)))


def main(run_dir):
    tests = {}
    for d in sorted(glob.glob(os.path.join(run_dir, "vtc.*"))):
        if os.path.exists(os.path.join(d, "LOG")):
            test, alerts, failure = read_test(d)
            tests[test] = (alerts, failure)
    if not tests:
        sys.exit(f"causes.py: no failed test's log under {run_dir}")

    first = collections.defaultdict(list)
    every = collections.defaultdict(set)
    for test, (alerts, failure) in sorted(tests.items()):
        if alerts:
            first[first_alert(alerts)[2]].append(test)
            for a in alerts:
                every[a[2]].add(test)
        else:
            first["configuration accepted; then: " + re.sub(r"\d+", "N", failure.split(":", 1)[-1].strip())[:100]].append(test)

    def cell(text):
        return text.replace("|", "\\|")

    print(f"### First blocking cause ({len(tests)} failed tests)\n")
    print("| tests | first blocking cause | tests |\n|---:|---|---|")
    for cause, names in sorted(first.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        print(f"| {len(names)} | {cell(cause)} | {', '.join(n.split('/')[-1].removesuffix('.vtc') for n in names)} |")

    print("\n### Every cause, and in how many failed tests it appears\n")
    print("| tests | cause |\n|---:|---|")
    ranked = sorted(every.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    for cause, names in ranked:
        if len(names) > 1:
            print(f"| {len(names)} | {cell(cause)} |")
    singles = [cause for cause, names in ranked if len(names) == 1]
    if singles:
        print(f"\nIn one test each ({len(singles)}): " + "; ".join(singles) + ".")

    print("\n### A fixing order: configurations swiftlb would accept\n")
    print("| step | cause | accepted configurations |\n|---:|---|---:|")
    remaining = {t: {a[2] for a in alerts} for t, (alerts, _) in tests.items() if alerts}
    goal = -(-3 * len(tests) // 4)  # issue #16: 3 in 4
    fixed, before, rest = [], 0, []

    def score(cause):
        left = {t: causes - set(fixed) for t, causes in remaining.items()}
        completes = sum(1 for causes in left.values() if causes == {cause})
        share = sum(1 / len(causes) for causes in left.values() if cause in causes)
        return completes + share

    while True:
        candidates = sorted({c for causes in remaining.values() for c in causes} - set(fixed))
        if not candidates:
            break
        best = max(candidates, key=score)  # the most tests completed, then the widest share
        fixed.append(best)
        accepted = sum(1 for causes in remaining.values() if causes <= set(fixed))
        if before < goal:
            mark = f" (3 in 4 of {len(tests)})" if accepted >= goal else ""
            print(f"| {len(fixed)} | {cell(best)} | {accepted}{mark} |")
        else:
            rest.append(f"{best} (+{accepted - before})")
        before = accepted
    if rest:
        print(f"\nThen, {len(rest)} more: " + "; ".join(rest) + ".")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--first":
        print_first(sys.argv[2:])
    elif len(sys.argv) == 2:
        main(sys.argv[1])
    else:
        sys.exit(__doc__)
