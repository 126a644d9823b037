#!/usr/bin/env python3
"""Why each failed reg-test failed: the causes behind docs/conformance.md.

    scripts/regtests/causes.py RUN_DIR        (the run directory run.sh names and keeps)

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

ALERT = re.compile(r"^\*+ +(h\w*) +debug\|\[ALERT\] (?:(\S+?):(\d+): )?(.*)$")
FAILURE = re.compile(r"^---- +(\S+) +(.*)$")
KEYWORD = re.compile(r"^'([^']+)': (.*)$")

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
    (r"^'http-(request|response)': 'del-header' expects one header name", "del-header NAME -m str|beg|end|sub|reg"),
    (r"^'\.(if|else|endif)'", "conditional blocks .if / .else / .endif"),
    (r"^'(capture)'|action 'capture'", "captures: capture request|response header, http-request capture"),
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


def read_test(directory):
    """(test, [(instance, line, cause, message)], first VTest failure) of one failed test."""
    info = open(os.path.join(directory, "INFO"), errors="replace").read()
    test = re.sub(r"^Test case: .*?reg-tests/", "", info.strip())
    alerts, failure = [], ""
    for raw in open(os.path.join(directory, "LOG"), errors="replace"):
        raw = raw.rstrip("\n")
        m = ALERT.match(raw)
        if m:
            instance, _, line, message = m.groups()
            alerts.append((instance, int(line or 0), cause_of(message), message))
            continue
        m = FAILURE.match(raw)
        if m and not failure:
            failure = f"{m[1]}: {m[2]}"
    return test, alerts, failure


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
            # The first instance VTest started refused first; within it, the lowest line.
            instance = alerts[0][0]
            mine = [a for a in alerts if a[0] == instance]
            first[min(mine, key=lambda a: a[1])[2]].append(test)
            for a in alerts:
                every[a[2]].add(test)
        else:
            first["configuration accepted; then: " + re.sub(r"\d+", "N", failure.split(":", 1)[-1].strip())[:100]].append(test)

    print(f"## First blocking cause ({len(tests)} failed tests)\n")
    print("| tests | first blocking cause | tests |\n|---:|---|---|")
    for cause, names in sorted(first.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        print(f"| {len(names)} | {cause} | {', '.join(n.split('/')[-1].removesuffix('.vtc') for n in names)} |")

    print(f"\n## Every cause: in how many failed tests it appears\n")
    print("| tests | cause |\n|---:|---|")
    for cause, names in sorted(every.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        print(f"| {len(names)} | {cause} |")

    print("\n## Fixing order: tests whose configuration would be accepted\n")
    print("Greedy: each step fixes the cause with the most (tests it completes + its share of every test it is in).")
    print("An upper bound on passing tests: an accepted configuration still has to behave.\n")
    print("| step | cause | accepted configurations |\n|---:|---|---:|")
    remaining = {t: {a[2] for a in alerts} for t, (alerts, _) in tests.items() if alerts}
    goal = -(-3 * len(tests) // 4)  # issue #16: 3 in 4
    fixed, step, before = set(), 0, 0

    def score(cause):
        completes = sum(1 for causes in remaining.values() if causes - fixed == {cause})
        share = sum(1 / len(causes - fixed) for causes in remaining.values() if cause in causes - fixed)
        return completes + share

    while True:
        candidates = sorted({c for causes in remaining.values() for c in causes} - fixed)
        if not candidates:
            break
        best = max(candidates, key=score)
        fixed.add(best)
        step += 1
        accepted = sum(1 for causes in remaining.values() if causes <= fixed)
        mark = f" (3 in 4 of {len(tests)})" if before < goal <= accepted else ""
        print(f"| {step} | {best} | {accepted}{mark} |")
        before = accepted

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
