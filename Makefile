# upbot: `make run` starts the demo, `make test` runs the suite.
# Both install what is missing first (Debian 12).

DEBS = gcc make perl nginx-core nginx-dev libyajl-dev libssl-dev zlib1g-dev \
       libpcre2-dev libtest-base-perl libtext-diff-perl valgrind curl

NGINX_BIN ?= $(if $(NGINX_SRC),$(CURDIR)/build/nginx,/usr/sbin/nginx)
# STATIC=1 (with NGINX_SRC): the module is in build/nginx, nothing to load
MODULE    := $(if $(STATIC),,$(CURDIR)/build/modules/ngx_http_upbot_module.so)
T         ?= t/

# Test::Nginx when installed, else the project's own runner for its format
PROVE_INC := $(shell perl -MTest::Nginx::Socket -e1 2>/dev/null \
                     || echo -I util/tnlite)

# make bench: wrk, the OpenResty peer's modules, callgrind, /usr/bin/time
BENCH_DEBS = wrk libnginx-mod-http-lua lua-cjson valgrind time

.PHONY: all build deps bench-deps run test test-matrix check-valgrind bench \
        fuzz clean

all: build

deps bench-deps:
	@missing=$$(for p in $(if $(filter bench-deps,$@),$(BENCH_DEBS),$(DEBS)); do \
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
	    prove $(PROVE_INC) -r $(T)

# the suite against each nginx.org version in ../shared/vendor/nginx
# (MATRIX="1.24.0 1.30.4-static" for some of them)
test-matrix: deps
	@PROVE_INC='$(PROVE_INC)' T='$(T)' util/test-matrix.sh

bench: build bench-deps
	perl bench/bench.pl

# the request parser under libFuzzer, ASan and UBSan (FUZZ_SECONDS=60)
fuzz: build
	@command -v clang >/dev/null || $(MAKE) deps DEBS=clang
	bash fuzz/run.sh

check-valgrind:
	$(MAKE) test TEST_NGINX_USE_VALGRIND=1

clean:
	rm -rf build t/servroot t/servroot-*
