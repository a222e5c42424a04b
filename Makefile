# The front door: `make help` lists the targets (the `## ` text after each one).

.PHONY: help run test test-postgres spec lint conformance ci bench release cluster rolling-restart unit-check

help: ## list these targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-15s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# The PostgreSQL server test-postgres uses; each test creates and drops its own database there.
TEST_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/postgres
# The Redis server for the test of a rate limit shared by two instances.
TEST_REDIS_URL ?= redis://127.0.0.1:6379

run: ## serve on http://127.0.0.1:8080 (SQLite, no setup)
	cargo run

test: ## the whole test suite, on SQLite; the tests that need PostgreSQL or Redis show as ignored
	cargo test --workspace

test-postgres: ## the whole test suite on PostgreSQL, with the ignored ones (needs Redis too, TEST_REDIS_URL)
	TEST_DATABASE_URL=$(TEST_POSTGRES_URL) TEST_REDIS_URL=$(TEST_REDIS_URL) \
	  cargo test --workspace -- --test-threads 8 --include-ignored

spec: ## rewrite openapi/openapi.json from the code
	cargo run --quiet -- spec > openapi/openapi.json

lint: ## formatting and clippy, warnings as errors
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

conformance: .venv/installed conformance/node_modules/installed ## spec linters, Swagger UI in Chromium, schemathesis and generated clients against a live release build
	bash conformance/run

.venv/installed: conformance/requirements.txt
	python3 -m venv .venv
	.venv/bin/pip install --quiet --disable-pip-version-check -r conformance/requirements.txt
	touch $@

conformance/node_modules/installed: conformance/package-lock.json
	cd conformance && npm ci --no-audit --no-fund --loglevel=error
	touch $@

ci: ## what CI runs
	bash .ci/run

bench: ## release build on a fresh seeded database under wrk, one table (bench/README.md); BENCH_DATABASE_URL=postgres://… for PostgreSQL
	python3 bench/run

release: ## the release build that cluster and rolling-restart run
	cargo build --release --quiet

cluster: release ## HAProxy on :8400 in front of 3 instances (:8401-8403) on PostgreSQL and Redis; Ctrl-C stops it (deploy/README.md)
	python3 deploy/cluster.py up

rolling-restart: release ## restart every instance of a fresh cluster in turn under load; fails on any failed request or lost order
	python3 deploy/cluster.py rolling-restart

unit-check: release ## systemd-analyze verify deploy/comptoir.service (with the release binary in place of /usr/local/bin/comptoir)
	bash deploy/check-unit
