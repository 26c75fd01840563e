#!/bin/sh
# wait-healthy.sh SECONDS "COMPOSE COMMAND"
# Waits until every NATS node of the compose stack reports JetStream healthy
# on its published monitoring port, and every container of the project that
# has a health check is healthy. Fails (printing status and logs) at the
# deadline.
set -eu
seconds=${1:-120}
compose=${2:-docker-compose -p natsfn -f infra/compose.yaml}
deadline=$(( $(date +%s) + seconds ))

ports="${NATS_MONITOR_PORT_1:-8222} ${NATS_MONITOR_PORT_2:-8223} ${NATS_MONITOR_PORT_3:-8224}"

nats_ready() {
	for p in $ports; do
		curl -fsS -m 2 "http://127.0.0.1:$p/healthz?js-enabled-only=true" >/dev/null 2>&1 || return 1
		curl -fsS -m 2 "http://127.0.0.1:$p/healthz" >/dev/null 2>&1 || return 1
	done
}

# Prints the containers that are not healthy yet (those with a health check).
not_healthy() {
	for id in $($compose ps -q); do
		status=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{.State.Status}}' "$id")
		case "$status" in
		"healthy running" | "none running") ;;
		*) docker inspect -f "{{.Name}} $status" "$id" ;;
		esac
	done
}

echo "waiting up to ${seconds}s for NATS (monitoring ports $ports) and container health checks"
while :; do
	if nats_ready; then
		pending=$(not_healthy)
		if [ -z "$pending" ]; then
			echo "all healthy"
			$compose ps
			exit 0
		fi
	else
		pending="NATS /healthz not ok yet"
	fi
	if [ "$(date +%s)" -ge "$deadline" ]; then
		echo "not healthy after ${seconds}s:" >&2
		echo "$pending" >&2
		# Best effort: the stack is reported unhealthy whatever these print.
		if ! $compose ps >&2 || ! $compose logs --tail 30 >&2; then
			echo "(could not list the containers or their logs)" >&2
		fi
		exit 1
	fi
	sleep 2
done
