# infra.mk: container images, the compose stack and clean-up for natsfn.
# Included by the top-level Makefile; run from the repository root.
#
#   make images      build static binaries + every image, check the sizes
#   make image-nats  only the NATS server image
#   make up / down   the compose stack (3 NATS nodes, 2 instances per function,
#                    nats-exporter); up builds the images but leaves the size
#                    gate to `images`, and starts the functions once JetStream
#                    is healthy, then the web console. TLS=1: everything over TLS
#   make up-nats     only the 3-node NATS cluster
#   make certs       the TLS certificates (bin/certs)
#   make keda        the KEDA ScaledObjects (infra/k8s/keda), from the declarations
#   make sweep       remove what this stack (NATSFN_PROJECT) left behind
#   make sweep-tests remove what the testcontainers suites left behind
#
# Variables (override on the command line or in the environment):
#   NATSFN_PROJECT  compose project, network and label (natsfn)
#   NATSFN_TAG      image tag (dev)             NATS_IMAGE  NATS image for compose
#   COMPOSE         compose command (auto)      INFRA_MAX_IMAGE_BYTES  size limit
#   NATS_CLIENT_PORT_1..3 (4222..4224), NATS_MONITOR_PORT_1..3 (8222..8224),
#   NATS_EXPORTER_PORT (7777), CONSOLE_PORT (8090): host ports, on 127.0.0.1

INFRA_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
# Including this file must not change the including Makefile's default goal.
INFRA_DEFAULT_GOAL := $(.DEFAULT_GOAL)

NATSFN_TAG ?= dev
NATS_IMAGE ?= natsfn/nats-server:$(NATSFN_TAG)
NATSFN_PROJECT ?= natsfn
# compose.yaml names the network and labels everything after it.
COMPOSE_PROJECT_NAME := $(NATSFN_PROJECT)
NATS_CLIENT_PORT_1 ?= 4222
NATS_CLIENT_PORT_2 ?= 4223
NATS_CLIENT_PORT_3 ?= 4224
NATS_MONITOR_PORT_1 ?= 8222
NATS_MONITOR_PORT_2 ?= 8223
NATS_MONITOR_PORT_3 ?= 8224
NATS_EXPORTER_PORT ?= 7777
CONSOLE_PORT ?= 8090
export NATSFN_TAG NATS_IMAGE COMPOSE_PROJECT_NAME NATS_EXPORTER_PORT CONSOLE_PORT \
	NATS_CLIENT_PORT_1 NATS_CLIENT_PORT_2 NATS_CLIENT_PORT_3 \
	NATS_MONITOR_PORT_1 NATS_MONITOR_PORT_2 NATS_MONITOR_PORT_3

# The function images (natsfn/<name>), one per functions/cmd/<name>;
# `natsfn new <name>` adds a line at the marker.
INFRA_FUNCTIONS := orders inventory payments
# natsfn new: functions
INFRA_BIN := bin/linux
INFRA_CERTS := bin/certs
# A client certificate per NATS user of infra/nats/accounts.conf.
INFRA_CERT_USERS = admin sys $(INFRA_FUNCTIONS) console
INFRA_EMPTY :=
INFRA_COMMA := ,
# A function image must stay under 15 MB (Docker counts 1 MB = 1000000 bytes).
INFRA_MAX_IMAGE_BYTES ?= 15000000
INFRA_GOBUILD := CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "-s -w"
# Every image is labelled with its tag, so `images` prunes only the dangling
# images its own builds left (other tags on the engine are someone else's).
INFRA_DOCKER_BUILD = DOCKER_BUILDKIT=0 docker build --quiet --label io.natsfn.tag=$(NATSFN_TAG)
# The commit time, not the build time: rebuilding one commit hits the cache.
INFRA_CREATED = $(shell git log -1 --format=%cI 2>/dev/null || echo unknown)
INFRA_REVISION = $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
INFRA_CA_BUNDLE ?= /etc/ssl/certs/ca-certificates.crt

# `docker compose` (v2) when the CLI has it, else docker-compose (v1).
ifndef COMPOSE
COMPOSE := $(shell docker compose version >/dev/null 2>&1 && echo 'docker compose' || echo docker-compose)
endif
INFRA_COMPOSE_FILES := -f $(INFRA_DIR)/compose.yaml
ifeq ($(TLS),1)
INFRA_COMPOSE_FILES += -f $(INFRA_DIR)/compose.tls.yaml
INFRA_UP_DEPS := certs
endif
INFRA_COMPOSE = $(COMPOSE) -p $(NATSFN_PROJECT) $(INFRA_COMPOSE_FILES)
INFRA_WAIT_SECONDS ?= 120
INFRA_NATS_NODES := nats-1 nats-2 nats-3

.PHONY: images image-nats image-nats-exporter image-natsfn image-functions certs keda \
	up up-nats down sweep sweep-tests compose-version

images: image-nats image-nats-exporter image-natsfn image-functions ## build static binaries and every image (NATSFN_TAG), print sizes, fail if a function image is over 15 MB
	@docker image prune -f --filter label=io.natsfn.project=natsfn --filter label=io.natsfn.tag=$(NATSFN_TAG) >/dev/null
	@docker images --filter 'reference=natsfn/*:$(NATSFN_TAG)' \
		--format 'table {{.Repository}}:{{.Tag}}\t{{.ID}}\t{{.Size}}'
	@fail=0; for fn in $(INFRA_FUNCTIONS); do \
		size=$$(docker image inspect -f '{{.Size}}' natsfn/$$fn:$(NATSFN_TAG)) || exit 1; \
		if [ "$$size" -gt $(INFRA_MAX_IMAGE_BYTES) ]; then \
			echo "natsfn/$$fn:$(NATSFN_TAG) is $$size bytes, over the limit of $(INFRA_MAX_IMAGE_BYTES)" >&2; fail=1; \
		fi; \
	done; exit $$fail

$(INFRA_BIN)/healthcheck: $(wildcard $(INFRA_DIR)/nats/healthcheck/*.go)
	$(INFRA_GOBUILD) -o $@ ./$(INFRA_DIR)/nats/healthcheck

image-nats: $(INFRA_BIN)/healthcheck ## build natsfn/nats-server:NATSFN_TAG from the nats-server module version in go.mod
	$(INFRA_GOBUILD) -o $(INFRA_BIN)/nats-server github.com/nats-io/nats-server/v2
	@rm -rf $(INFRA_BIN)/image-nats && mkdir -p $(INFRA_BIN)/image-nats/etc/nats $(INFRA_BIN)/image-nats/data
	@mkdir -m 1777 $(INFRA_BIN)/image-nats/tmp
	@cp $(INFRA_BIN)/nats-server $(INFRA_BIN)/healthcheck $(INFRA_BIN)/image-nats/
	@cp $(INFRA_DIR)/nats/*.conf $(INFRA_BIN)/image-nats/etc/nats/
	$(INFRA_DOCKER_BUILD) -f $(INFRA_DIR)/nats/Dockerfile -t natsfn/nats-server:$(NATSFN_TAG) \
		--build-arg VERSION=$$(go list -m -f '{{.Version}}' github.com/nats-io/nats-server/v2) \
		--build-arg CREATED=$(INFRA_CREATED) \
		$(INFRA_BIN)/image-nats

image-nats-exporter: $(INFRA_BIN)/healthcheck ## build natsfn/nats-exporter:NATSFN_TAG (Prometheus metrics of the NATS nodes)
	$(INFRA_GOBUILD) -o $(INFRA_BIN)/nats-exporter ./$(INFRA_DIR)/nats/exporter/cmd/nats-exporter
	@rm -rf $(INFRA_BIN)/image-nats-exporter && mkdir -p $(INFRA_BIN)/image-nats-exporter
	@cp $(INFRA_BIN)/nats-exporter $(INFRA_BIN)/healthcheck $(INFRA_BIN)/image-nats-exporter/
	$(INFRA_DOCKER_BUILD) -f $(INFRA_DIR)/nats/exporter/Dockerfile -t natsfn/nats-exporter:$(NATSFN_TAG) \
		--build-arg VERSION=$(NATSFN_TAG) --build-arg CREATED=$(INFRA_CREATED) \
		$(INFRA_BIN)/image-nats-exporter

INFRA_FUNCTION_IMAGES := $(addprefix image-,$(INFRA_FUNCTIONS))
.PHONY: $(INFRA_FUNCTION_IMAGES)

image-functions: $(INFRA_FUNCTION_IMAGES) ## build the function images natsfn/<function>:NATSFN_TAG from functions/cmd/<function>, for every function of INFRA_FUNCTIONS

image-natsfn: ## build natsfn/natsfn:NATSFN_TAG, the all-in-one binary (functions/cmd/natsfn; compose runs it as the console)

# image-<function> (image-orders, ...) and image-natsfn: one image each
# from infra/Dockerfile. The build context is a staging dir holding only
# the binary and a CA bundle.
$(INFRA_FUNCTION_IMAGES) image-natsfn: image-%:
	$(INFRA_GOBUILD) -o $(INFRA_BIN)/$* ./functions/cmd/$*
	@rm -rf $(INFRA_BIN)/image-$* && mkdir -p $(INFRA_BIN)/image-$*
	@cp $(INFRA_BIN)/$* $(INFRA_BIN)/image-$*/
	@if [ -f $(INFRA_CA_BUNDLE) ]; then cp $(INFRA_CA_BUNDLE) $(INFRA_BIN)/image-$*/ca-certificates.crt; \
	else : > $(INFRA_BIN)/image-$*/ca-certificates.crt; fi
	$(INFRA_DOCKER_BUILD) -f $(INFRA_DIR)/Dockerfile -t natsfn/$*:$(NATSFN_TAG) \
		--build-arg BIN=$* --build-arg VERSION=$(NATSFN_TAG) \
		--build-arg REVISION=$(INFRA_REVISION) --build-arg CREATED=$(INFRA_CREATED) \
		$(INFRA_BIN)/image-$*

keda: ## regenerate infra/k8s/keda/<function>.yaml, the KEDA ScaledObjects, from the functions' declarations
	go run ./$(INFRA_DIR)/k8s/keda/cmd/keda-gen -hpa $(INFRA_DIR)/k8s/40-hpa.yaml -dir $(INFRA_DIR)/k8s/keda

certs: ## write a CA, the NATS server certificate and a client certificate per user into bin/certs (for TLS=1; kept if present)
	go run ./$(INFRA_DIR)/certs/cmd/certs -dir $(INFRA_CERTS) \
		-users $(subst $(INFRA_EMPTY) $(INFRA_EMPTY),$(INFRA_COMMA),$(strip $(INFRA_CERT_USERS)))

compose-version:
	@echo "compose: $(COMPOSE) ($$($(COMPOSE) version --short 2>/dev/null || echo 'version unknown')), project $(NATSFN_PROJECT)$(if $(filter 1,$(TLS)), over TLS)"

up: image-nats image-nats-exporter image-functions image-natsfn $(INFRA_UP_DEPS) compose-version ## build the images, start 3 NATS nodes, then 2 instances of each function, nats-exporter and the web console (TLS=1: over TLS), wait until all are healthy
	$(INFRA_COMPOSE) up -d $(INFRA_NATS_NODES)
	@sh $(INFRA_DIR)/scripts/wait-healthy.sh $(INFRA_WAIT_SECONDS) "$(INFRA_COMPOSE)"
	$(INFRA_COMPOSE) up -d --remove-orphans
	@sh $(INFRA_DIR)/scripts/wait-healthy.sh $(INFRA_WAIT_SECONDS) "$(INFRA_COMPOSE)"

up-nats: image-nats $(INFRA_UP_DEPS) compose-version ## start only the 3-node NATS cluster (clients 127.0.0.1:4222-4224, monitoring :8222-8224) and wait for JetStream
	$(INFRA_COMPOSE) up -d $(INFRA_NATS_NODES)
	@sh $(INFRA_DIR)/scripts/wait-healthy.sh $(INFRA_WAIT_SECONDS) "$(INFRA_COMPOSE)"

down: compose-version ## stop the compose stack (NATSFN_PROJECT) and remove its containers, network and volumes (JetStream data)
	$(INFRA_COMPOSE) down --volumes --remove-orphans --timeout 40

sweep: ## remove every container, network and volume of the compose project NATSFN_PROJECT, whatever `make down` left
	@sh $(INFRA_DIR)/scripts/sweep.sh com.docker.compose.project=$(NATSFN_PROJECT)

sweep-tests: ## remove the containers and networks the testcontainers suites (tests/containers) left behind
	@sh $(INFRA_DIR)/scripts/sweep.sh io.natsfn.project=natsfn org.testcontainers=true

.DEFAULT_GOAL := $(INFRA_DEFAULT_GOAL)
