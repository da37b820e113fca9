# fx - one Makefile builds everything. See README.md.
#   make            programs into bin/
#   make test       unit tests (under ASan+UBSan) and every bats test
#   make demo       the example warehouse pipeline, as batch and as stream
#   make bench      throughput against cat, jq, mlr, kcat
#   make asan       the sanitizer build (build/asan/)
#   make fuzz       libFuzzer targets (build/fuzz/)
#   make layers     check that no module of common/ uses a higher layer
#   make format     clang-format every source file
#   make install PREFIX=/usr/local
#   make deps       install missing Debian packages (as root)

PREFIX ?= /usr/local
CC ?= cc
# clang for the fuzz targets (libFuzzer)
FUZZ_CC ?= clang

# Debian packages: build, libraries, test tools and the independent tools
# the tests compare against.
DEPS_PKGS = gcc libc6-dev make pkg-config git \
	librdkafka-dev libcjson-dev libcsv-dev libxxhash-dev zlib1g-dev \
	bats bats-assert bats-support kcat jq miller sqlite3 hyperfine \
	valgrind mandoc clang libclang-rt-14-dev python3 python3-jsonschema \
	graphviz procps psmisc iproute2 time zsh cppcheck clang-format clang-tidy \
	strace parallel

# Recursively expanded (=, not :=): pkg-config runs when a recipe is
# expanded, after deps has installed the packages, never at parse time.
PKG_LIBS = rdkafka libcjson zlib libxxhash
PKG_CFLAGS = $(shell pkg-config --cflags $(PKG_LIBS) 2>/dev/null)
PKG_LDLIBS = $(shell pkg-config --libs $(PKG_LIBS) 2>/dev/null) -lcsv -lm -lpthread

WARN = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wno-unused-parameter -Wformat=2
CFLAGS ?= -O2 -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) -Icommon $(PKG_CFLAGS) $(CFLAGS)
LDFLAGS ?=

SAN = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

PROGS = $(patsubst cmd/%.c,%,$(wildcard cmd/fx-*.c))
COMMON_SRC = $(wildcard common/*.c)
COMMON_HDR = $(wildcard common/*.h)
UNIT_SRC = $(wildcard tests/unit/test_*.c)
UNIT_TESTS = $(patsubst tests/unit/%.c,%,$(UNIT_SRC))
FUZZ_SRC = $(wildcard tests/fuzz/fuzz_*.c)

OBJ = $(patsubst common/%.c,build/obj/%.o,$(COMMON_SRC))
ASAN_OBJ = $(patsubst common/%.c,build/asan/obj/%.o,$(COMMON_SRC))

.PHONY: all deps test unit bats asan fuzz fuzz-run bench demo format lint layers \
	install clean check-deps

all: deps bin-all

# Everything that compiles waits for deps (an order-only prerequisite: it
# runs first, and a fresh machine's headers exist before the first
# compile under make -jN, yet nothing is rebuilt because deps ran).

bin-all: $(addprefix bin/,$(PROGS)) build/gen-plays build/bench-validate

deps:
	@missing=""; for p in $(DEPS_PKGS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "make deps: installing$$missing"; \
			export DEBIAN_FRONTEND=noninteractive; \
			apt-get update -q >/dev/null && \
			apt-get install -y -q --no-install-recommends $$missing >/dev/null || \
			{ echo "make deps: apt-get install failed"; exit 1; }; \
		else \
			echo "make deps: missing Debian packages; run as root:"; \
			echo "  apt-get install -y --no-install-recommends$$missing"; \
			exit 1; \
		fi; \
	fi

build/obj/%.o: common/%.c $(COMMON_HDR) | build/obj deps
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

build/libfx.a: $(OBJ)
	rm -f $@ && ar rcs $@ $^

bin/%: cmd/%.c build/libfx.a $(COMMON_HDR) | bin deps
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< build/libfx.a $(PKG_LDLIBS)

build/gen-plays: tests/bench/gen-plays.c build/libfx.a | build deps
	$(CC) $(ALL_CFLAGS) -o $@ $< build/libfx.a -lm

build/bench-validate: tests/bench/validate.c build/libfx.a $(COMMON_HDR) | build deps
	$(CC) $(ALL_CFLAGS) -o $@ $< build/libfx.a -lm

# The sanitizer build: library, programs and unit tests.
build/asan/obj/%.o: common/%.c $(COMMON_HDR) | build/asan/obj deps
	$(CC) $(ALL_CFLAGS) $(SAN) -O1 -c -o $@ $<

build/asan/libfx.a: $(ASAN_OBJ)
	rm -f $@ && ar rcs $@ $^

build/asan/bin/%: cmd/%.c build/asan/libfx.a $(COMMON_HDR) | build/asan/bin deps
	$(CC) $(ALL_CFLAGS) $(SAN) -O1 -o $@ $< build/asan/libfx.a $(PKG_LDLIBS)

build/asan/test_%: tests/unit/test_%.c $(wildcard tests/unit/*.h) build/asan/libfx.a | deps
	$(CC) $(ALL_CFLAGS) $(SAN) -O1 -Itests/unit -o $@ $< build/asan/libfx.a $(PKG_LDLIBS)

asan: deps $(addprefix build/asan/,$(UNIT_TESTS)) $(addprefix build/asan/bin/,$(PROGS))

# Unit tests run from the repository root (they read ../shared corpora
# through tests/corpora). Each prints "unit: NAME: N passed, N failed".
# They run twice: with the record scanner's vector path where the CPU has
# it, then with FX_SIMD=off (the portable scanner alone, as on a CPU
# without AVX2).
unit: asan
	@status=0; for simd in on off; do \
		echo "unit: FX_SIMD=$$simd"; \
		for t in $(UNIT_TESTS); do \
		FX_SIMD=$$simd ASAN_OPTIONS=detect_leaks=1 \
		UBSAN_OPTIONS=print_stacktrace=1 build/asan/$$t || status=1; \
		done; \
	done; exit $$status

bats: all
	bats --formatter tap tests/*.bats

test: deps all
	@tests/run-all.sh

# -fno-sanitize-recover=all: a UBSan finding stops the target (a crash that
# fails the fuzz run), as an ASan one does, instead of a report in a log.
# Each target links only the layers it tests: FUZZ_LAYER_fuzz_NAME is the
# highest (common/README.md's map, read by tests/layers.sh), and
# --as-needed drops the libraries those layers do not use.
FUZZ_LAYER_fuzz_json = core
FUZZ_LAYER_fuzz_csv = record
fuzz_src = $(shell tests/layers.sh sources $(FUZZ_LAYER_$(1)))

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(COMMON_SRC) $(COMMON_HDR) tests/layers.sh common/README.md | build/fuzz deps
	$(if $(FUZZ_LAYER_fuzz_$*),,$(error fuzz_$*: no FUZZ_LAYER_fuzz_$* in the Makefile))
	$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -Icommon -Itests/unit $(PKG_CFLAGS) -g -O1 \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-o $@ $< $(call fuzz_src,fuzz_$*) -Wl,--as-needed $(PKG_LDLIBS)

fuzz: deps $(patsubst tests/fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))

# Each fuzz target for FUZZ_SECONDS, from the seed corpus.
FUZZ_SECONDS ?= 20
fuzz-run: fuzz
	@for f in $(patsubst tests/fuzz/%.c,%,$(FUZZ_SRC)); do \
		mkdir -p build/fuzz/corpus-$$f; \
		build/fuzz/$$f -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
			-print_final_stats=0 build/fuzz/corpus-$$f tests/fuzz/seeds 2>build/fuzz/$$f.log \
			|| { tail -n 30 build/fuzz/$$f.log; exit 1; }; \
		echo "fuzz: $$f: $$(grep -c . build/fuzz/$$f.log) log lines, no crash in $(FUZZ_SECONDS)s"; \
	done

bench: all
	tests/bench/run.sh

demo: all
	share/examples/demo.sh

format:
	clang-format -i cmd/*.c common/*.c common/*.h tests/unit/*.c tests/unit/*.h \
		tests/bench/*.c $(wildcard tests/fuzz/*.c)

# libfx's layers: no object uses a higher layer (common/README.md).
layers: build/libfx.a
	tests/layers.sh check build/obj

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
		--suppress=missingIncludeSystem -Icommon cmd common
	mandoc -Tlint -Wwarning share/man/man*/*

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man7 \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions \
		$(DESTDIR)$(PREFIX)/share/zsh/site-functions
	install -m 755 $(addprefix bin/,$(PROGS)) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 share/man/man1/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	-install -m 644 share/man/man5/*.5 $(DESTDIR)$(PREFIX)/share/man/man5/ 2>/dev/null
	-install -m 644 share/man/man7/*.7 $(DESTDIR)$(PREFIX)/share/man/man7/ 2>/dev/null
	install -m 644 completions/fx.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/fx
	for p in $(PROGS); do ln -sf fx $(DESTDIR)$(PREFIX)/share/bash-completion/completions/$$p; done
	install -m 644 completions/_fx $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_fx

clean:
	rm -rf bin build

bin build build/obj build/asan/obj build/asan/bin build/fuzz:
	mkdir -p $@
