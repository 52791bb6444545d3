#!/usr/bin/env bash
# Every service as its own process (`nameko run` through seedwork.launch).
#
#   services.sh start    start what is not running; REPLICAS_TICKETS=3 runs three
#                        tickets processes (the same for CUSTOMERS, NOTIFICATIONS,
#                        GATEWAY; gateway replica N listens on GATEWAY_PORT+N-1)
#   services.sh stop     stop them (SIGTERM, then SIGKILL after 20 s), then the sink
#   services.sh status   which replicas run
#   services.sh start-sink  only the development SMTP sink (start does it first)
# Unless SMTP_HOST is set, `start` first starts the development SMTP sink
# (deploy/local/smtp_sink.py) on 127.0.0.1:SMTP_SINK_PORT (2525): mail is kept
# in var/mail/, never sent on.
# Logs: var/log/<service>.<n>.log; pid files: var/run/<service>.<n>.pid
# (the sink: smtp-sink.log, smtp-sink.pid).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
SERVICES=(tickets customers notifications reports gateway)  # gateway last: it calls the others
RUN_DIR=${RUN_DIR:-var/run} LOG_DIR=${LOG_DIR:-var/log}
mkdir -p "$RUN_DIR" "$LOG_DIR"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
GATEWAY_HOST=${GATEWAY_HOST:-127.0.0.1}
GATEWAY_PORT=${GATEWAY_PORT:-8000}
# A development value: set your own in production (it creates stores and signs tokens).
export HELPDESK_PLATFORM_KEY=${HELPDESK_PLATFORM_KEY:-dev-platform-key-change-me}
# Where the notifications service sends mail when SMTP_HOST is unset.
export SMTP_SINK_PORT=${SMTP_SINK_PORT:-2525}
SINK_PIDFILE=$RUN_DIR/smtp-sink.pid

replicas() { local var="REPLICAS_${1^^}"; echo "${!var:-1}"; }
alive() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }
answers() { timeout 1 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }

start_sink() {
  local i log=$LOG_DIR/smtp-sink.log
  if [[ -n ${SMTP_HOST:-} ]]; then echo "SMTP_HOST is set ($SMTP_HOST): no development SMTP sink"; return 0; fi
  if alive "$SINK_PIDFILE"; then echo "smtp-sink already running (pid $(cat "$SINK_PIDFILE"))"; return 0; fi
  if answers 127.0.0.1 "$SMTP_SINK_PORT"; then
    echo "127.0.0.1:$SMTP_SINK_PORT is taken by a process make run did not start: stop it or set SMTP_SINK_PORT" >&2
    return 1
  fi
  nohup "$PY" -m deploy.local.smtp_sink serve --port "$SMTP_SINK_PORT" >>"$log" 2>&1 &
  echo $! >"$SINK_PIDFILE"
  for ((i = 0; i < 40; i++)); do
    if ! alive "$SINK_PIDFILE"; then
      echo "the SMTP sink did not start; last lines of $log:" >&2
      tail -n 5 "$log" >&2
      rm -f "$SINK_PIDFILE"
      return 1
    fi
    if answers 127.0.0.1 "$SMTP_SINK_PORT"; then
      echo "started smtp-sink on 127.0.0.1:$SMTP_SINK_PORT (pid $(cat "$SINK_PIDFILE"), log $log)"
      return 0
    fi
    sleep 0.25
  done
  echo "the SMTP sink does not answer on 127.0.0.1:$SMTP_SINK_PORT; see $log" >&2
  return 1
}

# Where mail goes, for the summary.
mail_summary() {
  if [[ -n ${SMTP_HOST:-} ]]; then
    echo "  Mail:          SMTP $SMTP_HOST:${SMTP_PORT:-587}   (SMTP_HOST; really sent)"
  else
    cat <<MSG
  Mail:          kept here, never sent: the SMTP sink on 127.0.0.1:$SMTP_SINK_PORT writes each message
                 to ${SMTP_SINK_DIR:-var/mail}/   (python3 -m deploy.local.smtp_sink list, show N; or make mail)
MSG
  fi
}

start() {
  local svc n pidfile
  start_sink
  for svc in "${SERVICES[@]}"; do
    for ((n = 1; n <= $(replicas "$svc"); n++)); do
      pidfile=$RUN_DIR/$svc.$n.pid
      if alive "$pidfile"; then echo "$svc #$n already running (pid $(cat "$pidfile"))"; continue; fi
      if [[ $svc == gateway ]]; then
        GATEWAY_PORT=$((GATEWAY_PORT + n - 1)) nohup "$PY" -m seedwork.launch "$svc" >>"$LOG_DIR/$svc.$n.log" 2>&1 &
      else
        nohup "$PY" -m seedwork.launch "$svc" >>"$LOG_DIR/$svc.$n.log" 2>&1 &
      fi
      echo $! >"$pidfile"
      echo "started $svc #$n (pid $!, log $LOG_DIR/$svc.$n.log)"
    done
  done
  wait_healthy
}

# A URL as it may be printed: without its password.
masked() { sed -E 's#(//[^:/@]+):[^@/]*@#\1:***@#' <<<"$1"; }

wait_healthy() {
  local url="http://$GATEWAY_HOST:$GATEWAY_PORT/health" i
  for ((i = 0; i < 60; i++)); do
    if "$PY" - "$url" <<'PYEOF' 2>/dev/null; then
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=5) as r:
    sys.exit(0 if r.status == 200 else 1)
PYEOF
      cat <<MSG

Seed helpdesk is up.
  HTTP gateway:  http://$GATEWAY_HOST:$GATEWAY_PORT   (health: $url, API: /v1/openapi.json)
  Platform key:  $HELPDESK_PLATFORM_KEY   (HELPDESK_PLATFORM_KEY; creates stores)
  RabbitMQ:      $(masked "${AMQP_URI:-amqp://guest:guest@127.0.0.1:5672/}")  exchanges ${BUS_PREFIX:-seed}.<service>
  PostgreSQL:    $(masked "${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/seed}")  one schema per service
$(mail_summary)
  Logs:          $LOG_DIR/<service>.<n>.log   (make logs)
  Stop:          make stop
MSG
      return 0
    fi
    sleep 1
  done
  echo "the gateway did not report healthy within 60 s; last log lines:" >&2
  tail -n 20 "$LOG_DIR"/*.log >&2
  return 1
}

stop_one() {
  local pidfile=$1 pid i
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for ((i = 0; i < 40 && $(kill -0 "$pid" 2>/dev/null && echo 1 || echo 0); i++)); do sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    echo "stopped $(basename "$pidfile" .pid) (pid $pid)"
  fi
  rm -f "$pidfile"
}

stop() {
  local pidfile
  for pidfile in "$RUN_DIR"/*.pid; do  # the services first: mail they are sending still lands
    [[ -e $pidfile && $pidfile != "$SINK_PIDFILE" ]] || continue
    stop_one "$pidfile"
  done
  [[ -e $SINK_PIDFILE ]] && stop_one "$SINK_PIDFILE"
  return 0
}

sink_detail() {
  [[ $1 == "$SINK_PIDFILE" ]] || return 0
  local dir=${SMTP_SINK_DIR:-var/mail} count=0
  [[ -f $dir/index.jsonl ]] && count=$(wc -l <"$dir/index.jsonl")
  echo " on 127.0.0.1:$SMTP_SINK_PORT, $count message(s) in $dir/"
}

status() {
  local pidfile found=0
  for pidfile in "$RUN_DIR"/*.pid; do
    [[ -e $pidfile ]] || continue
    found=1
    alive "$pidfile" && echo "$(basename "$pidfile" .pid): running (pid $(cat "$pidfile"))$(sink_detail "$pidfile")" \
      || echo "$(basename "$pidfile" .pid): dead (see $LOG_DIR/$(basename "$pidfile" .pid).log)"
  done
  ((found)) || echo "no services started by make run"
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  status) status ;;
  start-sink) start_sink ;;
  *) echo "usage: $0 start|stop|status|start-sink" >&2; exit 2 ;;
esac
