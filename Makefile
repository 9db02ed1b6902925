# signicat: PGXS build of the Signicat PostgreSQL extension.
EXTENSION = signicat
EXTVERSION = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(EXTENSION).control)

MODULE_big = signicat
OBJS = src/signicat.o src/http.o src/auth.o src/request.o src/errors.o \
	src/operation.o src/catalog.o src/catalog_data.o src/corrections.o src/bulk.o src/queue.o src/poller.o src/watch.o \
	src/worker.o src/stats.o src/wire.o src/json.o src/ddl.o

# every install script (old ones too: ALTER EXTENSION UPDATE and the upgrade test
# start from them) and every update script
DATA = $(wildcard sql/$(EXTENSION)--*.sql)

# pg_regress tests: sql/<name>.sql, expected/<name>.out; the harness
# (test/run.sh) runs them against a cluster that preloads the library and
# points signicat.* at the mock server.
# Every sql/<name>.sql but the extension's scripts, setup first (it creates the
# extension and the test helpers); a new test file is picked up by itself.
REGRESS = setup $(sort $(filter-out setup $(EXTENSION)--%,$(basename $(notdir $(wildcard sql/*.sql)))))
REGRESS_OPTS = --inputdir=. --outputdir=.

# -Wextra on top of PostgreSQL's flags; unused parameters are left out because
# PostgreSQL's own headers (bufpage.h) and its callback signatures (GUC check
# hooks, on_proc_exit) have them by design.
PG_CPPFLAGS = -DSIGNICAT_VERSION='"$(EXTVERSION)"' -Wall -Wextra -Wno-unused-parameter
SHLIB_LINK = -lcurl -lm
EXTRA_CLEAN = regression.diffs regression.out results

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# every object depends on the shared private header (PGXS tracks no headers)
$(OBJS): src/signicat.h src/wire.h

.PHONY: catalog catalog-check
# Regenerate the operation table from api/signicat-openapi.json.
catalog:
	python3 tools/gen_catalog.py
catalog-check:
	python3 tools/gen_catalog.py --check
