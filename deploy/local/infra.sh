#!/usr/bin/env bash
# PostgreSQL and RabbitMQ for one machine (Debian/Ubuntu).
#
#   infra.sh ensure   use the servers at DATABASE_URL / AMQP_URI if they answer;
#                     else start locally installed ones; else, as root, install
#                     them with apt and start them
#   infra.sh stop     stop only what `ensure` started (markers in var/run/)
#   infra.sh status   which of them answer
set -euo pipefail
cd "$(dirname "$0")/../.."
RUN_DIR=var/run
mkdir -p "$RUN_DIR"

DATABASE_URL=${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/seed}
AMQP_URI=${AMQP_URI:-amqp://guest:guest@127.0.0.1:5672/}

# host and port of a URL such as scheme://user:pass@host:port/path
url_host() { local rest=${1#*://}; rest=${rest#*@}; rest=${rest%%/*}; echo "${rest%%:*}"; }
url_port() { local rest=${1#*://}; rest=${rest#*@}; rest=${rest%%/*}; [[ $rest == *:* ]] && echo "${rest##*:}" || echo "$2"; }

PG_HOST=$(url_host "$DATABASE_URL"); PG_PORT=$(url_port "$DATABASE_URL" 5432)
MQ_HOST=$(url_host "$AMQP_URI"); MQ_PORT=$(url_port "$AMQP_URI" 5672)

answers() { timeout 1 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }
is_local() { [[ $1 == 127.0.0.1 || $1 == localhost || $1 == ::1 ]]; }
as_root() { if [[ $(id -u) == 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

wait_for() {  # name host port seconds
  local i
  for ((i = 0; i < $4 * 2; i++)); do answers "$2" "$3" && return 0; sleep 0.5; done
  echo "$1 did not come up on $2:$3 within $4s" >&2
  return 1
}

apt_install() {
  if [[ $(id -u) != 0 ]]; then
    echo "$1 is not installed. Install it (sudo apt-get install -y $1) or point the URL at a running server." >&2
    exit 1
  fi
  echo "installing $1 with apt-get ..."
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$1" >/dev/null \
    || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$1" >/dev/null; }
  touch "$RUN_DIR/installed-$1"
}

pg_version() { ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1; }

ensure_postgres() {
  if answers "$PG_HOST" "$PG_PORT"; then echo "PostgreSQL: answering on $PG_HOST:$PG_PORT"; return; fi
  is_local "$PG_HOST" || { echo "PostgreSQL at $PG_HOST:$PG_PORT does not answer (not a local address: not starting one)" >&2; exit 1; }
  if [[ -z $(pg_version) ]]; then
    apt_install postgresql
    # Development convenience on a server this script installed: local TCP
    # connections without a password, as DATABASE_URL's default expects.
    local hba
    hba=/etc/postgresql/$(pg_version)/main/pg_hba.conf
    grep -q '# seed: local trust' "$hba" || sed -i '1i host all all 127.0.0.1/32 trust # seed: local trust\nhost all all ::1/128 trust # seed: local trust' "$hba"
    if answers "$PG_HOST" "$PG_PORT"; then  # the package started its cluster itself
      as_root pg_ctlcluster --skip-systemctl-redirect "$(pg_version)" main reload
      touch "$RUN_DIR/started-postgres"
      return
    fi
  fi
  echo "PostgreSQL: starting the local cluster $(pg_version)/main"
  as_root pg_ctlcluster --skip-systemctl-redirect "$(pg_version)" main start \
    || { echo "could not start PostgreSQL (needs root or sudo)" >&2; exit 1; }
  touch "$RUN_DIR/started-postgres"
  wait_for PostgreSQL "$PG_HOST" "$PG_PORT" 60
}

ensure_rabbitmq() {
  if answers "$MQ_HOST" "$MQ_PORT"; then echo "RabbitMQ: answering on $MQ_HOST:$MQ_PORT"; return; fi
  is_local "$MQ_HOST" || { echo "RabbitMQ at $MQ_HOST:$MQ_PORT does not answer (not a local address: not starting one)" >&2; exit 1; }
  if ! command -v rabbitmq-server >/dev/null && [[ ! -x /usr/sbin/rabbitmq-server ]]; then
    apt_install rabbitmq-server
    if answers "$MQ_HOST" "$MQ_PORT"; then touch "$RUN_DIR/started-rabbitmq"; return; fi  # the package started it
  fi
  echo "RabbitMQ: starting the local broker"
  as_root /usr/sbin/rabbitmq-server -detached \
    || { echo "could not start RabbitMQ (needs root or sudo)" >&2; exit 1; }
  touch "$RUN_DIR/started-rabbitmq"
  wait_for RabbitMQ "$MQ_HOST" "$MQ_PORT" 90
  # The port opens before every plugin has booted: wait for the whole node.
  as_root rabbitmqctl await_startup >/dev/null 2>&1 || true
}

stop() {
  if [[ -f $RUN_DIR/started-postgres ]]; then
    echo "stopping the PostgreSQL cluster make run started"
    as_root pg_ctlcluster --skip-systemctl-redirect "$(pg_version)" main stop || true
    rm -f "$RUN_DIR/started-postgres"
  fi
  if [[ -f $RUN_DIR/started-rabbitmq ]]; then
    echo "stopping the RabbitMQ broker make run started"
    as_root rabbitmqctl stop >/dev/null || true
    rm -f "$RUN_DIR/started-rabbitmq"
  fi
}

status() {
  answers "$PG_HOST" "$PG_PORT" && echo "PostgreSQL $PG_HOST:$PG_PORT: up" || echo "PostgreSQL $PG_HOST:$PG_PORT: down"
  answers "$MQ_HOST" "$MQ_PORT" && echo "RabbitMQ $MQ_HOST:$MQ_PORT: up" || echo "RabbitMQ $MQ_HOST:$MQ_PORT: down"
}

case ${1:-} in
  ensure) ensure_postgres; ensure_rabbitmq ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 ensure|stop|status" >&2; exit 2 ;;
esac
