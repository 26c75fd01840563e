#!/bin/sh
# Remove every container, network and volume labelled io.natsfn.project=natsfn:
# what `make down` left behind and what the testcontainers suites leaked.
set -eu
label=io.natsfn.project=natsfn

containers=$(docker ps -aq --filter "label=$label")
if [ -n "$containers" ]; then
	echo "removing containers: $(echo $containers)"
	docker rm -f -v $containers >/dev/null
fi

networks=$(docker network ls -q --filter "label=$label")
if [ -n "$networks" ]; then
	echo "removing networks: $(echo $networks)"
	docker network rm $networks >/dev/null
fi

volumes=$(docker volume ls -q --filter "label=$label")
if [ -n "$volumes" ]; then
	echo "removing volumes: $(echo $volumes)"
	docker volume rm $volumes >/dev/null
fi
left=$(docker ps -aq --filter "label=$label")$(docker network ls -q --filter "label=$label")$(docker volume ls -q --filter "label=$label")
if [ -n "$left" ]; then
	echo "sweep: some objects labelled $label are still there" >&2
	exit 1
fi
echo "sweep: nothing labelled $label is left"
