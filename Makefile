# Polyvisor -- build, run, test.
#   make          build everything into build/
#   make deps     install missing Debian packages (root)
#   make run      deps + build + start polyvisord on https://127.0.0.1:8443 (data in var/)
#   make test     deps + build + unit tests (cmocka) + integration tests (pytest)
#   make check    the same tests on an ASan+UBSan build, the fuzz corpora once, cppcheck, clang-tidy
#   make fuzz     libFuzzer harnesses (tests/fuzz), FUZZ_SECONDS each (default 60)
#   make soak     a bounded load test (tests/soak), SOAK_SECONDS (default 60)
#   make bench    benchmarks (tests/bench), figures into build/bench/
BUILD    ?= build
SANITIZE ?=
CC       ?= cc
PYTHON   ?= /usr/bin/python3

WARN    = -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes \
          -Wmissing-prototypes -Wvla
PKGS    = libmicrohttpd sqlite3 jansson libsodium gnutls zlib
OPT     ?= -O2
CFLAGS  += -std=c11 -D_GNU_SOURCE -g $(OPT) $(WARN) -I. -I$(BUILD)/gen $(SANITIZE) \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDFLAGS += $(SANITIZE)
LIBS     = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -ldl -lm

# lib/: shared code with no state of its own.  httpd.c (the HTTP server
# layer, libmicrohttpd) and router.c go into polyvisord and the agent only;
# httpc.c (the HTTP client session, libcurl) into the adapters that call out;
# the rest into every program and adapter.
HTTPD_SRC   = lib/httpd.c lib/router.c
HTTPD_OBJ   = $(HTTPD_SRC:%.c=$(BUILD)/%.o)
HTTPC_SRC   = lib/httpc.c
LIB_SRC     = $(filter-out $(HTTPD_SRC) $(HTTPC_SRC),$(wildcard lib/*.c))
LIB_OBJ     = $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB_DEPS    = $(LIB_SRC) $(HTTPC_SRC) $(wildcard lib/*.h lib/*.def)
DB_SRC      = $(wildcard db/*.c)
SERVER_SRC  = $(wildcard server/*.c server/*/*.c server/*/*/*.c)
SERVER_LIB  = $(filter-out server/main.c,$(SERVER_SRC))
GEN_SRC     = $(BUILD)/gen/migrations.c $(BUILD)/gen/openapi.c
UNIT_SRC    = $(wildcard tests/unit/test_*.c)

DB_OBJ      = $(DB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/migrations.o
SERVER_OBJ  = $(SERVER_LIB:%.c=$(BUILD)/%.o) $(BUILD)/gen/openapi.o
UNIT_BIN    = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
ADAPTERS    = $(BUILD)/adapters/test.so $(BUILD)/adapters/kvm.so $(BUILD)/adapters/vcenter.so \
              $(BUILD)/adapters/hyperv-wmi.so
AGENT_SRC   = $(wildcard hypervisor/*.c)
AGENT_OBJ   = $(AGENT_SRC:%.c=$(BUILD)/%.o)

.PHONY: all deps run test unit integration check bench clean lint
all: $(BUILD)/polyvisord $(BUILD)/polyvisor-agent $(ADAPTERS) $(UNIT_BIN)

deps:
	@sh scripts/deps.sh

$(BUILD)/gen/migrations.c: $(sort $(wildcard db/migrations/*.sql)) tools/embed.sh
	@mkdir -p $(@D)
	sh tools/embed.sh migrations $(sort $(wildcard db/migrations/*.sql)) > $@
$(BUILD)/gen/openapi.c: server/http/openapi.json tools/embed.sh
	@mkdir -p $(@D)
	sh tools/embed.sh blob pv_openapi_json server/http/openapi.json > $@

$(BUILD)/%.o: %.c $(wildcard */*.h */*/*.h */*/*/*.h lib/*.def)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<
# lib/ goes into the adapters' shared objects too: position-independent
$(BUILD)/lib/%.o: lib/%.c $(wildcard lib/*.h lib/*.def)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fPIC -c -o $@ $<
$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	$(CC) $(CFLAGS) -Wno-missing-prototypes -c -o $@ $<

$(BUILD)/polyvisord: $(BUILD)/server/main.o $(SERVER_OBJ) $(DB_OBJ) $(LIB_OBJ) $(HTTPD_OBJ)
	$(CC) $(LDFLAGS) -rdynamic -o $@ $^ $(LIBS)

$(BUILD)/polyvisor-agent: $(AGENT_OBJ) $(LIB_OBJ) $(HTTPD_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs libvirt libxml-2.0 libmicrohttpd jansson zlib) -lpthread

$(BUILD)/hypervisor/%.o: hypervisor/%.c $(wildcard hypervisor/*.h) adapters/adapter.h $(wildcard lib/*.h lib/*.def)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(shell pkg-config --cflags libvirt libxml-2.0) -c -o $@ $<

$(BUILD)/adapters/kvm.so: adapters/kvm/kvm_adapter.c adapters/adapter.h $(LIB_DEPS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fPIC -shared -o $@ $< $(LIB_SRC) $(HTTPC_SRC) $(shell pkg-config --libs libcurl jansson) -lpthread

$(BUILD)/adapters/test.so: adapters/test/test_adapter.c adapters/adapter.h $(LIB_DEPS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fPIC -shared -o $@ $< $(LIB_SRC) $(shell pkg-config --libs jansson) -lpthread

# The agent's spec parser and domain XML writer (hypervisor/spec.c): no libvirt.
$(BUILD)/tests/test_spec: tests/unit/test_spec.c hypervisor/spec.c hypervisor/spec.h $(LIB_DEPS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(shell pkg-config --cflags libxml-2.0) -Wno-missing-prototypes $(LDFLAGS) \
	    -o $@ tests/unit/test_spec.c hypervisor/spec.c $(LIB_SRC) \
	    $(shell pkg-config --libs libxml-2.0 jansson) -lcmocka

# lib/httpc's unit test links lib/ alone (and libcurl): a loopback fake
# stands in for the peer.
$(BUILD)/tests/test_httpc: tests/unit/test_httpc.c $(LIB_DEPS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Wno-missing-prototypes $(LDFLAGS) -o $@ tests/unit/test_httpc.c $(LIB_SRC) \
	    $(HTTPC_SRC) $(shell pkg-config --libs libcurl) -lpthread -lcmocka

# A fifth adapter, built only for the tests (tests/adapters/toy): a new
# vendor touches no file in server/ or webui/.
TEST_ADAPTERS = $(BUILD)/test-adapters/toy.so
$(BUILD)/test-adapters/toy.so: tests/adapters/toy/toy_adapter.c adapters/adapter.h $(LIB_DEPS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fPIC -shared -o $@ $< $(LIB_SRC) $(shell pkg-config --libs jansson) -lpthread
test-adapters: $(TEST_ADAPTERS)
.PHONY: test-adapters

# ---- vCenter: the shared SOAP layer, its unit test and the vcenter adapter ----
# (issue 4).  adapters/common/soap.c is linked into every SOAP-speaking
# adapter and into build/tests/test_soap, which this explicit rule builds
# (it needs libxml2, libcurl and its recorded envelopes).
SOAP_CFLAGS  = $(shell pkg-config --cflags libxml-2.0 libcurl)
SOAP_LIBS    = $(shell pkg-config --libs libxml-2.0 libcurl) -lpthread
SOAP_DEPS    = adapters/common/soap.c adapters/common/soap.h adapters/adapter.h $(LIB_DEPS)
VCENTER_SRC  = $(wildcard adapters/vcenter/*.c)

$(BUILD)/tests/test_soap: tests/unit/test_soap.c $(SOAP_DEPS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SOAP_CFLAGS) -Wno-missing-prototypes \
	    -DSOAP_DATA_DIR='"$(abspath tests/unit/data/soap)"' $(LDFLAGS) -o $@ \
	    tests/unit/test_soap.c adapters/common/soap.c $(LIB_SRC) $(HTTPC_SRC) $(SOAP_LIBS) -lcmocka

$(BUILD)/adapters/vcenter.so: $(VCENTER_SRC) $(wildcard adapters/vcenter/*.h) $(SOAP_DEPS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SOAP_CFLAGS) -fPIC -shared $(LDFLAGS) -o $@ $(VCENTER_SRC) \
	    adapters/common/soap.c $(LIB_SRC) $(HTTPC_SRC) $(SOAP_LIBS) $(shell pkg-config --libs jansson)

# vcsim (VMware's simulator) and vcq (the govmomi cross-check client) for the
# vCenter integration tests (tests/integration/test_vcenter.py builds them
# itself when needed, from Debian's golang-go and govmomi, which deps installs).
vcsim:
	sh tests/peers/vcsim.sh build $(BUILD)
.PHONY: vcsim
# ---- end of the vCenter block ----

# ---- Hyper-V (issue 5): the WS-Management client, its unit test and the ----
# hyperv-wmi adapter.  adapters/hyperv-wmi/wsman.c sits on the shared SOAP layer
# (adapters/common/soap.c); build/tests/test_wsman (the client, plus the
# adapter's pure mapping functions) is built by this explicit rule.
HYPERV_SRC   = $(wildcard adapters/hyperv-wmi/*.c)
HYPERV_DEPS  = $(wildcard adapters/hyperv-wmi/*.h) $(SOAP_DEPS)

$(BUILD)/tests/test_wsman: tests/unit/test_wsman.c $(HYPERV_SRC) $(HYPERV_DEPS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SOAP_CFLAGS) -Wno-missing-prototypes \
	    -DWSMAN_DATA_DIR='"$(abspath tests/unit/data/wsman)"' $(LDFLAGS) -o $@ \
	    tests/unit/test_wsman.c $(HYPERV_SRC) adapters/common/soap.c $(LIB_SRC) $(HTTPC_SRC) $(SOAP_LIBS) \
	    $(shell pkg-config --libs jansson) -lcmocka

$(BUILD)/adapters/hyperv-wmi.so: $(HYPERV_SRC) $(HYPERV_DEPS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SOAP_CFLAGS) -fPIC -shared $(LDFLAGS) -o $@ $(HYPERV_SRC) \
	    adapters/common/soap.c $(LIB_SRC) $(HTTPC_SRC) $(SOAP_LIBS) $(shell pkg-config --libs jansson)
# ---- end of the Hyper-V block ----

# ---- the CLI (issue 17): build/polyvisor, on lib/ (httpc: libcurl) and ----
# jansson; its shell completion scripts are embedded as they are.
CLI_SRC = $(wildcard cli/*.c)
CLI_GEN = $(BUILD)/gen/cli_bash.c $(BUILD)/gen/cli_zsh.c
all: $(BUILD)/polyvisor
$(BUILD)/gen/cli_bash.c: cli/polyvisor.bash tools/embed.sh
	@mkdir -p $(@D)
	sh tools/embed.sh blob pvc_completion_bash cli/polyvisor.bash > $@
$(BUILD)/gen/cli_zsh.c: cli/polyvisor.zsh tools/embed.sh
	@mkdir -p $(@D)
	sh tools/embed.sh blob pvc_completion_zsh cli/polyvisor.zsh > $@
$(BUILD)/polyvisor: $(CLI_SRC) $(wildcard cli/*.h) $(CLI_GEN) $(LIB_DEPS)
	$(CC) $(CFLAGS) $(shell pkg-config --cflags libcurl) $(LDFLAGS) -o $@ $(CLI_SRC) $(CLI_GEN) \
	    $(LIB_SRC) $(HTTPC_SRC) $(shell pkg-config --libs libcurl jansson) -lpthread
# ---- end of the CLI block ----

# ---- unit tests: tests/unit/test_<module>.c tests one module and links only
# that module, lib/ and what the module truly depends on -- UT_<module> lists
# those objects (db/ is a whole: a module that stores things links it), never
# the whole daemon.  A test with no UT_ line links lib/ alone.  test_routes is
# the one that links the API: the route table names every handler.  The
# adapters' tests (soap, wsman, httpc) and the agent's (spec) have rules above.
CORE_OBJ      = $(BUILD)/server/core
UT_buf        =
UT_router     =
UT_text       =
UT_httpd      = tests/unit/loopback.c
UT_errors     = $(BUILD)/db/collections.o
UT_query      = $(BUILD)/db/query.o $(BUILD)/db/collections.o
UT_db         = $(DB_OBJ) tests/unit/tmpdb.c
UT_db_auth    = $(UT_db)
UT_db_jobs    = $(UT_db)
UT_db_list    = $(UT_db)
UT_db_inventory = $(UT_db)
UT_migrations = $(DB_OBJ)
UT_config     = $(CORE_OBJ)/config.o $(CORE_OBJ)/log.o
UT_validate   = $(CORE_OBJ)/validate.o
UT_secret     = $(CORE_OBJ)/secret.o
UT_cron       = $(BUILD)/server/sched/cron.o $(BUILD)/server/sched/tz.o
UT_jobs_state = $(BUILD)/server/jobs/jobs_state.o
UT_jobs       = $(BUILD)/server/jobs/jobs.o $(UT_jobs_state) $(addprefix $(CORE_OBJ)/,events.o log.o util.o) \
                $(UT_db)
UT_throttle   = $(BUILD)/server/http/throttle.o
UT_placement  = $(addprefix $(BUILD)/server/placement/,engine.o policy.o place.o plan.o reasons.o) \
                $(UT_cron) $(UT_validate)
UT_snapshot   = $(BUILD)/server/inventory/snapshot.o $(BUILD)/server/inventory/plugins.o \
                $(addprefix $(BUILD)/server/placement/,engine.o policy.o reasons.o) $(CORE_OBJ)/log.o $(UT_db)
UT_conns      = $(addprefix $(BUILD)/server/inventory/,conns.o plugins.o devices.o) \
                $(CORE_OBJ)/secret.o $(UT_jobs)
HTTP_OBJ      = $(BUILD)/server/http
UT_auth       = $(HTTP_OBJ)/auth.o $(HTTP_OBJ)/req.o $(CORE_OBJ)/log.o $(CORE_OBJ)/util.o \
                $(UT_db) tests/unit/loopback.c tests/unit/reqapp.c
UT_sse        = $(HTTP_OBJ)/sse.o $(UT_auth)
UT_routes     = $(SERVER_OBJ) $(DB_OBJ)

# test_conns loads the real test adapter as the daemon does (not linked in)
$(BUILD)/tests/test_conns: $(BUILD)/adapters/test.so

.SECONDEXPANSION:
$(BUILD)/tests/test_%: tests/unit/test_%.c $$(UT_$$*) $(LIB_OBJ) $(HTTPD_OBJ) $(wildcard tests/unit/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Wno-missing-prototypes $(LDFLAGS) -o $@ $< $(UT_$*) $(LIB_OBJ) $(HTTPD_OBJ) \
	    $(LIBS) -lcmocka

# The benchmarks of the placement engine and of monitoring ingest (make
# bench) link like unit tests.
$(BUILD)/tests/bench_%: tests/bench/bench_%.c $(SERVER_OBJ) $(DB_OBJ) $(LIB_OBJ) $(HTTPD_OBJ)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Wno-missing-prototypes -o $@ $^ $(LIBS)

unit: $(UNIT_BIN)
	@fail=0; for t in $(UNIT_BIN); do $$t || fail=1; done; exit $$fail

integration: all test-adapters
	POLYVISOR_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q -rs tests/integration tests/sims/hyperv
	@# the browser tests have a conftest of their own: a pytest run of their own
	POLYVISOR_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q -rs tests/browser
	@# the CLI's tests drive build/polyvisor: a pytest run of their own
	POLYVISOR_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q -rs tests/cli

test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory integration

check:
	@sh scripts/deps.sh check
	@$(MAKE) --no-print-directory BUILD=build-san SANITIZE="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" OPT=-O1 unit integration
	@$(MAKE) --no-print-directory $(FUZZ_FLAGS) fuzz-bins
	@sh tests/fuzz/run.sh build-fuzz 0 $(FUZZ_NAMES)
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability --inline-suppr \
	    --suppress=missingIncludeSystem --include=/usr/include/jansson.h -I. server db adapters hypervisor cli
	clang-tidy --quiet $(wildcard $(SERVER_SRC) db/*.c adapters/*/*.c hypervisor/*.c cli/*.c) -- -std=c11 \
	    -D_GNU_SOURCE -I. $(shell pkg-config --cflags gnutls libvirt libxml-2.0)

run: deps all
	@sh scripts/run.sh $(BUILD)

bench: all $(BUILD)/tests/bench_placement $(BUILD)/tests/bench_metrics
	@sh scripts/deps.sh bench
	@sh tests/bench/run.sh $(BUILD)

# ---- soak (make soak): a bounded load test of a real daemon and agent on
# loopback (tests/soak/soak.py; SOAK_SECONDS, SOAK_CONNECTIONS).
soak: all
	@$(PYTHON) tests/soak/soak.py $(BUILD)
.PHONY: soak

# ---- fuzzing (make fuzz): libFuzzer harnesses in tests/fuzz, built with
# clang, ASan and UBSan into build-fuzz/, each run FUZZ_SECONDS (default 60)
# from its seed corpus in tests/fuzz/corpus/NAME.  FUZZ_SECONDS=0 runs every
# harness over its corpus once (make check does).
FUZZ_SECONDS ?= 60
FUZZ_NAMES    = bodies query router soap wsman spec
FUZZ_FLAGS    = BUILD=build-fuzz CC=clang OPT=-O1 WARN="-Wall -Wextra -Wno-unused-parameter" \
                SANITIZE="-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer"
fuzz:
	@sh scripts/deps.sh fuzz
	@$(MAKE) --no-print-directory $(FUZZ_FLAGS) fuzz-bins
	@sh tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS) $(FUZZ_NAMES)
fuzz-bins: $(FUZZ_NAMES:%=$(BUILD)/fuzz/fuzz_%)
$(BUILD)/fuzz/fuzz_bodies $(BUILD)/fuzz/fuzz_query $(BUILD)/fuzz/fuzz_router: $(BUILD)/fuzz/fuzz_%: \
        tests/fuzz/fuzz_%.c $(SERVER_OBJ) $(DB_OBJ) $(LIB_OBJ) $(HTTPD_OBJ)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LIBS)
$(BUILD)/fuzz/fuzz_soap: tests/fuzz/fuzz_soap.c $(SOAP_DEPS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SOAP_CFLAGS) -fsanitize=fuzzer -o $@ tests/fuzz/fuzz_soap.c \
	    adapters/common/soap.c $(LIB_SRC) $(HTTPC_SRC) $(SOAP_LIBS)
$(BUILD)/fuzz/fuzz_wsman: tests/fuzz/fuzz_wsman.c $(HYPERV_SRC) $(HYPERV_DEPS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SOAP_CFLAGS) -fsanitize=fuzzer -o $@ tests/fuzz/fuzz_wsman.c $(HYPERV_SRC) \
	    adapters/common/soap.c $(LIB_SRC) $(HTTPC_SRC) $(SOAP_LIBS) $(shell pkg-config --libs jansson)
$(BUILD)/fuzz/fuzz_spec: tests/fuzz/fuzz_spec.c hypervisor/spec.c hypervisor/spec.h $(LIB_DEPS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(shell pkg-config --cflags libxml-2.0) -fsanitize=fuzzer -o $@ \
	    tests/fuzz/fuzz_spec.c hypervisor/spec.c $(LIB_SRC) $(shell pkg-config --libs libxml-2.0 jansson)
.PHONY: fuzz fuzz-bins

clean:
	rm -rf build build-san build-fuzz
