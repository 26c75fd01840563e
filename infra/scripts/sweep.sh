#!/bin/sh
# sweep.sh LABEL [LABEL...]
# Removes every container, network and volume that carries all the given
# labels (key=value): `make sweep` passes this stack's compose project
# (com.docker.compose.project=<NATSFN_PROJECT>), `make sweep-tests` the
# testcontainers suites' labels. Nothing else on the engine is touched.
set -eu
if [ $# -eq 0 ]; then
	echo "usage: sweep.sh LABEL=VALUE [LABEL=VALUE...]" >&2
	exit 2
fi
filters=""
for l in "$@"; do
	case "$l" in
	*=*) filters="$filters --filter label=$l" ;;
	*) echo "sweep: $l is not LABEL=VALUE" >&2; exit 2 ;;
	esac
done

# $filters is split on purpose: one --filter flag per label.
containers=$(docker ps -aq $filters)
if [ -n "$containers" ]; then
	echo "removing containers: $(echo $containers)"
	docker rm -f -v $containers >/dev/null
fi

networks=$(docker network ls -q $filters)
if [ -n "$networks" ]; then
	echo "removing networks: $(echo $networks)"
	docker network rm $networks >/dev/null
fi

volumes=$(docker volume ls -q $filters)
if [ -n "$volumes" ]; then
	echo "removing volumes: $(echo $volumes)"
	docker volume rm $volumes >/dev/null
fi
left=$(docker ps -aq $filters)$(docker network ls -q $filters)$(docker volume ls -q $filters)
if [ -n "$left" ]; then
	echo "sweep: some objects labelled $* are still there" >&2
	exit 1
fi
echo "sweep: nothing labelled $* is left"
