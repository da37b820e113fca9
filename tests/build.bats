#!/usr/bin/env bats
# The code builds warning-free with clang as well as gcc, and cppcheck finds
# nothing.

load test_helper

@test "every source compiles warning-free with clang -Werror" {
	cd "$FX_ROOT"
	fail=0
	for f in common/*.c cmd/*.c; do
		clang -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
			-Wmissing-prototypes -Wno-unused-parameter -Wformat=2 -Icommon \
			$(pkg-config --cflags libcjson) -fsyntax-only "$f" || fail=1
	done
	[ $fail -eq 0 ]
}

@test "cppcheck finds nothing" {
	cd "$FX_ROOT"
	run cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
		--suppress=missingIncludeSystem --suppress=preprocessorErrorDirective \
		-D__GNUC__ -Icommon cmd common
	assert_success
	assert_output ''
}
