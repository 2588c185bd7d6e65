# crieur — make help lists the targets.
GO      ?= go
PKGS    := ./...
# Short fuzzing in CI; `make fuzz FUZZTIME=5m` for a longer hunt.
FUZZTIME ?= 4s

.PHONY: help build test vet lint fuzz bench bench-serve bench-scale bench-postgres chaos docker clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-15s %s\n", $$1, $$2}'

build: ## build the static binary ./crieur
	CGO_ENABLED=0 $(GO) build -trimpath -o crieur ./cmd/crieur

vet: ## go vet and gofmt
	$(GO) vet $(PKGS)
	@test -z "$$(gofmt -l cmd internal templates migrations)" || (gofmt -l cmd internal templates migrations; echo "gofmt needed"; exit 1)

lint: vet ## vet, gofmt and govulncheck (offline database)
	.ci/vulncheck

test: vet ## the whole suite: unit, integration, browsers, PostgreSQL, short fuzzing
	$(GO) test -race -count=1 -timeout 15m $(PKGS)
	$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZTIME)

fuzz: ## run every fuzz target for FUZZTIME each
	FUZZTIME=$(FUZZTIME) .ci/fuzz

bench: ## benchmarks: in process on SQLite, the shipped daemon as a process, then PostgreSQL with 1 and 2 instances (see README)
	$(GO) run ./cmd/crieur-bench
	$(MAKE) --no-print-directory bench-serve
	$(MAKE) --no-print-directory bench-scale
	$(MAKE) --no-print-directory bench-postgres

bench-serve: ## the shipped daemon: a `crieur serve` process driven through its CLI and API, next to raw go-mail and webpush-go
	$(GO) run ./cmd/crieur-bench -only serve -out bench-out/serve

bench-scale: ## internet scale: one alert from `crieur serve` to 1,000,000 browsers on an HTTP/2-over-TLS push service answering after 50 ms
	$(GO) run ./cmd/crieur-bench -only push-scale -scale-n 1000000 -out bench-out/scale

bench-postgres: ## digests and an alert on a throwaway PostgreSQL, 1 and 2 instances
	$(GO) run ./cmd/crieur-bench -db postgres -only instances -instances 1,2 -n 50000 -push-n 50000 -out bench-out/postgres

chaos: ## fault-injection suite with figures (see README)
	@mkdir -p bench-out
	CRIEUR_CHAOS_N=20000 CRIEUR_CHAOS_KILLS=5 CRIEUR_CHAOS_OUTAGE=30s CRIEUR_CHAOS_REPORT=$(CURDIR)/bench-out/chaos-report.md \
	  $(GO) test -count=1 -run Chaos -v -timeout 60m ./internal/chaos/

docker: ## build the container image
	docker build -t crieur .

clean:
	rm -rf crieur mail-outbox
