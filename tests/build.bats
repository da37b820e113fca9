#!/usr/bin/env bats
# The code builds warning-free with clang as well as gcc, cppcheck finds
# nothing, and make format has nothing left to change.

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

@test "every C source is as make format leaves it" {
	cd "$FX_ROOT"
	run clang-format --dry-run --Werror cmd/*.c common/*.c common/*.h tests/unit/*.c \
		tests/unit/*.h tests/bench/*.c tests/fuzz/*.c
	assert_success
	assert_output ''
}
