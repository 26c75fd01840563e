# infra.mk: container images, the compose stack and clean-up for natsfn.
# Included by the top-level Makefile; run from the repository root.
#
#   make images      build static binaries + every image, check the sizes
#   make image-nats  only the NATS server image
#   make up / down   the compose stack (3 NATS nodes, 2 replicas per function);
#                    up builds the images but leaves the size gate to `images`,
#                    and starts the functions once JetStream is healthy
#   make up-nats     only the 3-node NATS cluster
#   make sweep       remove everything labelled io.natsfn.project=natsfn
#
# Variables (override on the command line or in the environment):
#   NATSFN_TAG  image tag (dev)             NATS_IMAGE  NATS image for compose
#   COMPOSE     compose command (auto)      INFRA_MAX_IMAGE_BYTES  size limit

INFRA_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
# Including this file must not change the including Makefile's default goal.
INFRA_DEFAULT_GOAL := $(.DEFAULT_GOAL)

NATSFN_TAG ?= dev
NATS_IMAGE ?= natsfn/nats-server:$(NATSFN_TAG)
export NATSFN_TAG NATS_IMAGE

INFRA_FUNCTIONS := orders inventory payments
INFRA_BIN := bin/linux
# A function image must stay under 15 MB (Docker counts 1 MB = 1000000 bytes).
INFRA_MAX_IMAGE_BYTES ?= 15000000
INFRA_GOBUILD := CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "-s -w"
INFRA_DOCKER_BUILD := DOCKER_BUILDKIT=0 docker build --quiet
# The commit time, not the build time: rebuilding one commit hits the cache.
INFRA_CREATED = $(shell git log -1 --format=%cI 2>/dev/null || echo unknown)
INFRA_REVISION = $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
INFRA_CA_BUNDLE ?= /etc/ssl/certs/ca-certificates.crt

# `docker compose` (v2) when the CLI has it, else docker-compose (v1).
ifndef COMPOSE
COMPOSE := $(shell docker compose version >/dev/null 2>&1 && echo 'docker compose' || echo docker-compose)
endif
INFRA_COMPOSE = $(COMPOSE) -p natsfn -f $(INFRA_DIR)/compose.yaml
INFRA_WAIT_SECONDS ?= 120

.PHONY: images image-nats image-functions up up-nats down sweep

images: image-nats image-functions ## build static binaries and every image (NATSFN_TAG), print sizes, fail if a function image is over 15 MB
	@docker image prune -f --filter label=io.natsfn.project=natsfn >/dev/null
	@docker images --filter 'reference=natsfn/*:$(NATSFN_TAG)' \
		--format 'table {{.Repository}}:{{.Tag}}\t{{.ID}}\t{{.Size}}'
	@fail=0; for fn in $(INFRA_FUNCTIONS); do \
		size=$$(docker image inspect -f '{{.Size}}' natsfn/$$fn:$(NATSFN_TAG)) || exit 1; \
		if [ "$$size" -gt $(INFRA_MAX_IMAGE_BYTES) ]; then \
			echo "natsfn/$$fn:$(NATSFN_TAG) is $$size bytes, over the limit of $(INFRA_MAX_IMAGE_BYTES)" >&2; fail=1; \
		fi; \
	done; exit $$fail

image-nats: ## build natsfn/nats-server:NATSFN_TAG from the nats-server module version in go.mod
	$(INFRA_GOBUILD) -o $(INFRA_BIN)/nats-server github.com/nats-io/nats-server/v2
	@rm -rf $(INFRA_BIN)/image-nats && mkdir -p $(INFRA_BIN)/image-nats/etc/nats $(INFRA_BIN)/image-nats/data
	@mkdir -m 1777 $(INFRA_BIN)/image-nats/tmp
	@cp $(INFRA_BIN)/nats-server $(INFRA_BIN)/image-nats/
	@cp $(INFRA_DIR)/nats/*.conf $(INFRA_BIN)/image-nats/etc/nats/
	$(INFRA_DOCKER_BUILD) -f $(INFRA_DIR)/nats/Dockerfile -t natsfn/nats-server:$(NATSFN_TAG) \
		--build-arg VERSION=$$(go list -m -f '{{.Version}}' github.com/nats-io/nats-server/v2) \
		--build-arg CREATED=$(INFRA_CREATED) \
		$(INFRA_BIN)/image-nats

INFRA_FUNCTION_IMAGES := $(addprefix image-,$(INFRA_FUNCTIONS))
.PHONY: $(INFRA_FUNCTION_IMAGES)

image-functions: $(INFRA_FUNCTION_IMAGES) ## build the function images natsfn/{orders,inventory,payments}:NATSFN_TAG from functions/cmd/*

# image-orders, image-inventory, image-payments: one function image each.
# The build context is a staging dir holding only the binary and a CA bundle.
$(INFRA_FUNCTION_IMAGES): image-%:
	$(INFRA_GOBUILD) -o $(INFRA_BIN)/$* ./functions/cmd/$*
	@rm -rf $(INFRA_BIN)/image-$* && mkdir -p $(INFRA_BIN)/image-$*
	@cp $(INFRA_BIN)/$* $(INFRA_BIN)/image-$*/
	@if [ -f $(INFRA_CA_BUNDLE) ]; then cp $(INFRA_CA_BUNDLE) $(INFRA_BIN)/image-$*/ca-certificates.crt; \
	else : > $(INFRA_BIN)/image-$*/ca-certificates.crt; fi
	$(INFRA_DOCKER_BUILD) -f $(INFRA_DIR)/Dockerfile -t natsfn/$*:$(NATSFN_TAG) \
		--build-arg BIN=$* --build-arg VERSION=$(NATSFN_TAG) \
		--build-arg REVISION=$(INFRA_REVISION) --build-arg CREATED=$(INFRA_CREATED) \
		$(INFRA_BIN)/image-$*

up: image-nats image-functions ## build the images, start 3 NATS nodes, then 2 replicas of each function (compose), wait until all are healthy
	$(INFRA_COMPOSE) up -d nats-1 nats-2 nats-3
	@sh $(INFRA_DIR)/scripts/wait-healthy.sh $(INFRA_WAIT_SECONDS) "$(INFRA_COMPOSE)"
	$(INFRA_COMPOSE) up -d --remove-orphans
	@sh $(INFRA_DIR)/scripts/wait-healthy.sh $(INFRA_WAIT_SECONDS) "$(INFRA_COMPOSE)"

up-nats: image-nats ## start only the 3-node NATS cluster (client 127.0.0.1:4222, monitoring :8222-8224) and wait for JetStream
	$(INFRA_COMPOSE) up -d nats-1 nats-2 nats-3
	@sh $(INFRA_DIR)/scripts/wait-healthy.sh $(INFRA_WAIT_SECONDS) "$(INFRA_COMPOSE)"

down: ## stop the compose stack and remove its containers, network and volumes (JetStream data)
	$(INFRA_COMPOSE) down --volumes --remove-orphans --timeout 40

sweep: ## remove every container, network and volume labelled io.natsfn.project=natsfn (compose and testcontainers leftovers)
	@sh $(INFRA_DIR)/scripts/sweep.sh

.DEFAULT_GOAL := $(INFRA_DEFAULT_GOAL)
