# upbot: `make run` starts the demo, `make test` runs the suite.
# Both install what is missing first (Debian 12).

# prometheus: promtool, and a server that scrapes upbot_metrics in a test;
# chromium: the status page loaded headless; tini: see REAPER
DEBS = gcc make perl nginx-core nginx-dev libyajl-dev libssl-dev zlib1g-dev \
       libpcre2-dev libtest-base-perl libtext-diff-perl valgrind curl \
       rsyslog rsyslog-kafka prometheus chromium tini

# The tests' nginx daemonizes: once it exits it is a zombie of PID 1 until
# PID 1 reaps it, and a PID 1 that never does (a container's agent) has the
# runner wait for a dead nginx, about 2 s a block under the real Test::Nginx
# (t/001: 3.8 s, 0.8 s with it).  "tini -s" reaps them as a subreaper.
REAPER = $(shell command -v tini >/dev/null 2>&1 && echo tini -s --)

NGINX_BIN ?= $(if $(NGINX_SRC),$(CURDIR)/build/nginx,/usr/sbin/nginx)
# STATIC=1 (with NGINX_SRC): the module is in build/nginx, nothing to load
MODULE    := $(if $(STATIC),,$(CURDIR)/build/modules/ngx_http_upbot_module.so)
T         ?= t/

# Test::Nginx when installed, else the project's own runner for its format
PROVE_INC := $(shell perl -MTest::Nginx::Socket -e1 2>/dev/null \
                     || echo -I util/tnlite)

# make bench: wrk, the OpenResty peer's modules, callgrind, /usr/bin/time
BENCH_DEBS = wrk libnginx-mod-http-lua lua-cjson valgrind time

# make deb: the tools; the build dependencies are debian/control's
DEB_DEBS = dpkg-dev debhelper lintian

# make test-real-tn: the real Test::Nginx, kept beside the clone (CI's
# ../shared/vendor/test-nginx, never copied in here), and what it needs
TN_LIB  ?= $(abspath $(CURDIR)/../shared/vendor/test-nginx/lib)
TN_DEBS  = libtest-base-perl libtest-longstring-perl liblist-moreutils-perl \
           libtext-diff-perl libwww-perl libipc-run-perl tini

.PHONY: all build deps bench-deps tn-deps tn-check run test test-real-tn \
        test-matrix check-asan check-valgrind check-faults bench fuzz deb \
        test-deb clean

all: build

deps bench-deps tn-deps:
	@missing=$$(for p in $(if $(filter bench-deps,$@),$(BENCH_DEBS),$(if $(filter tn-deps,$@),$(TN_DEBS),$(DEBS))); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null \
	        | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "make deps: installing $$missing"; \
	    sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	    $$sudo apt-get update -q && \
	    DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -q $$missing; \
	fi

build: deps
	@util/build.sh

run: build
	@util/run-demo.sh

test: build
	TEST_NGINX_BINARY=$(NGINX_BIN) TEST_NGINX_LOAD_MODULES=$(MODULE) \
	    $(REAPER) prove $(PROVE_INC) -r $(T)

# the fault scenarios of faults/ (reloads, kill -9, rotation, a full disk,
# mutated bodies, slow clients, failing providers, corrupted configurations):
# about 3 minutes, a table of figures and bounds at the end
check-faults: build
	TEST_NGINX_BINARY=$${TEST_NGINX_BINARY:-$(NGINX_BIN)} \
	TEST_NGINX_LOAD_MODULES=$(MODULE) perl faults/run.pl

# the same suite under the real Test::Nginx instead of util/tnlite
# (only the files in Test::Nginx's format: the others are plain Test::More
# tests that write their own nginx.conf and use no runner, so make test has
# run them already)
TN_FILES = $(shell find $(T) -name '*.t' | xargs grep -l 'Test::Nginx::Socket' | sort)

test-real-tn: tn-check tn-deps build
	TEST_NGINX_BINARY=$(NGINX_BIN) TEST_NGINX_LOAD_MODULES=$(MODULE) \
	    $(REAPER) prove -I $(TN_LIB) $(TN_FILES)

tn-check:
	@[ -f "$(TN_LIB)/Test/Nginx/Socket.pm" ] || { \
	    echo "make test-real-tn: no Test::Nginx in $(TN_LIB)" >&2; \
	    echo "  (it expects ../shared/vendor/test-nginx beside the clone, as in CI, or TN_LIB=/path/to/test-nginx/lib)" >&2; \
	    exit 1; }

# the suite against each nginx.org version in ../shared/vendor/nginx
# (MATRIX="1.24.0 1.30.4-static" for some of them)
test-matrix: deps
	@command -v clang >/dev/null || $(MAKE) deps DEBS=clang
	@PROVE_INC='$(PROVE_INC)' T='$(T)' util/test-matrix.sh

# the suite against nginx 1.30.4 and the module built (clang) with ASan, UBSan,
# NGX_DEBUG_PALLOC (each pool allocation its own malloc), from
# ../shared/vendor/nginx as test-matrix: its entry 1.30.4-asan, in
# build/matrix/1.30.4-asan/; any sanitizer report fails it
ASAN_ENTRY ?= 1.30.4-asan
check-asan: deps
	@command -v clang >/dev/null || $(MAKE) deps DEBS=clang
	@MATRIX='$(ASAN_ENTRY)' PROVE_INC='$(PROVE_INC)' T='$(T)' \
	    util/test-matrix.sh

bench: build bench-deps
	perl bench/bench.pl

# the request parser under libFuzzer, ASan and UBSan, built with SSE2 and
# without, FUZZ_SECONDS (60) each; FUZZ_SECONDS=0: the seeds through both
fuzz: build
	@command -v clang >/dev/null || $(MAKE) deps DEBS=clang
	bash fuzz/run.sh

# build/libnginx-mod-http-upbot_<version>_<arch>.deb, checked by lintian
deb:
	@$(MAKE) --no-print-directory deps DEBS="$(DEB_DEBS)"
	@util/build-deb.sh

# builds, installs, serves the seeds through Debian's nginx, purges (root)
test-deb:
	@util/test-deb.sh

check-valgrind:
	$(MAKE) test TEST_NGINX_USE_VALGRIND=1

clean:
	rm -rf build t/servroot t/servroot-*
