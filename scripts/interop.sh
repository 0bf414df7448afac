#!/usr/bin/env bash
# Interoperability with independently written SMTP software, over loopback only.
# The main cases run again against `tokio_server --decide-after-ms 5`: every decision
# answered later, from another task, so replies wait while the session goes on.
# Installs what it needs (Debian: swaks, msmtp, postfix for smtp-source/smtp-sink, haproxy,
# with no daemon started; PyPI: aiosmtpd), builds the examples, and prints one PASS/FAIL line
# per case and a final "N passed, N failed" line. Exits non-zero if any case failed.
set -uo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d /tmp/smtp-sansio-interop.XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

install() {
    local missing=()
    command -v swaks >/dev/null || missing+=(swaks)
    command -v msmtp >/dev/null || missing+=(msmtp)
    command -v smtp-source >/dev/null || [ -x /usr/sbin/smtp-source ] || missing+=(postfix)
    command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
    perl -MNet::SSLeay -e 1 2>/dev/null || missing+=(libnet-ssleay-perl libio-socket-ssl-perl)
    if [ ${#missing[@]} -gt 0 ]; then
        # Never start a daemon from a package's install scripts.
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
        echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections 2>/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    python3 -c 'import aiosmtpd' 2>/dev/null || python3 -m pip install -q aiosmtpd >/dev/null 2>&1
}
echo "==> installing swaks (with TLS), msmtp, postfix tools, haproxy, aiosmtpd"
install || echo "(some tools could not be installed; their cases will fail)"
PATH="$PATH:/usr/sbin"

echo "==> building the examples"
cargo build -q --release --examples || exit 1
bin=target/release/examples

passed=0
failed=0
check() { # name, then a command that succeeds for PASS
    local name=$1
    shift
    if "$@" >"$work/last.log" 2>&1; then
        echo "PASS $name"
        passed=$((passed + 1))
    else
        echo "FAIL $name"
        sed 's/^/    /' "$work/last.log" | tail -15
        failed=$((failed + 1))
    fi
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }

start_server() { # example, maildir, extra args...: sets $port
    local example=$1 maildir=$2
    shift 2
    port=$(free_port)
    "$bin/$example" --listen "127.0.0.1:$port" --maildir "$maildir" "$@" >"$work/$example-$port.log" 2>&1 &
    pids+=($!)
    wait_port "$port"
}

# The body of the newest message in a Maildir, without the trace fields our server adds.
stored_body() { python3 - "$1" <<'PY'
import os, sys
d = os.path.join(sys.argv[1], "new")
names = sorted(os.listdir(d), key=lambda n: os.path.getmtime(os.path.join(d, n)))
data = open(os.path.join(d, names[-1]), "rb").read()
while data.startswith((b"Return-Path:", b"Received:", b"\t", b"X-", b"Delivered-To:", b"X-Peer:", b"X-MailFrom:", b"X-RcptTo:")):
    data = data[data.index(b"\r\n") + 2:] if b"\r\n" in data.split(b"\n", 1)[0] + b"\n" else data[data.index(b"\n") + 1:]
sys.stdout.buffer.write(data)
PY
}
count_messages() { ls "$1/new" 2>/dev/null | wc -l; }

# ---------------------------------------------------------------- real clients, our servers
body="$work/body.eml"
printf 'Subject: interop\r\n\r\n.leading dot\r\n..two dots\r\nplain line\r\n' > "$body"

# Every decision answered 5 ms after its event, by another task (tokio_server only).
delayed=(--decide-after-ms 5)

smtplib_case() { # server example, extra server args...: dots, SMTPUTF8, AUTH PLAIN/LOGIN, wrong password, 10 MiB
    local example=$1 maildir="$work/md-$1-smtplib-$RANDOM"
    shift
    start_server "$example" "$maildir" --no-fsync --auth user:secret --allow-insecure-auth --max-size 20000000 "$@" ||
        return 1
    python3 - "$port" "$maildir" "$body" <<'PY'
import os, smtplib, sys
port, maildir, body = int(sys.argv[1]), sys.argv[2], open(sys.argv[3], "rb").read()
def newest():
    d = os.path.join(maildir, "new")
    names = sorted(os.listdir(d), key=lambda n: os.path.getmtime(os.path.join(d, n)))
    data = open(os.path.join(d, names[-1]), "rb").read()
    return data[data.index(b"\r\n\r\n", 0) :] if False else data
def body_of(data):
    while data.startswith((b"Return-Path:", b"Received:", b"\t")):
        data = data[data.index(b"\r\n") + 2:]
    return data
def count():
    return len(os.listdir(os.path.join(maildir, "new")))
with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
    s.ehlo("client.example")
    assert not s.sendmail("a@example.net", ["b@example.org"], body)
    assert body_of(newest()) == body, "dots"
    s.sendmail("jörg@example.net", ["δοκιμή@example.org"], b"Subject: utf8\r\n\r\nhi\r\n", mail_options=["SMTPUTF8"])
    big = b"".join(b"line %07d with some text to fill it up a bit ..........\r\n" % i for i in range(180000))
    assert len(big) > 10 * 1024 * 1024
    s.sendmail("a@example.net", ["big@example.org"], big)
    assert body_of(newest()) == big, "10 MiB"
before = count()
for mechanism in ("PLAIN", "LOGIN"):
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.ehlo("client.example")
        s.user, s.password = "user", "secret"
        code, _ = s.auth(mechanism, getattr(s, "auth_" + mechanism.lower()), initial_response_ok=True)
        assert code == 235, (mechanism, code)
        s.sendmail("user@example.net", ["b@example.org"], body)
assert count() == before + 2
with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
    s.ehlo("client.example")
    try:
        s.login("user", "wrong")
        raise SystemExit("a wrong password was accepted")
    except smtplib.SMTPAuthenticationError as e:
        assert e.smtp_code == 535
assert count() == before + 2, "nothing stored after a refused login"
PY
}
check "python smtplib -> tokio_server (dots, SMTPUTF8, 10 MiB, AUTH PLAIN/LOGIN, wrong password)" smtplib_case tokio_server
check "python smtplib -> std_server (dots, SMTPUTF8, 10 MiB, AUTH PLAIN/LOGIN, wrong password)" smtplib_case std_server
check "python smtplib -> tokio_server --decide-after-ms 5 (dots, SMTPUTF8, 10 MiB, AUTH, wrong password)" \
    smtplib_case tokio_server "${delayed[@]}"

smtplib_tls_case() { # server example, extra server args...: STARTTLS then AUTH, and implicit TLS
    local example=$1 maildir="$work/md-$1-tls-$RANDOM" plain_port
    shift
    start_server "$example" "$maildir" --no-fsync --tls-self-signed --auth user:secret "$@" || return 1
    plain_port=$port
    start_server "$example" "$maildir" --no-fsync --tls-self-signed --implicit-tls "$@" || return 1
    python3 - "$plain_port" "$port" "$maildir" <<'PY'
import os, smtplib, ssl, sys
starttls_port, implicit_port, maildir = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
with smtplib.SMTP("127.0.0.1", starttls_port, timeout=10) as s:
    s.ehlo("client.example")
    assert s.has_extn("starttls") and not s.has_extn("auth"), "AUTH waits for TLS"
    s.starttls(context=ctx)
    s.ehlo("client.example")
    assert not s.has_extn("starttls") and s.has_extn("auth")
    s.login("user", "secret")
    s.sendmail("user@example.net", ["b@example.org"], b"Subject: tls\r\n\r\nover STARTTLS\r\n")
with smtplib.SMTP_SSL("127.0.0.1", implicit_port, timeout=10, context=ctx) as s:
    s.ehlo("client.example")
    s.sendmail("a@example.net", ["b@example.org"], b"Subject: tls\r\n\r\nimplicit TLS\r\n")
assert len(os.listdir(os.path.join(maildir, "new"))) == 2
PY
}
check "python smtplib STARTTLS + AUTH, and implicit TLS -> tokio_server" smtplib_tls_case tokio_server
check "python smtplib STARTTLS + AUTH, and implicit TLS -> std_server" smtplib_tls_case std_server
check "python smtplib STARTTLS + AUTH, and implicit TLS -> tokio_server --decide-after-ms 5" \
    smtplib_tls_case tokio_server "${delayed[@]}"

dual_stack_case() { # one server listening on IPv4 and IPv6 loopback
    local maildir="$work/md-dual" p
    p=$(free_port)
    "$bin/tokio_server" --listen "127.0.0.1:$p" --listen "[::1]:$p" --maildir "$maildir" --no-fsync >"$work/dual.log" 2>&1 &
    pids+=($!)
    wait_port "$p" || return 1
    python3 - "$p" <<'PY'
import smtplib, sys
for host in ("::1", "127.0.0.1"):
    with smtplib.SMTP(host, int(sys.argv[1]), timeout=10) as s:
        s.sendmail("a@example.net", ["b@example.org"], b"Subject: dual stack\r\n\r\nhi\r\n")
PY
    [ "$(count_messages "$maildir")" -eq 2 ] && grep -q "IPv6:::1" "$maildir"/new/*
}
check "python smtplib over IPv6 and IPv4 -> tokio_server listening on both" dual_stack_case

swaks_tls_case() {
    local maildir="$work/md-swaks-tls"
    start_server std_server "$maildir" --no-fsync --tls-self-signed --auth user:secret || return 1
    swaks --server "127.0.0.1:$port" --tls --auth PLAIN --auth-user user --auth-password secret \
        --from a@example.net --to b@example.org --data "$body" || return 1
    cmp <(stored_body "$maildir") <(cat "$body"; printf '\r\n')
}
check "swaks --tls --auth PLAIN -> std_server" swaks_tls_case

swaks_case() { # extra server args (one word-split string, may be empty), extra swaks args...
    local server_args=$1 maildir="$work/md-swaks-$RANDOM"
    shift
    # shellcheck disable=SC2086 # word splitting wanted
    start_server tokio_server "$maildir" --no-fsync --auth user:secret --allow-insecure-auth $server_args || return 1
    swaks --server "127.0.0.1:$port" --from a@example.net --to b@example.org --data "$body" "$@" || return 1
    # swaks ends the data with one more CRLF of its own before the final dot.
    cmp <(stored_body "$maildir") <(cat "$body"; printf '\r\n')
}
check "swaks -> tokio_server" swaks_case ""
check "swaks --pipeline -> tokio_server" swaks_case "" --pipeline
check "swaks --auth PLAIN -> tokio_server" swaks_case "" --auth PLAIN --auth-user user --auth-password secret
check "swaks --auth LOGIN -> tokio_server" swaks_case "" --auth LOGIN --auth-user user --auth-password secret
check "swaks --pipeline -> tokio_server --decide-after-ms 5" swaks_case "${delayed[*]}" --pipeline
check "swaks --pipeline --auth PLAIN -> tokio_server --decide-after-ms 5" \
    swaks_case "${delayed[*]}" --pipeline --auth PLAIN --auth-user user --auth-password secret

curl_case() {
    local maildir="$work/md-curl"
    start_server std_server "$maildir" --no-fsync || return 1
    curl -sS --url "smtp://127.0.0.1:$port" --mail-from a@example.net --mail-rcpt b@example.org --upload-file "$body" || return 1
    cmp <(stored_body "$maildir") "$body"
}
check "curl smtp:// -> std_server" curl_case

msmtp_case() {
    local maildir="$work/md-msmtp"
    start_server tokio_server "$maildir" --no-fsync || return 1
    msmtp --host=127.0.0.1 --port="$port" --tls=off --auth=off --from=a@example.net b@example.org < "$body" || return 1
    # msmtp adds header fields it finds missing (From:, Date:, Message-ID:) before the
    # message; the message itself must follow them as sent.
    stored_body "$maildir" > "$work/msmtp.stored"
    python3 -c 'import sys; a, b = (open(f, "rb").read() for f in sys.argv[1:]); sys.exit(not a.endswith(b))' \
        "$work/msmtp.stored" "$body"
}
check "msmtp -> tokio_server" msmtp_case

# ---------------------------------------------------------------- our clients, real servers
aiosmtpd_case() { # client example
    local client=$1 maildir="$work/md-aiosmtpd-$1" p
    p=$(free_port)
    python3 -m aiosmtpd -n -l "127.0.0.1:$p" -c aiosmtpd.handlers.Mailbox "$maildir" >"$work/aiosmtpd-$p.log" 2>&1 &
    pids+=($!)
    wait_port "$p" || return 1
    "$bin/$client" --server "127.0.0.1:$p" --from a@example.net --to b@example.org "$body" || return 1
    # aiosmtpd's Mailbox stores with LF line endings and adds its own header fields.
    python3 - "$maildir" "$body" <<'PY'
import mailbox, sys
box = mailbox.Maildir(sys.argv[1], create=False)
messages = list(box)
assert len(messages) == 1, len(messages)
payload = messages[0].get_payload(decode=False)
expected = open(sys.argv[2], "rb").read().decode().split("\r\n\r\n", 1)[1].replace("\r\n", "\n")
assert payload.replace("\r\n", "\n") == expected, (payload, expected)
PY
}
check "tokio_client -> aiosmtpd" aiosmtpd_case tokio_client
check "std_client -> aiosmtpd" aiosmtpd_case std_client

aiosmtpd_tls_auth_case() { # client example: STARTTLS required, then AUTH
    local client=$1 maildir="$work/md-aiosmtpd-tls-$1" p
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" \
        -subj /CN=localhost -days 1 >/dev/null 2>&1 || return 1
    p=$(free_port)
    python3 - "$p" "$maildir" "$work/cert.pem" "$work/key.pem" >"$work/aiosmtpd-tls-$p.log" 2>&1 <<'PY' &
import ssl, sys, time
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword
port, maildir, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)
def authenticate(server, session, envelope, mechanism, data):
    ok = isinstance(data, LoginPassword) and data.login == b"user" and data.password == b"secret"
    return AuthResult(success=ok)
controller = Controller(Mailbox(maildir), hostname="127.0.0.1", port=port, tls_context=context,
                        require_starttls=True, authenticator=authenticate, auth_required=True)
controller.start()
time.sleep(120)
PY
    pids+=($!)
    wait_port "$p" || return 1
    "$bin/$client" --server "127.0.0.1:$p" --starttls required --insecure-skip-verify --auth user:secret \
        --from a@example.net --to b@example.org "$body" || return 1
    python3 -c 'import mailbox, sys; n = len(list(mailbox.Maildir(sys.argv[1], create=False))); sys.exit(n != 1)' "$maildir"
}
check "tokio_client -> aiosmtpd with STARTTLS required and AUTH" aiosmtpd_tls_auth_case tokio_client
check "std_client -> aiosmtpd with STARTTLS required and AUTH" aiosmtpd_tls_auth_case std_client

smtp_sink_case() { # client example
    local client=$1 dir="$work/sink-$1" p
    mkdir -p "$dir"
    p=$(free_port)
    smtp-sink -u root -d "$dir/%M." "127.0.0.1:$p" 10 >"$work/sink-$p.log" 2>&1 &
    pids+=($!)
    wait_port "$p" || return 1
    "$bin/$client" --server "127.0.0.1:$p" --from a@example.net --to b@example.org --to c@example.org "$body" || return 1
    sleep 0.2
    grep -q "leading dot" "$dir"/* && grep -q "^\.\.two dots" "$dir"/*
}
check "tokio_client -> postfix smtp-sink (PIPELINING)" smtp_sink_case tokio_client
check "std_client -> postfix smtp-sink (PIPELINING)" smtp_sink_case std_client

sink_fault_case() { # smtp-sink option, command, expected client exit code
    local p
    p=$(free_port)
    smtp-sink -u root "$1" "$2" "127.0.0.1:$p" 10 >"$work/sink-fault-$p.log" 2>&1 &
    pids+=($!)
    wait_port "$p" || return 1
    "$bin/tokio_client" --server "127.0.0.1:$p" --from a@example.net --to b@example.org "$body"
    local code=$?
    echo "exit $code"
    [ "$code" -eq "$3" ]
}
check "tokio_client -> smtp-sink refusing RCPT with 5xx: permanent failure (exit 69)" sink_fault_case -f rcpt 69
check "tokio_client -> smtp-sink refusing RCPT with 4xx: transient failure (exit 75)" sink_fault_case -r rcpt 75
check "tokio_client -> smtp-sink refusing DATA with 5xx (exit 69)" sink_fault_case -f data 69
check "tokio_client -> smtp-sink disconnecting without a reply after MAIL (exit 75)" sink_fault_case -q mail 75
check "tokio_client -> smtp-sink answering 421 after RCPT (exit 75)" sink_fault_case -Q rcpt 75

# Required authentication (issue 10): a refused AUTH fails the message, sends no MAIL.
sink_auth_case() { # smtp-sink option (-f auth: 5xx, -r auth: 4xx), expected client exit code
    local p log
    p=$(free_port)
    log="$work/sink-auth-$p.log"
    smtp-sink -u root -v "$1" auth "127.0.0.1:$p" 10 >"$log" 2>&1 &
    pids+=($!)
    wait_port "$p" || return 1
    "$bin/tokio_client" --server "127.0.0.1:$p" --from a@example.net --to b@example.org \
        --auth user:secret --allow-insecure-auth "$body"
    local code=$?
    echo "exit $code"
    sleep 0.2
    if grep -qi "mail from" "$log"; then
        echo "MAIL was sent after a refused AUTH"
        return 1
    fi
    [ "$code" -eq "$2" ]
}
check "tokio_client -> smtp-sink refusing AUTH with 5xx: no MAIL, permanent (exit 69)" sink_auth_case -f 69
check "tokio_client -> smtp-sink refusing AUTH with 4xx: no MAIL, transient (exit 75)" sink_auth_case -r 75

# LMTP with BDAT, our client against our server: one reply per recipient after the last
# chunk, and the body as sent.
lmtp_bdat_case() {
    local maildir="$work/md-lmtp-bdat-$RANDOM"
    start_server tokio_server "$maildir" --no-fsync --lmtp "${delayed[@]}" || return 1
    "$bin/tokio_client" --server "127.0.0.1:$port" --lmtp --bdat --from a@example.net \
        --to b@example.org --to c@example.org "$body" || return 1
    sleep 0.2
    [ "$(count_messages "$maildir")" -eq 1 ] && [ "$(stored_body "$maildir")" = "$(cat "$body")" ]
}
check "tokio_client --lmtp --bdat -> tokio_server --lmtp --decide-after-ms 5" lmtp_bdat_case

load_case() { # messages, extra server args...
    local messages=$1 maildir="$work/md-load-$RANDOM"
    shift
    start_server tokio_server "$maildir" --no-fsync --max-size 100000000 "$@" || return 1
    smtp-source -c -s 50 -m "$messages" -l 1024 -f a@example.net -t b@example.org "127.0.0.1:$port" || return 1
    sleep 0.5
    local n
    n=$(count_messages "$maildir")
    echo "$n messages stored"
    [ "$n" -eq "$messages" ]
}
check "postfix smtp-source: 50 sessions, 20000 messages -> tokio_server, none lost" load_case 20000
# Four decisions a message, 5 ms each: fewer messages keep it to a few seconds.
check "postfix smtp-source: 50 sessions, 5000 messages -> tokio_server --decide-after-ms 5, none lost" \
    load_case 5000 "${delayed[@]}"

# ---------------------------------------------------------------- in front of the internet
# HAProxy in front, sending a PROXY header (v1 or v2): the message is stored, and its
# Received field names the original client (swaks binds 127.0.0.2; HAProxy connects
# from 127.0.0.1), not the balancer.
haproxy_case() { # send-proxy or send-proxy-v2
    local maildir="$work/md-haproxy-$1-$RANDOM" front cfg
    start_server tokio_server "$maildir" --no-fsync --proxy-protocol || return 1
    front=$(free_port)
    cfg="$work/haproxy-$1.cfg"
    cat >"$cfg" <<CFG
global
    maxconn 64
defaults
    mode tcp
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend smtp
    bind 127.0.0.1:$front
    default_backend sink
backend sink
    server sink 127.0.0.1:$port $1
CFG
    haproxy -f "$cfg" -db >"$work/haproxy-$1.log" 2>&1 &
    pids+=($!)
    wait_port "$front" || return 1
    swaks --server "127.0.0.1:$front" --local-interface 127.0.0.2 --helo client.example \
        --from a@example.net --to b@example.org --data "$body" || return 1
    sleep 0.2
    [ "$(count_messages "$maildir")" -eq 1 ] || return 1
    grep -q '127\.0\.0\.2' "$maildir"/new/* || { head -5 "$maildir"/new/*; return 1; }
    ! grep -q '127\.0\.0\.1\]' "$maildir"/new/*
}
check "swaks -> HAProxy send-proxy -> tokio_server --proxy-protocol (Received names the client)" haproxy_case send-proxy
check "swaks -> HAProxy send-proxy-v2 -> tokio_server --proxy-protocol (Received names the client)" \
    haproxy_case send-proxy-v2

# A greeting delay: swaks waits for the greeting and gets its message through; a client
# that talks first is cut off with 554 5.5.0 and never greeted.
greet_delay_case() {
    local maildir="$work/md-greet-delay-$RANDOM"
    start_server tokio_server "$maildir" --no-fsync --greet-delay-ms 300 || return 1
    swaks --server "127.0.0.1:$port" --from a@example.net --to b@example.org --data "$body" || return 1
    sleep 0.2
    [ "$(count_messages "$maildir")" -eq 1 ] || return 1
    python3 - "$port" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"EHLO bot.example\r\n")
reply = b""
while True:
    chunk = s.recv(1024)
    if not chunk:
        break
    reply += chunk
assert reply.startswith(b"554 5.5.0"), reply
assert b"220" not in reply, reply
PY
}
check "swaks -> tokio_server --greet-delay-ms 300; a client talking first gets 554" greet_delay_case

# XCLIENT from a peer the server trusts (--xclient 127.0.0.1/32): the stored message's
# Received field names the client XCLIENT gave. From anyone else: 550 5.7.0, nothing
# stored.
xclient_case() {
    local maildir="$work/md-xclient-$RANDOM"
    start_server tokio_server "$maildir" --no-fsync --xclient 127.0.0.1/32 || return 1
    swaks --server "127.0.0.1:$port" --xclient-addr 192.0.2.7 --xclient-name mail.example.net \
        --xclient-helo mail.example.net --from a@example.net --to b@example.org --data "$body" || return 1
    sleep 0.2
    [ "$(count_messages "$maildir")" -eq 1 ] || return 1
    grep -q '^Received: from .*(\[192\.0\.2\.7\])' "$maildir"/new/* || { head -5 "$maildir"/new/*; return 1; }
}
check "swaks --xclient-addr -> tokio_server --xclient 127.0.0.1/32 (Received names the client)" xclient_case

xclient_refused_case() {
    local maildir="$work/md-xclient-refused-$RANDOM" out
    start_server tokio_server "$maildir" --no-fsync --xclient 10.0.0.0/8 || return 1
    # swaks is not offered XCLIENT here, says so, and sends nothing.
    if out=$(swaks --server "127.0.0.1:$port" --xclient-addr 192.0.2.7 --xclient-no-verify \
        --from a@example.net --to b@example.org --data "$body" 2>&1); then
        echo "$out"
        return 1
    fi
    echo "$out" | grep -q 'did not advertise XCLIENT' || { echo "$out"; return 1; }
    [ "$(count_messages "$maildir")" -eq 0 ] || return 1
    # swaks will not send XCLIENT to a server that does not offer it: smtplib does.
    python3 - "$port" <<'PY' || return 1
import smtplib, sys
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10) as s:
    s.ehlo("client.example")
    assert "xclient" not in s.esmtp_features, s.esmtp_features
    code, text = s.docmd("XCLIENT", "ADDR=192.0.2.7 NAME=spoofed.example")
    assert (code, text[:5]) == (550, b"5.7.0"), (code, text)
    s.sendmail("a@example.net", ["b@example.org"], b"Subject: x\r\n\r\nhi\r\n")
PY
    sleep 0.2
    [ "$(count_messages "$maildir")" -eq 1 ] || return 1
    ! grep -q '192\.0\.2\.7' "$maildir"/new/*
}
check "swaks and smtplib XCLIENT -> tokio_server not trusting them: not offered, 550 5.7.0, the client stays itself" \
    xclient_refused_case

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
